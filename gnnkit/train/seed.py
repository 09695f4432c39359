"""One call to seed every global random number generator a run touches."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything"]


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
