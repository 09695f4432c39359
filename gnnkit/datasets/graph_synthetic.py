"""A tiny graph-classification set for tests and smoke runs: cycles vs. cliques."""

from __future__ import annotations

import torch

from ..graph import Graph
from .tudataset import GraphDataset

__all__ = ["cycles_vs_cliques"]


def cycles_vs_cliques(num_graphs: int = 40, min_nodes: int = 4, max_nodes: int = 8,
                      seed: int = 0, degree_cap: int = 8) -> GraphDataset:
    """Class 0: a cycle C_n; class 1: a clique K_n; n uniform in [min_nodes, max_nodes].

    Node features: one-hot degree (``degree_cap + 1`` columns). Classes alternate, so any
    prefix is balanced. Deterministic given ``seed``.
    """
    gen = torch.Generator().manual_seed(seed)
    graphs = []
    for i in range(num_graphs):
        n = int(torch.randint(min_nodes, max_nodes + 1, (1,), generator=gen))
        label = i % 2
        if label == 0:
            s = torch.arange(n)
            t = (s + 1) % n
            ei = torch.cat([torch.stack([s, t]), torch.stack([t, s])], 1)
        else:
            a, b = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
            keep = a != b
            ei = torch.stack([a[keep], b[keep]])
        deg = torch.bincount(ei[1], minlength=n).clamp_max(degree_cap)
        x = torch.nn.functional.one_hot(deg, degree_cap + 1).float()
        graphs.append(Graph(ei, n, x=x, y=torch.tensor([label])))
    return GraphDataset("synthetic", graphs, 2, {"source": "cycles_vs_cliques",
                                                 "node_features": "one-hot degree"})
