"""gnnkit.ops against dense float64 formulas, with float64 gradchecks.

Every test also checks that the op did not modify its inputs (graph tensors and arguments are
compared with clones taken before the call).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

from gnnkit import Graph, batch, ops
from gnnkit.graph import GraphError

D = torch.float64
REDUCES = ("sum", "mean", "max", "min")


# --------------------------------------------------------------------------- helpers
def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def make_graph(n: int = 7, e: int = 18, *, seed: int = 0, loops: bool = True, dups: bool = True,
               isolated: int = 1, weight: bool = False) -> Graph:
    """Random directed graph; the last ``isolated`` nodes have no edges at all."""
    gen = _gen(seed)
    m = n - isolated
    src = torch.randint(0, m, (e,), generator=gen)
    dst = torch.randint(0, m, (e,), generator=gen)
    if not loops:
        dst = torch.where(src == dst, (dst + 1) % m, dst)
    ei = torch.stack([src, dst])
    if dups:
        ei = torch.cat([ei, ei[:, :3]], 1)  # three exact duplicates
    if loops:
        ei = torch.cat([ei, torch.tensor([[0], [0]])], 1)  # at least one self-loop
    ew = torch.rand(ei.shape[1], generator=gen, dtype=D) + 0.5 if weight else None
    return Graph(ei, n, edge_weight=ew)


def snapshot(*objs):
    """Clones of every tensor in objs (graphs contribute all their tensor fields)."""
    out = []
    for o in objs:
        if isinstance(o, Graph):
            for name in ("edge_index", "x", "edge_weight", "edge_attr", "y", "batch", "ptr"):
                v = getattr(o, name)
                out.append((o, name, None if v is None else v.detach().clone()))
        elif isinstance(o, torch.Tensor):
            out.append((o, None, o.detach().clone()))
    return out


def assert_unchanged(snap) -> None:
    for o, name, ref in snap:
        cur = getattr(o, name) if name is not None else o
        if ref is None:
            assert cur is None
        else:
            assert torch.equal(cur, ref), f"input {name or 'tensor'} was modified"


def dense_adj(g: Graph, w: torch.Tensor | None = None) -> torch.Tensor:
    """A[dst, src] = sum of the weights of edges src -> dst (duplicates summed)."""
    w = torch.ones(g.num_edges, dtype=D) if w is None else w.to(D)
    a = torch.zeros(g.num_nodes, g.num_nodes, dtype=D)
    a.index_put_((g.edge_index[1], g.edge_index[0]), w, accumulate=True)
    return a


def loop_reduce(src: torch.Tensor, groups: list[list[int]], reduce: str) -> torch.Tensor:
    """out[i] = reduce(src[groups[i]]) by a Python loop; empty groups give 0."""
    rows = []
    for idx in groups:
        if not idx:
            rows.append(torch.zeros(src.shape[1:], dtype=src.dtype))
            continue
        v = src[idx]
        rows.append({"sum": v.sum(0), "mean": v.mean(0), "max": v.max(0).values,
                     "min": v.min(0).values}[reduce])
    return torch.stack(rows)


def in_neighbours(g: Graph) -> list[list[int]]:
    nb = [[] for _ in range(g.num_nodes)]
    for s, d in g.edge_index.t().tolist():
        nb[d].append(s)
    return nb


# --------------------------------------------------------------------------- scatter
@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("trailing", [(), (3,), (2, 3)])
def test_scatter_matches_loop(reduce, trailing):
    gen = _gen(1)
    src = torch.randn((11,) + trailing, generator=gen, dtype=D)
    index = torch.tensor([0, 2, 2, 5, 0, 2, 3, 5, 5, 0, 3])  # rows 1, 4 and 6 receive nothing
    snap = snapshot(src, index)
    out = ops.scatter(src, index, 7, reduce)
    groups = [(index == i).nonzero().view(-1).tolist() for i in range(7)]
    ref = loop_reduce(src, groups, reduce)
    assert out.shape == (7,) + trailing
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    assert bool((out[[1, 4, 6]] == 0).all())
    assert_unchanged(snap)


@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_gradcheck(reduce):
    src = torch.randn(9, 3, generator=_gen(2), dtype=D, requires_grad=True)
    index = torch.tensor([0, 2, 2, 5, 0, 2, 3, 5, 5])
    assert gradcheck(lambda s: ops.scatter(s, index, 6, reduce), (src,))


def test_scatter_rejects_unknown_reduce():
    with pytest.raises(ValueError, match="reduce"):
        ops.scatter(torch.ones(2), torch.tensor([0, 1]), 2, "prod")


# --------------------------------------------------------------------------- segment
@pytest.mark.parametrize("reduce", REDUCES)
def test_segment_matches_loop_with_empty_segments(reduce):
    src = torch.randn(8, 3, generator=_gen(3), dtype=D)
    ptr = torch.tensor([0, 0, 3, 3, 4, 8, 8])  # segments 0, 2 and 5 are empty
    snap = snapshot(src, ptr)
    out = ops.segment(src, ptr, reduce)
    groups = [list(range(int(ptr[i]), int(ptr[i + 1]))) for i in range(6)]
    assert out.shape == (6, 3)
    torch.testing.assert_close(out, loop_reduce(src, groups, reduce), rtol=0, atol=1e-12)
    assert bool((out[[0, 2, 5]] == 0).all()), "empty segments must be 0"
    assert_unchanged(snap)


@pytest.mark.parametrize("reduce", REDUCES)
def test_segment_gradcheck(reduce):
    src = torch.randn(8, 2, generator=_gen(4), dtype=D, requires_grad=True)
    ptr = torch.tensor([0, 0, 3, 3, 4, 8])
    assert gradcheck(lambda s: ops.segment(s, ptr, reduce), (src,))


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_segment_max_min_gradient_splits_ties(reduce):
    # rows 0 and 1 tie for the extreme of segment 0; the upstream gradient is negative in
    # channel 0: each tied row must get half of it (torch's own segment_reduce backward gave
    # each the full gradient, doubling it)
    sign = 1.0 if reduce == "max" else -1.0
    src = (sign * torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.5, 0.5], [3.0, -1.0]],
                               dtype=D)).requires_grad_(True)
    ptr = torch.tensor([0, 3, 3, 4])
    up = torch.tensor([[-1.0, 2.0], [5.0, 5.0], [-3.0, 0.5]], dtype=D)
    (grad,) = torch.autograd.grad((ops.segment(src, ptr, reduce) * up).sum(), src)
    expect = torch.tensor([[-0.5, 1.0], [-0.5, 1.0], [0.0, 0.0], [-3.0, 0.5]], dtype=D)
    torch.testing.assert_close(grad, expect, rtol=0, atol=0)


@pytest.mark.parametrize("reduce", REDUCES)
def test_segment_of_no_rows_is_zero(reduce):
    out = ops.segment(torch.zeros(0, 4, dtype=D), torch.zeros(4, dtype=torch.long), reduce)
    assert out.shape == (3, 4) and bool((out == 0).all())


# --------------------------------------------------------------------------- degree
def test_degree_counts_and_weights():
    index = torch.tensor([3, 0, 3, 3, 1])
    w = torch.tensor([0.5, 2.0, 1.0, 0.25, 4.0], dtype=D)
    snap = snapshot(index, w)
    assert torch.equal(ops.degree(index, 5), torch.tensor([1.0, 1.0, 0.0, 3.0, 0.0]))
    assert ops.degree(index, 5, dtype=D).dtype == D
    torch.testing.assert_close(ops.degree(index, 5, w),
                               torch.tensor([2.0, 4.0, 0.0, 1.75, 0.0], dtype=D))
    assert_unchanged(snap)


def test_degree_gradcheck():
    index = torch.tensor([3, 0, 3, 3, 1])
    w = torch.rand(5, generator=_gen(5), dtype=D, requires_grad=True)
    assert gradcheck(lambda w: ops.degree(index, 5, w), (w,))


# --------------------------------------------------------------------------- spmm
GRAPHS = {
    "dups+loops+isolated": dict(n=7, e=18, loops=True, dups=True, isolated=1),
    "simple": dict(n=6, e=10, loops=False, dups=False, isolated=0),
    "many-isolated": dict(n=9, e=5, loops=True, dups=True, isolated=4),
}


def _graph_no_edges(n: int = 4) -> Graph:
    return Graph(torch.zeros(2, 0, dtype=torch.long), n)


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_spmm_sum_mean_matches_dense(name, weighted, reduce):
    g = make_graph(**GRAPHS[name], weight=weighted, seed=6)
    x = torch.randn(g.num_nodes, 3, generator=_gen(7), dtype=D)
    snap = snapshot(g, x)
    out = ops.spmm(g, x, g.edge_weight, reduce=reduce)
    ref = dense_adj(g, g.edge_weight) @ x
    if reduce == "mean":
        cnt = dense_adj(g).sum(1).clamp(min=1)  # number of in-edges, duplicates counted
        ref = ref / cnt.unsqueeze(1)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    assert_unchanged(snap)


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("reduce", ["max", "min"])
def test_spmm_max_min_matches_loop(name, reduce):
    g = make_graph(**GRAPHS[name], seed=8)
    x = torch.randn(g.num_nodes, 3, generator=_gen(9), dtype=D)
    snap = snapshot(g, x)
    out = ops.spmm(g, x, reduce=reduce)
    torch.testing.assert_close(out, loop_reduce(x, in_neighbours(g), reduce), rtol=0, atol=0)
    assert_unchanged(snap)


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_spmm_max_min_fused_cpu_path_equals_gather_reference(reduce):
    # the CPU fast path (torch's fused CSR amax/amin) against the gather + segment reference,
    # values and gradient, on a larger float32 graph with duplicate edges and isolated nodes
    g = make_graph(n=300, e=3000, seed=44)
    x = torch.randn(g.num_nodes, 16, generator=_gen(45), requires_grad=True)
    up = torch.randn(g.num_nodes, 16, generator=_gen(46))
    out = ops.spmm(g, x, reduce=reduce)
    ref = ops.segment(x[g.csr[1]], g.csr[0], reduce)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    (gx,) = torch.autograd.grad((out * up).sum(), x)
    (rx,) = torch.autograd.grad((ref * up).sum(), x)
    torch.testing.assert_close(gx, rx, rtol=0, atol=1e-5)


def test_spmm_max_tie_between_neighbours_passes_the_gradient_once():
    # nodes 0 and 1 both hold the maximum of node 2's neighbourhood: whichever way the tie is
    # broken, the upstream gradient reaches the inputs exactly once in total
    g = Graph(torch.tensor([[0, 1], [2, 2]]), num_nodes=3)
    x = torch.tensor([[1.0], [1.0], [0.0]], requires_grad=True)
    (gx,) = torch.autograd.grad((ops.spmm(g, x, reduce="max") * 3.0).sum(), x)
    assert float(gx[:2].sum()) == pytest.approx(3.0) and float(gx[2]) == 0.0


def test_spmm_max_rejects_edge_weight():
    g = make_graph(weight=True)
    with pytest.raises(ValueError, match="edge_weight"):
        ops.spmm(g, torch.randn(g.num_nodes, 2, dtype=D), g.edge_weight, reduce="max")


def test_spmm_rejects_wrong_rows():
    g = make_graph()
    with pytest.raises(ValueError, match="rows"):
        ops.spmm(g, torch.randn(g.num_nodes + 1, 2))


@pytest.mark.parametrize("reduce", REDUCES)
def test_spmm_no_edges_is_zero(reduce):
    g = _graph_no_edges()
    out = ops.spmm(g, torch.randn(4, 3, dtype=D), reduce=reduce)
    assert out.shape == (4, 3) and bool((out == 0).all())


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_spmm_gradcheck_x_and_weight(name, reduce):
    g = make_graph(**GRAPHS[name], weight=True, seed=10)
    x = torch.randn(g.num_nodes, 2, generator=_gen(11), dtype=D, requires_grad=True)
    w = g.edge_weight.clone().requires_grad_(True)
    assert gradcheck(lambda x, w: ops.spmm(g, x, w, reduce=reduce), (x, w))
    # unweighted: gradient wrt x only
    assert gradcheck(lambda x: ops.spmm(g, x, reduce=reduce), (x,))


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("reduce", ["max", "min"])
def test_spmm_max_min_gradcheck(name, reduce):
    # duplicate edges make the same x[j] the extreme twice: the gradient must still be 1, not 2
    g = make_graph(**GRAPHS[name], seed=12)
    x = torch.randn(g.num_nodes, 2, generator=_gen(13), dtype=D, requires_grad=True)
    assert gradcheck(lambda x: ops.spmm(g, x, reduce=reduce), (x,))


@pytest.mark.parametrize("reduce", ["max", "min"])
def test_spmm_max_min_gradient_with_signed_upstream(reduce):
    # duplicate edges reach the same x[j] twice; x[j] must still receive the upstream gradient
    # once, whatever its sign (compared with autograd through a per-node torch.max loop)
    g = make_graph(**GRAPHS["dups+loops+isolated"], seed=41)
    x = torch.randn(g.num_nodes, 3, generator=_gen(42), dtype=D, requires_grad=True)
    up = torch.randn(g.num_nodes, 3, generator=_gen(43), dtype=D)
    (gx,) = torch.autograd.grad((ops.spmm(g, x, reduce=reduce) * up).sum(), x)
    (rx,) = torch.autograd.grad((loop_reduce(x, in_neighbours(g), reduce) * up).sum(), x)
    torch.testing.assert_close(gx, rx, rtol=0, atol=1e-12)


def test_spmm_gradient_matches_dense_autograd():
    # an independent check of the custom backward (A^T grad and the SDDMM for w)
    g = make_graph(weight=True, seed=14)
    x = torch.randn(g.num_nodes, 3, generator=_gen(15), dtype=D, requires_grad=True)
    w = g.edge_weight.clone().requires_grad_(True)
    up = torch.randn(g.num_nodes, 3, generator=_gen(16), dtype=D)
    gx, gw = torch.autograd.grad((ops.spmm(g, x, w) * up).sum(), (x, w))
    x2, w2 = x.detach().clone().requires_grad_(True), w.detach().clone().requires_grad_(True)
    a = torch.zeros(g.num_nodes, g.num_nodes, dtype=D).index_put(
        (g.edge_index[1], g.edge_index[0]), w2, accumulate=True)
    rx, rw = torch.autograd.grad(((a @ x2) * up).sum(), (x2, w2))
    torch.testing.assert_close(gx, rx, rtol=0, atol=1e-12)
    torch.testing.assert_close(gw, rw, rtol=0, atol=1e-12)


def test_spmm_results_do_not_depend_on_edge_order():
    g = make_graph(weight=True, seed=17)
    perm = torch.randperm(g.num_edges, generator=_gen(18))
    h = Graph(g.edge_index[:, perm], g.num_nodes, edge_weight=g.edge_weight[perm])
    x = torch.randn(g.num_nodes, 3, generator=_gen(19), dtype=D)
    torch.testing.assert_close(ops.spmm(g, x, g.edge_weight), ops.spmm(h, x, h.edge_weight),
                               rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- sddmm
def test_sddmm_matches_dense_and_gradcheck():
    g = make_graph(seed=20)
    a = torch.randn(g.num_nodes, 4, generator=_gen(21), dtype=D, requires_grad=True)
    b = torch.randn(g.num_nodes, 4, generator=_gen(22), dtype=D, requires_grad=True)
    snap = snapshot(g, a, b)
    out = ops.sddmm(g, a, b)
    dense = a.detach() @ b.detach().t()  # dense[i, j] = <a_i, b_j>
    ref = dense[g.edge_index[1], g.edge_index[0]]  # <a[dst], b[src]>
    assert out.shape == (g.num_edges,)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    assert_unchanged(snap)
    assert gradcheck(lambda a, b: ops.sddmm(g, a, b), (a, b))


# --------------------------------------------------------------------------- softmax
def dense_edge_softmax(logits: torch.Tensor, dst: torch.Tensor, n: int) -> torch.Tensor:
    out = torch.empty_like(logits)
    for i in range(n):
        m = dst == i
        if m.any():
            out[m] = torch.softmax(logits[m], dim=0)
    return out


@pytest.mark.parametrize("heads", [None, 3])
def test_edge_softmax_matches_dense(heads):
    g = make_graph(seed=23)
    shape = (g.num_edges,) if heads is None else (g.num_edges, heads)
    logits = torch.randn(shape, generator=_gen(24), dtype=D)
    dst = g.edge_index[1]
    snap = snapshot(logits, dst)
    alpha = ops.edge_softmax(logits, dst, g.num_nodes)
    torch.testing.assert_close(alpha, dense_edge_softmax(logits, dst, g.num_nodes),
                               rtol=0, atol=1e-12)
    sums = ops.scatter(alpha, dst, g.num_nodes)
    has_in = ops.degree(dst, g.num_nodes) > 0
    torch.testing.assert_close(sums[has_in], torch.ones_like(sums[has_in]), rtol=0, atol=1e-12)
    assert bool((sums[~has_in] == 0).all())
    assert_unchanged(snap)


def test_edge_softmax_stable_with_huge_logits():
    dst = torch.tensor([0, 0, 0, 1, 1])
    logits = torch.tensor([1000.0, 999.0, -1000.0, 3e4, 3e4], dtype=D)
    alpha = ops.edge_softmax(logits, dst, 2)
    assert bool(torch.isfinite(alpha).all())
    e = math.exp(-1.0)
    torch.testing.assert_close(alpha, torch.tensor([1 / (1 + e), e / (1 + e), 0.0, 0.5, 0.5],
                                                   dtype=D), rtol=0, atol=1e-12)
    # float32 too: exp(1000) overflows without the shift
    alpha32 = ops.edge_softmax(logits.float(), dst, 2)
    assert bool(torch.isfinite(alpha32).all())


def test_edge_softmax_gradcheck():
    g = make_graph(seed=25)
    logits = torch.randn(g.num_edges, 2, generator=_gen(26), dtype=D, requires_grad=True)
    assert gradcheck(lambda l: ops.edge_softmax(l, g.edge_index[1], g.num_nodes), (logits,))


def _csr_logits(g: Graph, logits_coo: torch.Tensor) -> torch.Tensor:
    return logits_coo[g.csr[2]]


@pytest.mark.parametrize("heads", [None, 2])
@pytest.mark.parametrize("pass_seg_id", [False, True])
def test_segment_softmax_equals_edge_softmax(heads, pass_seg_id):
    g = make_graph(seed=27)
    shape = (g.num_edges,) if heads is None else (g.num_edges, heads)
    logits = torch.randn(shape, generator=_gen(28), dtype=D)
    lc = _csr_logits(g, logits).requires_grad_(True)
    seg = ops.csr_destination(g) if pass_seg_id else None
    # csr_destination must be the destination of each CSR edge
    assert torch.equal(ops.csr_destination(g), g.edge_index[1, g.csr[2]])
    snap = snapshot(lc)
    a = ops.segment_softmax(lc, g.csr[0], seg)
    assert_unchanged(snap)
    lr = lc.detach().clone().requires_grad_(True)
    r = ops.edge_softmax(lr, ops.csr_destination(g), g.num_nodes)
    torch.testing.assert_close(a, r, rtol=0, atol=1e-12)
    up = torch.randn(shape, generator=_gen(29), dtype=D)
    (ga,) = torch.autograd.grad((a * up).sum(), lc)
    (gr,) = torch.autograd.grad((r * up).sum(), lr)
    torch.testing.assert_close(ga, gr, rtol=0, atol=1e-12)
    assert gradcheck(lambda l: ops.segment_softmax(l, g.csr[0], seg), (lc,))


def test_segment_softmax_stable_and_empty():
    ptr = torch.tensor([0, 2, 2, 3])
    out = ops.segment_softmax(torch.tensor([5e4, 5e4, -7e4], dtype=torch.float32), ptr)
    torch.testing.assert_close(out, torch.tensor([0.5, 0.5, 1.0]))
    assert ops.segment_softmax(torch.zeros(0, 2), torch.zeros(3, dtype=torch.long)).shape == (0, 2)


# --------------------------------------------------------------------------- multihead_spmm
def test_multihead_spmm_matches_dense_per_head():
    g = make_graph(seed=30)
    H, C = 3, 2
    alpha_csr = torch.rand(g.num_edges, H, generator=_gen(31), dtype=D)
    h = torch.randn(g.num_nodes, H, C, generator=_gen(32), dtype=D)
    snap = snapshot(g, alpha_csr, h)
    out = ops.multihead_spmm(g, alpha_csr, h)
    alpha_coo = torch.empty_like(alpha_csr)
    alpha_coo[g.csr[2]] = alpha_csr
    assert out.shape == (g.num_nodes, H, C)
    for k in range(H):
        torch.testing.assert_close(out[:, k], dense_adj(g, alpha_coo[:, k]) @ h[:, k],
                                   rtol=0, atol=1e-12)
    assert_unchanged(snap)


def test_multihead_spmm_gradcheck():
    g = make_graph(seed=33)
    alpha = torch.rand(g.num_edges, 2, generator=_gen(34), dtype=D, requires_grad=True)
    h = torch.randn(g.num_nodes, 2, 3, generator=_gen(35), dtype=D, requires_grad=True)
    assert gradcheck(lambda a, h: ops.multihead_spmm(g, a, h), (alpha, h))


def test_multihead_spmm_no_edges():
    out = ops.multihead_spmm(_graph_no_edges(), torch.zeros(0, 2, dtype=D),
                             torch.randn(4, 2, 3, dtype=D))
    assert out.shape == (4, 2, 3) and bool((out == 0).all())


# --------------------------------------------------------------------------- gather_src/dst
@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("trailing", [(), (2,), (2, 3)])
def test_gather_src_dst_match_indexing_in_csr_order(name, trailing):
    g = make_graph(**GRAPHS[name], seed=44)
    t = torch.randn((g.num_nodes,) + trailing, generator=_gen(45), dtype=D)
    snap = snapshot(g, t)
    perm = g.csr[2]
    src, dst = g.edge_index[0, perm], g.edge_index[1, perm]  # CSR order
    torch.testing.assert_close(ops.gather_src(g, t), t[src], rtol=0, atol=0)
    torch.testing.assert_close(ops.gather_dst(g, t), t[dst], rtol=0, atol=0)
    assert_unchanged(snap)
    # the custom backward (segment sums) equals indexing's scatter-add
    up = torch.randn((g.num_edges,) + trailing, generator=_gen(46), dtype=D)
    for op, idx in ((ops.gather_src, src), (ops.gather_dst, dst)):
        tt = t.clone().requires_grad_(True)
        (gt,) = torch.autograd.grad((op(g, tt) * up).sum(), tt)
        ref = torch.zeros_like(t).index_add_(0, idx, up)
        torch.testing.assert_close(gt, ref, rtol=0, atol=1e-12)


def test_gather_gradcheck():
    g = make_graph(seed=47)
    t = torch.randn(g.num_nodes, 2, generator=_gen(48), dtype=D, requires_grad=True)
    assert gradcheck(lambda t: ops.gather_src(g, t), (t,))
    assert gradcheck(lambda t: ops.gather_dst(g, t), (t,))


@pytest.mark.parametrize("op", ["gather_src", "gather_dst"])
def test_gather_no_edges(op):
    t = torch.randn(4, 2, dtype=D, requires_grad=True)
    out = getattr(ops, op)(_graph_no_edges(), t)
    assert out.shape == (0, 2)
    (gt,) = torch.autograd.grad(out.sum(), t)
    assert gt.shape == (4, 2) and bool((gt == 0).all())


# --------------------------------------------------------------------------- self-loops, gcn_norm
def test_add_remaining_self_loops_keeps_existing_loop_weight():
    ei = torch.tensor([[0, 1, 1, 2, 3], [1, 1, 2, 0, 3]])  # loops on 1 (w 5) and 3 (w 7)
    w = torch.tensor([2.0, 5.0, 3.0, 4.0, 7.0], dtype=D)
    ea = torch.arange(10, dtype=D).view(5, 2) + 1
    g = Graph(ei, 5, edge_weight=w, edge_attr=ea)
    snap = snapshot(g)
    h = ops.add_remaining_self_loops(g, fill_value=0.5)
    assert_unchanged(snap)
    assert torch.equal(h.edge_index, torch.tensor([[0, 1, 2, 0, 1, 2, 3, 4],
                                                   [1, 2, 0, 0, 1, 2, 3, 4]]))
    assert torch.equal(h.edge_weight, torch.tensor([2.0, 3.0, 4.0, 0.5, 5.0, 0.5, 7.0, 0.5],
                                                   dtype=D))
    # non-loop edges keep their features; every node has exactly one loop
    assert torch.equal(h.edge_attr[:3], ea[[0, 2, 3]])
    loops = h.edge_index[0] == h.edge_index[1]
    assert torch.equal(h.edge_index[0, loops].sort().values, torch.arange(5))


def test_add_remaining_self_loops_sums_a_nodes_duplicate_loops():
    # node 1 has three loops (w 1, 2, 4): one loop of weight 7 with the mean of their
    # features; the layer references build A by summing every edge, duplicate loops included
    ei = torch.tensor([[1, 0, 1, 1], [1, 1, 1, 1]])
    w = torch.tensor([1.0, 3.0, 2.0, 4.0], dtype=D)
    ea = torch.tensor([[1.0], [9.0], [2.0], [6.0]], dtype=D)
    h = ops.add_remaining_self_loops(Graph(ei, 3, edge_weight=w, edge_attr=ea), fill_value=0.5)
    assert torch.equal(h.edge_index, torch.tensor([[0, 0, 1, 2], [1, 0, 1, 2]]))
    assert torch.equal(h.edge_weight, torch.tensor([3.0, 0.5, 7.0, 0.5], dtype=D))
    assert torch.equal(h.edge_attr, torch.tensor([[9.0], [0.0], [3.0], [0.0]], dtype=D))
    _, nw = ops.gcn_norm(Graph(ei, 3, edge_weight=w))
    a = torch.tensor([[1.0, 0, 0], [3.0, 7.0, 0], [0, 0, 1.0]], dtype=D)  # a[dst, src], A + I
    dis = a.sum(1).rsqrt()
    assert torch.allclose(nw, (dis[:, None] * a * dis[None, :])[[1, 0, 1, 2], [0, 0, 1, 2]])


def test_gcn_norm_rejects_a_negative_degree_instead_of_nan():
    ei = torch.tensor([[0, 1, 2], [1, 2, 0]])
    g = Graph(ei, 3, edge_weight=torch.tensor([1.0, -3.0, 1.0], dtype=D))
    with pytest.raises(ValueError, match="node 2 has a negative weighted in-degree"):
        ops.gcn_norm(g)
    # negative weights whose sums stay >= 0 are fine (here with the self-loop: 1 - 0.5)
    _, w = ops.gcn_norm(Graph(ei, 3, edge_weight=torch.tensor([1.0, -0.5, 1.0], dtype=D)))
    assert torch.isfinite(w).all()


def test_add_remaining_self_loops_keeps_existing_loop_edge_attr():
    # an existing loop keeps its weight, and its features with it; new loops get zeros
    ei = torch.tensor([[0, 1], [1, 1]])
    ea = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=D)
    h = ops.add_remaining_self_loops(Graph(ei, 2, edge_attr=ea))
    assert torch.equal(h.edge_index, torch.tensor([[0, 0, 1], [1, 0, 1]]))
    assert torch.equal(h.edge_attr, torch.tensor([[1.0, 2.0], [0.0, 0.0], [3.0, 4.0]], dtype=D))
    assert torch.equal(h.edge_weight, torch.ones(3))


def dense_gcn_matrix(g: Graph) -> torch.Tensor:
    """D^-1/2 Â D^-1/2 with Â = A whose diagonal is 1 where A has no loop (loops kept)."""
    a = dense_adj(g, g.edge_weight)
    has_loop = torch.zeros(g.num_nodes, dtype=torch.bool)
    has_loop[g.edge_index[0, g.edge_index[0] == g.edge_index[1]]] = True
    a = a + torch.diag((~has_loop).to(D))
    d = a.sum(1)  # weighted in-degree (row = destination)
    dis = d.pow(-0.5)
    return dis.unsqueeze(1) * a * dis.unsqueeze(0)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loops", [False, True])
def test_gcn_norm_matches_dense(weighted, loops):
    g = make_graph(n=7, e=16, loops=loops, dups=True, isolated=2, weight=weighted, seed=36)
    snap = snapshot(g)
    gh, w = ops.gcn_norm(g)
    assert_unchanged(snap)
    assert w.shape == (gh.num_edges,)
    assert w.dtype == (D if weighted else torch.float32)  # the edge weights' dtype by default
    torch.testing.assert_close(dense_adj(gh, w), dense_gcn_matrix(g), rtol=0, atol=1e-6)
    # computed in the dtype asked for: float64 to float64 precision
    gh64, w64 = ops.gcn_norm(g, dtype=D)
    assert w64.dtype == D
    x = torch.randn(g.num_nodes, 3, generator=_gen(37), dtype=D)
    torch.testing.assert_close(dense_adj(gh64, w64), dense_gcn_matrix(g), rtol=0, atol=1e-12)
    torch.testing.assert_close(ops.spmm(gh64, x, w64), dense_gcn_matrix(g) @ x,
                               rtol=0, atol=1e-12)
    assert ops.gcn_norm(g, dtype=torch.float32)[1].dtype == torch.float32


def test_gcn_norm_without_self_loops():
    g = make_graph(loops=False, isolated=1, weight=True, seed=38)
    gh, w = ops.gcn_norm(g, add_self_loops=False)
    assert gh is g
    a = dense_adj(g, g.edge_weight)
    d = a.sum(1)
    dis = torch.where(d > 0, d.pow(-0.5), torch.zeros_like(d))  # isolated nodes: 0, not inf
    torch.testing.assert_close(dense_adj(g, w), dis.unsqueeze(1) * a * dis.unsqueeze(0),
                               rtol=0, atol=1e-12)


def test_gcn_norm_is_cached_per_graph():
    g = make_graph(seed=39)
    first = ops.gcn_norm(g)
    second = ops.gcn_norm(g)
    assert first[0] is second[0] and first[1] is second[1]
    # a different graph (even an equal one) computes its own
    g2 = Graph(g.edge_index.clone(), g.num_nodes)
    assert ops.gcn_norm(g2)[1] is not first[1]
    torch.testing.assert_close(ops.gcn_norm(g2)[1], first[1])
    # the add_self_loops=False variant and other dtypes are different cache entries
    assert ops.gcn_norm(g, add_self_loops=False)[0] is g
    w64 = ops.gcn_norm(g, dtype=D)[1]
    assert w64 is ops.gcn_norm(g, dtype=D)[1] and w64 is not first[1] and w64.dtype == D


# --------------------------------------------------------------------------- to_dense_batch
def test_to_dense_batch_matches_manual():
    sizes = [3, 1, 4]
    gs = [Graph(torch.zeros(2, 0, dtype=torch.long), n) for n in sizes]
    b = batch(gs)
    x = torch.randn(8, 2, generator=_gen(40), dtype=D)
    snap = snapshot(b, x)
    out, mask = ops.to_dense_batch(x, b, fill_value=-9.0)
    assert_unchanged(snap)
    assert out.shape == (3, 4, 2) and mask.shape == (3, 4) and mask.dtype == torch.bool
    start = 0
    for i, n in enumerate(sizes):
        assert torch.equal(out[i, :n], x[start:start + n])
        assert bool((out[i, n:] == -9.0).all())
        assert mask[i].tolist() == [True] * n + [False] * (4 - n)
        start += n
    assert torch.equal(out[mask], x)  # the mask recovers the rows in order


def test_to_dense_batch_single_graph_and_max_nodes():
    g = Graph(torch.tensor([[0], [1]]), 3)
    x = torch.randn(3, 2, dtype=D)
    out, mask = ops.to_dense_batch(x, g, max_nodes=5)
    assert out.shape == (1, 5, 2) and torch.equal(out[0, :3], x) and mask.sum() == 3
    with pytest.raises(ValueError, match="max_nodes"):
        ops.to_dense_batch(x, g, max_nodes=2)


def test_to_dense_batch_gradient_flows_to_rows():
    b = batch([Graph(torch.zeros(2, 0, dtype=torch.long), n) for n in (2, 3)])
    x = torch.randn(5, 2, dtype=D, requires_grad=True)
    assert gradcheck(lambda x: ops.to_dense_batch(x, b)[0], (x,))


# --------------------------------------------------------------------------- bad input
_TRI = Graph(torch.tensor([[0, 1, 2], [1, 2, 0]]), 3)


@pytest.mark.parametrize("call, message", [
    (lambda: ops.scatter(torch.randn(4, 2), torch.tensor([0, 1, 9, 2]), 3),
     r"index holds values in \[0, 9\], outside \[0, dim_size = 3\)"),
    (lambda: ops.scatter(torch.randn(4, 2), torch.tensor([0, -1, 1, 2]), 3),
     r"index holds values in \[-1, 2\]"),
    (lambda: ops.scatter(torch.randn(4, 2), torch.tensor([0, 1]), 3),
     r"index must have shape \[E\] with E = src.shape\[0\] = 4, got \[2\]"),
    (lambda: ops.segment(torch.randn(4, 2), torch.tensor([0, 2, 9])),
     r"ptr must be non-decreasing offsets from 0 to src.shape\[0\] = 4"),
    (lambda: ops.segment(torch.randn(4, 2), torch.tensor([0, 3, 2, 4])), r"non-decreasing"),
    (lambda: ops.segment(torch.randn(4, 2), torch.tensor([1, 4])), r"offsets from 0"),
    (lambda: ops.segment_softmax(torch.randn(3, 2), torch.tensor([0, 1, 9])),
     r"segment_softmax: ptr must be non-decreasing offsets from 0 to src.shape\[0\] = 3"),
    (lambda: ops.edge_softmax(torch.randn(3, 2), torch.tensor([0, 1]), 3),
     r"dst must have one entry per row of logits \(3\)"),
    # these four returned numbers for a node tensor that does not fit the graph
    (lambda: ops.gather_src(_TRI, torch.randn(5, 2)),
     r"gather_src: t has 5 rows but the graph has 3 nodes \(shape \[5, 2\]\)"),
    (lambda: ops.degree(torch.tensor([0, 5]), 3),
     r"degree: index holds values in \[0, 5\], outside \[0, num_nodes = 3\)"),
    (lambda: ops.multihead_spmm(_TRI, torch.randn(2, 2), torch.randn(3, 2, 4)),
     r"expected alpha_csr \[E=3, H\] and h \[N, H, C\]; got \[2, 2\] and \[3, 2, 4\]"),
    (lambda: ops.gather_dst(_TRI, torch.randn(2, 2)),
     r"gather_dst: t has 2 rows but the graph has 3 nodes"),
    (lambda: ops.sddmm(_TRI, torch.randn(2, 3), torch.randn(3, 3)),
     r"sddmm: a has 2 rows but the graph has 3 nodes"),
    (lambda: ops.sddmm(_TRI, torch.randn(3, 3), torch.randn(3, 2)), r"the same width"),
    (lambda: ops.to_dense_batch(torch.randn(5, 2), batch([_TRI, _TRI])),
     r"to_dense_batch: x has 5 rows but the graph has 6 nodes"),
])
def test_ops_reject_inconsistent_indices(call, message):
    # segment used to read past the end of src (segment_reduce with unsafe=True) and return
    # numbers; the others failed inside torch (on CUDA: a device-side assert)
    with pytest.raises(ValueError, match=message):
        call()


def test_rwr_too_large_for_memory_is_a_memory_error_that_says_why(monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't "
                           "allocate memory: you tried to allocate 320000000000 bytes")
    monkeypatch.setattr(ops, "_rwr_dense", fail)
    with pytest.raises(MemoryError, match=r"graph of 200000 nodes needs about 1280.0 GB.*"
                                          r"--max-nodes"):
        ops.rwr(Graph(torch.tensor([[0], [1]]), 200000))
    monkeypatch.setattr(ops, "_rwr_dense", lambda *a: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError, match="^x$"):       # other errors pass through unchanged
        ops.rwr(Graph(torch.tensor([[0], [1]]), 2))


def test_batch_rejects_graphs_with_different_feature_widths():
    ei = torch.tensor([[0, 1], [1, 0]])
    with pytest.raises(GraphError, match=r"the graphs' x have different widths \[\(4,\), \(5,\)\]"):
        batch([Graph(ei, 2, x=torch.randn(2, 4)), Graph(ei, 2, x=torch.randn(2, 5))])


@pytest.mark.parametrize(("dtype", "width"), [(torch.float32, 1), (torch.float32, 2),
                                              (torch.float32, 4), (torch.float32, 3),
                                              (torch.float32, 8), (torch.float64, 1),
                                              (torch.float64, 2), (torch.int32, 4)])
def test_take_rows_equals_index_select_bit_for_bit(dtype, width):
    # rows of 4, 8 or 16 bytes take the wide-element path; the rest plain index_select
    g = torch.Generator().manual_seed(width)
    t = (torch.randn(50, width, generator=g) * 100).to(dtype)
    if dtype.is_floating_point:
        t[3, 0] = float("nan")                           # bytes moved, not values
        t[4, -1] = -0.0
    idx = torch.randint(0, 50, (300,), generator=g)
    want = t.index_select(0, idx)
    got = ops._take_rows(t, idx)
    assert got.shape == want.shape and got.dtype == dtype
    assert torch.equal(got.view(torch.uint8), want.view(torch.uint8))
    out = torch.empty_like(want)
    assert ops._take_rows(t, idx, out=out) is out
    assert torch.equal(out.view(torch.uint8), want.view(torch.uint8))


def test_take_rows_falls_back_on_strided_and_offset_views():
    base = torch.randn(40, 9)
    idx = torch.tensor([0, 5, 5, 39, 1])
    for t in (base[:, 1:5],                             # strided rows of 4 floats
              base.view(-1)[1:161].view(40, 4),         # contiguous, offset of one float
              base.t().contiguous()[:4].t()):           # non-contiguous
        assert torch.equal(ops._take_rows(t, idx), t.index_select(0, idx))
    out = torch.empty(6, 4)[1:]                         # an out= with an offset
    assert torch.equal(ops._take_rows(base[:, :4].contiguous(), idx, out=out),
                       base[:, :4][idx])


@pytest.mark.parametrize("heads", [1, 3, 4, 8])
def test_transpose_into_equals_transpose(heads):
    t = torch.randn(1000, heads)
    out = torch.empty(heads, 1000)
    assert ops._transpose_into(t, out) is out
    assert torch.equal(out, t.t())


def test_sampled_product_on_a_graph_with_more_edges_than_matrix_entries():
    """Repeated edges can outnumber the n x n entries (a dense COLLAB graph lists each edge
    twice); the per-edge products must still be <a[dst], b[src]> per stored edge, and the
    shared index arrays must stay as they were (sampled_addmm shrank them in place)."""
    from gnnkit.ops import _sddmm_heads, _structure

    torch.manual_seed(0)
    dense = ([0, 1, 2, 0, 1, 2, 0, 1, 2, 1, 0, 0], [1, 2, 0, 2, 0, 1, 0, 1, 2, 0, 1, 1], 3)
    for src, dst, n in [dense, ([0, 0, 1, 2, 3], [1, 1, 2, 3, 0], 4)]:
        g = Graph(edge_index=torch.tensor([src, dst]), num_nodes=n)
        s = _structure(g)
        col, rowptr = s.col.clone(), s.rowptr.clone()
        a = torch.randn(2, n, 4, dtype=torch.float64)
        b = torch.randn(2, n, 4, dtype=torch.float64)
        want = (a[:, s.dst_csr] * b[:, s.src_csr.long()]).sum(-1)
        for out in (None, torch.empty(2, len(src), dtype=torch.float64)):
            got = _sddmm_heads(s, a, b, out=out)
            torch.testing.assert_close(got, want)
        assert torch.equal(s.col, col) and torch.equal(s.rowptr, rowptr)
