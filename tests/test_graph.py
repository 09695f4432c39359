"""gnnkit.Graph: validation, immutability, cached views, transforms, batching, conversions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import gnnkit
from gnnkit import Graph, GraphError, batch, unbatch

D = torch.float64
FIELDS = ("edge_index", "x", "edge_weight", "edge_attr", "y", "batch", "ptr")


def ei_(*pairs) -> torch.Tensor:
    """edge_index from (src, dst) pairs."""
    if not pairs:
        return torch.zeros(2, 0, dtype=torch.long)
    return torch.tensor(pairs, dtype=torch.long).t().contiguous()


def clones(g: Graph) -> dict:
    return {k: (None if getattr(g, k) is None else getattr(g, k).clone()) for k in FIELDS}


def assert_same(g: Graph, ref: dict) -> None:
    for k, v in ref.items():
        cur = getattr(g, k)
        assert (cur is None) == (v is None), k
        if v is not None:
            assert torch.equal(cur, v), f"{k} changed"


def dense(g: Graph, w: torch.Tensor | None = None) -> torch.Tensor:
    """A[src, dst] = summed weight of src -> dst edges."""
    w = g.edge_weight if w is None else w
    w = torch.ones(g.num_edges, dtype=D) if w is None else w.to(D)
    a = torch.zeros(g.num_nodes, g.num_nodes, dtype=D)
    return a.index_put_((g.edge_index[0], g.edge_index[1]), w, accumulate=True)


def sample_graph(seed: int = 0, n: int = 6, e: int = 12) -> Graph:
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=gen)
    return Graph(ei, n, x=torch.randn(n, 3, generator=gen, dtype=D),
                 edge_weight=torch.rand(e, generator=gen, dtype=D) + 0.1,
                 edge_attr=torch.randn(e, 2, generator=gen, dtype=D),
                 y=torch.randint(0, 3, (n,), generator=gen))


# =========================================================================== validation
def _bad(match: str, **kw):
    base = dict(edge_index=ei_((0, 1), (1, 2)), num_nodes=3)
    base.update(kw)
    with pytest.raises(GraphError, match=match):
        Graph(**base)


def test_graph_error_is_a_value_error():
    assert issubclass(GraphError, ValueError)


def test_edge_id_out_of_range():
    _bad(r"edge_index holds node id 3 but num_nodes = 3", edge_index=ei_((0, 3)))


def test_negative_edge_id():
    _bad(r"edge_index holds a negative node id \(-1\)", edge_index=ei_((0, -1)))


def test_edge_index_wrong_shape():
    _bad(r"edge_index must have shape \[2, E\], got \[3, 2\]",
         edge_index=torch.zeros(3, 2, dtype=torch.long))
    _bad(r"edge_index must have shape \[2, E\], got \[4\]",
         edge_index=torch.zeros(4, dtype=torch.long))


def test_edge_index_transposed_gets_a_hint():
    _bad(r"edge_index must have shape \[2, E\], got \[3, 2\].*transposed",
         edge_index=ei_((0, 1), (1, 2), (2, 0)).t())
    # a [2, E] tensor with a bad shape elsewhere gets no transposition hint
    with pytest.raises(GraphError) as info:
        Graph(torch.zeros(3, 3, dtype=torch.long), 3)
    assert "transposed" not in str(info.value)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bool])
def test_edge_index_not_integer(dtype):
    _bad(r"edge_index must hold integer node ids", edge_index=torch.zeros(2, 2, dtype=dtype))


def test_edge_index_not_a_tensor():
    _bad(r"edge_index must be a torch.Tensor or numpy.ndarray", edge_index=[[0, 1], [1, 2]])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_x_not_finite(bad):
    x = torch.zeros(3, 2)
    x[1, 1] = bad
    _bad(r"x holds 1 NaN or inf", x=x)


def test_x_rows_mismatch():
    _bad(r"x has 4 rows but the graph needs 3 rows \(one per node\)", x=torch.zeros(4, 2))


def test_x_not_float_and_not_2d():
    _bad(r"x must be floating point", x=torch.zeros(3, 2, dtype=torch.long))
    _bad(r"x must have shape \[N, F\]", x=torch.zeros(3))


def test_edge_weight_wrong_length():
    _bad(r"edge_weight has 3 rows but the graph needs 2 entries \(one per edge\)",
         edge_weight=torch.ones(3))
    _bad(r"edge_weight must have shape \[E\]", edge_weight=torch.ones(2, 1))


def test_edge_weight_not_finite():
    _bad(r"edge_weight holds 1 NaN or inf", edge_weight=torch.tensor([1.0, float("nan")]))


def test_edge_attr_wrong_rows():
    _bad(r"edge_attr has 1 rows but the graph needs 2 rows \(one per edge\)",
         edge_attr=torch.ones(1, 4))
    _bad(r"edge_attr must have shape \[E, F_e\]", edge_attr=torch.ones(2))


@pytest.mark.parametrize("n", [0, -2])
def test_empty_graph_rejected(n):
    with pytest.raises(GraphError, match=r"num_nodes must be >= 1"):
        Graph(ei_(), n)


@pytest.mark.parametrize("n", [3.0, True, "3", None])
def test_num_nodes_must_be_int(n):
    with pytest.raises(GraphError, match=r"num_nodes must be an int"):
        Graph(ei_(), n)


def test_y_wrong_rows():
    _bad(r"y has 2 rows but must have 3 \(one per node\)", y=torch.zeros(2))


def test_y_not_finite():
    _bad(r"y holds NaN or inf", y=torch.tensor([0.0, float("inf"), 1.0]))


def test_single_graph_may_carry_a_graph_level_target():
    # the forms batch() documents for graph targets: one row, or a scalar
    g1 = Graph(ei_((0, 1)), 3, y=torch.tensor([2]))
    g2 = Graph(ei_((0, 1)), 3, y=torch.tensor(2))
    assert g1.y.shape == (1,) and g2.y.shape == ()
    # ... and the graphs unbatch() returns can be validated again
    parts = unbatch(batch([g1, Graph(ei_((1, 0)), 2, y=torch.tensor([5]))]))
    assert parts[0].replace(x=torch.zeros(3, 1)).y.tolist() == [2]


def test_batch_without_ptr():
    _bad(r"batch and ptr must be given together", batch=torch.zeros(3, dtype=torch.long))
    _bad(r"batch and ptr must be given together", ptr=torch.tensor([0, 3]))


@pytest.mark.parametrize("ptr", [[1, 3], [0, 2], [0], [0, 4]])
def test_ptr_not_offsets(ptr):
    _bad(r"ptr must be \[B \+ 1\] offsets from 0 to num_nodes=3",
         batch=torch.zeros(3, dtype=torch.long), ptr=torch.tensor(ptr))


def test_ptr_decreasing():
    _bad(r"ptr must be non-decreasing", batch=torch.tensor([0, 0, 1]),
         ptr=torch.tensor([0, 2, 1, 3]))


def test_batch_wrong_length():
    _bad(r"batch must have shape \[3\]", batch=torch.tensor([0, 0]), ptr=torch.tensor([0, 3]))


def test_batch_disagrees_with_ptr():
    _bad(r"batch disagrees with ptr", batch=torch.tensor([0, 1, 1]), ptr=torch.tensor([0, 2, 3]))


def test_batched_y_rows():
    b, p = torch.tensor([0, 0, 1]), torch.tensor([0, 2, 3])
    Graph(ei_(), 3, y=torch.zeros(2), batch=b, ptr=p)  # one per graph
    Graph(ei_(), 3, y=torch.zeros(3), batch=b, ptr=p)  # one per node
    with pytest.raises(GraphError, match=r"y has 1 rows but must have 3 \(one per node\) or 2"):
        Graph(ei_(), 3, y=torch.zeros(1), batch=b, ptr=p)


def test_field_on_other_device():
    _bad(r"x is on meta but edge_index is on cpu", x=torch.zeros(3, 2, device="meta"))


def test_valid_inputs_are_normalised():
    g = Graph(np.array([[0, 1], [1, 2]], dtype=np.int32), np.int64(3),
              x=np.zeros((3, 2), dtype=np.float32))
    assert g.edge_index.dtype == torch.int64 and isinstance(g.edge_index, torch.Tensor)
    assert isinstance(g.x, torch.Tensor) and type(g.num_nodes) is int
    assert g.num_edges == 2 and g.num_graphs == 1 and g.num_features == 2
    # isolated nodes with the highest ids are kept: N is stored, not inferred
    assert Graph(ei_((0, 1)), 10).num_nodes == 10


# =========================================================================== immutability
def test_graph_is_frozen():
    g = sample_graph()
    for name in ("x", "edge_index", "num_nodes"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(g, name, None)


def test_replace_revalidates_and_leaves_original():
    g = sample_graph()
    ref = clones(g)
    h = g.replace(x=torch.zeros(6, 1, dtype=D))
    assert h is not g and h.x.shape == (6, 1)
    assert_same(g, ref)
    with pytest.raises(GraphError, match="x has 5 rows"):
        g.replace(x=torch.zeros(5, 1))


@pytest.mark.parametrize("transform", [
    lambda g: g.to_undirected(), lambda g: g.add_self_loops(), lambda g: g.remove_self_loops(),
    lambda g: g.coalesce("mean"), lambda g: g.subgraph(torch.tensor([4, 0, 2])),
    lambda g: g.to("cpu"), lambda g: batch([g, g]), lambda g: g.csr, lambda g: g.csc,
    lambda g: g.is_undirected(), lambda g: g.to_scipy(), lambda g: g.to_networkx(),
    lambda g: gnnkit.ops.gcn_norm(g), lambda g: gnnkit.ops.add_remaining_self_loops(g),
])
def test_transforms_do_not_mutate(transform):
    g = sample_graph(seed=1)
    ref = clones(g)
    transform(g)
    assert_same(g, ref)


# =========================================================================== CSR / CSC
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_csr_matches_dense(seed):
    g = sample_graph(seed=seed, n=7, e=20)
    g = g.replace(edge_index=torch.cat([g.edge_index, g.edge_index[:, :4]], 1),
                  edge_weight=None, edge_attr=None)  # with duplicates
    rowptr, col, perm = g.csr
    n, e = g.num_nodes, g.num_edges
    assert rowptr.shape == (n + 1,) and col.shape == (e,) and perm.shape == (e,)
    assert torch.equal(torch.sort(perm).values, torch.arange(e))  # a permutation
    assert torch.equal(col, g.edge_index[0, perm])  # perm maps CSR positions to COO ids
    dst = g.edge_index[1, perm]
    assert torch.equal(rowptr.diff(), torch.bincount(g.edge_index[1], minlength=n))
    # sorted by (destination, source), and row i holds exactly the in-edges of i
    key = dst * n + col
    assert bool((key[1:] >= key[:-1]).all())
    a = torch.zeros(n, n, dtype=D)
    for i in range(n):
        for j in col[rowptr[i]:rowptr[i + 1]].tolist():
            a[j, i] += 1
    assert torch.equal(a, dense(g))
    assert g.csr is g.csr  # cached
    torch.testing.assert_close(g.in_degree.to(D), dense(g).sum(0), rtol=0, atol=0)


def test_csc_matches_dense():
    g = sample_graph(seed=3, n=7, e=20)
    colptr, row, perm = g.csc
    assert torch.equal(row, g.edge_index[1, perm])
    assert torch.equal(colptr.diff(), torch.bincount(g.edge_index[0], minlength=7))
    a = torch.zeros(7, 7, dtype=D)
    for j in range(7):
        for i in row[colptr[j]:colptr[j + 1]].tolist():
            a[j, i] += 1
    assert torch.equal(a, dense(g.replace(edge_weight=None)))
    torch.testing.assert_close(g.out_degree.to(D), a.sum(1), rtol=0, atol=0)


def test_csr_of_graph_without_edges():
    rowptr, col, perm = Graph(ei_(), 4).csr
    assert torch.equal(rowptr, torch.zeros(5, dtype=torch.long))
    assert col.numel() == 0 and perm.numel() == 0


# =========================================================================== transforms
def test_to_undirected_sums_reverse_weights():
    g = Graph(ei_((0, 1), (1, 0), (1, 2), (2, 2)), 4, edge_weight=torch.tensor([1.0, 2, 3, 4]))
    u = g.to_undirected()
    assert u.is_undirected() and not g.replace(edge_index=ei_((0, 1), (1, 2), (2, 2), (3, 0))
                                               ).is_undirected()
    a = dense(g)
    torch.testing.assert_close(dense(u), a + a.t(), rtol=0, atol=0)
    # coalesced: each (src, dst) once, sorted
    key = u.edge_index[0] * 4 + u.edge_index[1]
    assert bool((key[1:] > key[:-1]).all())


def test_to_undirected_max_and_without_weights():
    g = Graph(ei_((0, 1), (1, 0), (2, 1)), 3, edge_weight=torch.tensor([1.0, 5.0, 2.0]))
    u = g.to_undirected("max")
    assert u.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert u.edge_weight.tolist() == [5.0, 5.0, 2.0, 2.0]
    plain = Graph(ei_((0, 1), (2, 1)), 3).to_undirected()
    assert plain.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]] and plain.edge_weight is None


def test_is_undirected_ignores_multiplicity():
    assert Graph(ei_((0, 1), (1, 0), (0, 1), (2, 2)), 3).is_undirected()
    assert not Graph(ei_((0, 1), (1, 2), (2, 1)), 3).is_undirected()
    assert Graph(ei_(), 2).is_undirected()


def test_remove_and_add_self_loops():
    ew = torch.tensor([1.0, 2.0, 3.0, 4.0])
    ea = torch.arange(8.0).view(4, 2) + 1
    g = Graph(ei_((0, 1), (1, 1), (2, 0), (2, 2)), 3, edge_weight=ew, edge_attr=ea)
    assert g.has_self_loops()
    r = g.remove_self_loops()
    assert not r.has_self_loops()
    assert r.edge_index.tolist() == [[0, 2], [1, 0]]
    assert torch.equal(r.edge_weight, ew[[0, 2]]) and torch.equal(r.edge_attr, ea[[0, 2]])
    a = g.add_self_loops(fill_value=7.0)
    assert a.edge_index.tolist() == [[0, 2, 0, 1, 2], [1, 0, 0, 1, 2]]
    assert a.edge_weight.tolist() == [1.0, 3.0, 7.0, 7.0, 7.0]  # old loops replaced
    assert torch.equal(a.edge_attr, torch.cat([ea[[0, 2]], torch.zeros(3, 2)]))
    assert Graph(ei_(), 2).add_self_loops().edge_index.tolist() == [[0, 1], [0, 1]]


_COALESCED = {"sum": [5.0, 6.0, 7.0], "mean": [5.0, 2.0, 3.5], "max": [5.0, 4.0, 6.0],
              "min": [5.0, 1.0, 1.0]}


@pytest.mark.parametrize("reduce", list(_COALESCED))
def test_coalesce_reductions(reduce):
    # (1, 0) x3 with weights 1, 4, 1; (0, 2) x1 with 5; (2, 1) x2 with 6, 1
    ei = ei_((1, 0), (2, 1), (1, 0), (0, 2), (2, 1), (1, 0))
    w = torch.tensor([1.0, 6.0, 4.0, 5.0, 1.0, 1.0])
    ea = torch.stack([w, -w], 1)
    c = Graph(ei, 3, edge_weight=w, edge_attr=ea).coalesce(reduce)
    assert c.edge_index.tolist() == [[0, 1, 2], [2, 0, 1]]  # sorted by (src, dst)
    assert c.edge_weight.tolist() == _COALESCED[reduce]
    # edge_attr columns are reduced the same way (max of -w is -min of w)
    assert c.edge_attr[:, 0].tolist() == _COALESCED[reduce]
    flip = {"sum": "sum", "mean": "mean", "max": "min", "min": "max"}[reduce]
    assert (-c.edge_attr[:, 1]).tolist() == _COALESCED[flip]


def test_coalesce_without_edge_fields_and_bad_reduce():
    c = Graph(ei_((1, 0), (1, 0), (0, 1)), 2).coalesce()
    assert c.edge_index.tolist() == [[0, 1], [1, 0]]
    with pytest.raises(ValueError, match="reduce"):
        Graph(ei_((1, 0)), 2, edge_weight=torch.ones(1)).coalesce("prod")


def test_transforms_of_a_graph_without_edges():
    g = Graph(ei_(), 3, edge_weight=torch.zeros(0), edge_attr=torch.zeros(0, 2))
    for h in (g.to_undirected(), g.coalesce("max"), g.remove_self_loops(),
              g.subgraph(torch.tensor([2, 0]))):
        assert h.edge_index.shape == (2, 0) and h.edge_weight.shape == (0,)
        assert h.edge_attr.shape == (0, 2)
    assert g.is_undirected() and not g.has_self_loops()
    loops = g.add_self_loops(fill_value=2.0)
    assert loops.edge_index.tolist() == [[0, 1, 2], [0, 1, 2]]
    assert loops.edge_weight.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("seed", [0, 1])
def test_subgraph_matches_networkx_and_dense(seed):
    nx = pytest.importorskip("networkx")
    g = sample_graph(seed=seed, n=8, e=25)
    g = g.replace(edge_index=torch.cat([g.edge_index, ei_((5, 5))], 1),
                  edge_weight=torch.cat([g.edge_weight, torch.tensor([9.0], dtype=D)]),
                  edge_attr=torch.cat([g.edge_attr, torch.zeros(1, 2, dtype=D)]))
    nodes = torch.tensor([5, 1, 6, 2])
    s = g.subgraph(nodes)
    assert s.num_nodes == 4
    assert torch.equal(s.x, g.x[nodes]) and torch.equal(s.y, g.y[nodes])
    full = dense(g)
    torch.testing.assert_close(dense(s), full[nodes][:, nodes], rtol=0, atol=0)
    # against networkx's induced subgraph (edge multiset, relabelled in the given order)
    mg = nx.MultiDiGraph()
    mg.add_nodes_from(range(8))
    mg.add_edges_from(g.edge_index.t().tolist())
    sub = mg.subgraph(nodes.tolist())
    pos = {v: i for i, v in enumerate(nodes.tolist())}
    assert sorted((pos[u], pos[v]) for u, v in sub.edges()) == sorted(
        map(tuple, s.edge_index.t().tolist()))
    # edge fields follow their edges, relative order kept
    kept = [i for i, (u, v) in enumerate(g.edge_index.t().tolist()) if u in pos and v in pos]
    assert torch.equal(s.edge_weight, g.edge_weight[kept])
    assert torch.equal(s.edge_attr, g.edge_attr[kept])


def test_subgraph_mask_and_errors():
    g = sample_graph(seed=4)
    mask = torch.tensor([True, False, True, False, False, True])
    s = g.subgraph(mask)
    assert torch.equal(s.x, g.x[[0, 2, 5]])
    with pytest.raises(GraphError, match="mask"):
        g.subgraph(torch.tensor([True, False]))
    with pytest.raises(GraphError, match="distinct"):
        g.subgraph(torch.tensor([1, 1]))
    with pytest.raises(GraphError, match=r"\[0, 6\)"):
        g.subgraph(torch.tensor([0, 6]))
    with pytest.raises(GraphError, match="at least one node"):
        g.subgraph(torch.tensor([], dtype=torch.long))


# =========================================================================== batch / unbatch
@st.composite
def graphs(draw, graph_y: bool = False):
    n = draw(st.integers(1, 5))
    e = draw(st.integers(0, 7))
    src = draw(st.lists(st.integers(0, n - 1), min_size=e, max_size=e))
    dst = draw(st.lists(st.integers(0, n - 1), min_size=e, max_size=e))
    seed = draw(st.integers(0, 2**16))
    gen = torch.Generator().manual_seed(seed)
    y = (torch.randint(0, 4, (1,), generator=gen) if graph_y
         else torch.randint(0, 4, (n, 2), generator=gen))
    return Graph(torch.tensor([src, dst], dtype=torch.long).reshape(2, e), n,
                 x=torch.randn(n, 3, generator=gen), edge_weight=torch.rand(e, generator=gen),
                 edge_attr=torch.randn(e, 2, generator=gen), y=y)


def _check_batch(gs: list[Graph], b: Graph, graph_y: bool) -> None:
    sizes = [g.num_nodes for g in gs]
    assert b.num_graphs == len(gs) and b.num_nodes == sum(sizes)
    assert b.ptr.tolist() == np.concatenate([[0], np.cumsum(sizes)]).tolist()
    assert b.batch.tolist() == [i for i, n in enumerate(sizes) for _ in range(n)]
    offsets = b.ptr[:-1].tolist()
    assert torch.equal(b.edge_index, torch.cat(
        [g.edge_index + o for g, o in zip(gs, offsets, strict=True)], 1))
    assert torch.equal(b.x, torch.cat([g.x for g in gs]))
    if graph_y:
        assert b.y.shape == (len(gs),) and b.y.tolist() == [int(g.y) for g in gs]
    else:
        assert torch.equal(b.y, torch.cat([g.y for g in gs]))
    b.replace()  # a batch passes the constructor's validation


@settings(max_examples=40, deadline=None)
@given(gs=st.lists(graphs(), min_size=1, max_size=4))
def test_batch_unbatch_round_trip_node_level(gs):
    b = batch(gs)
    _check_batch(gs, b, graph_y=False)
    back = unbatch(b)
    assert len(back) == len(gs)
    for g, h in zip(gs, back, strict=True):
        assert h.num_nodes == g.num_nodes
        for k in ("edge_index", "x", "edge_weight", "edge_attr", "y"):
            assert torch.equal(getattr(h, k), getattr(g, k)), k


@settings(max_examples=40, deadline=None)
@given(gs=st.lists(graphs(graph_y=True), min_size=1, max_size=4))
def test_batch_unbatch_round_trip_graph_level(gs):
    b = batch(gs)
    _check_batch(gs, b, graph_y=True)
    for g, h in zip(gs, unbatch(b), strict=True):
        for k in ("edge_index", "x", "edge_weight", "edge_attr", "y"):
            assert torch.equal(getattr(h, k), getattr(g, k)), k


def test_batch_scalar_graph_targets_and_single_nodes():
    gs = [Graph(ei_(), 1, y=torch.tensor(3.0)), Graph(ei_((0, 1)), 2, y=torch.tensor(-1.0))]
    b = batch(gs)
    assert b.y.tolist() == [3.0, -1.0]
    assert [h.y.tolist() for h in unbatch(b)] == [[3.0], [-1.0]]
    # node-level y on one-node graphs: one row each either way
    ones = [Graph(ei_((0, 0)), 1, y=torch.tensor([[i, i]])) for i in range(3)]
    assert batch(ones).y.tolist() == [[0, 0], [1, 1], [2, 2]]


def test_batch_errors():
    g = Graph(ei_((0, 1)), 2, x=torch.zeros(2, 1))
    with pytest.raises(GraphError, match="at least one graph"):
        batch([])
    with pytest.raises(GraphError, match="x"):
        batch([g, Graph(ei_((0, 1)), 2)])
    with pytest.raises(GraphError, match="already a batch"):
        batch([batch([g])])


def test_unbatch_of_plain_graph_is_itself():
    g = sample_graph()
    assert unbatch(g) == [g]


# =========================================================================== conversions
def test_edge_list_round_trip_numpy_and_torch():
    edges = np.array([[0, 1], [1, 2], [2, 0], [3, 3], [0, 1]])
    g = Graph.from_edge_list(edges, num_nodes=5)
    assert g.edge_index.tolist() == edges.T.tolist()
    assert np.array_equal(g.to_edge_list(), edges)
    assert torch.equal(Graph.from_edge_list(torch.as_tensor(edges), 5).edge_index, g.edge_index)
    assert Graph.from_edge_list(edges.tolist(), 5).to_edge_list().tolist() == edges.tolist()
    # [2, E] input is accepted as is; a 2x2 array is a list of two pairs
    assert Graph.from_edge_list(edges.T, 5).to_edge_list().tolist() == edges.tolist()
    assert Graph.from_edge_list([[0, 1], [2, 3]], 4).edge_index.tolist() == [[0, 2], [1, 3]]
    h = Graph.from_edge_list(edges, 5, x=torch.ones(5, 2))
    assert h.x.shape == (5, 2)


def test_edge_list_empty():
    for empty in ([], np.zeros((0, 2), dtype=np.int64), torch.zeros(0, 2, dtype=torch.long)):
        g = Graph.from_edge_list(empty, num_nodes=3)
        assert g.num_edges == 0 and g.edge_index.shape == (2, 0) and g.num_nodes == 3
        assert g.to_edge_list().shape == (0, 2)


def test_scipy_round_trip():
    rng = np.random.default_rng(0)
    a = sp.random(6, 6, density=0.4, random_state=rng, format="csr", dtype=np.float64)
    g = Graph.from_scipy(a)
    assert g.num_nodes == 6 and g.num_edges == a.nnz
    np.testing.assert_allclose(g.to_scipy().toarray(), a.toarray(), rtol=1e-6)
    np.testing.assert_allclose(dense(g).numpy(), a.toarray(), rtol=1e-6)
    assert g.to_scipy("coo").format == "coo"
    # binary adjacency: no edge_weight; duplicates are summed on the way out
    b = Graph.from_scipy(sp.csr_matrix((a.toarray() != 0).astype(np.float32)))
    assert b.edge_weight is None
    dup = Graph(ei_((0, 1), (0, 1)), 2)
    assert dup.to_scipy().toarray().tolist() == [[0.0, 2.0], [0.0, 0.0]]
    with pytest.raises(GraphError, match="square"):
        Graph.from_scipy(sp.csr_matrix(np.ones((2, 3))))
    with pytest.raises(GraphError, match="scipy.sparse"):
        Graph.from_scipy(np.ones((2, 2)))


def test_scipy_explicit_zeros_are_not_edges():
    # A[i, j] != 0 means an edge: a stored zero must not become a (weight-0) edge, which
    # would still count as a neighbour for mean aggregation and attention
    a = sp.csr_matrix((np.array([1.0, 0.0, 2.0]), (np.array([0, 1, 2]), np.array([1, 0, 0]))),
                      shape=(3, 3))
    assert a.nnz == 3
    g = Graph.from_scipy(a)
    assert g.edge_index.tolist() == [[0, 2], [1, 0]] and g.edge_weight.tolist() == [1.0, 2.0]
    assert a.nnz == 3  # the input is left alone
    coo = a.tocoo()
    assert Graph.from_scipy(coo).num_edges == 2 and coo.nnz == 3


def test_networkx_directed_round_trip_with_weights():
    nx = pytest.importorskip("networkx")
    d = nx.DiGraph()
    d.add_nodes_from(["a", "b", "c", "d"])  # 'd' isolated, kept
    d.add_weighted_edges_from([("a", "b", 0.5), ("b", "c", 2.0), ("c", "a", 1.5), ("b", "b", 3)])
    g = Graph.from_networkx(d)
    assert g.num_nodes == 4
    idx = {v: i for i, v in enumerate(d.nodes)}
    got = {(u, v): w for (u, v), w in zip(g.edge_index.t().tolist(), g.edge_weight.tolist(),
                                          strict=True)}
    assert got == {(idx[u], idx[v]): w for u, v, w in d.edges(data="weight")}
    back = g.to_networkx()
    assert isinstance(back, nx.DiGraph) and back.number_of_nodes() == 4
    assert {(u, v): w for u, v, w in back.edges(data="weight")} == got


def test_networkx_undirected_gives_both_directions():
    nx = pytest.importorskip("networkx")
    u = nx.Graph()
    u.add_nodes_from(range(4))
    u.add_edges_from([(0, 1), (1, 2), (2, 2)])
    g = Graph.from_networkx(u)
    assert g.is_undirected() and g.edge_weight is None
    assert sorted(map(tuple, g.edge_index.t().tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1),
                                                             (2, 2)]
    back = g.to_networkx(directed=False)
    assert not back.is_directed() and nx.utils.graphs_equal(back, u)
    # partial weights are not weights
    u.add_edge(0, 3, weight=2.0)
    assert Graph.from_networkx(u).edge_weight is None
    assert Graph.from_networkx(nx.empty_graph(3)).num_edges == 0


def test_pyg_round_trip():
    pytest.importorskip("torch_geometric")
    g = sample_graph(seed=5)
    data = g.to_pyg()
    assert data.num_nodes == g.num_nodes
    for k in ("edge_index", "x", "edge_weight", "edge_attr", "y"):
        assert getattr(data, k) is getattr(g, k)  # shared, not copied
    h = Graph.from_pyg(data)
    for k in ("edge_index", "x", "edge_weight", "edge_attr", "y"):
        assert torch.equal(getattr(h, k), getattr(g, k)), k
    from torch_geometric.data import Data
    bare = Graph.from_pyg(Data(edge_index=ei_((0, 1)), num_nodes=4))
    assert bare.num_nodes == 4 and bare.x is None and bare.edge_weight is None
    b = batch([Graph(ei_((0, 1)), 2), Graph(ei_((1, 0)), 3)]).to_pyg()
    assert b.ptr.tolist() == [0, 2, 5] and b.batch.tolist() == [0, 0, 1, 1, 1]


def test_to_cpu():
    g = batch([sample_graph(seed=6), sample_graph(seed=7)])
    _ = g.csr  # cached views are not carried over
    h = g.to("cpu")
    assert h is not g and h.device == torch.device("cpu")
    for k in FIELDS:
        assert torch.equal(getattr(h, k), getattr(g, k)), k
    assert h.num_nodes == g.num_nodes and "csr" not in h.__dict__
    assert h.to(torch.device("cpu")).num_graphs == 2


def test_repr_names_sizes():
    r = repr(batch([sample_graph(), sample_graph()]))
    assert r.startswith("Graph(num_nodes=12, num_edges=24") and "num_graphs=2" in r
