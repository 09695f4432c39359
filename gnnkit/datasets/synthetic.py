"""Synthetic node classification graphs, generated vectorised from an explicit seed.

* :func:`csbm`: a contextual stochastic block model (Deshpande et al., "Contextual Stochastic
  Block Models", NeurIPS 2018), parametrised by edge homophily as in Zhu et al., "Beyond
  Homophily in Graph Neural Networks", NeurIPS 2020. Class structure lives both in the edges
  and in the features, so a GNN beats an MLP and both beat chance. The registry's
  ``"synthetic"`` data set is ``csbm()`` with its defaults.
* :func:`random_graph`: uniform random edges, features and labels, no signal at all. For speed
  benchmarks at scale (1M nodes / 10M edges in a few seconds).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..graph import Graph
from .base import NodeDataset
from .errors import DatasetError
from .splits import as_generator, per_class_split

__all__ = ["csbm", "random_graph", "edge_homophily"]


def edge_homophily(edge_index: Tensor, y: Tensor) -> float:
    """Fraction of edges whose endpoints share a label (Zhu et al. 2020, Eq. 1)."""
    if edge_index.shape[1] == 0:
        return float("nan")
    return float((y[edge_index[0]] == y[edge_index[1]]).double().mean())


def _split_sizes(class_sizes: Tensor, train_per_class: int, num_val: int, num_test: int
                 ) -> tuple[int, int, int]:
    """Clip the 20-per-class / 500 / 1000 split for small graphs.

    Train takes at most a fifth of the smallest class (at least 1); the remaining nodes R are
    shared 1:2 between validation and test when R < num_val + num_test.
    """
    tpc = max(1, min(train_per_class, int(class_sizes.min()) // 5))
    rest = int(class_sizes.sum()) - tpc * class_sizes.numel()
    if rest < num_val + num_test:
        v = rest * num_val // max(1, num_val + num_test)
        return tpc, v, rest - v
    return tpc, num_val, num_test


def _sample_pairs(kind: str, count: int, y: Tensor, order: Tensor, ptr: Tensor, pos: Tensor,
                  num_classes: int, gen: torch.Generator) -> Tensor:
    """``count`` candidate undirected pairs as keys ``min * N + max``; intra-class pairs
    (``kind='in'``) or inter-class pairs (``'out'``), never self-loops."""
    n = y.shape[0]
    src = torch.randint(n, (count,), generator=gen)
    c = y[src]
    size = ptr[1:] - ptr[:-1]
    if kind == "in":  # uniform over the other members of src's class
        r = (torch.rand(count, generator=gen, dtype=torch.float64) * (size[c] - 1)).long()
        r = r + (r >= pos[src]).long()  # skip src itself
        dst = order[ptr[c] + r]
    else:  # uniform other class, then uniform member
        shift = (torch.rand(count, generator=gen, dtype=torch.float64) * (num_classes - 1)).long()
        c2 = (c + 1 + shift) % num_classes
        r = (torch.rand(count, generator=gen, dtype=torch.float64) * size[c2]).long()
        dst = order[ptr[c2] + r]
    return torch.minimum(src, dst) * n + torch.maximum(src, dst)


def _unique_pairs(kind: str, target: int, *args, gen: torch.Generator) -> Tensor:
    keys = torch.zeros(0, dtype=torch.long)
    for _ in range(100):
        if keys.numel() >= target:
            break
        need = target - keys.numel()
        cand = _sample_pairs(kind, need + need // 8 + 16, *args, gen=gen)
        keys = torch.unique(torch.cat([keys, cand]))
    else:  # pragma: no cover - guarded by the feasibility check in csbm
        raise DatasetError(f"could not draw {target} distinct edges; lower avg_degree")
    if keys.numel() > target:
        keys = keys[torch.randperm(keys.numel(), generator=gen)[:target]]
    return keys


def csbm(
    num_nodes: int = 2000,
    num_classes: int = 5,
    num_features: int = 64,
    avg_degree: float = 8.0,
    homophily: float = 0.8,
    feature_signal: float = 1.0,
    seed: int | torch.Generator = 0,
    *,
    train_per_class: int = 20,
    num_val: int = 500,
    num_test: int = 1000,
    name: str = "synthetic",
) -> NodeDataset:
    r"""Contextual stochastic block model.

    Labels: class-balanced (sizes differ by at most 1), randomly assigned.
    Edges: ``M = round(N * avg_degree / 2)`` distinct undirected pairs, stored in both
    directions (E = 2M, sorted by (source, destination)), no self-loops. The number of
    intra-class pairs is drawn as Binomial(M, homophily); each intra pair is a uniform random
    pair inside one class, each inter pair a uniform random pair across two classes, so an edge's
    endpoints share the class with probability ``homophily`` (edge homophily; ``1 / C`` is an
    Erdos-Renyi graph, below that is heterophily).
    Features: ``x_i = feature_signal * mu_{y_i} + eps_i`` with class means ``mu_c`` drawn from
    N(0, I / F) (norm about 1) and ``eps_i ~ N(0, I)``.
    Split: ``train_per_class`` nodes per class, ``num_val`` and ``num_test`` random others;
    clipped for small graphs (train at most a fifth of a class, the rest shared 1:2 by val/test).

    Shapes: ``graph.x`` [N, F] float32, ``graph.y`` [N] int64, ``edge_index`` [2, 2M].
    The defaults (2000 nodes, 5 classes, 64 features, degree 8, homophily 0.8) give a graph a
    GAT fits in seconds on 2 CPU cores, well above chance yet not from the features alone.
    ``info`` records the parameters and the realised edge homophily.
    """
    gen = as_generator(seed)
    n, c = int(num_nodes), int(num_classes)
    if c < 2:
        raise DatasetError(f"csbm needs num_classes >= 2, got {c}")
    if n < 2 * c:
        raise DatasetError(f"csbm needs at least 2 nodes per class: num_nodes >= {2 * c}, got {n}")
    if num_features < 1:
        raise DatasetError(f"num_features must be >= 1, got {num_features}")
    if not 0.0 <= homophily <= 1.0:
        raise DatasetError(f"homophily must lie in [0, 1], got {homophily}")
    if avg_degree < 0 or not math.isfinite(avg_degree):
        raise DatasetError(f"avg_degree must be a finite number >= 0, got {avg_degree}")

    y = (torch.arange(n) % c)[torch.randperm(n, generator=gen)]  # [N] balanced
    order = torch.argsort(y, stable=True)  # nodes grouped by class
    size = torch.bincount(y, minlength=c)
    ptr = torch.zeros(c + 1, dtype=torch.long)
    ptr[1:] = torch.cumsum(size, 0)
    pos = torch.empty(n, dtype=torch.long)
    pos[order] = torch.arange(n) - ptr[y[order]]  # rank of each node inside its class

    m = round(n * avg_degree / 2)
    m_in = int(torch.binomial(torch.tensor(float(m)), torch.tensor(float(homophily)),
                              generator=gen)) if m > 0 else 0
    m_out = m - m_in
    max_in = int((size * (size - 1) // 2).sum())
    max_out = n * (n - 1) // 2 - max_in
    if m_in > max_in // 2 or m_out > max_out // 2:
        raise DatasetError(
            f"avg_degree={avg_degree} is too dense for {n} nodes in {c} classes "
            f"(asked for {m_in} intra- and {m_out} inter-class pairs; at most half of the "
            f"{max_in} and {max_out} possible ones can be drawn); lower avg_degree"
        )
    args = (y, order, ptr, pos, c)
    keys = torch.cat([_unique_pairs("in", m_in, *args, gen=gen),
                      _unique_pairs("out", m_out, *args, gen=gen)])
    u, v = keys // n, keys % n
    directed = torch.unique(torch.cat([u * n + v, v * n + u]))  # both directions, sorted
    edge_index = torch.stack([directed // n, directed % n])  # [2, 2M]

    mu = torch.randn(c, num_features, generator=gen) / math.sqrt(num_features)  # [C, F]
    x = feature_signal * mu[y] + torch.randn(n, num_features, generator=gen)  # [N, F]

    tpc, nv, nt = _split_sizes(size, train_per_class, num_val, num_test)
    train, val, test = per_class_split(y, tpc, nv, nt, gen)
    graph = Graph(edge_index=edge_index, num_nodes=n, x=x.float(), y=y)
    info = {
        "source": "contextual stochastic block model (gnnkit.datasets.csbm)",
        "citation": "Deshpande et al., Contextual Stochastic Block Models, NeurIPS 2018",
        "params": {"num_nodes": n, "num_classes": c, "num_features": num_features,
                   "avg_degree": avg_degree, "homophily": homophily,
                   "feature_signal": feature_signal,
                   "seed": seed if isinstance(seed, int) else "generator"},
        "edge_homophily": edge_homophily(edge_index, y),
    }
    return NodeDataset(name=name, graph=graph, train_idx=train, val_idx=val, test_idx=test,
                       num_classes=c, info=info)


def random_graph(
    num_nodes: int,
    num_edges: int,
    num_features: int,
    num_classes: int,
    seed: int | torch.Generator = 0,
) -> NodeDataset:
    """A large random graph for speed benchmarks: no signal, accuracy on it means nothing.

    ``num_edges // 2`` random pairs (u, v), u != v, stored in both directions, so E =
    2 * (num_edges // 2) and the graph is undirected. Edges are not sorted and duplicates are
    not removed (about E^2 / (4 N^2) of them: ~25 for 1M nodes and 10M edges). Features are
    N(0, 1) float32 [N, F]; labels uniform in [0, C); split 20 per class / 500 / 1000.
    1M nodes, 10M edges, 64 features take about a second.
    """
    gen = as_generator(seed)
    n = int(num_nodes)
    if n < 2 or num_edges < 0 or num_features < 1 or num_classes < 1:
        raise DatasetError(
            "random_graph needs num_nodes >= 2, num_edges >= 0, num_features >= 1 and "
            f"num_classes >= 1; got {num_nodes}, {num_edges}, {num_features}, {num_classes}"
        )
    pairs = num_edges // 2
    u = torch.randint(n, (pairs,), generator=gen)
    v = (u + torch.randint(1, n, (pairs,), generator=gen)) % n  # uniform over the others
    edge_index = torch.stack([torch.cat([u, v]), torch.cat([v, u])])  # [2, E]
    x = torch.randn(n, num_features, generator=gen)  # [N, F]
    y = torch.randint(num_classes, (n,), generator=gen)  # [N]
    train, val, test = per_class_split(y, 20, 500, 1000, gen)
    graph = Graph(edge_index=edge_index, num_nodes=n, x=x, y=y, validate=False)
    info = {"source": "uniform random graph (gnnkit.datasets.random_graph); no signal",
            "params": {"num_nodes": n, "num_edges": 2 * pairs, "num_features": num_features,
                       "num_classes": num_classes}}
    return NodeDataset(name="random", graph=graph, train_idx=train, val_idx=val, test_idx=test,
                       num_classes=int(num_classes), info=info)
