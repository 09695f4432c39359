"""Graph-level models built on the memory layer (Khasahmadi et al., ICLR 2020): GMN and MemGNN.

Both map a batch of graphs to one prediction per graph and return the assignment matrices of
their memory layers (for the clustering loss and for figures):

    model(g) -> (out [B, out_dim], [(C_1 [B, N, K_1], mask_1 [B, N]), (C_2 [B, K_1, K_2], None),
    ...])

Keys are parameters named ``*.keys``; :meth:`key_parameters` / :meth:`other_parameters` split
them for the two optimisers of the training schedule (gnnkit.tasks.graph_prediction).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import ops
from ..graph import Graph
from ..nn.functional import check_features, dropout
from ..nn.gat import GATConv
from ..nn.memory import MemoryLayer, memory_kl_loss

__all__ = ["GMN", "GRAPH_MODELS", "MemGNN", "register_graph_model", "rwr_features"]

GRAPH_MODELS: dict[str, type[nn.Module]] = {}


def register_graph_model(name: str):  # noqa: ANN201
    """Class decorator adding a model to :data:`GRAPH_MODELS`; duplicate names are errors."""
    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        if name in GRAPH_MODELS:
            raise ValueError(f"graph model {name!r} is already registered")
        GRAPH_MODELS[name] = cls
        return cls
    return deco


def _no_x(model: str) -> None:
    extra = (" whose first topo_dim columns are the RWR embedding (rwr_features)"
             if model == "GMN" else "")
    raise ValueError(f"{model} needs node features: g.x is None; give every graph of the "
                     f"batch x{extra}")


def rwr_features(g: Graph, dim: int, c: float = 0.1) -> Tensor:
    """GMN's topological embedding of one graph: each row of ``ops.rwr(g, c)`` sorted in
    descending order, then zero-padded (or truncated) to ``dim`` columns. [n] -> [n, dim].

    Sorting makes the rows independent of the node order (the embedding is permutation
    equivariant); ``dim`` is the data set's largest graph size (paper), so nothing is cut.
    """
    r = ops.rwr(g, c).sort(dim=1, descending=True).values              # [n, n]
    n = g.num_nodes
    if n >= dim:
        return r[:, :dim].contiguous()
    return torch.cat([r, r.new_zeros(n, dim - n)], 1)                  # [n, dim]


class _MemoryStack(nn.Module):
    """Memory layers on a dense batch, then a linear head on the mean of the last keys.

    A subclass defines ``queries(g) -> q [N, F]``; ``drops_queries`` says whether ``q`` gets
    dropout before the first memory layer (False where the query network ends with its own).
    """

    drops_queries: bool = True

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_keys: tuple[int, ...],
                 num_heads: int, tau: float, dropout: float, negative_slope: float) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * len(num_keys)
        self.memory = nn.ModuleList(
            MemoryLayer(dims[i], dims[i + 1], k, num_heads, tau, negative_slope)
            for i, k in enumerate(num_keys))
        self.head = nn.Linear(hidden_dim, out_dim)
        self.dropout = dropout

    def forward(self, g: Graph) -> tuple[Tensor, list]:
        return self.run_memory(self.queries(g), g)

    def run_memory(self, q: Tensor, g: Graph
                   ) -> tuple[Tensor, list[tuple[Tensor, Tensor | None]]]:
        # Dropout before the first layer (unless the query network ends with its own) acts on
        # the N real rows, before padding: the same as dropping the padded [B, N_max, F]
        # tensor (padding is zero either way), cheaper. The first layer reads the packed rows
        # (no padding in its assignment).
        if self.drops_queries:
            q = dropout(q, self.dropout, self.training)
        h, C, mask = self.memory[0].forward_batch(q, g)                  # [B, K, D], [B, N, K]
        assignments = [(C, mask)]
        for layer in self.memory[1:]:                                    # K real nodes each
            h, C = layer(dropout(h, self.dropout, self.training))       # [B, K', D]
            assignments.append((C, None))
        out = self.head(h.mean(1))                                       # [B, out_dim]
        return out, assignments

    def key_parameters(self) -> list[nn.Parameter]:
        return [m.keys for m in self.memory]

    def other_parameters(self) -> list[nn.Parameter]:
        keys = {id(p) for p in self.key_parameters()}
        return [p for p in self.parameters() if id(p) not in keys]

    @staticmethod
    def kl_loss(assignments: list[tuple[Tensor, Tensor | None]], reduction: str = "mean"
                ) -> Tensor:
        """Sum over memory layers of KL(P || C) (a single-key layer contributes 0)."""
        return sum(memory_kl_loss(C, m, reduction) for C, m in assignments)

    def memory_layers(self) -> list[MemoryLayer]:
        return list(self.memory)


@register_graph_model("gmn")
class GMN(_MemoryStack):
    r"""Graph Memory Network (Khasahmadi et al., ICLR 2020, Sec. 3.2).

    Input ``g.x = [S || X]``: the first ``topo_dim`` columns are the RWR embedding S
    (:func:`rwr_features`), the rest the node features X. Query network:

        paper:       Q0 = LeakyReLU( [LeakyReLU(S W0) || X] W1 )
        two_branch:  Q0 = [ LeakyReLU(d(LeakyReLU(d(X Wa)) Wb)) || LeakyReLU(d(S Ws)) ]
                     (the official code: X -> hidden -> hidden/2, S -> ``topo_hidden``)

    then memory layers with ``num_keys`` keys each (default 10, then 1) and a linear head on
    the last layer's output (averaged over its keys).

    Dropout d: with the paper's query network, on S and on the input of every memory layer.
    The two-branch network places it as the official code does: after each of its linear
    maps (d above, on [N, hidden] and [N, topo_hidden], not on the [N, topo_dim] RWR input,
    which on DD is 10x wider) and not again on Q0; then on the input of the later memory
    layers (LeakyReLU commutes with dropout, so this is the official code's dropout after
    the next layer's input map).

    Shapes: g batch of B graphs, x [N, topo_dim + in_dim] -> out [B, out_dim], assignments.
    Differences from the paper: the head is one linear layer.
    """

    def __init__(self, in_dim: int, out_dim: int, topo_dim: int, hidden_dim: int = 64,
                 num_keys: tuple[int, ...] = (10, 1), num_heads: int = 5, tau: float = 1.0,
                 dropout: float = 0.1, query: str = "paper", topo_hidden: int = 16,
                 negative_slope: float = 0.2) -> None:
        if query not in ("paper", "two_branch"):
            raise ValueError(f"query must be 'paper' or 'two_branch', got {query!r}")
        q_dim = hidden_dim if query == "paper" else hidden_dim // 2 + topo_hidden
        super().__init__(q_dim, hidden_dim, out_dim, tuple(num_keys), num_heads, tau, dropout,
                         negative_slope)
        self.in_dim, self.topo_dim, self.query = in_dim, topo_dim, query
        # the two-branch query network ends with dropout (official placement): none again
        self.drops_queries = query == "paper"
        self.slope = negative_slope
        if query == "paper":
            self.w0 = nn.Linear(topo_dim, hidden_dim)
            self.w1 = nn.Linear(hidden_dim + in_dim, hidden_dim)
        else:
            self.wa = nn.Linear(in_dim, hidden_dim)
            self.wb = nn.Linear(hidden_dim, hidden_dim // 2)
            self.ws = nn.Linear(topo_dim, topo_hidden)

    def queries(self, g: Graph) -> Tensor:
        # A graph of n nodes has n non-zero RWR columns (rows sorted, then zero-padded), so
        # only the first m = (largest graph in the batch) columns of S enter S W: the rest are
        # zero for every row. Skipping them changes no value and saves the dropout and product
        # over the padding (PROTEINS: m ~ 100 of 620 columns in a typical batch). Where S is
        # not dropped out, each graph's rows go further: only its own n x n block is
        # multiplied (_block_rows_linear; 0.52-0.60 of the [N, m] product's work in random
        # batches of 16 of DD, REDDIT-BINARY, COLLAB, PROTEINS: gmn_blocks.py in
        # benchmarks/graph_prediction).
        if g.x is None:
            _no_x("GMN")
        check_features("GMN", g.x, self.topo_dim + self.in_dim, g.num_nodes,
                       what="g.x (topo_dim RWR columns, then the in_dim node features)")
        largest = g.num_nodes if g.ptr is None else int(g.ptr.diff().max())
        m = min(self.topo_dim, largest)
        s, x = g.x[:, :m], g.x[:, self.topo_dim:]                        # [N, m], [N, F]
        act = lambda t: F.leaky_relu(t, self.slope)  # noqa: E731
        drop = lambda t: dropout(t, self.dropout, self.training)  # noqa: E731
        def s_times(lin: nn.Linear, drops: bool) -> Tensor:                # S W^T + b: [N, out]
            if drops and self.training and self.dropout > 0:
                return F.linear(drop(s), lin.weight[:, :m], lin.bias)    # over m columns
            return _block_rows_linear(s, lin.weight, lin.bias, g.ptr)

        if self.query == "paper":
            st = s_times(self.w0, drops=True)                                # S W0
            return act(self.w1(torch.cat([act(st), x], 1)))                # [N, D]
        hx = act(drop(self.wb(act(drop(self.wa(x))))))                    # [N, D/2]
        st = act(drop(s_times(self.ws, drops=False)))                      # [N, T_h]
        return torch.cat([hx, st], 1)                                      # [N, D/2 + T_h]


class _BlockRows(torch.autograd.Function):
    """out[rows of graph b] = s[rows of b, :n_b] @ weight[:, :n_b]^T (+ bias), for sorted,
    zero-padded RWR rows s (data: no gradient), n_b = min(size of b, s.shape[1])."""

    @staticmethod
    def forward(ctx, s: Tensor, weight: Tensor, bias: Tensor | None,  # noqa: ANN205
                bounds: list[tuple[int, int, int]]):
        out = s.new_empty(s.shape[0], weight.shape[0])                   # [N, out]
        for r0, r1, n in bounds:
            if bias is None:
                torch.mm(s[r0:r1, :n], weight[:, :n].t(), out=out[r0:r1])
            else:
                torch.addmm(bias, s[r0:r1, :n], weight[:, :n].t(), out=out[r0:r1])
        ctx.save_for_backward(s, weight)
        ctx.bounds, ctx.has_bias = bounds, bias is not None
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):  # noqa: ANN205
        s, weight = ctx.saved_tensors
        g_w = g_b = None
        if ctx.needs_input_grad[1]:
            g_w = torch.zeros_like(weight)                               # [out, topo_dim]
            for r0, r1, n in ctx.bounds:
                g_w[:, :n].addmm_(grad[r0:r1].t(), s[r0:r1, :n])
        if ctx.has_bias and ctx.needs_input_grad[2]:
            g_b = grad.sum(0)
        return None, g_w, g_b, None


def _block_rows_linear(s: Tensor, weight: Tensor, bias: Tensor | None,
                       ptr: Tensor | None) -> Tensor:
    """``F.linear(s, weight, bias)`` for a batch's RWR rows s [N, w] (w <= weight's columns),
    each graph's rows multiplied by its own non-zero columns only: the same values (the
    skipped entries are zero), about half the work in a batch of graphs of mixed sizes.
    A single graph, an s that needs a gradient, or a batch where the blocks would skip fewer
    than ``_BLOCK_MIN_SKIP`` entries per graph (small graphs: two products per graph cost more
    than they save) takes ``F.linear``."""
    w = s.shape[1]
    counts = None if ptr is None or ptr.numel() <= 2 or s.requires_grad else ptr.diff().tolist()
    sizes = None if counts is None else _block_sizes(counts, w)
    if sizes is None:
        return F.linear(s, weight[:, :w], bias)
    bounds = [(r0, r0 + c, n) for r0, c, n in
              zip(ptr[:-1].tolist(), counts, sizes, strict=True)]
    return _BlockRows.apply(s, weight, bias, bounds)


def _block_sizes(counts: list[int], w: int) -> list[int] | None:
    """Each graph's block width, min(nodes, w), for graphs of ``counts`` nodes in RWR rows of
    width ``w``; None where the blocks would skip fewer than ``_BLOCK_MIN_SKIP`` entries per
    graph (then one [N, w] product is cheaper)."""
    sizes = [min(c, w) for c in counts]
    skipped = sum(counts) * w - sum(c * n for c, n in zip(counts, sizes, strict=True))
    return sizes if skipped >= _BLOCK_MIN_SKIP * len(counts) else None


# Entries of S a graph's block must skip, on average, before the per-graph products pay for
# their calls: set from benchmarks/graph_prediction/epoch_time.py (GMN on PROTEINS, 39 nodes
# a graph, was 1.08x slower with blocks everywhere; DD and REDDIT-BINARY 0.90x and 0.93x).
_BLOCK_MIN_SKIP = 32768


@register_graph_model("memgnn")
class MemGNN(_MemoryStack):
    r"""Memory-based GNN (Khasahmadi et al., ICLR 2020, Sec. 3.3): e-GAT query network, then
    memory layers.

        e_ij = LeakyReLU( a_dst . W_n h_i + a_src . W_n h_j + a_e . W_e h_(j->i) )   (e-GAT)
        h'_i = ELU( ||_k sum_j alpha_ij^k W_n^k h_j )

    ``num_gnn_layers`` e-GAT layers (:class:`GATConv` with ``edge_dim``; a plain GAT when the
    data has no edge features), each with ``num_gnn_heads`` heads concatenated, then memory
    layers (default 10 then 1 keys) and a linear head.

    Shapes: g batch of B graphs with x [N, in_dim] (edge_attr [E, edge_dim]) -> out [B, out_dim].
    Differences from the paper: the e-GAT edge term is a_e . W_e h_(j->i) with W_e a linear map
    of the edge features (no edge-state update between layers).
    """

    def __init__(self, in_dim: int, out_dim: int, edge_dim: int | None = None,
                 hidden_dim: int = 64, num_gnn_layers: int = 2, num_gnn_heads: int = 4,
                 num_keys: tuple[int, ...] = (10, 1), num_heads: int = 5, tau: float = 1.0,
                 dropout: float = 0.1, negative_slope: float = 0.2) -> None:
        super().__init__(hidden_dim, hidden_dim, out_dim, tuple(num_keys), num_heads, tau,
                         dropout, negative_slope)
        if hidden_dim % num_gnn_heads:
            raise ValueError(f"hidden_dim ({hidden_dim}) must be divisible by num_gnn_heads "
                             f"({num_gnn_heads})")
        dims = [in_dim] + [hidden_dim] * num_gnn_layers
        self.gnn = nn.ModuleList(
            GATConv(dims[i], hidden_dim // num_gnn_heads, num_gnn_heads, concat=True,
                    edge_dim=edge_dim) for i in range(num_gnn_layers))
        self.in_dim, self.edge_dim = in_dim, edge_dim

    def queries(self, g: Graph) -> Tensor:
        if g.x is None:
            _no_x("MemGNN")
        h = g.x
        for conv in self.gnn:
            h = F.elu(conv(dropout(h, self.dropout, self.training), g), inplace=True)  # [N, D]
        return h
