"""GraphSAGE convolution (Hamilton, Ying & Leskovec, NeurIPS 2017)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import ops
from ..graph import Graph
from .functional import check_dims, check_features
from .gcn import glorot_

__all__ = ["SAGEConv", "AGGREGATORS"]

AGGREGATORS = ("mean", "pool", "lstm", "gcn")


class _Linear(nn.Linear):
    """nn.Linear with the papers' Glorot weights and zero bias."""

    def reset_parameters(self) -> None:
        glorot_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)


class SAGEConv(nn.Module):
    r"""GraphSAGE layer (Hamilton et al., NeurIPS 2017, Algorithm 1, lines 4-5).

        h_N(v) = AGGREGATE({h_u : u in N(v)})
        h'_v   = W [h_v || h_N(v)] = W_self h_v + W_neigh h_N(v) + b      (concat-self)
        h'_v   = h'_v / ||h'_v||_2                                       (if normalize)

    Aggregators (Sec. 3.3): ``mean`` (elementwise mean); ``pool`` (max-pooling,
    max_u sigma(W_pool h_u + b_pool) with sigma = ReLU); ``lstm`` (an LSTM run over a random
    permutation of the neighbours, its last hidden state); ``gcn`` (the GCN variant,
    h'_v = W mean({h_v} U {h_u : u in N(v)}), no concatenation). Nodes without in-neighbours
    aggregate to 0.

    Shapes: x [N, F_in], g: Graph with N nodes -> [N, F_out].

    Differences from the paper: W [h_v || h_N(v)] is computed as two products (identical);
    the nonlinearity is applied by the model, and ``normalize`` here normalises the layer's
    pre-activation output (as PyG does); :class:`gnnkit.models.GraphSAGE` normalises after
    the nonlinearity as Algorithm 1 does. With the mean and GCN aggregators (both linear)
    W is applied before aggregating when F_out < F_in, which gives the same result. The LSTM
    aggregator runs all neighbourhoods as packed sequences (nodes sorted by degree) instead
    of padding every neighbourhood to the largest degree, with the input projection computed
    once per node (see ``_lstm_run``).
    """

    def __init__(self, in_dim: int, out_dim: int, aggregator: str = "mean",
                 normalize: bool = False, bias: bool = True, root_weight: bool = True,
                 pool_dim: int | None = None) -> None:
        super().__init__()
        check_dims("SAGEConv", in_dim=in_dim, out_dim=out_dim, pool_dim=pool_dim)
        if aggregator not in AGGREGATORS:
            raise ValueError(f"unknown aggregator {aggregator!r}; "
                             f"choose one of {', '.join(AGGREGATORS)}")
        self.in_dim, self.out_dim, self.aggregator = in_dim, out_dim, aggregator
        self.normalize = normalize
        self.root_weight = root_weight and aggregator != "gcn"
        agg_dim = in_dim
        if aggregator == "pool":
            agg_dim = pool_dim or in_dim
            self.pool = _Linear(in_dim, agg_dim, bias=True)
        elif aggregator == "lstm":
            self.lstm = nn.LSTM(in_dim, in_dim, batch_first=False)
        self.lin_neigh = _Linear(agg_dim, out_dim, bias=bias)
        self.lin_self = _Linear(in_dim, out_dim, bias=False) if self.root_weight else None

    def reset_parameters(self) -> None:
        self.lin_neigh.reset_parameters()
        if self.lin_self is not None:
            self.lin_self.reset_parameters()
        if self.aggregator == "pool":
            self.pool.reset_parameters()
        if self.aggregator == "lstm":
            self.lstm.reset_parameters()

    def aggregate(self, x: Tensor, g: Graph) -> Tensor:
        """h_N(v) for every node.  x [N, F_in] -> [N, F_agg]"""
        if self.aggregator == "mean":
            return ops.spmm(g, x, reduce="mean")                       # [N, F_in]
        if self.aggregator == "gcn":
            deg = g.in_degree.to(x.dtype).unsqueeze(-1)
            return (ops.spmm(g, x) + x) / (deg + 1)                   # [N, F_in]
        if self.aggregator == "pool":
            return ops.spmm(g, F.relu(self.pool(x)), reduce="max")    # [N, F_pool]
        return self._lstm(x, g)

    def _lstm(self, x: Tensor, g: Graph) -> Tensor:
        # Packed sequences, one per node with in-neighbours, longest first; each node's
        # neighbours in a random order (the paper's random permutation). Time step t holds
        # the t-th neighbour of every node whose degree exceeds t.
        rowptr, col, _ = g.csr
        deg = rowptr.diff()
        n = g.num_nodes
        out = x.new_zeros(n, self.in_dim)
        if g.num_edges == 0:
            return out
        # random order within each row: sort by (row, random key)
        shuffle = torch.randperm(col.numel(), device=x.device)
        row = ops.csr_destination(g)
        order = shuffle[torch.argsort(row[shuffle], stable=True)]  # rows grouped, order random
        col = col[order]
        nodes = torch.argsort(deg, descending=True, stable=True)
        nodes = nodes[deg[nodes] > 0]
        d = deg[nodes]                                         # [B] descending
        maxd = int(d[0])
        steps = torch.arange(maxd, device=x.device)
        batch_sizes = (d.unsqueeze(0) > steps.unsqueeze(1)).sum(1)   # [T]
        # element (t, b) for b < batch_sizes[t] -> neighbour rowptr[nodes[b]] + t
        tt = torch.repeat_interleave(steps, batch_sizes)
        bb = torch.arange(tt.numel(), device=x.device) - torch.repeat_interleave(
            torch.cumsum(batch_sizes, 0) - batch_sizes, batch_sizes)
        idx = col[rowptr[nodes[bb]] + tt]                     # [E] packed, time-major
        return out.index_copy(0, nodes, self._lstm_run(x, idx, batch_sizes.tolist()))

    def _lstm_run(self, x: Tensor, idx: Tensor, batch_sizes: list[int]) -> Tensor:
        """The LSTM (zero initial state) over packed sequences; the last hidden state of
        each sequence, sequences in packed order.   x [N, F_in], idx [E] -> [B, F_in]

        The same equations as ``nn.LSTM`` on ``PackedSequence(x[idx], batch_sizes)`` (gate
        order i, f, g, o), run step by step here because torch's packed LSTM slices its
        input per step and the backward of every slice zero-fills a gradient of the whole
        packed input (O(T E F) work: 90% of a Cora epoch). Here the input projection
        x W_ih^T + b_ih + b_hh is computed once per node (N rows, not E), gathered once, and
        split into steps (its backward is one concatenation).
        """
        lstm = self.lstm
        xp = torch.addmm(lstm.bias_ih_l0 + lstm.bias_hh_l0, x, lstm.weight_ih_l0.t())  # [N, 4F]
        w_hh = lstm.weight_hh_l0.t()                                                  # [F, 4F]
        finished: list[Tensor] = []
        h = c = None
        for inp in xp.index_select(0, idx).split(batch_sizes):   # [B_t, 4F] per step
            b = inp.shape[0]
            if h is None:
                gates = inp
            else:
                if h.shape[0] > b:                               # sequences that ended
                    finished.append(h[b:])
                    h, c = h[:b], c[:b]
                gates = torch.addmm(inp, h, w_hh)
            i, f, gg, o = gates.chunk(4, 1)
            i, f, o, gg = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o), torch.tanh(gg)
            c = i * gg if c is None else torch.addcmul(i * gg, f, c)
            h = o * torch.tanh(c)
        finished.append(h)
        return torch.cat(finished[::-1])                          # [B, F] in packed order

    def forward(self, x: Tensor, g: Graph) -> Tensor:
        check_features("SAGEConv", x, self.in_dim, g.num_nodes)
        if self.aggregator in ("mean", "gcn") and self.out_dim < self.in_dim:
            # mean and the GCN variant are linear, so W_neigh mean(h) = mean(W_neigh h):
            # project first and aggregate F_out instead of F_in features (same result).
            out = self.aggregate(x @ self.lin_neigh.weight.t(), g)      # [N, F_out]
        else:
            out = self.aggregate(x, g) @ self.lin_neigh.weight.t()     # [N, F_out]
        b = self.lin_neigh.bias
        if self.lin_self is not None:
            # + x W_self^T accumulated by the product itself, then the bias in place: two
            # [N, F_out] passes fewer than separate adds (addmm does not save its output)
            out = torch.addmm(out, x, self.lin_self.weight.t())
            if b is not None:
                out.add_(b)
        elif b is not None:
            out = out + b
        if self.normalize:
            out = F.normalize(out, p=2.0, dim=-1)
        return out

    def extra_repr(self) -> str:
        return f"{self.in_dim}, {self.out_dim}, aggregator={self.aggregator!r}"
