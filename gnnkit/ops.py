"""The functional core: sparse reductions and products on graphs, in pure torch.

Every op is a pure function (inputs are never modified). Sizes are passed in, never computed
with ``max()``. Edge tensors are in COO order (the order of ``g.edge_index``) unless a name says
``_csr``: CSR order sorts edges by (destination, source), see :attr:`gnnkit.Graph.csr`.

How kernels were chosen (``benchmarks/kernels/bench_ops.py`` reproduces the numbers): on this
library's reference machine (2-core x86, torch 2.13 CPU) a CSR sparse-dense product
(``torch.sparse.mm`` on a ``sparse_csr`` tensor with int32 indices) aggregates a 1M-node /
10M-edge graph 10-12x faster than gather + ``index_add_`` or ``scatter_reduce``; the products
below therefore run on cached CSR structures, with the transpose (CSC) cached for the backward
pass, inside custom autograd functions that save no per-edge tensor the backward does not need.
On CPU, :func:`spmm` runs that CSR product as ``embedding_bag`` (mode 'sum', per-edge weights,
row pointers as bag offsets), which prefetches the gathered rows and is a further 10-15% faster
than ``torch.sparse.mm``; it runs at the speed of torch's fastest gather of the same rows
(``benchmarks/kernels/roofline.py`` and README, "Roofline"). Mean folds 1 / in-degree into
the per-edge weights; max/min on CPU use torch's fused CSR ``amax``/``amin`` product
(``benchmarks/kernels/bench_max.py``).
``scatter`` (arbitrary, unsorted index) keeps ``index_add_``/``scatter_reduce``.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import Tensor

from .graph import Graph

__all__ = [
    "scatter",
    "segment",
    "degree",
    "spmm",
    "sddmm",
    "edge_softmax",
    "segment_softmax",
    "multihead_spmm",
    "gat_attention",
    "dropout_mask",
    "gather_src",
    "gather_dst",
    "batch_for_gat",
    "add_remaining_self_loops",
    "gcn_norm",
    "rwr",
    "csr_destination",
    "to_dense_batch",
]

warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
warnings.filterwarnings("ignore", message=".*Sparse invariant checks are implicitly disabled.*")

_REDUCE = ("sum", "mean", "max", "min")


def ids_outside(ids: Tensor, n: int) -> tuple[int, int] | None:
    """``(min, max)`` of integer ``ids`` when one of them lies outside ``[0, n)``, else None
    (also for no ids). One pass and one read-back (a sync on CUDA): for ids that come from
    the caller, not for a Graph's own, which are valid by construction."""
    if ids.numel() == 0:
        return None
    lo, hi = torch.stack(torch.aminmax(ids.reshape(-1))).tolist()
    return None if 0 <= lo and hi < n else (lo, hi)


def _check_node_rows(op: str, t: Tensor, num_nodes: int, what: str = "t") -> None:
    """A node tensor must have one row per node of the graph it is used with (shape only:
    no sync)."""
    if t.dim() < 1 or t.shape[0] != num_nodes:
        raise ValueError(f"{op}: {what} has {t.shape[0] if t.dim() else 0} rows but the graph "
                         f"has {num_nodes} nodes (shape {list(t.shape)})")


def _check_reduce(reduce: str) -> None:
    if reduce not in _REDUCE:
        raise ValueError(f"reduce must be one of {', '.join(_REDUCE)}; got {reduce!r}")


# --------------------------------------------------------------------------- reductions
def scatter(src: Tensor, index: Tensor, dim_size: int, reduce: str = "sum") -> Tensor:
    """out[i] = reduce_{e: index[e] = i} src[e]; rows that receive nothing are 0.

    Shapes: src [E, *], index [E] int64 -> [dim_size, *].
    """
    _check_reduce(reduce)
    if index.dim() != 1 or index.numel() != src.shape[0]:
        raise ValueError(f"scatter: index must have shape [E] with E = src.shape[0] = "
                         f"{src.shape[0]}, got {list(index.shape)}")
    if (bad := ids_outside(index, dim_size)) is not None:
        raise ValueError(f"scatter: index holds values in [{bad[0]}, {bad[1]}], outside "
                         f"[0, dim_size = {dim_size})")
    return _scatter(src, index, dim_size, reduce)


def _scatter(src: Tensor, index: Tensor, dim_size: int, reduce: str) -> Tensor:
    """:func:`scatter` without its checks, for indices that are valid by construction (a
    Graph's edge ids): the range check reads two numbers back, a sync on CUDA."""
    shape = (dim_size,) + tuple(src.shape[1:])
    if reduce in ("sum", "mean"):
        out = src.new_zeros(shape).index_add(0, index, src)
        if reduce == "mean":
            cnt = torch.bincount(index, minlength=dim_size).clamp_(min=1).to(src.dtype)
            out = out / cnt.view(-1, *([1] * (src.dim() - 1)))
        return out
    idx = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    op = "amax" if reduce == "max" else "amin"
    return src.new_zeros(shape).scatter_reduce(0, idx, src, op, include_self=False)


class _SegmentExtreme(torch.autograd.Function):
    """segment_reduce max/min with a correct backward: the gradient is split evenly among tied
    extremes. (torch 2.13's own backward hands the full gradient to every tied element when
    the gradient is negative, e.g. for a neighbour reached by duplicate edges.)"""

    @staticmethod
    def forward(ctx, src: Tensor, lengths: Tensor, reduce: str) -> Tensor:  # noqa: ANN001
        out = torch.segment_reduce(src, reduce, lengths=lengths, axis=0, unsafe=True)
        ctx.save_for_backward(src, out, lengths)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):  # noqa: ANN205
        src, out, lengths = ctx.saved_tensors
        seg = torch.repeat_interleave(torch.arange(lengths.numel(), device=src.device), lengths)
        hit = (src == out[seg]).to(grad.dtype)                          # [E, *]
        ties = torch.segment_reduce(hit, "sum", lengths=lengths, axis=0, unsafe=True)
        return hit * (grad / ties.clamp(min=1))[seg], None, None


def segment(src: Tensor, ptr: Tensor, reduce: str = "sum") -> Tensor:
    """Reduce contiguous segments: out[i] = reduce(src[ptr[i]:ptr[i+1]]); empty segments are 0.

    Shapes: src [E, *] (sorted by segment), ptr [S + 1] -> [S, *].
    """
    _check_reduce(reduce)
    _check_ptr("segment", ptr, src.shape[0])
    return _segment(src, ptr, reduce)


def _check_ptr(op: str, ptr: Tensor, rows: int) -> None:
    """Segment offsets: 1-D, from 0 to ``rows``, non-decreasing (reads values: a sync on
    CUDA, so only where the offsets come from the caller)."""
    if (ptr.dim() != 1 or ptr.numel() < 1 or int(ptr[0]) != 0
            or int(ptr[-1]) != rows or bool((ptr.diff() < 0).any())):
        raise ValueError(f"{op}: ptr must be non-decreasing offsets from 0 to "
                         f"src.shape[0] = {rows} ([S + 1] entries), got "
                         f"{ptr.tolist() if ptr.numel() <= 8 else list(ptr.shape)}")


