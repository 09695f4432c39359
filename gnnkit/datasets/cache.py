"""On-disk cache of processed data sets (TU graphs, molecules parsed by RDKit).

A processed data set is a dict of tensors, numbers, strings and lists, saved with
``torch.save`` and read back with ``weights_only=True``. Files are written atomically
(temporary file, then rename), so an interrupted run never leaves a half-written cache; a
file that cannot be read is rebuilt, never trusted; an unwritable cache directory is skipped.

The directory is ``cache_dir`` when given, else ``$GNNKIT_CACHE``, else
``$XDG_CACHE_HOME/gnnkit/processed`` (``~/.cache/gnnkit/processed``). Callers key the file
name by everything the processed data depend on (source file size and modification time,
options, a format version), so a changed source or option never reads a stale entry.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import torch

__all__ = ["cache_file", "default_cache_dir", "load_or_build"]


def default_cache_dir() -> Path:
    """``$GNNKIT_CACHE``, else ``$XDG_CACHE_HOME/gnnkit/processed`` (``~/.cache/...``)."""
    env = os.environ.get("GNNKIT_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "gnnkit" / "processed"


def cache_file(kind: str, key: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """``<cache dir>/<kind>/<key>.pt``."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / kind / f"{key}.pt"


def load_or_build(cfile: Path, build: Callable[[], dict], use_cache: bool = True) -> dict:
    """The processed dict cached in ``cfile``, or ``build()`` (then saved there).

    With ``use_cache=False`` the cache is neither read nor written.
    """
    if use_cache and cfile.is_file():
        try:
            return torch.load(cfile, weights_only=True)
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt, never trusted
            pass
    out = build()
    if use_cache:
        try:
            from ..train.rundir import atomic_write_bytes

            buf = io.BytesIO()
            torch.save(out, buf)
            atomic_write_bytes(cfile, buf.getvalue())
        except OSError:
            pass
    return out
