"""The one error type raised by gnnkit's data set code."""

from __future__ import annotations

__all__ = ["DatasetError"]


class DatasetError(ValueError):
    """A data set cannot be found, downloaded, verified or parsed.

    The message names the file involved and says how to fix the problem (set ``GNNKIT_DATA``,
    go online, delete a corrupted file, fix an id in a user file, ...).
    """