def _segment(src: Tensor, ptr: Tensor, reduce: str) -> Tensor:
    """:func:`segment` without its checks, for a Graph's own CSR pointers (valid by
    construction; the checks read values back, a sync on CUDA)."""
    lengths = ptr.diff()
    if src.shape[0] == 0:
        return src.new_zeros((lengths.numel(),) + tuple(src.shape[1:]))
    if reduce in ("max", "min"):
        out = _SegmentExtreme.apply(src, lengths, reduce)
    else:
        out = torch.segment_reduce(src, reduce, lengths=lengths, axis=0, unsafe=True)
    # segment_reduce leaves empty segments at its initial value: -inf/inf (max/min), NaN (mean)
    if reduce != "sum" and bool((lengths == 0).any()):
        out = out.masked_fill((lengths == 0).view(-1, *([1] * (src.dim() - 1))), 0.0)
    return out


def degree(index: Tensor, num_nodes: int, weight: Tensor | None = None,
           dtype: torch.dtype | None = None) -> Tensor:
    """deg[i] = sum_{e: index[e] = i} weight[e] (weight 1 when None).  [E] -> [N]"""
    if (bad := ids_outside(index, num_nodes)) is not None:
        raise ValueError(f"degree: index holds values in [{bad[0]}, {bad[1]}], outside "
                         f"[0, num_nodes = {num_nodes})")
    if weight is None:
        return torch.bincount(index, minlength=num_nodes).to(dtype or torch.float32)
    return weight.new_zeros(num_nodes).index_add(0, index, weight)


# --------------------------------------------------------------------------- cached structure
def _cached(g: Graph, key: object, build):  # noqa: ANN001 - tiny memo helper
    cache = g._cache
    if key not in cache:
        cache[key] = build()
    return cache[key]


class _Structure:
    """CSR (by destination) and CSC (by source) index arrays of one graph, for products.

    ``rowptr, col``: CSR of A with A[dst, src] = 1; ``colptr, row``: CSR of A^T;
    ``perm``: CSR position -> COO edge id; ``t_from_csr``: CSC position -> CSR position.
    Indices are int32 when they fit (faster products), else int64.
    """

    __slots__ = ("n", "rowptr", "col", "perm", "colptr", "row", "t_from_csr", "dst_csr",
                 "src_csr", "in_deg", "out_deg", "_ones")

    def __init__(self, g: Graph) -> None:
        rowptr, col, perm = g.csr
        colptr, row, perm_t = g.csc
        n, e = g.num_nodes, g.num_edges
        inv = torch.empty_like(perm)
        inv[perm] = torch.arange(e, device=perm.device)
        small = max(n, e) < 2**31 - 1
        it = torch.int32 if small else torch.int64
        self.n = n
        self.rowptr, self.col = rowptr.to(it), col.to(it)
        self.colptr, self.row = colptr.to(it), row.to(it)
        self.perm = perm
        self.t_from_csr = inv[perm_t]
        self.in_deg, self.out_deg = rowptr.diff(), colptr.diff()
        self.dst_csr = torch.repeat_interleave(torch.arange(n, device=perm.device), self.in_deg)
        self.src_csr = col
        self._ones: Tensor | None = None

    @classmethod
    def concat(cls, parts: list[_Structure]) -> _Structure:
        """The structure of the disjoint union of graphs (node and edge ids offset in list
        order), from theirs: CSR rows sort by (destination, source), so the union's arrays
        are the parts' arrays with offsets, concatenated; no sort."""
        n_cnt = torch.tensor([q.n for q in parts])
        e_cnt = torch.tensor([q.col.numel() for q in parts])
        n_off, e_off = n_cnt.cumsum(0) - n_cnt, e_cnt.cumsum(0) - e_cnt
        n, e = int(n_cnt.sum()), int(e_cnt.sum())
        it = torch.int32 if max(n, e) < 2**31 - 1 else torch.int64
        node_shift = torch.repeat_interleave(n_off, e_cnt)          # [E] per edge
        edge_shift = torch.repeat_interleave(e_off, e_cnt)
        node_shift_it = node_shift.to(it)

        def cat(name: str, shift: Tensor) -> Tensor:     # in shift's dtype, shifted in place
            return torch.cat([getattr(q, name) for q in parts]).to(shift.dtype).add_(shift)

        def ptr(name: str) -> Tensor:
            body = torch.cat([getattr(q, name)[:-1] for q in parts]).to(it)
            body = body + torch.repeat_interleave(e_off, n_cnt).to(it)
            return torch.cat([body, body.new_tensor([e])])

        out = cls.__new__(cls)
        out.n = n
        out.rowptr, out.colptr = ptr("rowptr"), ptr("colptr")
        out.col, out.row = cat("col", node_shift_it), cat("row", node_shift_it)
        out.perm, out.t_from_csr = cat("perm", edge_shift), cat("t_from_csr", edge_shift)
        out.in_deg = torch.cat([q.in_deg for q in parts])
        out.out_deg = torch.cat([q.out_deg for q in parts])
        out.dst_csr = cat("dst_csr", node_shift)
        out.src_csr = cat("src_csr", node_shift)
        out._ones = None
        return out

    def ones(self, dtype: torch.dtype) -> Tensor:
        """All-ones edge values ``[E]`` (cached for the last dtype asked for)."""
        if self._ones is None or self._ones.dtype != dtype:
            self._ones = torch.ones(self.col.numel(), dtype=dtype, device=self.col.device)
        return self._ones

    def pattern(self, dtype: torch.dtype) -> Tensor:
        """A with all-ones values (the sparsity pattern, for sampled products)."""
        return self.matrix(self.ones(dtype))

    def matrix(self, values: Tensor, transpose: bool = False) -> Tensor:
        if transpose:
            return torch.sparse_csr_tensor(self.colptr, self.row, values, (self.n, self.n))
        return torch.sparse_csr_tensor(self.rowptr, self.col, values, (self.n, self.n))

    def product(self, values: Tensor | None, x: Tensor, transpose: bool = False) -> Tensor:
        """A x, or A^T x with ``transpose``; ``values`` in CSR (CSC) order, None for ones.

        On CPU this is ``embedding_bag`` (sum, per-edge weights) with the CSR row pointers
        as bag offsets: the same sums as ``torch.sparse.mm`` (to rounding), by a kernel that
        prefetches the gathered rows (10-15% faster on the 1M-node graph, see
        benchmarks/kernels/README.md, "Roofline"). Elsewhere ``torch.sparse.mm``.
        Shapes: x [N, F] contiguous -> [N, F].
        """
        ptr, idx = (self.colptr, self.row) if transpose else (self.rowptr, self.col)
        if x.device.type == "cpu":
            return torch.nn.functional.embedding_bag(  # x detached: the forward-only kernel
                idx, x.detach(), ptr[:-1], mode="sum", per_sample_weights=values)
        if values is None:
            values = self.ones(x.dtype)
        return torch.sparse.mm(self.matrix(values, transpose), x)


