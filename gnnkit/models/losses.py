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

The dense part is :func:`softplus_gram_sum`, computed over row blocks of S by a custom
autograd function. Its gradient, d/dZ sum softplus(Z Z^T) = 2 sigmoid(Z Z^T) Z (S is
symmetric), is only [N, D], so it is accumulated from each logits block during the forward
pass and saved (rather than recomputing the blocks in backward: same memory, half the work).
Peak memory is then a couple of blocks of ``block_mb`` megabytes (default 1 MB: blocks that
stay in the CPU cache ran 2-2.5x faster than 64 MB ones on Cora and PubMed) instead of
several N^2 tensors: PubMed's N^2 float32 is
1.55 GB, and a dense autograd graph holds about four of them (:func:`dense_recon_loss` is
that formulation, kept as the reference for tests and the memory benchmark).

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
           "sampled_recon_loss", "softplus_gram_sum"]


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


class _SoftplusGramSum(torch.autograd.Function):
    """sum_{i,j} softplus(z_i . z_j), row block by row block, upper triangle only.

    S = Z Z^T is symmetric, so row block [a, a+b) needs only the columns j >= a: the
    diagonal block [b, b] (itself symmetric) counts once and the columns j >= a + b twice,
    which halves the products and the softplus evaluations of the full sum.

    The gradient 2 sigmoid(S) Z is only [N, D], so when Z requires grad it is accumulated
    during the forward pass from the same logits block (no second product, no recomputation)
    and saved for the backward pass: memory O(N D + block * N) either way. With G =
    sigmoid(S) restricted to the block's columns [b, N - a]: rows a..a+b receive G Z[a:], and
    (symmetry) rows a+b.. receive G[:, b:]^T Z[a:a+b].
    """

    @staticmethod
    def forward(ctx, z: Tensor, rows: int) -> Tensor:  # noqa: ANN001
        grad = z.requires_grad
        gz = torch.zeros_like(z) if grad else None
        total = torch.zeros((), dtype=torch.float64, device=z.device)
        n = z.shape[0]
        for a in range(0, n, rows):
            b = min(rows, n - a)
            s = z[a:a + b] @ z[a:].t()                           # [b, N - a] logits, j >= a
            sp = F.softplus(s)
            total += (2.0 * sp[:, b:].sum() + sp[:, :b].sum()).double()   # float32 per block
            if grad:
                sig = s.sigmoid_()                               # [b, N - a]
                gz[a:a + b].addmm_(sig, z[a:])                   # [b, D] rows of the block
                if a + b < n:                                    # mirrored lower triangle
                    gz[a + b:].addmm_(sig[:, b:].t(), z[a:a + b])
        ctx.save_for_backward(gz)
        return total.to(z.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):  # noqa: ANN205
        (gz,) = ctx.saved_tensors
        return gz * (2.0 * grad), None                           # S symmetric: S^T Z term = S Z


def softplus_gram_sum(z: Tensor, block_rows: int | None = None, block_mb: float = 1.0) -> Tensor:
    """``sum_{i,j} softplus((Z Z^T)_ij)`` as a scalar, with gradient, in O(block * N) memory.

    Shapes: z [N, D] -> []. ``block_rows`` rows of S per block (default: :func:`row_block`
    with ``block_mb``). The sum is accumulated in float64.
    """
    rows = block_rows if block_rows is not None else row_block(z.shape[0], block_mb, z.dtype)
    if rows < 1:
        raise ValueError(f"block_rows must be >= 1, got {rows}")
    return _SoftplusGramSum.apply(z, rows)


def _check_edges(edge_index: Tensor, n: int) -> None:
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {list(edge_index.shape)}")
    if (bad := ids_outside(edge_index, n)) is not None:
        raise ValueError(f"edge_index holds node ids in [{bad[0]}, {bad[1]}], but z has {n} "
                         f"rows")
    if edge_index.numel() and bool((edge_index[0] == edge_index[1]).any()):
        raise ValueError("edge_index must not hold self-loops: the target adds I itself")


def full_recon_loss(z: Tensor, edge_index: Tensor, block_rows: int | None = None,
                    block_mb: float = 1.0) -> Tensor:
    r"""The paper's weighted reconstruction loss over all N^2 pairs (module docstring).

    ``edge_index`` [2, E] is A_train: both directions of every training edge, no self-loops,
    no duplicates (the target adds the N diagonal pairs). Shapes: z [N, D] -> [] (a scalar).
    Memory: O(E + block * N); time: O(N^2 D) per call, like the dense loss.
    """
    n = z.shape[0]
    _check_edges(edge_index, n)
    pos_weight, norm = recon_weights(n, edge_index.shape[1])
    loop = torch.arange(n, device=z.device)
    src = torch.cat([edge_index[0], loop])                    # [E + N] positive pairs of A + I
    dst = torch.cat([edge_index[1], loop])
    s_pos = (z[src] * z[dst]).sum(-1)                         # [E + N]
    correction = (pos_weight * F.softplus(-s_pos) - F.softplus(s_pos)).sum()
    total = softplus_gram_sum(z, block_rows, block_mb) + correction
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

