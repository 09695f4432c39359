"""Graph convolution (Kipf & Welling, ICLR 2017)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .. import ops
from ..graph import Graph
from .functional import check_dims, check_features

__all__ = ["GCNConv", "glorot_"]


def glorot_(w: Tensor) -> Tensor:
    """Glorot & Bengio (2010) uniform init, U(-a, a) with a = sqrt(6 / (fan_in + fan_out)),
    computed on the last two dims as the authors' TensorFlow code does."""
    fan_in, fan_out = w.shape[-2], w.shape[-1]
    a = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return w.uniform_(-a, a)


class GCNConv(nn.Module):
    r"""Graph convolution (Kipf & Welling, ICLR 2017, Eq. 2).

        H' = D^{-1/2} (A + I) D^{-1/2} H W + b,     D_ii = sum_j (A + I)_ij

    Edge weights (``g.edge_weight``) enter A. The normalised weights are computed once per
    graph and cached on it (:func:`gnnkit.ops.gcn_norm`).

    Shapes: x [N, F_in], g: Graph with N nodes -> [N, F_out].

    Differences from the paper: a node that already has a self-loop keeps it (weight kept)
    instead of getting a second one, as in PyG; the paper's graphs have no self-loops.
    The product is ordered (A (H W)) when F_out <= F_in, else ((A H) W): same result, less work.
    """

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True,
                 add_self_loops: bool = True, normalize: bool = True) -> None:
        super().__init__()
        check_dims("GCNConv", in_dim=in_dim, out_dim=out_dim)
        self.in_dim, self.out_dim = in_dim, out_dim
        self.add_self_loops, self.normalize = add_self_loops, normalize
        self.weight = nn.Parameter(torch.empty(in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(out_dim)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        glorot_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, g: Graph) -> Tensor:
        check_features("GCNConv", x, self.in_dim, g.num_nodes)
        if self.normalize:
            gh, w = ops.gcn_norm(g, self.add_self_loops, x.dtype)   # [E'] cached per graph
        else:
            gh, w = g, g.edge_weight
            w = None if w is None else w.to(x.dtype)
        if self.out_dim <= self.in_dim:
            out = ops.spmm(gh, x @ self.weight, w)          # [N, F_out]
        else:
            out = ops.spmm(gh, x, w) @ self.weight          # [N, F_out]
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}"