def _structure(g: Graph) -> _Structure:
    return _cached(g, "structure", lambda: _Structure(g))


def csr_destination(g: Graph) -> Tensor:
    """Destination node of each edge in CSR order, ``[E]`` int64 (cached)."""
    return _structure(g).dst_csr


def _sddmm_csr(s: _Structure, a: Tensor, b: Tensor) -> Tensor:
    """out[e] = <a[dst_e], b[src_e]> for edges in CSR order (sampled dense-dense product).

    Shapes: a [N, C], b [N, C] -> [E]. ``torch.sparse.sampled_addmm`` computes it without
    gathering [E, C] copies of the rows (see benchmarks/kernels).
    """
    return _sddmm_heads(s, a.unsqueeze(0), b.unsqueeze(0))[0]


class _Gather(torch.autograd.Function):
    """Per-edge copies of node rows in CSR order: t[src_e] (by_src) or t[dst_e].

    The backward sums edge gradients back onto nodes by contiguous segments (CSR rows for
    destinations, CSC rows for sources), 3x faster than the scatter-add that indexing's
    backward performs.
    """

    @staticmethod
    def forward(ctx, s: _Structure, t: Tensor, by_src: bool) -> Tensor:  # noqa: ANN001
        ctx.s, ctx.by_src = s, by_src
        return _take_rows(t, s.src_csr if by_src else s.dst_csr)

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN205
        s: _Structure = ctx.s
        if ctx.by_src:
            out = torch.segment_reduce(grad.index_select(0, s.t_from_csr), "sum",
                                       lengths=s.out_deg, axis=0, unsafe=True)
        else:
            out = torch.segment_reduce(grad, "sum", lengths=s.in_deg, axis=0, unsafe=True)
        return None, out, None


def gather_src(g: Graph, t: Tensor) -> Tensor:
    """Source rows of every edge in CSR order, t[src_e].   [N, *] -> [E, *]"""
    _check_node_rows("gather_src", t, g.num_nodes)
    return _Gather.apply(_structure(g), t, True)


def gather_dst(g: Graph, t: Tensor) -> Tensor:
    """Destination rows of every edge in CSR order, t[dst_e].   [N, *] -> [E, *]"""
    _check_node_rows("gather_dst", t, g.num_nodes)
    return _Gather.apply(_structure(g), t, False)


class _SpMM(torch.autograd.Function):
    """out = A x with A[dst, src] = w (CSR order). Backward: A^T grad, and SDDMM for w.

    ``w_csc`` (the same weights in CSC order) may be given precomputed for constant weights;
    ``w_csr = w_csc = None`` means all weights are 1.
    """

    @staticmethod
    def forward(ctx, s: _Structure, w_csr: Tensor | None, w_csc: Tensor | None,  # noqa: ANN001
                x: Tensor) -> Tensor:
        ctx.s = s
        ctx.save_for_backward(w_csr, w_csc, x)
        return s.product(w_csr, x)

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN205
        w_csr, w_csc, x = ctx.saved_tensors
        s: _Structure = ctx.s
        grad = grad.contiguous()
        gx = gw = None
        if ctx.needs_input_grad[3]:
            if w_csc is None and w_csr is not None:
                w_csc = w_csr[s.t_from_csr]
            gx = s.product(w_csc, grad, transpose=True)
        if ctx.needs_input_grad[1]:
            gw = _sddmm_csr(s, grad, x)
        return None, gw, None, gx


def _ordered_weights(g: Graph, s: _Structure, w: Tensor) -> tuple[Tensor, Tensor | None]:
    """``w`` (COO order) in CSR order, and in CSC order when it is a constant.

    Constant weights (no grad) are memoised per graph, keyed by the tensor object and its
    version counter, so a cached weight vector (e.g. :func:`gcn_norm`'s) is permuted once
    instead of twice per layer call; an in-place change to ``w`` invalidates the memo.
    """
    if w.requires_grad:
        return w[s.perm], None
    hit = g._cache.get("ordered_weights")
    if hit is not None and hit[0] is w and hit[1] == w._version:
        return hit[2], hit[3]
    w_csr = w[s.perm]
    w_csc = w_csr[s.t_from_csr]
    g._cache["ordered_weights"] = (w, w._version, w_csr, w_csc)
    return w_csr, w_csc


def _mean_weights(g: Graph, s: _Structure, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """w_e = 1 / in-degree(dst_e) in CSR and in CSC order (cached per graph and dtype)."""
    def build() -> tuple[Tensor, Tensor]:
        inv = 1.0 / s.in_deg.clamp(min=1).to(dtype)
        w_csr = inv.index_select(0, s.dst_csr)
        return w_csr, w_csr[s.t_from_csr]

    return _cached(g, ("mean_weights", dtype), build)


def spmm(g: Graph, x: Tensor, edge_weight: Tensor | None = None, reduce: str = "sum") -> Tensor:
    """Weighted neighbourhood aggregation over in-edges, out[i] = sum_{(j->i)} w_ji x[j].

    ``reduce='mean'`` divides by the in-degree (isolated nodes get 0); 'max'/'min' take the
    elementwise extreme over in-neighbours (``edge_weight`` must be None); their gradient goes
    to the winning neighbour (on CPU one winner per tie between distinct neighbours, else
    split evenly among them, see :func:`segment`; a neighbour reached by duplicate edges
    gets it once). Shapes:
    x [N, F], edge_weight [E] (COO order) or None -> [N, F].
    """
    _check_reduce(reduce)
    _check_node_rows("spmm", x, g.num_nodes, "x")
    s = _structure(g)
    if reduce in ("max", "min"):
        if edge_weight is not None:
            raise ValueError("spmm with reduce='max'/'min' takes no edge_weight")
        if x.device.type == "cpu" and x.dim() == 2 and g.num_edges > 0:
            # torch's fused CSR kernel: no [E, F] gather; backward scatters through the saved
            # argmax ([N, F]), one winner per element (duplicate edges count once).
            # Forward + backward 0.2x the time of the gather + segment path (PubMed, F = 500).
            return torch.sparse.mm(s.matrix(s.ones(x.dtype)), x.contiguous(),
                                   reduce="amax" if reduce == "max" else "amin")
        return _segment(x[s.col.long()], g.csr[0], reduce)
    if g.num_edges == 0:
        return x.new_zeros(x.shape)
    if x.dim() != 2:
        raise ValueError(f"spmm expects x of shape [N, F], got {list(x.shape)}")
    if edge_weight is None:
        # mean: 1 / in-degree folded into the edge weights, so the product's own multiply
        # does the division in both passes (no [N, F] divide forward and backward)
        w_csr, w_csc = _mean_weights(g, s, x.dtype) if reduce == "mean" else (None, None)
    else:
        if edge_weight.shape != (g.num_edges,):
            raise ValueError(f"edge_weight must have shape [{g.num_edges}], "
                             f"got {list(edge_weight.shape)}")
        w_csr, w_csc = _ordered_weights(g, s, edge_weight)
    out = _SpMM.apply(s, w_csr, w_csc, x.contiguous())
    if reduce == "mean" and edge_weight is not None:
        out = out / g.in_degree.clamp(min=1).to(x.dtype).unsqueeze(-1)
    return out


def sddmm(g: Graph, a: Tensor, b: Tensor) -> Tensor:
    """Edge scores out[e] = <a[dst_e], b[src_e]> in COO order.  a, b [N, C] -> [E]."""
    _check_node_rows("sddmm", a, g.num_nodes, "a")
    _check_node_rows("sddmm", b, g.num_nodes, "b")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"sddmm: a and b must have the same width, got {list(a.shape)} and "
                         f"{list(b.shape)}")
    src, dst = g.edge_index
    return (a[dst] * b[src]).sum(-1)


