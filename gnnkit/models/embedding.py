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

__all__ = ["DeepWalk", "SpectralEmbedding", "huffman_code"]


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
    a random node order. Every (center c, context o) pair within a window (word2vec's
    shrinking window: b ~ U{1..window} per position) is a positive, and skip-gram maximises
    log P(o | c) for each pair with one of two objectives (Mikolov et al. 2013):

    ``objective = "hs"``, hierarchical softmax (the DeepWalk paper, Sec. 4.2.2, and the
    authors' code). A Huffman tree over the nodes' visit counts in the walks (frequent nodes
    near the root, :func:`huffman_code`) gives node o the path of inner nodes n_1 .. n_L(o)
    from the root and the branch bits d_1 .. d_L(o), and

        P(o | c) = prod_{l=1..L(o)} sigmoid((1 - 2 d_l) u_c . v_{n_l}),

    a distribution over the N nodes (the two branches at an inner node have probabilities
    sigmoid(x) and sigmoid(-x)). The SGD step on one pair is word2vec's:
    g_l = 1 - d_l - sigmoid(u_c . v_{n_l}), v_{n_l} += lr g_l u_c, u_c += lr sum_l g_l v_{n_l}.
    V holds N - 1 inner-node vectors.

    ``objective = "ns"``, negative sampling (``negatives`` = K noise nodes per pair),

        log sigmoid(u_c . v_o) + sum_{k=1..K} log sigmoid(-u_c . v_{n_k}),
        n_k ~ P(v) proportional to count(v)^{3/4} in the walks,

    V then holds one output vector per node.

    Both are maximised by SGD over mini-batches of ``batch_size`` pairs (their gradients
    summed), learning rate decaying linearly from ``lr`` to ``lr * 1e-4`` (word2vec's
    schedule), ``epochs`` passes over the corpus. Input vectors U start uniform in
    +-0.5/dim, V at zero (word2vec's init); Z = U [N, dim]. The gradient is written out (no
    autograd) and applied with ``index_add_``.

    Shapes: g with N nodes -> Z [N, dim]; the HS step gathers [B, L_max, dim] inner-node
    vectors for a batch of B pairs (L_max: the batch's longest code, about log2 N).

    Defaults and their sources:
    - ``dim = 128``, ``walks_per_node = 10``, ``walk_length = 80``, ``window = 10``,
      ``epochs = 1``: the DeepWalk settings the VGAE paper (Kipf & Welling 2016, Sec. 3)
      states for its Table 1, run with the authors' implementation.
    - ``objective = "hs"``, lr 0.025 decaying to 1e-4, no subsampling of frequent nodes:
      the authors' code (phanein/deepwalk) trains gensim's Word2Vec with sg=1, hs=1, and its
      README asks for gensim 0.10.2 to reproduce the paper; that gensim's defaults are
      negative=0, sample=0, iter=1, alpha=0.025, min_alpha=1e-4.
    - ``negatives = 5`` (``"ns"`` only): word2vec's and gensim's default.
    - ``batch_size = 256``: ours. Summed gradients of many pairs make a step too large for
      the inner nodes that every pair shares (the root is on every path): on Cora (walk
      length 40, window 5, seeds 0-2) 8192 diverged, 1024 tested about 0.4 AUC points
      below 256, and 128 agreed with 256 to 0.05.

    Differences from the paper: pairs are processed in mini-batches rather than one at a time
    by Hogwild threads; the Huffman tree breaks ties in count by node id. Nodes with no
    edges never occur in a pair and keep their initial vectors, as in the authors' code.
    The authors' command-line defaults differ from the paper's settings (dim 64, walk
    length 40, window 5); newer gensim (>= 1.0) defaults to negative=5, sample=1e-3 and 5
    epochs, so the authors' current code with such a gensim trains HS and NS together; that
    mixture is not offered here.
    """

    def __init__(self, dim: int = 128, walk_length: int = 80, walks_per_node: int = 10,
                 window: int = 10, objective: str = "hs", negatives: int = 5, epochs: int = 1,
                 lr: float = 0.025, batch_size: int = 256, chunk_walks: int = 2048) -> None:
        self.dim, self.walk_length, self.walks_per_node = dim, walk_length, walks_per_node
        self.window, self.objective, self.negatives = window, objective, negatives
        self.epochs, self.lr = epochs, lr
        self.batch_size, self.chunk_walks = batch_size, chunk_walks
        self.loss_history: list[float] = []

    def walks(self, g: Graph, generator: torch.Generator | None = None) -> Tensor:
        """The corpus: ``walks_per_node`` rounds of one walk per node, ``[N * rounds, L]``."""
        n = g.num_nodes
        starts = torch.cat([torch.randperm(n, generator=generator)
                            for _ in range(self.walks_per_node)])
        return random_walk(g, starts, self.walk_length - 1, generator)

    def fit(self, g: Graph, generator: torch.Generator | None = None) -> Tensor:
        if self.objective not in ("hs", "ns"):
            raise ValueError(f"objective must be 'hs' (hierarchical softmax) or 'ns' "
                             f"(negative sampling), got {self.objective!r}")
        n, d = g.num_nodes, self.dim
        walks = self.walks(g, generator)                             # [W, L]
        counts = torch.bincount(walks[walks >= 0], minlength=n)      # [N]
        if self.objective == "hs":
            path, code, mask = huffman_code(counts)                  # [N, L_max] each
            code, mask = code.float(), mask.float()
            depth = mask.sum(1).long()                               # [N] code lengths
            w_out = torch.zeros(max(n - 1, 0), d)                    # [N - 1, D] inner nodes
        else:
            table = _noise_table(counts)
            w_out = torch.zeros(n, d)                                # [N, D] V
        w_in = (torch.rand(n, d, generator=generator) - 0.5) / d      # [N, D] U
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
                if self.objective == "ns":
                    neg = table[torch.randint(table.numel(), (p, self.negatives),
                                              generator=generator)]   # [P, K]
                loss_sum = 0.0
                for a in range(0, p, self.batch_size):
                    frac = (step + a / max(p, 1)) / total                # progress in [0, 1)
                    lr = self.lr * max(1e-4, 1.0 - frac)
                    b = slice(a, a + self.batch_size)
                    cen, ctx = pairs[0, b], pairs[1, b]
                    if self.objective == "hs":
                        ln = int(depth[ctx].max()) if ctx.numel() else 0   # batch's L_max
                        loss_sum += _hs_step(w_in, w_out, cen, path[ctx, :ln],
                                             code[ctx, :ln], mask[ctx, :ln], lr)
                    else:
                        loss_sum += _sgns_step(w_in, w_out, cen, ctx, neg[b], lr)
                self.loss_history.append(loss_sum / max(p, 1))
                step += 1
            if not bool(torch.isfinite(w_in).all()):
                raise FloatingPointError(
                    f"DeepWalk diverged (non-finite embeddings) with batch_size="
                    f"{self.batch_size}, lr={self.lr}; use a smaller batch_size or lr")
        return w_in


def huffman_code(counts: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    r"""word2vec's Huffman tree over node counts, for hierarchical softmax.

    The two least frequent (sub)trees are merged repeatedly (ties broken by id: leaves are
    0..N-1, inner node k is created as N + k); inner node k gets vector row k of the N - 1
    inner-node vectors, so the root is N - 2. Of the two merged trees, the first (lighter)
    is branch 0, the other branch 1. A node's path lists the inner nodes from the root to
    its parent and its code the branch taken at each, so frequent nodes get short codes and
    no code is a prefix of another.

    Shapes: counts [N] -> path [N, L_max] int64 (inner-node ids, padding 0), code [N, L_max]
    int64 (0/1, padding 0), mask [N, L_max] bool (True on the first L(v) entries of row v).
    N = 1 gives L_max = 0 (one node needs no decision).
    """
    import heapq

    n = counts.numel()
    if n <= 1:
        z = torch.zeros(n, 0, dtype=torch.long)
        return z, z.clone(), z.bool()
    heap = [(int(c), i) for i, c in enumerate(counts.tolist())]
    heapq.heapify(heap)
    parent = [0] * (2 * n - 1)                            # tree ids: leaves, then N + k
    bit = [0] * (2 * n - 1)
    for k in range(n - 1):
        c0, a = heapq.heappop(heap)
        c1, b = heapq.heappop(heap)
        parent[a], parent[b], bit[b] = n + k, n + k, 1
        heapq.heappush(heap, (c0 + c1, n + k))
    parent_t, bit_t = torch.tensor(parent), torch.tensor(bit)
    root = 2 * n - 2
    # walk up from every leaf at once: up[l] = (parent, branch) l + 1 steps above the leaf
    cur, ups, bits = torch.arange(n), [], []
    while bool((cur != root).any()):
        alive = cur != root
        ups.append(torch.where(alive, parent_t[cur] - n, -1))
        bits.append(torch.where(alive, bit_t[cur], 0))
        cur = torch.where(alive, parent_t[cur], cur)
    up, upbit = torch.stack(ups, 1), torch.stack(bits, 1)  # [N, L_max], leaf's parent first
    depth = (up >= 0).sum(1)                              # [N]
    pos = torch.arange(up.shape[1])
    mask = pos < depth.unsqueeze(1)                       # [N, L_max]
    src = (depth.unsqueeze(1) - 1 - pos).clamp(min=0)     # root first: reverse each row
    path = torch.where(mask, up.gather(1, src), 0)
    code = torch.where(mask, upbit.gather(1, src), 0)
    return path, code, mask


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


def _hs_step(w_in: Tensor, w_out: Tensor, cen: Tensor, path: Tensor, code: Tensor,
             mask: Tensor, lr: float) -> float:
    """One SGD step of skip-gram with hierarchical softmax, in place; returns the summed loss
    -log P(o | c) = -sum_l log sigmoid((1 - 2 d_l) u_c . v_{n_l}) of the batch.

    ``path``, ``code``, ``mask`` are the rows of :func:`huffman_code` for the contexts o,
    ``code`` and ``mask`` in the dtype of the weights.

    Shapes: w_in [N, D]; w_out [N - 1, D] inner nodes; cen [B]; path, code, mask [B, L].
    """
    b, ln = path.shape
    u = w_in.index_select(0, cen)                           # [B, D]
    v = w_out.index_select(0, path.reshape(-1)).view(b, ln, -1)  # [B, L, D]
    s = torch.bmm(v, u.unsqueeze(-1)).squeeze(-1)           # [B, L]
    g = (1.0 - code - torch.sigmoid(s)) * mask              # [B, L] d log P / d s (ascent)
    grad_u = torch.bmm(g.unsqueeze(1), v).squeeze(1)        # [B, D]
    w_out.index_add_(0, path.reshape(-1), (g.unsqueeze(-1) * u.unsqueeze(1)).view(b * ln, -1),
                     alpha=lr)
    w_in.index_add_(0, cen, grad_u, alpha=lr)
    return float((F.softplus((2.0 * code - 1.0) * s) * mask).sum())
