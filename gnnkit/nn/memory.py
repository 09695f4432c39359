"""The memory layer of Memory-Based Graph Networks (Khasahmadi et al., ICLR 2020), its
clustering loss and its key initialisation.

A memory layer soft-clusters the n queries of a graph around K learned keys (centroids) and
returns one new query per key: it coarsens a graph of n nodes into a graph of K nodes. Layers
work on padded dense batches ``[B, N_max, F]`` with a node mask ``[B, N_max]``
(:func:`gnnkit.ops.to_dense_batch`); padded rows never enter an assignment, a value, the
clustering loss or a key update.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..graph import Graph
from ..ops import to_dense_batch
from .functional import check_dims, check_features

__all__ = ["MemoryLayer", "init_keys_kmeans", "kl_target", "kmeans", "memory_kl_loss"]

_EPS = 1e-12


class MemoryLayer(nn.Module):
    r"""Memory layer (Khasahmadi et al., ICLR 2020, Sec. 3.1, Eqs. 1-4).

    With queries q_i (one per node), H heads of K keys k^h_j and degrees of freedom tau:

        C^h_ij = (1 + ||q_i - k^h_j||^2 / tau)^(-(tau+1)/2)
                 / sum_j' (1 + ||q_i - k^h_j'||^2 / tau)^(-(tau+1)/2)      (Eq. 1, Student t)
        C_ij   = softmax_j( Gamma_{1x1}( ||_h C^h )_ij )                     (Eq. 2, heads merged)
        V      = C^T Q                                                       (Eq. 3, [K, F_in])
        Q'     = LeakyReLU(V W)                                              (Eq. 4, [K, F_out])

    ``Gamma_{1x1}`` is a 1x1 convolution with H input channels and one output channel (a
    learned weighted sum of the heads plus a bias), so C is a distribution over keys per node.

    Shapes: q [B, N, F_in], mask [B, N] bool (True = real node; None = all real)
    -> (q' [B, K, F_out], C [B, N, K]). Rows of C at padded nodes are exactly zero, so padded
    queries contribute nothing to V. The output graph has K real nodes (mask all True).

    Differences from the paper: none in the equations. W has no bias (Eq. 4 has none);
    the LeakyReLU slope is ``negative_slope`` (0.01, torch's default). The 1x1 convolution
    is computed as a weighted sum over heads with the ``conv`` module's weight and bias
    (4x faster than ``nn.Conv2d`` on CPU, same numbers). Distances use
    ||q||^2 - 2 q.k + ||k||^2 (clamped at 0), with q.k one matrix product against all
    H * K keys, so no [B, H, N, K, F] tensor is formed. :meth:`forward_batch` takes the
    packed rows of a batch and pads only after the assignment.
    """

    def __init__(self, in_dim: int, out_dim: int, num_keys: int, num_heads: int = 1,
                 tau: float = 1.0, negative_slope: float = 0.01) -> None:
        super().__init__()
        check_dims("MemoryLayer", in_dim=in_dim, out_dim=out_dim, num_keys=num_keys,
                   num_heads=num_heads)
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        self.in_dim, self.out_dim = in_dim, out_dim
        self.num_keys, self.num_heads = num_keys, num_heads
        self.tau, self.negative_slope = float(tau), negative_slope
        self.keys = nn.Parameter(torch.empty(num_heads, num_keys, in_dim))   # [H, K, F_in]
        self.conv = nn.Conv2d(num_heads, 1, kernel_size=1)                    # Gamma_{1x1}
        self.lin = nn.Linear(in_dim, out_dim, bias=False)                      # W
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.keys, std=1.0)
        self.conv.reset_parameters()
        self.lin.reset_parameters()

    def extra_repr(self) -> str:
        return (f"{self.in_dim}, {self.out_dim}, num_keys={self.num_keys}, "
                f"num_heads={self.num_heads}, tau={self.tau}")

    def assign(self, q: Tensor, mask: Tensor | None = None) -> Tensor:
        """The merged assignment C (Eqs. 1-2): q [..., N, F] -> C [..., N, K]; rows at padded
        nodes (``mask`` False) are zero. Works on a dense batch [B, N, F] or on the packed
        rows [N_total, F] of a batch (each row's assignment depends on that row alone)."""
        H, K = self.num_heads, self.num_keys
        k = self.keys                                                    # [H, K, F]
        qk = (q @ k.reshape(H * K, -1).t()).unflatten(-1, (H, K))       # [..., N, H, K]
        qq = (q * q).sum(-1)[..., None, None]                            # [..., N, 1, 1]
        kk = (k * k).sum(-1)                                             # [H, K]
        dist = (qq - 2 * qk + kk).clamp_min(0)                           # [..., N, H, K]
        c = (1 + dist / self.tau).pow(-(self.tau + 1) / 2)               # Eq. 1, unnormalised
        c = c / c.sum(-1, keepdim=True)                                  # [..., N, H, K]
        w = self.conv.weight.view(H, 1)                                  # [H, 1] (1x1 conv)
        s = (c * w).sum(-2) + self.conv.bias                             # [..., N, K]
        C = torch.softmax(s, dim=-1)                                     # Eq. 2
        if mask is not None:
            C = C * mask.unsqueeze(-1).to(C.dtype)                       # padded rows -> 0
        return C

    def read(self, q: Tensor, C: Tensor) -> Tensor:
        """Eqs. 3-4 for a dense batch: q [B, N, F_in] (zero at padding), C [B, N, K]
        -> q' [B, K, F_out]."""
        v = C.transpose(1, 2) @ q                                        # Eq. 3: [B, K, F_in]
        return F.leaky_relu(self.lin(v), self.negative_slope)           # Eq. 4: [B, K, F_out]

    def forward(self, q: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if not isinstance(q, Tensor) or q.dim() != 3:
            raise ValueError(f"MemoryLayer: q must be a padded batch [B, N, {self.in_dim}], got "
                             f"{list(q.shape) if isinstance(q, Tensor) else type(q).__name__}"
                             f" (packed rows of a gnnkit.batch go to forward_batch)")
        check_features("MemoryLayer", q[:1].flatten(0, 1), self.in_dim, what="q")  # one graph
        if mask is not None and tuple(mask.shape) != tuple(q.shape[:2]):
            raise ValueError(f"MemoryLayer: mask must have shape [B, N] = {list(q.shape[:2])}, "
                             f"got {list(mask.shape)}")
        C = self.assign(q, mask)                                         # [B, N, K]
        if mask is not None:
            q = q * mask.unsqueeze(-1).to(q.dtype)                       # no 0 * inf from padding
        return self.read(q, C), C

    def forward_batch(self, q: Tensor, g: Graph) -> tuple[Tensor, Tensor, Tensor]:
        """The layer on the packed node rows of a batch (:func:`gnnkit.batch`):
        q [N_total, F_in] -> (q' [B, K, F_out], C [B, N_max, K], mask [B, N_max]).

        The same numbers as ``forward(*to_dense_batch(q, g))``, but the assignment (the
        costly part, [N, H, K] per node) is computed on the N_total real rows only, then
        padded; on PROTEINS a batch of 16 graphs is about 3.8x larger padded.
        """
        check_features("MemoryLayer.forward_batch", q, self.in_dim, g.num_nodes, what="q")
        C, mask = to_dense_batch(self.assign(q), g)                      # [B, N_max, K]
        qd, _ = to_dense_batch(q, g)                                     # zero at padding
        return self.read(qd, C), C, mask


def kl_target(C: Tensor) -> Tensor:
    r"""The sharpened target distribution of the clustering loss (paper Eq. 5, after DEC).

        P_ij = (C_ij^2 / f_j) / sum_j' (C_ij'^2 / f_j'),     f_j = sum_i C_ij

    f sums over the nodes of one graph (padded rows of C are zero and add nothing). P is a
    constant: computed from ``C.detach()``. Shapes: C [B, N, K] -> P [B, N, K]; rows that are
    zero in C (padding) are zero in P.
    """
    C = C.detach()
    f = C.sum(1, keepdim=True)                                           # [B, 1, K]
    p = C * C / f.clamp_min(_EPS)                                        # [B, N, K]
    return p / p.sum(-1, keepdim=True).clamp_min(_EPS)


def memory_kl_loss(C: Tensor, mask: Tensor | None = None, reduction: str = "mean") -> Tensor:
    r"""Clustering loss KL(P || C) = sum_i sum_j P_ij log(P_ij / C_ij) over real nodes.

    ``reduction``: ``"sum"`` (the official code's choice) or ``"mean"`` (divided by the
    number of real nodes). Shapes: C [B, N, K], mask [B, N] -> scalar. Gradients flow into C
    only (P is constant).
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    P = kl_target(C)
    terms = torch.where(P > 0, P * (P.clamp_min(_EPS).log() - C.clamp_min(_EPS).log()),
                        torch.zeros_like(P))                             # [B, N, K]
    if mask is not None:
        terms = terms * mask.unsqueeze(-1).to(terms.dtype)
    total = terms.sum()
    if reduction == "sum":
        return total
    n = C.shape[0] * C.shape[1] if mask is None else int(mask.sum())
    return total / max(n, 1)


def kmeans(x: Tensor, k: int, generator: torch.Generator, iters: int = 25) -> Tensor:
    """Lloyd's k-means with k-means++ seeding. x [M, F] -> centroids [k, F].

    With fewer than k distinct points the missing centroids are points plus tiny noise.
    """
    m = x.shape[0]
    if m == 0:
        raise ValueError("kmeans needs at least one point")
    first = int(torch.randint(m, (1,), generator=generator))
    cents = [x[first]]
    d2 = ((x - cents[0]) ** 2).sum(-1)
    for _ in range(1, k):
        total = float(d2.sum())
        if total <= 0:
            idx = int(torch.randint(m, (1,), generator=generator))
        else:
            idx = int(torch.multinomial(d2 / total, 1, generator=generator))
        cents.append(x[idx])
        d2 = torch.minimum(d2, ((x - x[idx]) ** 2).sum(-1))
    c = torch.stack(cents).clone()                                      # [k, F]
    for _ in range(iters):
        lab = torch.cdist(x, c).argmin(1)                               # [M]
        sums = torch.zeros_like(c).index_add_(0, lab, x)
        cnt = torch.bincount(lab, minlength=k).to(x.dtype)
        keep = cnt > 0
        c[keep] = sums[keep] / cnt[keep, None]
    noise = torch.randn(c.shape, generator=generator, dtype=c.dtype) * 1e-4 * (c.std() + 1e-8)
    return c + noise


@torch.no_grad()
def init_keys_kmeans(layer: MemoryLayer, q: Tensor, mask: Tensor | None,
                     generator: torch.Generator) -> None:
    """Set every head's keys to k-means centroids of the real queries ``q[mask]``.

    Each head runs its own k-means++ seeding (heads start from different centroids).
    """
    pts = q.reshape(-1, q.shape[-1]) if mask is None else q[mask]       # [M, F]
    pts = pts.detach().cpu().to(layer.keys.dtype)  # the generator is a CPU one
    for h in range(layer.num_heads):
        layer.keys[h].copy_(kmeans(pts, layer.num_keys, generator).to(layer.keys.device))

