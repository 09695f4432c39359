r"""Unsupervised node-embedding baselines of the VGAE paper's Table 1: spectral embedding (SC)
and DeepWalk (DW). Each has a constructor that stores hyperparameters and
``fit(g, generator) -> Z [N, dim]``; link prediction scores pairs with the same inner-product
decoder as GAE, sigmoid(z_i^T z_j).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..graph import Graph
from ..sampling import random_walk, skipgram_pairs

__all__ = ["DeepWalk", "SpectralEmbedding"]


class SpectralEmbedding:
    r"""Spectral embedding (Tang & Liu, "Leveraging social media networks for classification",
    Data Min. Knowl. Disc. 2011): the ``dim`` eigenvectors of the normalised adjacency

        M = D^{-1/2} A D^{-1/2}        (isolated nodes: a zero row and column)

    with the largest eigenvalues, i.e. those of the normalised Laplacian I - M with the
    smallest. Z = U [N, dim], unit-norm columns, largest eigenvalue first. Dim 128 is the VGAE
    paper's setting.

    The top eigenvalue 1 is repeated once per connected component with an edge (82 times in
    Cora's training graph, 385 in CiteSeer's), and Lanczos (``scipy.sparse.linalg.eigsh``)
    returns only some copies of a repeated eigenvalue. Its eigenvectors are known in closed
    form, D^{1/2} 1_C / ||D^{1/2} 1_C|| for each component C, so they are written down
    (largest component first) and ``eigsh`` (which="LA", start vector from ``generator``)
    finds the remaining ``dim - #components`` on M with that eigenspace deflated (moved to
    -2, below the spectrum). When there are at least ``dim`` such components, Z holds the
    indicators of the ``dim`` largest: the top-``dim`` eigenspace is then not unique, and
    this is the choice made here.

    Differences from the paper's SC: the paper used Tang & Liu's code; this is our own
    implementation of the definition above.
    """

    def __init__(self, dim: int = 128, tol: float = 0.0) -> None:
        self.dim, self.tol = dim, tol

    def fit(self, g: Graph, generator: torch.Generator | None = None) -> Tensor:
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components
        from scipy.sparse.linalg import LinearOperator, eigsh

        n = g.num_nodes
        if not 1 <= self.dim < n:
            raise ValueError(f"spectral embedding needs 1 <= dim < N = {n}, got dim={self.dim}")
        a = g.to_scipy("csr").astype(np.float64)
        a = ((a + a.T) > 0).astype(np.float64).tocsr()        # symmetric 0/1, loops kept
        deg = np.asarray(a.sum(1)).ravel()
        dinv = np.divide(1.0, np.sqrt(deg), out=np.zeros_like(deg), where=deg > 0)
        m = (sp.diags(dinv) @ a @ sp.diags(dinv)).tocsr()
        # eigenvalue 1: one eigenvector per component with an edge, largest component first
        _, label = connected_components(a, directed=False)
        size = np.bincount(label)
        has_edge = np.bincount(label, weights=deg) > 0
        comps = [c for c in np.argsort(-size, kind="stable") if has_edge[c]][: self.dim]
        u1 = np.zeros((n, len(comps)))
        for i, c in enumerate(comps):
            v = np.sqrt(deg) * (label == c)
            u1[:, i] = v / np.linalg.norm(v)
        k = self.dim - len(comps)
        if k == 0:
            return torch.from_numpy(u1).float()
        # M - 3 U1 U1^T moves eigenvalue 1 to -2, below M's spectrum [-1, 1]
        deflated = LinearOperator((n, n), dtype=np.float64,
                                  matvec=lambda x: m @ x - 3.0 * (u1 @ (u1.T @ x)))
        v0 = torch.rand(n, generator=generator, dtype=torch.float64).numpy() + 0.5
        vals, vecs = eigsh(deflated, k=k, which="LA", v0=v0, tol=self.tol)
        order = np.argsort(-vals, kind="stable")
        z = np.concatenate([u1, vecs[:, order]], axis=1)      # [N, dim]
        return torch.from_numpy(np.ascontiguousarray(z)).float()


class DeepWalk:
    r"""DeepWalk (Perozzi, Al-Rfou & Skiena, KDD 2014): skip-gram on uniform random walks.

    ``walks_per_node`` rounds; in each, one walk of ``walk_length`` nodes from every node, in
    a random node order. Every (center, context) pair within a window (word2vec's shrinking
    window: b ~ U{1..window} per position) is a positive; the objective is skip-gram with
    negative sampling (Mikolov et al. 2013),

        log sigmoid(u_c . v_o) + sum_{k=1..K} log sigmoid(-u_c . v_{n_k}),
        n_k ~ P(v) proportional to count(v)^{3/4} in the walks,

    maximised by SGD over mini-batches of pairs, learning rate decaying linearly from ``lr``
    to ``lr * 1e-4`` (word2vec's schedule), ``epochs`` passes over the corpus. Input vectors
    U start uniform in +-0.5/dim, output vectors V at zero (word2vec's init); Z = U [N, dim].
    The gradient is written out (no autograd) and applied with ``index_add_``.

    Defaults: walk length 80, 10 walks per node, window 10, dim 128 (node2vec's settings of
    DeepWalk, which the VGAE paper's numbers are compared with), K = 5, one epoch.
    Differences from the paper: the authors' code trains with gensim's hierarchical softmax;
    here negative sampling is used, in mini-batches rather than one pair at a time.
    """

    def __init__(self, dim: int = 128, walk_length: int = 80, walks_per_node: int = 10,
                 window: int = 10, negatives: int = 5, epochs: int = 1, lr: float = 0.025,
                 batch_size: int = 1024, chunk_walks: int = 2048) -> None:
        self.dim, self.walk_length, self.walks_per_node = dim, walk_length, walks_per_node
        self.window, self.negatives, self.epochs, self.lr = window, negatives, epochs, lr
        self.batch_size, self.chunk_walks = batch_size, chunk_walks
        self.loss_history: list[float] = []

    def walks(self, g: Graph, generator: torch.Generator | None = None) -> Tensor:
        """The corpus: ``walks_per_node`` rounds of one walk per node, ``[N * rounds, L]``."""
        n = g.num_nodes
        starts = torch.cat([torch.randperm(n, generator=generator)
                            for _ in range(self.walks_per_node)])
        return random_walk(g, starts, self.walk_length - 1, generator)

    def fit(self, g: Graph, generator: torch.Generator | None = None) -> Tensor:
        n, d = g.num_nodes, self.dim
        walks = self.walks(g, generator)                             # [W, L]
        table = _noise_table(torch.bincount(walks[walks >= 0], minlength=n))
        w_in = (torch.rand(n, d, generator=generator) - 0.5) / d      # [N, D] U
        w_out = torch.zeros(n, d)                                     # [N, D] V
        chunks = math.ceil(walks.shape[0] / self.chunk_walks)
        total, step = self.epochs * chunks, 0
        self.loss_history = []
        for _ in range(self.epochs):
            order = torch.randperm(walks.shape[0], generator=generator)
            for c in range(chunks):
                chunk = walks[order[c * self.chunk_walks:(c + 1) * self.chunk_walks]]
                pairs = skipgram_pairs(chunk, self.window, generator)  # [2, P]
                pairs = pairs[:, torch.randperm(pairs.shape[1], generator=generator)]
                p = pairs.shape[1]
                neg = table[torch.randint(table.numel(), (p, self.negatives),
                                          generator=generator)]       # [P, K]
                loss_sum = 0.0
                for a in range(0, p, self.batch_size):
                    frac = (step + a / max(p, 1)) / total                # progress in [0, 1)
                    lr = self.lr * max(1e-4, 1.0 - frac)
                    b = slice(a, a + self.batch_size)
                    loss_sum += _sgns_step(w_in, w_out, pairs[0, b], pairs[1, b], neg[b], lr)
                self.loss_history.append(loss_sum / max(p, 1))
                step += 1
        return w_in


def _noise_table(counts: Tensor, size: int = 1 << 20) -> Tensor:
    """word2vec's unigram table: node v fills a share count(v)^{3/4} / sum of ``size`` slots,
    so a uniform slot is a draw from the noise distribution. [N] counts -> [~size] node ids."""
    w = counts.double().pow(0.75)
    slots = torch.round(w / w.sum() * size).long()
    slots[(slots == 0) & (counts > 0)] = 1                 # every visited node can be drawn
    return torch.repeat_interleave(torch.arange(counts.numel()), slots)


def _sgns_step(w_in: Tensor, w_out: Tensor, cen: Tensor, ctx: Tensor, neg: Tensor,
               lr: float) -> float:
    """One SGD step of skip-gram with negative sampling, in place; returns the summed loss
    -log sigmoid(u.v) - sum_k log sigmoid(-u.v_k) of the batch.

    Shapes: w_in, w_out [N, D]; cen, ctx [B]; neg [B, K].
    """
    b, k = neg.shape
    u = w_in.index_select(0, cen)                           # [B, D]
    v = w_out.index_select(0, ctx)                          # [B, D]
    vn = w_out.index_select(0, neg.reshape(-1)).view(b, k, -1)   # [B, K, D]
    s_pos = (u * v).sum(-1)                                 # [B]
    s_neg = torch.bmm(vn, u.unsqueeze(-1)).squeeze(-1)      # [B, K]
    g_pos = torch.sigmoid(-s_pos)                           # d log sigmoid(s) / ds
    g_neg = torch.sigmoid(s_neg).neg_()                     # d log sigmoid(-s) / ds
    grad_u = torch.baddbmm(g_pos.view(b, 1, 1) * v.unsqueeze(1), g_neg.unsqueeze(1),
                           vn).squeeze(1)                   # [B, D] d loss / d u (ascent)
    w_out.index_add_(0, ctx, g_pos.unsqueeze(-1) * u, alpha=lr)
    w_out.index_add_(0, neg.reshape(-1), (g_neg.unsqueeze(-1) * u.unsqueeze(1)).view(b * k, -1),
                     alpha=lr)
    w_in.index_add_(0, cen, grad_u, alpha=lr)
    return float(F.softplus(-s_pos).sum() + F.softplus(s_neg).sum())