# --------------------------------------------------------------------------- softmax
def edge_softmax(logits: Tensor, dst: Tensor, num_nodes: int) -> Tensor:
    """alpha_e = exp(l_e) / sum_{e': dst[e'] = dst[e]} exp(l_e').   [E, *] -> [E, *]

    Reference implementation for any edge order (see :func:`segment_softmax` for CSR order).
    """
    if dst.dim() != 1 or dst.numel() != logits.shape[0]:
        raise ValueError(f"edge_softmax: dst must have one entry per row of logits "
                         f"({logits.shape[0]}), got shape {list(dst.shape)}")
    m = scatter(logits.detach(), dst, num_nodes, "max")[dst]  # shift for stability
    e = (logits - m).exp()
    return e / (_scatter(e, dst, num_nodes, "sum")[dst] + 1e-16)


class _SegmentSoftmax(torch.autograd.Function):
    """Softmax over sorted segments; saves only the output for the backward pass."""

    @staticmethod
    def forward(ctx, logits: Tensor, ptr: Tensor, seg_id: Tensor) -> Tensor:  # noqa: ANN001
        m = _segment(logits, ptr, "max")  # [S, *]
        e = (logits - m.index_select(0, seg_id)).exp_()
        s = _segment(e, ptr, "sum")
        alpha = e.div_(s.index_select(0, seg_id) + 1e-16)
        ctx.save_for_backward(alpha, ptr, seg_id)
        return alpha

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN205
        alpha, ptr, seg_id = ctx.saved_tensors
        ag = alpha * grad
        return ag - alpha * _segment(ag, ptr, "sum").index_select(0, seg_id), None, None


def segment_softmax(logits: Tensor, ptr: Tensor, seg_id: Tensor | None = None) -> Tensor:
    """Softmax within each contiguous segment ``ptr[i]:ptr[i+1]`` (edges in CSR order).

    Shapes: logits [E, *], ptr [S + 1], seg_id [E] (segment of each row; derived if None).
    """
    _check_ptr("segment_softmax", ptr, logits.shape[0])
    if seg_id is None:
        seg_id = torch.repeat_interleave(torch.arange(ptr.numel() - 1, device=ptr.device),
                                         ptr.diff())
    if logits.shape[0] == 0:
        return logits.clone()
    return _SegmentSoftmax.apply(logits, ptr, seg_id)


class _MultiHeadSpMM(torch.autograd.Function):
    """out[:, k] = A_k h[:, k] with per-head edge weights alpha[:, k] (CSR order).

    Works head-major inside ([H, N, C] and [H, E]), so every per-head product reads and
    writes contiguous memory: one layout copy per tensor instead of one strided copy per
    head. Saves alpha^T in CSC order and h head-major for the backward pass.
    """

    @staticmethod
    def forward(ctx, s: _Structure, alpha: Tensor, h: Tensor) -> Tensor:  # noqa: ANN001
        heads = h.shape[1]
        a_t = alpha.t().contiguous()                         # [H, E], CSR order
        hh = h.permute(1, 0, 2).contiguous()                 # [H, N, C]
        out = torch.stack([torch.sparse.mm(s.matrix(a_t[k]), hh[k]) for k in range(heads)])
        ctx.s = s
        ctx.save_for_backward(a_t, hh)
        return out.permute(1, 0, 2)                          # [N, H, C] (a view)

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN205
        a_t, hh = ctx.saved_tensors
        s: _Structure = ctx.s
        heads = hh.shape[0]
        gg = grad.permute(1, 0, 2).contiguous()              # [H, N, C]
        ga = gh = None
        if ctx.needs_input_grad[2]:
            a_csc = a_t.index_select(1, s.t_from_csr)        # [H, E], CSC order
            gh = torch.stack([torch.sparse.mm(s.matrix(a_csc[k], transpose=True), gg[k])
                              for k in range(heads)]).permute(1, 0, 2)   # [N, H, C]
        if ctx.needs_input_grad[1]:
            ga = _sddmm_heads(s, gg, hh).t()                 # [E, H]
        return None, ga, gh


def _sddmm_heads(s: _Structure, a: Tensor, b: Tensor, out: Tensor | None = None) -> Tensor:
    """out[k, e] = <a[k, dst_e], b[k, src_e]>, head-major.  a, b [H, N, C] -> [H, E].

    Each head's ``sampled_addmm`` writes straight into its row of ``out`` (``out=`` a CSR
    tensor whose values are that row), which saves a copy per head (0.7x the time at H = 8).
    ``out`` (contiguous [H, E]) may be given, to reuse a buffer.

    A graph with repeated edges can hold more edges than its n x n matrix has entries (a
    dense COLLAB graph, whose file lists each edge twice, in a batch of two). There
    ``sampled_addmm`` fails and, with ``out=``, shrinks the structure's shared column index
    in place, so the rows are gathered instead.
    """
    if out is None:
        out = a.new_empty(a.shape[0], s.col.numel())
    if s.col.numel() > s.n * s.n:
        dst, src = s.dst_csr, s.src_csr
        for k in range(a.shape[0]):
            torch.sum(_take_rows(a[k], dst) * _take_rows(b[k], src), 1, out=out[k])
        return out
    pat = s.pattern(a.dtype)
    for k in range(a.shape[0]):                              # b[k].t(): [C, N], a view
        torch.sparse.sampled_addmm(pat, a[k], b[k].t(), beta=0.0, out=s.matrix(out[k]))
    return out


def multihead_spmm(g: Graph, alpha_csr: Tensor, h: Tensor) -> Tensor:
    """Per-head weighted aggregation, out[i, k] = sum_{(j->i)} alpha_csr[e, k] h[j, k].

    Shapes: alpha_csr [E, H] in CSR order, h [N, H, C] -> [N, H, C].
    """
    _check_node_rows("multihead_spmm", h, g.num_nodes, "h")
    if h.dim() != 3 or tuple(alpha_csr.shape) != (g.num_edges, h.shape[1]):
        raise ValueError(f"multihead_spmm: expected alpha_csr [E={g.num_edges}, H] and h [N, H, "
                         f"C]; got {list(alpha_csr.shape)} and {list(h.shape)}")
    if g.num_edges == 0:
        return h.new_zeros(h.shape)
    return _MultiHeadSpMM.apply(_structure(g), alpha_csr, h)


