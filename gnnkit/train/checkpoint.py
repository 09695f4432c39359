"""Model checkpoints: a plain ``state_dict`` saved atomically.

A checkpoint is exactly ``model.state_dict()`` (tensors moved to CPU), so it loads with
``torch.load(path, weights_only=True)`` and goes straight into ``model.load_state_dict``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor

from .rundir import atomic_write_bytes

__all__ = ["atomic_torch_save", "load_checkpoint", "save_checkpoint"]


def atomic_torch_save(obj: object, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (temp file in the same directory +
    os.replace): a crash never leaves half a file."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def save_checkpoint(state_dict: Mapping[str, Tensor], path: str | os.PathLike) -> Path:
    """Save a state dict to ``path`` atomically (temp file in the same directory + os.replace)."""
    return atomic_torch_save({k: v.detach().cpu() for k, v in state_dict.items()}, path)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Load a state dict saved by :func:`save_checkpoint`.

    ``weights_only=True``: tensors and plain containers only, never pickled code.
    """
    return torch.load(path, map_location=map_location, weights_only=True)
