"""Random node splits, vectorised, from an explicit seed or ``torch.Generator``.

Both functions return ``(train_idx, val_idx, test_idx)``: disjoint int64 node id tensors, each
sorted ascending. Nodes whose label is negative (unlabelled) are never placed in a split.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .errors import DatasetError

__all__ = ["as_generator", "per_class_split", "stratified_split"]


def as_generator(seed: int | torch.Generator) -> torch.Generator:
    """A CPU ``torch.Generator``: ``seed`` itself, or a new one seeded with ``seed``."""
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise DatasetError(f"seed must be an int or a torch.Generator, got {seed!r}")
    return torch.Generator().manual_seed(seed)


def _rank_in_class(y: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Shuffle the labelled nodes; return (perm, class of each, rank within its class).

    ``perm`` lists the labelled nodes in random order; ``rank[i]`` is how many nodes of the
    same class come before ``perm[i]`` in that order.
    """
    n = y.shape[0]
    perm = torch.randperm(n, generator=generator)
    perm = perm[y[perm] >= 0]  # drop unlabelled nodes
    cls = y[perm]
    order = torch.argsort(cls, stable=True)  # grouped by class, random order inside a class
    counts = torch.bincount(cls) if cls.numel() else torch.zeros(0, dtype=torch.long)
    start = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(perm)
    rank[order] = torch.arange(perm.numel()) - start[cls[order]]
    return perm, cls, rank


def per_class_split(
    y: Tensor,
    train_per_class: int,
    num_val: int,
    num_test: int,
    seed: int | torch.Generator = 0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Planetoid-style split: ``train_per_class`` random nodes of each class for training, then
    ``num_val`` and ``num_test`` random nodes among the rest (fewer if the rest is smaller).

    Shapes: y [N] int64 (negative = unlabelled) -> three int64 index tensors.
    """
    if min(train_per_class, num_val, num_test) < 0:
        raise DatasetError("split sizes must be >= 0")
    gen = as_generator(seed)
    perm, _, rank = _rank_in_class(y.long(), gen)
    is_train = rank < train_per_class
    rest = perm[~is_train]  # random order
    val = rest[:num_val]
    test = rest[num_val:num_val + num_test]
    return perm[is_train].sort().values, val.sort().values, test.sort().values


def stratified_split(
    y: Tensor | None,
    num_nodes: int,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    seed: int | torch.Generator = 0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Random split keeping class proportions: in every class, the first
    ``round(f_train * n_c)`` nodes of a random order train, the next ``round((f_train + f_val) *
    n_c) - ...`` validate, and so on. Fractions may sum to less than 1 (the rest is unused).
    ``y=None`` treats all ``num_nodes`` nodes as one class.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) > 1 + 1e-9:
        raise DatasetError(
            f"split fractions must be three numbers >= 0 summing to at most 1, got {fractions}"
        )
    labels = torch.zeros(num_nodes, dtype=torch.long) if y is None else y.long()
    gen = as_generator(seed)
    perm, cls, rank = _rank_in_class(labels, gen)
    size = torch.bincount(cls)[cls].double()  # [n_labelled] size of each node's class
    f = torch.tensor(fractions, dtype=torch.float64).cumsum(0)
    bounds = torch.round(size.unsqueeze(1) * f)  # [n_labelled, 3] cumulative cut points
    r = rank.double()
    train = perm[r < bounds[:, 0]]
    val = perm[(r >= bounds[:, 0]) & (r < bounds[:, 1])]
    test = perm[(r >= bounds[:, 1]) & (r < bounds[:, 2])]
    return train.sort().values, val.sort().values, test.sort().values
