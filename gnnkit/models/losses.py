r"""Reconstruction losses of graph auto-encoders (Kipf & Welling, "Variational Graph
Auto-Encoders", 2016), over all N^2 pairs without building an N x N tensor.

The paper's loss, as coded in tkipf/gae (``gae/optimizer.py`` and ``gae/train.py``): with
logits S = Z Z^T, target T = A_train + I and E = nnz(A_train) (both directions counted, the
identity not),

    pos_weight = (N^2 - E) / E,        norm = N^2 / (2 (N^2 - E))
    L = norm * mean_{i,j} [ pos_weight * T_ij * softplus(-S_ij) + (1 - T_ij) * softplus(S_ij) ]

(``softplus(-s) = -log sigmoid(s)``: this is TensorFlow's
``weighted_cross_entropy_with_logits``). Since softplus(-s) - softplus(s) = -s, the sum splits
into a dense part over every pair and a sparse correction over the E + N positive pairs:

    N^2 L / norm = sum_{i,j} softplus(S_ij)
                   + sum_{(i,j): T_ij = 1} [ pos_weight * softplus(-S_ij) - softplus(S_ij) ]

The dense part is :func:`softplus_gram_sum`, computed over tiles of S (its upper triangle)
by a custom autograd function. Its gradient, d/dZ sum softplus(Z Z^T) = 2 sigmoid(Z Z^T) Z
(S is symmetric), is only [N, D], so it is accumulated from each logits tile during the
forward pass and saved (rather than recomputing the tiles in backward: same memory, half the
work). Peak memory is then a couple of tiles of ``block_mb`` megabytes (default 1 MB: tiles
that stay in the CPU cache ran 2-2.5x faster than 64 MB ones on Cora and PubMed; on CUDA,
where each tile costs kernel launches, the link task takes 64 MB) instead of several N^2
tensors: PubMed's N^2 float32 is 1.55 GB, and a dense autograd graph holds about four of
them (:func:`dense_recon_loss` is that formulation, kept as the reference for tests and the
memory benchmark).

:func:`sampled_recon_loss` is the cheaper variant of PyG's ``GAE.recon_loss``: the positive
pairs plus as many uniformly drawn non-edges, ``mean softplus(-s_pos) + mean softplus(s_neg)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..ops import ids_outside
from ..sampling import negative_pairs

__all__ = ["dense_recon_loss", "full_recon_loss", "kl_term", "recon_weights", "row_block",
           "sampled_recon_loss", "softplus_gram_sum", "tile_shape"]


def recon_weights(num_nodes: int, num_edges: int) -> tuple[float, float]:
    """``(pos_weight, norm)`` of the paper's loss for N nodes and E = nnz(A_train)."""
    n2 = float(num_nodes) * num_nodes
    if not 0 < num_edges < n2:
        raise ValueError(f"the reconstruction loss needs 0 < E < N^2, got E={num_edges}, "
                         f"N={num_nodes}")
    return (n2 - num_edges) / num_edges, n2 / (2.0 * (n2 - num_edges))