# --------------------------------------------------------------------------- GAT attention
_DROP_LEVELS = 1 << 16


_CHUNK_WORDS = 1 << 20          # 64-bit words per generator in the chunked CPU draw (8 MB)
_POOL: tuple[int, int, ThreadPoolExecutor] | None = None     # (pid, workers, pool)


def _thread_pool() -> ThreadPoolExecutor:
    """A pool of torch.get_num_threads() threads, remade after a fork or a thread change."""
    global _POOL
    workers = max(1, torch.get_num_threads())
    if _POOL is None or _POOL[0] != os.getpid() or _POOL[1] != workers:
        _POOL = (os.getpid(), workers, ThreadPoolExecutor(workers, "gnnkit-rng"))
    return _POOL[2]


def _dropout_bits(n: int, device: torch.device | str | None,
                  generator: torch.Generator | None) -> Tensor:
    """n uniformly random int16 values, drawn as 64-bit words (4 per word).   -> [n]

    torch's CPU generator (mt19937) fills a tensor on one thread, about 5 ns per word: 0.16 s
    for the mask of a [1M, 128] input. Large CPU draws are therefore split into chunks of
    ``_CHUNK_WORDS`` words, each filled by its own generator, seeded from one draw of
    ``generator`` (seed + chunk index), on a thread pool. The chunking does not depend on
    the thread count, so the bits are a function of the generator's state alone.
    """
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device)
    if words.device.type != "cpu" or words.numel() < 2 * _CHUNK_WORDS:
        words.random_(-(2**63), 2**63 - 1, generator=generator)
    else:
        seed = int(torch.empty((), dtype=torch.int64).random_(0, 2**62, generator=generator))
        chunks = words.split(_CHUNK_WORDS)

        def fill(k: int) -> None:
            gk = torch.Generator().manual_seed(seed + k)
            chunks[k].random_(-(2**63), 2**63 - 1, generator=gk)

        for fut in [_thread_pool().submit(fill, k) for k in range(len(chunks))]:
            fut.result()
    return words.view(torch.int16)[:n]


def _drop_threshold(p: float) -> int | None:
    """Keep an element when its int16 draw is >= this; None when p rounds to 1 (keep none)."""
    drop = round(p * _DROP_LEVELS)           # drop an element when its 16-bit draw < drop
    return None if drop >= _DROP_LEVELS else drop - _DROP_LEVELS // 2


