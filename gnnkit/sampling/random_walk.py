"""Uniform random walks on a graph's CSR structure, and skip-gram pairs from walks.

Used by DeepWalk (Perozzi, Al-Rfou & Skiena, KDD 2014); written to be reused by samplers that
need visit counts (PinSage's importance pooling) or walks from given start nodes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..graph import Graph

__all__ = ["random_walk", "skipgram_pairs"]


def random_walk(g: Graph, start: Tensor, walk_length: int,
                generator: torch.Generator | None = None) -> Tensor:
    """One uniform random walk from each start node, following out-edges (source -> dest).

    At every step the next node is a uniformly chosen out-neighbour of the current one (an
    edge stored k times is k times as likely). A walk that reaches a node with no out-edges
    stops there: its remaining entries are -1.

    Shapes: start [W] int64 -> walks [W, walk_length + 1] int64, ``walks[:, 0] = start``.
    All W walks advance together, one vectorised step at a time.
    """
    if walk_length < 0:
        raise ValueError(f"walk_length must be >= 0, got {walk_length}")
    start = start.to(g.device).long()
    if start.numel() and (int(start.min()) < 0 or int(start.max()) >= g.num_nodes):
        raise ValueError(f"start nodes must lie in [0, {g.num_nodes})")
    ptr, nbr, _ = g.csc                                  # out-edges of node j: nbr[ptr[j]:ptr[j+1]]
    deg = ptr.diff()
    walks = torch.full((start.numel(), walk_length + 1), -1, dtype=torch.long, device=g.device)
    walks[:, 0] = start
    cur = start.clone()
    for t in range(1, walk_length + 1):
        node = cur.clamp(min=0)
        d = deg[node]
        alive = (cur >= 0) & (d > 0)
        r = torch.rand(cur.numel(), generator=generator, dtype=torch.float64, device=g.device)
        off = torch.minimum((r * d).long(), (d - 1).clamp(min=0))   # uniform in [0, d)
        nxt = nbr[(ptr[node] + off).clamp(max=max(nbr.numel() - 1, 0))] if nbr.numel() else cur
        cur = torch.where(alive, nxt, torch.full_like(cur, -1))
        walks[:, t] = cur
    return walks


def skipgram_pairs(walks: Tensor, window: int, generator: torch.Generator | None = None,
                   shrink: bool = True) -> Tensor:
    """(center, context) pairs of word2vec's skip-gram over walks (Mikolov et al., 2013).

    For each position t of a walk, the context is every position within ``b`` steps on either
    side, where ``b`` is drawn uniformly from 1..window per position when ``shrink`` (as
    word2vec and gensim do; nearer nodes then count more), else ``b = window``. Padding
    (-1) never pairs.

    Shapes: walks [W, L] -> pairs [2, P] (row 0 center, row 1 context), ordered by offset.
    """
    w, length = walks.shape
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if shrink:
        b = torch.randint(1, window + 1, (w, length), generator=generator, device=walks.device)
    else:
        b = torch.full((w, length), window, dtype=torch.long, device=walks.device)
    out = []
    for d in range(1, min(window, length - 1) + 1):
        left, right = walks[:, :-d], walks[:, d:]          # positions t and t + d, [W, L - d]
        valid = (left >= 0) & (right >= 0)
        fwd = valid & (b[:, :-d] >= d)                    # center t, context t + d
        bwd = valid & (b[:, d:] >= d)                     # center t + d, context t
        out.append(torch.stack([left[fwd], right[fwd]]))
        out.append(torch.stack([right[bwd], left[bwd]]))
    if not out:
        return torch.zeros(2, 0, dtype=torch.long, device=walks.device)
    return torch.cat(out, dim=1)
