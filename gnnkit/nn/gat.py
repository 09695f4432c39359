"""Graph attention (Veličković et al., ICLR 2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import ops
from ..graph import Graph
from .functional import check_dims, check_features, dropout
from .gcn import glorot_

__all__ = ["GATConv"]


class GATConv(nn.Module):
    r"""Multi-head graph attention (Veličković et al., ICLR 2018, Eqs. 1-6).

        e_ij^k     = LeakyReLU_0.2( a_dst^k . W^k h_i + a_src^k . W^k h_j
                                    [+ a_edge^k . W_e^k f_ji] )
        alpha_ij^k = softmax_{j in N(i) U {i}} e_ij^k
        h'_i       = ||_{k=1..H} sum_j alpha_ij^k W^k h_j      (concat=True)
                   = 1/H sum_k sum_j alpha_ij^k W^k h_j        (concat=False, output layer)

    The paper's a^T [W h_i || W h_j] is split into a_dst . W h_i + a_src . W h_j, so no
    [E, H, 2C] tensor is formed: two [N, H] scores are gathered per edge. Each node attends
    over its in-neighbours and itself (existing self-loops are replaced by one loop per
    node). Dropout with rate ``attn_dropout`` is applied to alpha in training (Sec. 3.3).
    With ``edge_dim``, edge features f_ji [E, F_e] add a_edge . W_e f_ji to the logits
    (the e-GAT of MemGNN; loops get the mean of the node's incoming edge features).

    Shapes: x [N, F_in], g with N nodes -> [N, H * C] (concat) or [N, C];
    with ``return_attention=True`` also ``(edge_index [2, E'], alpha [E', H])`` over the
    graph with self-loops, in its COO order.

    With ``fused=True`` (the default) the node scores, logits, softmax, attention dropout and
    aggregation run as one autograd function, :func:`gnnkit.ops.gat_attention`, which keeps
    one [E', H] tensor for the backward pass (the softmax numerators), recomputes the
    logits there and redraws the dropout mask from the saved generator state; the e-GAT
    term is fused too (its [E', H] logits are an input of that function).
    ``fused=False`` runs the plain composition of ``(h * att).sum(-1)``, gathers,
    ``leaky_relu``, :func:`gnnkit.ops.segment_softmax`, dropout and
    :func:`gnnkit.ops.multihead_spmm`; the two give the same numbers to rounding (tests
    compare them) and draw the same dropout mask from the same generator state.

    Differences from the paper: none in the math; the bias is added after concatenation
    or averaging, as in the authors' code.
    """

    def __init__(self, in_dim: int, out_dim: int, num_heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, attn_dropout: float = 0.0, bias: bool = True,
                 edge_dim: int | None = None, fused: bool = True) -> None:
        super().__init__()
        check_dims("GATConv", in_dim=in_dim, out_dim=out_dim, num_heads=num_heads,
                   edge_dim=edge_dim)
        if not 0.0 <= attn_dropout <= 1.0:
            raise ValueError(f"GATConv: attn_dropout must lie in [0, 1], got {attn_dropout}")
        self.in_dim, self.out_dim, self.num_heads = in_dim, out_dim, num_heads
        self.concat, self.negative_slope, self.attn_dropout = concat, negative_slope, attn_dropout
        self.edge_dim, self.fused = edge_dim, fused
        self.weight = nn.Parameter(torch.empty(in_dim, num_heads * out_dim))
        self.att_src = nn.Parameter(torch.empty(1, num_heads, out_dim))
        self.att_dst = nn.Parameter(torch.empty(1, num_heads, out_dim))
        if edge_dim is not None:
            self.weight_edge = nn.Parameter(torch.empty(edge_dim, num_heads * out_dim))
            self.att_edge = nn.Parameter(torch.empty(1, num_heads, out_dim))
        else:
            self.register_parameter("weight_edge", None)
            self.register_parameter("att_edge", None)
        width = num_heads * out_dim if concat else out_dim
        self.bias = nn.Parameter(torch.empty(width)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for p in (self.weight, self.att_src, self.att_dst, self.weight_edge, self.att_edge):
            if p is not None:
                glorot_(p)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Tensor, g: Graph, return_attention: bool = False):  # noqa: ANN201
        H, C = self.num_heads, self.out_dim
        check_features("GATConv", x, self.in_dim, g.num_nodes)
        ga = ops.gat_graph(g)                                   # loops added, cached
        s = ops._structure(ga)
        h = (x @ self.weight).view(-1, H, C)                    # [N, H, C]
        s_edge = None
        if self.edge_dim is not None:
            if ga.edge_attr is None:
                raise ValueError(f"GATConv(edge_dim={self.edge_dim}) needs g.edge_attr")
            check_features("GATConv", ga.edge_attr, self.edge_dim, what="g.edge_attr")
            fe = (ga.edge_attr[s.perm] @ self.weight_edge).view(-1, H, C)   # [E', H, C]
            s_edge = (fe * self.att_edge).sum(-1)               # [E', H], CSR order
        p = self.attn_dropout if self.training else 0.0
        if self.fused:
            out, alpha = ops.gat_attention(ga, h, self.att_src, self.att_dst, s_edge,
                                           self.negative_slope, p, return_alpha=return_attention)
        else:  # the plain composition: the reference the fused path is tested against
            s_src = (h * self.att_src).sum(-1)                  # [N, H]
            s_dst = (h * self.att_dst).sum(-1)                  # [N, H]
            logits = ops.gather_src(ga, s_src) + ops.gather_dst(ga, s_dst)   # [E', H], CSR order
            if s_edge is not None:
                logits = logits + s_edge
            logits = F.leaky_relu(logits, self.negative_slope)
            alpha = ops.segment_softmax(logits, ga.csr[0], s.dst_csr)   # [E', H]
            out = ops.multihead_spmm(ga, dropout(alpha, p), h)  # [N, H, C]
        out = out.reshape(-1, H * C) if self.concat else out.mean(1)
        if self.bias is not None:
            out = out + self.bias
        if not return_attention:
            return out
        alpha_coo = torch.empty_like(alpha).index_copy_(0, s.perm, alpha.detach())
        return out, (ga.edge_index, alpha_coo)

    def extra_repr(self) -> str:
        return (f"{self.in_dim}, {self.out_dim}, heads={self.num_heads}, concat={self.concat}"
                + ("" if self.fused else ", fused=False"))
