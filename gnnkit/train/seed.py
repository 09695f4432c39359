"""One call to seed every global random number generator a run touches."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["seed_everything", "torch_threads"]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and every CUDA device).

    Models draw dropout masks and initial weights from torch's global RNG, so a trainer calls
    this before building the model; the same seed then gives the same numbers on the same
    hardware and library versions. (Some CUDA kernels are non-deterministic even so; on CPU a
    run is reproducible bit for bit.)
    """
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must lie in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds all CUDA devices


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch CPU threads (None: leave torch's setting), then restore.

    One thread avoids OpenMP spin-wait slow-downs on a busy machine for small graphs.
    """
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