def dropout_mask(shape: tuple[int, ...], p: float, device: torch.device | str | None = None,
                 generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.bool) -> tuple[Tensor, float]:
    """The keep mask and scale of inverted dropout: ``(keep [shape], 1 / (1 - p'))``.

    Each element takes 16 uniformly random bits, drawn 64 at a time (a tenth of the cost of
    one Bernoulli draw per element on CPU); p is rounded to p' = a multiple of 2^-16
    (|p - p'| < 1e-5) and the scale uses p', so E[keep * scale] = 1 exactly. p' = 1 keeps
    nothing (scale 0) and draws nothing. ``keep`` is bool, or 0/1 in a floating ``dtype``
    (written directly by the comparison, cheaper than converting a bool mask). The same
    shape, p and generator state give the same mask: :func:`gnnkit.nn.functional.dropout`
    and :func:`gat_attention` draw their masks this way, so a fused path and its plain
    reference can be compared exactly.
    """
    thr = _drop_threshold(p)
    if thr is None:
        return torch.zeros(shape, dtype=dtype, device=device), 0.0
    n = 1
    for d in shape:
        n *= d
    bits = _dropout_bits(n, device, generator).view(shape)
    keep = bits >= thr if dtype == torch.bool else torch.ge(
        bits, thr, out=torch.empty(shape, dtype=dtype, device=device))
    return keep, _DROP_LEVELS / (_DROP_LEVELS // 2 - thr)


class _DropoutState:
    """What regenerates a dropout mask in backward instead of storing it: the generator's
    state before the draw, the threshold and the size (a few kB, whatever the graph)."""

    __slots__ = ("state", "device", "thr", "n")

    def __init__(self, generator: torch.Generator, device: torch.device, thr: int, n: int) -> None:
        self.state, self.device, self.thr, self.n = generator.get_state(), device, thr, n

    def mask(self, out: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The keep mask as 0/1 in ``out``'s dtype, written into ``out`` [E, H]. Without
        ``generator`` the saved state is replayed on a private generator."""
        if generator is None:
            generator = torch.Generator(device=self.device)
            generator.set_state(self.state)
        bits = _dropout_bits(self.n, self.device, generator).view(out.shape)
        return torch.ge(bits, self.thr, out=out)   # 0/1 in out's dtype


def _default_generator(device: torch.device) -> torch.Generator:
    if device.type == "cuda":
        return torch.cuda.default_generators[device.index if device.index is not None
                                             else torch.cuda.current_device()]
    return torch.default_generator


def _seg_sum(t: Tensor, lengths: Tensor) -> Tensor:
    return torch.segment_reduce(t, "sum", lengths=lengths, axis=0, unsafe=True)


_ROW_AS = {4: torch.float32, 8: torch.float64, 16: torch.complex128}   # row bytes -> dtype


def _take_rows(t: Tensor, index: Tensor, out: Tensor | None = None) -> Tensor:
    """``t.index_select(0, index)`` for t [N, ...], into ``out`` [len(index), ...] if given.

    On CPU a row of a 2-D t of 4, 8 or 16 bytes ([N, 1], [N, 2], [N, 4] float32) is moved as one
    element of a wider dtype through a 1-D gather, which torch runs 3-5x faster than its
    row-by-row copy (benchmarks/kernels/bench_gat_layout.py). Only bytes are moved, so the
    result is the same bit for bit; other shapes, and other devices, take ``index_select``.
    """
    wide = _ROW_AS.get(t.shape[1] * t.element_size()) if t.dim() == 2 else None
    if (wide is None or t.device.type != "cpu" or not t.is_contiguous()
            or t.storage_offset() * t.element_size() % wide.itemsize
            or (out is not None and (not out.is_contiguous()
                                     or out.storage_offset() * out.element_size()
                                     % wide.itemsize))):
        return torch.index_select(t, 0, index, out=out)
    if out is None:
        out = t.new_empty(index.numel(), t.shape[1])
    torch.index_select(t.view(wide).view(-1), 0, index, out=out.view(wide).view(-1))
    return out


def _transpose_into(t: Tensor, out: Tensor) -> Tensor:
    """out [H, E] = t [E, H] transposed. On CPU one strided copy per column, 0.4-0.6x the
    time of torch's transposing copy of the whole tensor (benchmarks/kernels/
    bench_gat_layout.py); elsewhere that one copy (one launch)."""
    if t.device.type != "cpu":
        return out.copy_(t.t())
    for k in range(t.shape[1]):
        out[k].copy_(t[:, k])
    return out


def _head_products(s: _Structure, w_t: Tensor, x: Tensor, transpose: bool = False) -> Tensor:
    """out[k] = A_k x[k] (A_k^T with ``transpose``), A_k with values w_t[k] in CSR (CSC)
    order.  w_t [H, E], x [H, N, C] -> [H, N, C]; each product writes into its slice."""
    out = x.new_empty(x.shape)
    for k in range(x.shape[0]):
        torch.mm(s.matrix(w_t[k], transpose), x[k], out=out[k])
    return out


class _GATAttention(torch.autograd.Function):
    """GAT's edge scores, edge softmax, attention dropout and aggregation in one function.

    Forward (per head k; edges in CSR order; per-edge work in [E, H] layout, where the
    segment reductions are fastest; node work and the H sparse products head-major):

        s_src = h . att_src,  s_dst = h . att_dst                    ([N, H], one bmm)
        z = s_src[src] + s_dst[dst] (+ s_edge)
        p = exp(leaky(z) - max_dst),  den_i = sum_{e -> i} p_e,       alpha = p / den[dst]
        out[i] = scale / den_i * sum_{e: j -> i} keep_e p_e h[j]

    The normalisation and the dropout scale are applied per node (to out, and in backward to
    grad), so no per-edge alpha is formed: the aggregation weights are p * keep.

    Saved for backward: p [E, H], the only per-edge tensor; h head-major [H, N, C] (instead
    of h, so no extra memory); the [N, H] node tensors; the dropout generator's state, from
    which backward redraws the mask (no stored mask). s_edge, the e-GAT term, is an input
    and stays alive. Recomputed in backward: z for the LeakyReLU slope (two gathers from
    [N, H]) and the mask. Backward, with g' = grad * scale / den:

        d_a[e] = <g'[dst_e], h[src_e]>                         (sampled product, d out / d a)
        grad_h = A^T g' with A[dst, src] = p * keep             (CSC order)
        t = p * keep * d_a   (= alpha * d alpha);   d_z = leaky'(z) (t - p (sum_dst t / den)[dst])
        grad_s_dst, grad_s_src = sums of d_z over CSR rows, over sources; grad_s_edge = d_z
        grad_h += grad_s_src att_src + grad_s_dst att_dst;  grad_att = sum_n h grad_s

    Per-edge scratch tensors are reused (``out=``, in-place ops): allocating a fresh
    [E, H] tensor costs about as much as a pass over it (page faults), so forward allocates
    three [E, H] tensors (two without dropout) and backward three.
    """

    @staticmethod
    def forward(ctx, s: _Structure, h: Tensor, att: Tensor, s_edge: Tensor | None,  # noqa: ANN001
                negative_slope: float, drop: _DropoutState | None,
                generator: torch.Generator | None, scale: float, want_alpha: bool):
        heads = h.shape[1]
        hh = h.permute(1, 0, 2).contiguous()                           # [H, N, C]
        sc = torch.bmm(hh, att)                                        # [H, N, 2]
        s_src, s_dst = sc[:, :, 0].t().contiguous(), sc[:, :, 1].t().contiguous()   # [N, H]
        p = _take_rows(s_src, s.src_csr)                               # [E, H]: z, then p
        w = _take_rows(s_dst, s.dst_csr)                               # [E, H] scratch
        p += w
        if s_edge is not None:
            p += s_edge
        torch.nn.functional.leaky_relu_(p, negative_slope)
        m = torch.segment_reduce(p, "max", lengths=s.in_deg, axis=0, unsafe=True)  # [N, H]
        p.sub_(_take_rows(m, s.dst_csr, out=w)).exp_()
        inv_den = _seg_sum(p, s.in_deg).add_(1e-16).reciprocal_()      # [N, H]
        if drop is not None:                                           # w = p * keep
            a_t = _transpose_into(drop.mask(w, generator).mul_(p),
                                  p.new_empty(heads, p.shape[0]))      # [H, E]
        else:
            a_t = _transpose_into(p, w.view(heads, -1))                # [H, E], w reused
        del w
        out_t = _head_products(s, a_t, hh)                             # [H, N, C]
        del a_t
        out = torch.mul(out_t.permute(1, 0, 2), (inv_den * scale).unsqueeze(-1),
                        out=h.new_empty(h.shape))                      # [N, H, C]
        ctx.s, ctx.negative_slope, ctx.scale, ctx.drop = s, negative_slope, scale, drop
        ctx.save_for_backward(p, hh, att, s_src, s_dst, s_edge, inv_den)
        alpha = p * _take_rows(inv_den, s.dst_csr) if want_alpha else p.new_empty(0)
        ctx.mark_non_differentiable(alpha)
        return out, alpha

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor, _grad_alpha: Tensor | None):  # noqa: ANN205
        p, hh, att, s_src, s_dst, s_edge, inv_den = ctx.saved_tensors
        s: _Structure = ctx.s
        heads, edges = hh.shape[0], p.shape[0]
        norm = (inv_den * ctx.scale).t().unsqueeze(-1)                 # [H, N, 1]
        g = torch.mul(grad.permute(1, 0, 2), norm, out=torch.empty_like(hh))  # [H, N, C], g'
        w1 = torch.empty_like(p)                                       # three [E, H] scratch
        a = p if ctx.drop is None else ctx.drop.mask(w1).mul_(p)       # [E, H], p * keep
        w2 = _take_rows(a, s.t_from_csr)                               # [E, H], CSC order
        w3 = _transpose_into(w2, p.new_empty(heads, edges))            # [H, E] (own buffer)
        gh = _head_products(s, w3, g, transpose=True)                  # [H, N, C]
        d_a = _sddmm_heads(s, g, hh, out=w3)                           # [H, E]
        t = torch.mul(a, d_a.t(), out=w2)                              # [E, H], alpha d alpha
        tsum = _seg_sum(t, s.in_deg).mul_(inv_den)                     # [N, H]
        t.addcmul_(p, _take_rows(tsum, s.dst_csr, out=w1), value=-1.0)
        z = _take_rows(s_src, s.src_csr, out=w1)                       # recompute z
        z += _take_rows(s_dst, s.dst_csr, out=w3.view(edges, heads))
        if s_edge is not None:
            z += s_edge
        d_z = torch.ops.aten.leaky_relu_backward.grad_input(           # in place into t
            t, z, ctx.negative_slope, False, grad_input=t)             # [E, H]
        del w1, w3, z
        g_dst = _seg_sum(d_z, s.in_deg)                                # [N, H]
        # by source segments in CSC order: ordered on every device (CUDA's index_add_ adds
        # atomically, in any order), and on CPU 0.47x index_add_'s time at a COLLAB batch
        # (benchmarks/kernels/bench_src_grad.py)
        g_src = _seg_sum(_take_rows(d_z, s.t_from_csr), s.out_deg)    # [N, H]
        d_sc = torch.stack([g_src.t(), g_dst.t()], -1)                 # [H, N, 2]
        gh.baddbmm_(d_sc, att.transpose(1, 2))                         # + d_s . att
        g_att = torch.bmm(hh.transpose(1, 2), d_sc)                    # [H, C, 2]
        g_edge = d_z if ctx.needs_input_grad[3] else None
        return None, gh.permute(1, 0, 2), g_att, g_edge, None, None, None, None, None


def gat_attention(g: Graph, h: Tensor, att_src: Tensor, att_dst: Tensor,
                  s_edge: Tensor | None = None, negative_slope: float = 0.2,
                  dropout: float = 0.0, generator: torch.Generator | None = None,
                  return_alpha: bool = False) -> tuple[Tensor, Tensor | None]:
    r"""Fused GAT attention (Veličković et al., ICLR 2018, Eqs. 1-4), one autograd node.

        z_e^k     = att_src^k . h[src_e, k] + att_dst^k . h[dst_e, k] (+ s_edge[e, k])
        alpha_e^k = softmax over the in-edges of dst_e of LeakyReLU(z_e^k)
        out[i, k] = sum_{e: j -> i} dropout(alpha)_e^k h[j, k]

    The same numbers (to rounding) as node scores ``(h * att).sum(-1)``, :func:`gather_src`
    + :func:`gather_dst`, ``leaky_relu``, :func:`segment_softmax`, dropout and
    :func:`multihead_spmm` composed (the reference GATConv path, ``GATConv(fused=False)``),
    without their intermediate per-edge tensors: backward keeps one [E, H] tensor (the
    softmax numerators), recomputes the logits and redraws the dropout mask from the saved
    generator state (see ``_GATAttention``). Dropout (rate ``dropout``; pass 0 in
    evaluation) draws the same bits for ``[E, H]`` in CSR order as
    ``nn.functional.dropout(alpha, dropout, generator=generator)`` (see
    :func:`dropout_mask`), so both paths drop the same coefficients from the same generator
    state. Not twice differentiable.

    Shapes: h [N, H, C], att_src and att_dst [H, C] (or [1, H, C]), s_edge [E, H] in CSR
    order or None -> ``(out [N, H, C], alpha)``: alpha [E, H] in CSR order, before dropout,
    without grad, when ``return_alpha``, else None.
    """
    s = _structure(g)
    n, heads, c = h.shape
    if n != g.num_nodes or att_src.numel() != heads * c or att_dst.numel() != heads * c:
        raise ValueError(f"gat_attention: expected h [N={g.num_nodes}, H, C] and att_src, "
                         f"att_dst [H, C]; got {list(h.shape)}, {list(att_src.shape)}, "
                         f"{list(att_dst.shape)}")
    if s_edge is not None and s_edge.shape != (g.num_edges, heads):
        raise ValueError(f"s_edge must have shape [{g.num_edges}, {heads}], "
                         f"got {list(s_edge.shape)}")
    if not 0.0 <= dropout <= 1.0:
        raise ValueError(f"dropout probability must lie in [0, 1], got {dropout}")
    if g.num_edges == 0:
        return h.new_zeros(h.shape), (h.new_zeros(0, heads) if return_alpha else None)
    drop, scale = None, 1.0
    if dropout > 0.0:
        thr = _drop_threshold(dropout)
        if thr is None:            # p rounds to 1: every coefficient dropped, out = 0
            scale = 0.0
        else:
            scale = _DROP_LEVELS / (_DROP_LEVELS // 2 - thr)
            if generator is None:
                generator = _default_generator(h.device)
            drop = _DropoutState(generator, h.device, thr, g.num_edges * heads)
    att = torch.stack([att_src.reshape(heads, c), att_dst.reshape(heads, c)], -1)  # [H, C, 2]
    out, alpha = _GATAttention.apply(s, h, att, None if s_edge is None else s_edge.contiguous(),
                                     negative_slope, drop, generator, scale, return_alpha)
    return out, (alpha if return_alpha else None)


# --------------------------------------------------------------------------- normalisation
def add_remaining_self_loops(g: Graph, fill_value: float = 1.0) -> Graph:
    """One self-loop per node: existing loops keep their weight, missing ones get ``fill_value``.

    The returned graph has every non-loop edge (in order) followed by N loops (node order),
    and always carries ``edge_weight``. A node with several loops (a multigraph) gets one loop
    whose weight is their sum, as duplicate edges add up everywhere else, and whose
    ``edge_attr`` is their mean; new loops get zero features. (Keeping "one of them" would
    depend on the device: an indexed write with repeated indices picks an arbitrary winner
    on CUDA.)
    """
    src, dst = g.edge_index
    n = g.num_nodes
    w = g.edge_weight if g.edge_weight is not None else torch.ones(
        g.num_edges, device=g.device)
    is_loop = src == dst
    loop_w = w.new_full((n,), fill_value)
    any_loop = bool(is_loop.any())
    if any_loop:
        at = src[is_loop]
        has = torch.zeros(n, dtype=torch.bool, device=g.device)
        has[at] = True
        loop_w[has] = 0
        loop_w.index_add_(0, at, w[is_loop])
    keep = (~is_loop).nonzero().view(-1)
    ar = torch.arange(n, device=g.device)
    ei = torch.cat([g.edge_index[:, keep], torch.stack([ar, ar])], dim=1)
    ea = None
    if g.edge_attr is not None:
        loop_ea = g.edge_attr.new_zeros(n, g.edge_attr.shape[1])
        if any_loop:  # existing loops keep their features too (the mean of a node's loops)
            count = torch.bincount(at, minlength=n).clamp_(min=1).to(loop_ea.dtype)
            loop_ea.index_add_(0, at, g.edge_attr[is_loop]).div_(count.unsqueeze(1))
        ea = torch.cat([g.edge_attr[keep], loop_ea])
    return g._derive(edge_index=ei, edge_weight=torch.cat([w[keep], loop_w]), edge_attr=ea)


def gcn_norm(g: Graph, add_self_loops: bool = True,
             dtype: torch.dtype | None = None) -> tuple[Graph, Tensor]:
    """Kipf & Welling's renormalisation: w_ij = a_ij / sqrt(d_i d_j) on A + I.

    Returns the graph the weights belong to (with self-loops added as in
    :func:`add_remaining_self_loops` when ``add_self_loops``) and the weights ``[E']`` in its
    COO order; d is the weighted in-degree including the loop. The weights are computed in
    ``dtype`` (default: that of ``g.edge_weight``, else float32). Cached per graph and dtype,
    so it is computed once however many layers or epochs use it.
    """
    def build() -> tuple[Graph, Tensor]:
        gh = add_remaining_self_loops(g) if add_self_loops else g
        w = gh.edge_weight if gh.edge_weight is not None else torch.ones(
            gh.num_edges, device=g.device)
        if dtype is not None:
            w = w.to(dtype)
        src, dst = gh.edge_index
        deg = degree(dst, gh.num_nodes, w)
        if bool((deg < 0).any()):   # d^-1/2 of a negative degree: NaN rows, silently
            bad = int((deg < 0).nonzero()[0, 0])
            raise ValueError(f"gcn_norm: node {bad} has a negative weighted in-degree "
                             f"({float(deg[bad]):.4g}), so D^-1/2 is undefined; GCN's "
                             f"normalisation needs edge weights whose sums into each node "
                             f"(with its self-loop) are >= 0")
        dis = deg.pow(-0.5).masked_fill_(deg == 0, 0.0)
        return gh, dis[src] * w * dis[dst]

    return _cached(g, ("gcn_norm", add_self_loops, dtype), build)


def gat_graph(g: Graph) -> Graph:
    """The graph GAT attends over: existing self-loops removed, one loop per node added
    (loops' ``edge_attr`` = mean of the node's incoming edge features, as in PyG). Cached.
    A batch made by :func:`batch_for_gat` is its own attention graph."""
    if g._cache.get("gat_ready"):
        return g

    def build() -> Graph:
        h = g.remove_self_loops()
        n = g.num_nodes
        ar = torch.arange(n, device=g.device)
        ea = None
        if h.edge_attr is not None:
            ea = torch.cat([h.edge_attr, _scatter(h.edge_attr, h.edge_index[1], n, "mean")])
        ew = None
        if h.edge_weight is not None:
            ew = torch.cat([h.edge_weight, h.edge_weight.new_ones(n)])
        return h._derive(edge_index=torch.cat([h.edge_index, torch.stack([ar, ar])], 1),
                         edge_attr=ea, edge_weight=ew)

    return _cached(g, "gat_graph", build)


def batch_for_gat(graphs: list[Graph]) -> Graph:
    """``batch(graphs)`` ready for GAT layers, without sorting the batch's edges.

    GAT attends over :func:`gat_graph` (self-loops replaced by one per node) through its
    CSR/CSC index arrays; building those for a batch sorts all of its edges, every batch of
    every epoch (on COLLAB about 40% of a MemGNN training step). Here each graph's attention
    graph and arrays are built once (cached on the graph, so reused every epoch) and the
    batch's are assembled from them by offsetting and concatenating. CSR rows sort edges by
    (destination, source), so the assembled arrays equal those of ``gat_graph(batch(graphs))``
    and every GAT output is the same; only the COO position of the loops differs (each
    graph's loops follow its own edges), which ``GATConv(return_attention=True)`` reports
    with the edge_index it returns. The batch is its own :func:`gat_graph`.
    """
    from .graph import batch

    parts = [gat_graph(g) for g in graphs]
    structs = []
    for p in parts:
        if "structure" not in p._cache:
            _structure(p)
            for key in ("csr", "csc"):     # sorted copies the structure no longer needs
                p.__dict__.pop(key, None)
        structs.append(p._cache["structure"])
    gb = batch(parts)
    gb._cache["gat_ready"] = True          # gat_graph(gb) is gb (a flag, not a reference cycle)
    gb._cache["structure"] = _Structure.concat(structs)
    return gb


# --------------------------------------------------------------------------- batches
def to_dense_batch(x: Tensor, g: Graph, fill_value: float = 0.0,
                   max_nodes: int | None = None) -> tuple[Tensor, Tensor]:
    """Pad a batch's node rows into ``[B, N_max, F]`` with a mask ``[B, N_max]``.

    ``g`` must be a batch (``ptr`` set) or a single graph (one row).
    """
    _check_node_rows("to_dense_batch", x, g.num_nodes, "x")
    if g.ptr is None:
        ptr = torch.tensor([0, g.num_nodes], device=x.device)
        b = torch.zeros(g.num_nodes, dtype=torch.long, device=x.device)
    else:
        ptr, b = g.ptr, g.batch
    sizes = ptr.diff()
    nmax = int(sizes.max()) if max_nodes is None else max_nodes
    if int(sizes.max()) > nmax:
        raise ValueError(f"a graph has {int(sizes.max())} nodes, more than max_nodes={nmax}")
    pos = torch.arange(x.shape[0], device=x.device) - ptr[b]
    out = x.new_full((sizes.numel(), nmax) + tuple(x.shape[1:]), fill_value)
    out[b, pos] = x
    mask = torch.zeros(sizes.numel(), nmax, dtype=torch.bool, device=x.device)
    mask[b, pos] = True
    return out, mask


# --------------------------------------------------------------------------- diffusion
def rwr(g: Graph, c: float = 0.1, dtype: torch.dtype = torch.float32) -> Tensor:
    r"""Random walk with restart matrix of one graph (GMN, Khasahmadi et al., ICLR 2020, Sec. 4).

        R = (1 - c) (I - c D^{-1/2} A D^{-1/2})^{-1},     D_ii = sum_j A_ij

    A is the dense adjacency (``A[s, d]`` += edge weight, or 1, per edge s -> d); isolated
    nodes get D^{-1/2} = 0. In the series R = (1 - c) sum_t (c Â)^t a walk continues with
    probability c and restarts with probability 1 - c (the official code calls ``c`` the
    restart probability, default 0.1). Solved densely in float64, O(N^3): for graphs of up to
    a few thousand nodes.

    Shapes: g a single graph with N nodes -> [N, N].
    """
    if g.ptr is not None and g.num_graphs > 1:
        raise ValueError("rwr() takes one graph; apply it to each graph of unbatch(g)")
    if not 0 <= c < 1:
        raise ValueError(f"c must lie in [0, 1), got {c}")
    n = g.num_nodes
    w = torch.ones(g.num_edges, dtype=torch.float64, device=g.device) if g.edge_weight is None \
        else g.edge_weight.to(torch.float64)
    try:
        return _rwr_dense(g, n, w, c, dtype)
    except (RuntimeError, MemoryError) as exc:   # torch.OutOfMemoryError is a RuntimeError
        if "alloc" not in str(exc).lower() and "out of memory" not in str(exc).lower():
            raise
        raise MemoryError(f"rwr: the dense solve for a graph of {n} nodes needs about "
                          f"{4 * 8 * n * n / 1e9:.1f} GB ([N, N] float64 matrices), more than "
                          f"this machine could allocate; the RWR embedding (GMN) is for small "
                          f"graphs: drop large ones (--max-nodes)") from None


def _rwr_dense(g: Graph, n: int, w: Tensor, c: float, dtype: torch.dtype) -> Tensor:
    a = torch.zeros(n, n, dtype=torch.float64, device=g.device)
    a.index_put_((g.edge_index[0], g.edge_index[1]), w, accumulate=True)   # [N, N]
    deg = a.sum(1)
    dinv = torch.where(deg > 0, deg.clamp_min(1e-300).rsqrt(), torch.zeros_like(deg))
    a_hat = dinv[:, None] * a * dinv[None, :]
    eye = torch.eye(n, dtype=torch.float64, device=g.device)
    r = (1 - c) * torch.linalg.solve(eye - c * a_hat, eye)                  # [N, N]
    return r.to(dtype)
