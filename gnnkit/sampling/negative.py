"""Uniform negative pairs: node pairs that are not edges."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["negative_pairs"]


def negative_pairs(num_nodes: int, num: int, edge_index: Tensor | None = None,
                   generator: torch.Generator | None = None, max_rounds: int = 100) -> Tensor:
    """``num`` ordered pairs (u, v), u != v, uniform among pairs that are not in ``edge_index``.

    Rejection sampling: draw uniform pairs, redraw those that hit an edge (either direction
    counts only as given: pass both directions for an undirected graph) or a self-pair. Pairs
    may repeat, as in PyG's ``negative_sampling``. Raises ValueError when ``max_rounds`` of
    redraws leave some pairs unfilled (a nearly complete graph).

    Shapes: edge_index [2, E] -> [2, num] int64 (on the generator's device, CPU by default).
    """
    if num_nodes < 2:
        raise ValueError(f"negative pairs need at least 2 nodes, got {num_nodes}")
    device = generator.device if generator is not None else torch.device("cpu")
    keys = torch.zeros(0, dtype=torch.long, device=device)
    if edge_index is not None and edge_index.numel():
        ei = edge_index.to(device)
        keys = torch.unique(ei[0] * num_nodes + ei[1])               # sorted
    u = torch.empty(num, dtype=torch.long, device=device)
    v = torch.empty(num, dtype=torch.long, device=device)
    todo = torch.arange(num, device=device)
    for _ in range(max_rounds):
        if todo.numel() == 0:
            break
        a = torch.randint(num_nodes, (todo.numel(),), generator=generator, device=device)
        b = (a + torch.randint(1, num_nodes, (todo.numel(),), generator=generator,
                               device=device)) % num_nodes          # uniform over b != a
        u[todo], v[todo] = a, b
        if keys.numel() == 0:
            todo = todo[:0]
            break
        k = a * num_nodes + b
        pos = torch.searchsorted(keys, k).clamp_(max=keys.numel() - 1)
        todo = todo[keys[pos] == k]
    if todo.numel():
        raise ValueError(f"could not draw {num} non-edges in {max_rounds} rounds: the graph is "
                         f"nearly complete")
    return torch.stack([u, v])