def row_block(num_nodes: int, block_mb: float, dtype: torch.dtype = torch.float32) -> int:
    """Rows per block so that one ``[rows, N]`` block takes at most ``block_mb`` megabytes."""
    bytes_per_row = num_nodes * torch.finfo(dtype).bits // 8
    return max(1, min(num_nodes, int(block_mb * 2**20 // bytes_per_row)))


_TILE_ROWS = 64     # rows of a tile when block_mb holds fewer than this many whole rows


def tile_shape(num_nodes: int, block_mb: float, dtype: torch.dtype = torch.float32
               ) -> tuple[int, int]:
    """``(rows, cols)`` of the tiles of S that :func:`softplus_gram_sum` takes, each at most
    ``block_mb`` megabytes: whole rows (:func:`row_block`) when at least 64 fit, else 64 rows
    (all of them when N < 64) by as many columns as fit (at least as many as rows).

    Tall tiles keep the gradient's products efficient: each tile adds its [cols, D] share to
    the mirrored rows of the gradient, so with few rows per tile (13 on PubMed in 1 MB) that
    update, not the tile, dominates the memory traffic.
    """
    whole = row_block(num_nodes, block_mb, dtype)
    if whole >= min(_TILE_ROWS, num_nodes):
        return whole, num_nodes
    rows = min(_TILE_ROWS, num_nodes)
    budget = int(block_mb * 2**20 // (torch.finfo(dtype).bits // 8))
    return rows, min(num_nodes, max(rows, budget // rows))


_PROD_ROWS = 64     # sigmoid(|s|) >= 1/2, so a product of 64 stays above 2^-64 (no underflow)


def _upper(t: Tensor, d: int) -> Tensor:
    """A tile's share of the full sum: its first ``d`` columns (those of the diagonal block)
    once, the others (mirrored in the lower triangle) twice.  t [b, w] or [w] -> []."""
    twice = 2.0 * t.sum()
    return twice - t[..., :d].sum() if d else twice


def _softplus_sum_via_sigmoid(s: Tensor, d: int, buf: Tensor) -> Tensor:
    """``_upper(softplus(s), d)`` in float64, leaving ``sigmoid(s)`` in ``s`` (for the gradient).
    ``buf``: scratch of s's shape (contiguous, reused across tiles).

    softplus(s) = relu(s) - log sigmoid(|s|) and sigmoid(|s|) = max(sigmoid(s), 1 - sigmoid(s)),
    so the logarithm is the only transcendental besides the sigmoid that the gradient needs,
    and it is taken of products of up to ``_PROD_ROWS`` rows (each factor in [1/2, 1]). On CPU
    this takes 0.43-0.48x the time of ``F.softplus`` then ``sigmoid`` (torch's CPU softplus
    costs several sigmoids per element; benchmarks/kernels/bench_gram_loss.py); it agrees
    with the float64 sum of ``F.softplus`` as closely as float32 ``F.softplus`` does (about
    1e-9 relative on PubMed).
    """
    pos = _upper(torch.clamp_min(s, 0.0, out=buf), d)            # sum relu(s)
    sig = s.sigmoid_()
    u = torch.maximum(sig, torch.neg(sig, out=buf).add_(1.0), out=buf)   # sigmoid(|s|) >= 1/2
    logs = sum(_upper(u[r:r + _PROD_ROWS].prod(0).log_(), d).double()
               for r in range(0, s.shape[0], _PROD_ROWS))
    return pos.double() - logs


class _SoftplusGramSum(torch.autograd.Function):
    """sum_{i,j} softplus(z_i . z_j), tile by tile, upper triangle only.

    S = Z Z^T is symmetric, so the row block [a, a+b) needs only the columns j >= a: its
    diagonal block [b, b] (itself symmetric) counts once and the columns j >= a + b twice,
    which halves the products and the softplus evaluations of the full sum. Those columns
    are taken ``cols`` at a time, so a tile [b, w] stays in cache while it is worked on.

    The gradient 2 sigmoid(S) Z is only [N, D], so when Z requires grad it is accumulated
    during the forward pass from the same tile (no second product, no recomputation) and
    saved for the backward pass: memory O(N D + rows * cols) either way. With G = sigmoid(S)
    on the tile's columns [c, c+w): rows a..a+b receive G Z[c:c+w], and (symmetry) the rows
    c.. c+w outside the diagonal block receive G^T Z[a:a+b].

    On CPU the softplus sum is taken from the sigmoid (:func:`_softplus_sum_via_sigmoid`);
    on other devices, where a pass over the tile costs memory bandwidth rather than
    arithmetic, with ``F.softplus`` (fewer passes).
    """

    @staticmethod
    def forward(ctx, z: Tensor, rows: int, cols: int) -> Tensor:  # noqa: ANN001
        grad = z.requires_grad
        gz = torch.zeros_like(z) if grad else None
        total = torch.zeros((), dtype=torch.float64, device=z.device)
        n, cpu = z.shape[0], z.device.type == "cpu"
        cols = max(cols, rows)                   # the diagonal block lies in the first tile
        # CPU: the tile and its scratch are reused, not allocated per tile (a fresh 1 MB
        # allocation may be returned to the system and page-faulted in again every time)
        scratch = z.new_empty(2, min(rows, n) * min(cols, n)) if cpu else None
        for a in range(0, n, rows):
            b = min(rows, n - a)
            za = z[a:a + b]
            for c in range(a, n, cols):
                w = min(cols, n - c)
                d = b if c == a else 0           # diagonal-block columns of this tile
                if cpu:
                    s = torch.mm(za, z[c:c + w].t(), out=scratch[0, :b * w].view(b, w))
                    total += _softplus_sum_via_sigmoid(s, d, scratch[1, :b * w].view(b, w))
                    sig = s                                      # s became sigmoid(s)
                else:
                    s = za @ z[c:c + w].t()                      # [b, w] logits
                    total += _upper(F.softplus(s), d).double()   # float32 per tile
                    sig = s.sigmoid_() if grad else None
                if grad:
                    gz[a:a + b].addmm_(sig, z[c:c + w])          # [b, D]
                    if w > d:                                    # mirrored lower triangle
                        gz[c + d:c + w].addmm_(sig[:, d:].t(), za)
        ctx.save_for_backward(gz)
        return total.to(z.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):  # noqa: ANN205
        (gz,) = ctx.saved_tensors
        return gz * (2.0 * grad), None, None                     # S symmetric: S^T Z = S Z


def softplus_gram_sum(z: Tensor, block_rows: int | None = None, block_mb: float = 1.0,
                      block_cols: int | None = None) -> Tensor:
    """``sum_{i,j} softplus((Z Z^T)_ij)`` as a scalar, with gradient, in O(tile) memory.

    Shapes: z [N, D] -> []. Tiles of S: :func:`tile_shape` of ``block_mb`` by default;
    ``block_rows`` (whole rows unless ``block_cols`` is given too) and ``block_cols`` set
    them. The sum is accumulated in float64. A float16 or bfloat16 z is computed in float32
    (a tile's sum alone can pass float16's largest value) and the result cast back.
    """
    if z.dtype in (torch.float16, torch.bfloat16):
        return softplus_gram_sum(z.float(), block_rows, block_mb, block_cols).to(z.dtype)
    n = z.shape[0]
    if n == 0:
        return z.sum()                                           # no pairs: 0, with grad
    if block_rows is None and block_cols is None:
        rows, cols = tile_shape(n, block_mb, z.dtype)
    else:
        rows = block_rows if block_rows is not None else row_block(n, block_mb, z.dtype)
        cols = block_cols if block_cols is not None else n
    if rows < 1 or cols < 1:
        raise ValueError(f"block_rows and block_cols must be >= 1, got {rows} and {cols}")
    return _SoftplusGramSum.apply(z, rows, cols)


def _check_edges(edge_index: Tensor, n: int) -> None:
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {list(edge_index.shape)}")
    if (bad := ids_outside(edge_index, n)) is not None:
        raise ValueError(f"edge_index holds node ids in [{bad[0]}, {bad[1]}], but z has {n} "
                         f"rows")
    if edge_index.numel() and bool((edge_index[0] == edge_index[1]).any()):
        raise ValueError("edge_index must not hold self-loops: the target adds I itself")


def full_recon_loss(z: Tensor, edge_index: Tensor, block_rows: int | None = None,
                    block_mb: float = 1.0, block_cols: int | None = None) -> Tensor:
    r"""The paper's weighted reconstruction loss over all N^2 pairs (module docstring).

    ``edge_index`` [2, E] is A_train: both directions of every training edge, no self-loops,
    no duplicates (the target adds the N diagonal pairs). Shapes: z [N, D] -> [] (a scalar).
    Memory: O(E + tile) (tiles as in :func:`softplus_gram_sum`); time: O(N^2 D) per call,
    like the dense loss. A float16 or bfloat16 z is computed in float32 and the loss cast
    back (pos_weight * softplus summed over the positive pairs passes float16's range).
    """
    if z.dtype in (torch.float16, torch.bfloat16):
        return full_recon_loss(z.float(), edge_index, block_rows, block_mb,
                               block_cols).to(z.dtype)
    n = z.shape[0]
    _check_edges(edge_index, n)
    pos_weight, norm = recon_weights(n, edge_index.shape[1])
    loop = torch.arange(n, device=z.device)
    src = torch.cat([edge_index[0], loop])                    # [E + N] positive pairs of A + I
    dst = torch.cat([edge_index[1], loop])
    s_pos = (z[src] * z[dst]).sum(-1)                         # [E + N]
    correction = (pos_weight * F.softplus(-s_pos) - F.softplus(s_pos)).sum()
    total = softplus_gram_sum(z, block_rows, block_mb, block_cols) + correction
    return norm * total / (float(n) * n)


def dense_recon_loss(z: Tensor, edge_index: Tensor) -> Tensor:
    """Reference formulation of :func:`full_recon_loss` with dense ``[N, N]`` logits and target
    (O(N^2) memory), exactly as tkipf/gae computes it."""
    n = z.shape[0]
    _check_edges(edge_index, n)
    pos_weight, norm = recon_weights(n, edge_index.shape[1])
    target = torch.eye(n, dtype=z.dtype, device=z.device)     # [N, N] = A_train + I
    target[edge_index[0], edge_index[1]] = 1.0
    logits = z @ z.t()                                         # [N, N]
    pw = torch.tensor(pos_weight, dtype=z.dtype, device=z.device)
    return norm * F.binary_cross_entropy_with_logits(logits, target, pos_weight=pw)


def sampled_recon_loss(z: Tensor, edge_index: Tensor, generator: torch.Generator | None = None
                       ) -> Tensor:
    """PyG-style loss: positives ``edge_index`` [2, E] and E uniform non-edges (u != v, not in
    ``edge_index``), ``mean softplus(-s_pos) + mean softplus(s_neg)``. No weighting, no norm,
    no diagonal; new negatives on every call (from ``generator``)."""
    n = z.shape[0]
    _check_edges(edge_index, n)
    neg = negative_pairs(n, edge_index.shape[1], edge_index, generator).to(z.device)
    s_pos = (z[edge_index[0]] * z[edge_index[1]]).sum(-1)     # [E]
    s_neg = (z[neg[0]] * z[neg[1]]).sum(-1)                   # [E]
    return F.softplus(-s_pos).mean() + F.softplus(s_neg).mean()


def kl_term(mu: Tensor, logstd: Tensor) -> Tensor:
    r"""VGAE's KL regulariser as tkipf/gae adds it to the loss (``gae/optimizer.py``):

        KL = -(0.5 / N) * mean_i sum_k (1 + 2 log sigma_ik - mu_ik^2 - sigma_ik^2)

    i.e. (1/N) * mean_i KL(N(mu_i, diag sigma_i^2) || N(0, I)): the paper's per-node KL,
    averaged over nodes and divided once more by N, matching the 1/N^2 scale of the
    reconstruction mean. Shapes: mu, logstd [N, D] -> [].
    """
    if mu.shape != logstd.shape or mu.dim() != 2:
        raise ValueError(f"kl_term: mu and logstd must both be [N, D], got {list(mu.shape)} "
                         f"and {list(logstd.shape)}")
    n = mu.shape[0]
    inner = 1 + 2 * logstd - mu.pow(2) - torch.exp(logstd).pow(2)   # [N, D]
    return -(0.5 / n) * inner.sum(-1).mean()

