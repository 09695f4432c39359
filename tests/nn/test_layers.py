"""The layer contract suite (DESIGN.md, "Tests"), run over every layer configuration.

For each layer: output shapes; a dense float64 transcription of the layer's equation, written
here with the layer's own weights (no gnnkit.ops), on ordinary and corner-case graphs (no
edges, one node, isolated nodes, duplicate edges, self-loops); batch equivalence; permutation
equivariance; float64 gradcheck wrt x and every parameter; state_dict round trip; inputs
unchanged; reset_parameters.

The LSTM aggregator runs over a random order of each node's neighbours, so its tests use graphs
whose in-neighbours of any node all carry the same feature vector ("homogeneous" graphs): its
output is then order-free and still depends on how many neighbours (and which feature) it saw.
The order itself is tested separately.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck
from torch.func import functional_call

from gnnkit import Graph, batch
from gnnkit.nn import GATConv, GCNConv, SAGEConv

D = torch.float64
F_IN, F_E = 3, 2
TOL = dict(rtol=1e-10, atol=1e-10)

# name -> (factory, uses random neighbour order)
FACTORIES = {
    "gcn": lambda: GCNConv(F_IN, 2),
    "gcn-wide": lambda: GCNConv(F_IN, 5),  # F_out > F_in: (A X) W order
    "gcn-raw": lambda: GCNConv(F_IN, 2, normalize=False),
    "gcn-noloops": lambda: GCNConv(F_IN, 2, add_self_loops=False),
    "sage-mean": lambda: SAGEConv(F_IN, 4, "mean"),
    "sage-mean-norm": lambda: SAGEConv(F_IN, 4, "mean", normalize=True),
    "sage-mean-noroot": lambda: SAGEConv(F_IN, 4, "mean", root_weight=False),
    "sage-pool": lambda: SAGEConv(F_IN, 4, "pool"),
    "sage-pool-norm": lambda: SAGEConv(F_IN, 4, "pool", normalize=True, pool_dim=5),
    "sage-lstm": lambda: SAGEConv(F_IN, 4, "lstm"),
    "sage-lstm-norm": lambda: SAGEConv(F_IN, 4, "lstm", normalize=True),
    "sage-gcn": lambda: SAGEConv(F_IN, 4, "gcn"),
    "sage-gcn-norm": lambda: SAGEConv(F_IN, 4, "gcn", normalize=True),
    # F_out < F_in: the linear aggregators project before aggregating
    "sage-mean-narrow": lambda: SAGEConv(F_IN, 2, "mean"),
    "sage-gcn-narrow": lambda: SAGEConv(F_IN, 2, "gcn", normalize=True),
    "sage-mean-narrow-nobias": lambda: SAGEConv(F_IN, 2, "mean", bias=False),
    "gat-concat": lambda: GATConv(F_IN, 2, num_heads=3),
    "gat-mean": lambda: GATConv(F_IN, 2, num_heads=2, concat=False),
    "gat-edge": lambda: GATConv(F_IN, 2, num_heads=2, edge_dim=F_E),
    "gat-edge-mean": lambda: GATConv(F_IN, 3, num_heads=2, concat=False, edge_dim=F_E),
    "gat-nobias": lambda: GATConv(F_IN, 2, num_heads=1, bias=False),
}
NAMES = list(FACTORIES)


def make_layer(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    layer = FACTORIES[name]().double().eval()
    # non-zero biases, so that a bias added in the wrong place shows
    with torch.no_grad():
        for pname, p in layer.named_parameters():
            if "bias" in pname:
                p.uniform_(-0.5, 0.5)
    return layer


def is_lstm(name: str) -> bool:
    return "lstm" in name


def out_dim(layer) -> int:
    if isinstance(layer, GATConv):
        return layer.out_dim * (layer.num_heads if layer.concat else 1)
    return layer.out_dim


# --------------------------------------------------------------------------- graphs
def _ei(pairs) -> torch.Tensor:
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).t().contiguous()


KIND_EDGES = {
    "no_edges": (4, []),
    "one_node": (1, []),
    "one_node_loop": (1, [(0, 0)]),
    "isolated": (6, [(0, 1), (1, 2), (2, 0), (1, 0)]),  # nodes 3, 4, 5 isolated
    "duplicates": (4, [(0, 1), (0, 1), (0, 1), (2, 1), (2, 1), (1, 3), (3, 0)]),
    "self_loops": (4, [(0, 0), (1, 1), (2, 2), (3, 3), (0, 1), (2, 3), (3, 1)]),
}
KINDS = ["random", *KIND_EDGES]


def _random_edges(n: int, gen: torch.Generator) -> torch.Tensor:
    m = n - 1  # node n-1 isolated
    src = torch.randint(0, m, (14,), generator=gen)
    dst = torch.randint(0, m, (14,), generator=gen)
    dst = torch.where(src == dst, (dst + 1) % m, dst)  # no loops here ...
    ei = torch.stack([src, dst])
    return torch.cat([ei, ei[:, :3], _ei([(1, 1), (3, 3)])], 1)  # ... dups and two loops


def _homogeneous_features(g: Graph, gen: torch.Generator) -> torch.Tensor:
    """x with equal rows for all in-neighbours of any node (union-find over co-neighbours)."""
    parent = list(range(g.num_nodes))

    def find(a: int) -> int:
        while parent[a] != a:
            a = parent[a]
        return a

    first: dict[int, int] = {}
    for s, d in g.edge_index.t().tolist():
        if d in first:
            parent[find(s)] = find(first[d])
        else:
            first[d] = s
    base = torch.randn(g.num_nodes, F_IN, generator=gen, dtype=D)
    return base[[find(v) for v in range(g.num_nodes)]]


def _colored(seed: int) -> tuple[Graph, torch.Tensor]:
    """A random homogeneous graph: 3 colours of 3 nodes; node i draws its in-neighbours
    (0-3 of them, with repeats) from one colour; x depends on the colour only."""
    gen = torch.Generator().manual_seed(seed)
    n, k = 9, 3
    color = torch.arange(n) % k
    pairs = []
    for i in range(n - 1):  # node 8 receives nothing
        c = int(torch.randint(0, k, (1,), generator=gen))
        members = (color == c).nonzero().view(-1)
        for _ in range(int(torch.randint(0, 4, (1,), generator=gen))):
            pairs.append((int(members[int(torch.randint(0, 3, (1,), generator=gen))]), i))
    g = _with_edge_fields(_ei(pairs), n, gen)
    feats = torch.randn(k, F_IN, generator=gen, dtype=D)
    return g, feats[color]


def _with_edge_fields(ei: torch.Tensor, n: int, gen: torch.Generator) -> Graph:
    e = ei.shape[1]
    return Graph(ei, n, edge_weight=torch.rand(e, generator=gen, dtype=D) + 0.5,
                 edge_attr=torch.randn(e, F_E, generator=gen, dtype=D))


def make_graph(kind: str, seed: int = 0, homogeneous: bool = False) -> tuple[Graph, torch.Tensor]:
    gen = torch.Generator().manual_seed(1000 + seed)
    if kind == "random":
        if homogeneous:
            return _colored(seed)
        n = 7
        g = _with_edge_fields(_random_edges(n, gen), n, gen)
    else:
        n, pairs = KIND_EDGES[kind]
        g = _with_edge_fields(_ei(pairs), n, gen)
    x = (_homogeneous_features(g, gen) if homogeneous
         else torch.randn(g.num_nodes, F_IN, generator=gen, dtype=D))
    return g, x


def graph_for(name: str, kind: str = "random", seed: int = 0):
    return make_graph(kind, seed, homogeneous=is_lstm(name))


# --------------------------------------------------------------------------- dense references
def in_edges(g: Graph, i: int) -> list[int]:
    return (g.edge_index[1] == i).nonzero().view(-1).tolist()


def ref_gcn(layer: GCNConv, x: torch.Tensor, g: Graph) -> torch.Tensor:
    n = g.num_nodes
    w = g.edge_weight if g.edge_weight is not None else torch.ones(g.num_edges, dtype=D)
    a = torch.zeros(n, n, dtype=D)  # a[dst, src]
    for (s, d), we in zip(g.edge_index.t().tolist(), w.tolist(), strict=True):
        a[d, s] += we
    if layer.normalize:
        if layer.add_self_loops:  # one loop per node; an existing loop keeps its weight
            for i in range(n):
                if not any(s == i == d for s, d in g.edge_index.t().tolist()):
                    a[i, i] += 1.0
        deg = a.sum(1)
        dis = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
        a = dis[:, None] * a * dis[None, :]
    out = a @ x @ layer.weight
    return out if layer.bias is None else out + layer.bias


def ref_lstm(layer: SAGEConv, seq: torch.Tensor) -> torch.Tensor:
    """Last hidden state of the layer's LSTM over seq [T, F_in], by an explicit loop."""
    lstm = layer.lstm
    h = torch.zeros(layer.in_dim, dtype=D)
    c = torch.zeros(layer.in_dim, dtype=D)
    for xt in seq:
        gates = lstm.weight_ih_l0 @ xt + lstm.bias_ih_l0 + lstm.weight_hh_l0 @ h + lstm.bias_hh_l0
        i, f, gg, o = gates.chunk(4)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        h = torch.sigmoid(o) * torch.tanh(c)
    return h


def ref_sage(layer: SAGEConv, x: torch.Tensor, g: Graph) -> torch.Tensor:
    rows = []
    for i in range(g.num_nodes):
        nbrs = [int(g.edge_index[0, e]) for e in in_edges(g, i)]
        xs = x[nbrs]
        if layer.aggregator == "mean":
            agg = xs.mean(0) if nbrs else torch.zeros(F_IN, dtype=D)
        elif layer.aggregator == "gcn":
            agg = torch.cat([xs, x[i:i + 1]]).mean(0)
        elif layer.aggregator == "pool":
            p = torch.relu(xs @ layer.pool.weight.t() + layer.pool.bias)
            agg = p.max(0).values if nbrs else torch.zeros(layer.pool.out_features, dtype=D)
        else:  # lstm: in a homogeneous graph any neighbour order gives the same sequence
            agg = ref_lstm(layer, xs) if nbrs else torch.zeros(F_IN, dtype=D)
        h = layer.lin_neigh.weight @ agg
        if layer.lin_neigh.bias is not None:
            h = h + layer.lin_neigh.bias
        if layer.lin_self is not None:
            h = h + layer.lin_self.weight @ x[i]
        if layer.normalize:
            h = h / h.norm().clamp(min=1e-12)
        rows.append(h)
    return torch.stack(rows)


def ref_gat(layer: GATConv, x: torch.Tensor, g: Graph):
    """Returns (out [N, *], expected attention edge list [(src, dst)], alpha [E', H]).

    Node i attends over its in-edges that are not loops and one loop (i -> i) whose edge
    feature is the mean of i's non-loop incoming edge features (0 when it has none).
    """
    H, C = layer.num_heads, layer.out_dim
    h = (x @ layer.weight).view(-1, H, C)
    ei = g.edge_index
    non_loop = [e for e in range(g.num_edges) if ei[0, e] != ei[1, e]]
    att_edges = [(int(ei[0, e]), int(ei[1, e])) for e in non_loop]
    att_edges += [(i, i) for i in range(g.num_nodes)]
    alpha_all = torch.zeros(len(att_edges), H, dtype=D)
    rows = []
    for i in range(g.num_nodes):
        mine = [e for e in non_loop if ei[1, e] == i]
        srcs = [int(ei[0, e]) for e in mine] + [i]
        logits = (h[i] * layer.att_dst[0]).sum(-1) + (h[srcs] * layer.att_src[0]).sum(-1)
        if layer.edge_dim is not None:
            fe = g.edge_attr[mine]
            loop_f = fe.mean(0, keepdim=True) if mine else torch.zeros(1, F_E, dtype=D)
            we = (torch.cat([fe, loop_f]) @ layer.weight_edge).view(-1, H, C)
            logits = logits + (we * layer.att_edge[0]).sum(-1)
        logits = F.leaky_relu(logits, layer.negative_slope)  # [deg + 1, H]
        alpha = torch.softmax(logits, dim=0)
        for pos, e in enumerate(mine):
            alpha_all[non_loop.index(e)] = alpha[pos]
        alpha_all[len(non_loop) + i] = alpha[-1]
        out = (alpha.unsqueeze(-1) * h[srcs]).sum(0)  # [H, C]
        rows.append(out.reshape(H * C) if layer.concat else out.mean(0))
    out = torch.stack(rows)
    if layer.bias is not None:
        out = out + layer.bias
    return out, att_edges, alpha_all


def reference(layer, x, g):
    if isinstance(layer, GCNConv):
        return ref_gcn(layer, x, g)
    if isinstance(layer, SAGEConv):
        return ref_sage(layer, x, g)
    return ref_gat(layer, x, g)[0]


def snapshot(g: Graph, x: torch.Tensor) -> list:
    names = ("edge_index", "edge_weight", "edge_attr", "x", "y", "batch", "ptr")
    return [(n, None if getattr(g, n) is None else getattr(g, n).clone()) for n in names] + [
        ("input x", x.clone())]


def assert_unchanged(g: Graph, x: torch.Tensor, snap: list) -> None:
    for name, ref in snap:
        cur = x if name == "input x" else getattr(g, name)
        assert (cur is None) == (ref is None)
        if ref is not None:
            assert torch.equal(cur, ref), f"{name} was modified"


# --------------------------------------------------------------------------- the contract
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", NAMES)
def test_shape_and_dense_reference(name, kind):
    layer = make_layer(name)
    g, x = graph_for(name, kind)
    snap = snapshot(g, x)
    out = layer(x, g)
    assert out.shape == (g.num_nodes, out_dim(layer)) and out.dtype == D
    torch.testing.assert_close(out, reference(layer, x, g), **TOL)
    assert_unchanged(g, x, snap)


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("gcn")])
def test_gcn_float64_without_edge_weight(name):
    # gcn_norm's weights default to float32 when the graph has no edge_weight; a float64
    # layer must still work (it raised a dtype mismatch in the sparse product) and keep
    # float64 precision (casting float32 weights up leaves errors of ~1e-7)
    layer = make_layer(name)
    g, x = make_graph("random", seed=14)
    g = Graph(g.edge_index, g.num_nodes)
    torch.testing.assert_close(layer(x, g), ref_gcn(layer, x, g), **TOL)
    xg = x.clone().requires_grad_(True)
    assert gradcheck(lambda x: layer(x, g), (xg,))


def test_homogeneous_graphs_are_homogeneous():
    # guard for the LSTM tests: every node's in-neighbours share one feature vector
    for kind in KINDS:
        g, x = make_graph(kind, homogeneous=True)
        for i in range(g.num_nodes):
            srcs = g.edge_index[0, g.edge_index[1] == i]
            assert bool((x[srcs] == x[srcs[:1]]).all())


@pytest.mark.parametrize("name", NAMES)
def test_batch_equivalence(name):
    layer = make_layer(name)
    parts = [graph_for(name, k, seed=s) for k, s in
             [("random", 1), ("isolated", 0), ("one_node", 0), ("duplicates", 0),
              ("random", 2), ("no_edges", 0)]]
    gs, xs = [p[0] for p in parts], [p[1] for p in parts]
    out = layer(torch.cat(xs), batch(gs))
    torch.testing.assert_close(out, torch.cat([layer(x, g) for g, x in parts]), **TOL)


@pytest.mark.parametrize("name", NAMES)
def test_permutation_equivariance(name):
    layer = make_layer(name)
    g, x = graph_for(name, "random", seed=3)
    perm = torch.randperm(g.num_nodes, generator=torch.Generator().manual_seed(4))
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(g.num_nodes)  # new id of old node v is inv[v]
    gp = Graph(inv[g.edge_index], g.num_nodes, edge_weight=g.edge_weight, edge_attr=g.edge_attr)
    out, out_p = layer(x, g), layer(x[perm], gp)
    assert not torch.allclose(out, out[perm])  # the check below would catch a mix-up
    torch.testing.assert_close(out_p, out[perm], **TOL)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_x_and_parameters(name):
    layer = make_layer(name)
    g, x = graph_for(name, "random", seed=5)
    names = [n for n, _ in layer.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for _, p in layer.named_parameters()]
    x = x.clone().requires_grad_(True)

    def f(x, *ps):
        # perturbing one x row breaks the LSTM graphs' homogeneity: fix the neighbour order
        torch.manual_seed(0)
        return functional_call(layer, dict(zip(names, ps, strict=True)), (x, g))

    # fast mode compares random directional derivatives (numerical vs analytical), which
    # catches the same errors as the full Jacobian at a fraction of the cost
    assert gradcheck(f, (x, *params), fast_mode=True)


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_gets_a_gradient(name):
    layer = make_layer(name)
    g, x = graph_for(name, "random", seed=6)
    layer(x, g).pow(2).sum().backward()
    for pname, p in layer.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), pname


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip(name):
    layer = make_layer(name, seed=0)
    fresh = make_layer(name, seed=1)
    g, x = graph_for(name, "random", seed=7)
    before = fresh(x, g)
    assert not torch.allclose(before, layer(x, g))
    fresh.load_state_dict(layer.state_dict())
    torch.testing.assert_close(fresh(x, g), layer(x, g), rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_reset_parameters_reinitialises_every_weight(name):
    layer = make_layer(name)
    with torch.no_grad():
        for p in layer.parameters():
            p.fill_(7.0)
    layer.reset_parameters()
    for pname, p in layer.named_parameters():
        assert not bool((p == 7.0).any()), f"{pname} not reset"


@pytest.mark.parametrize("name", NAMES)
def test_float32_works_and_agrees_with_float64(name):
    layer = make_layer(name)
    g, x = graph_for(name, "random", seed=8)
    g32 = Graph(g.edge_index, g.num_nodes, edge_weight=g.edge_weight.float(),
                edge_attr=g.edge_attr.float())
    out32 = layer.float()(x.float(), g32)
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), make_layer(name)(x, g), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_extra_repr_names_dims(name):
    layer = make_layer(name)
    assert layer.extra_repr().startswith(f"{F_IN}, {layer.out_dim}")


# --------------------------------------------------------------------------- LSTM aggregator
def test_lstm_runs_over_exactly_the_neighbours_of_each_node():
    # node i has degree i among identical copies of v_i: the output of an LSTM over d copies
    # depends on d, so an aggregator that ran the wrong number of steps (or on another node's
    # neighbours) fails
    layer = make_layer("sage-lstm")
    n_dst = 5
    gen = torch.Generator().manual_seed(9)
    v = torch.randn(n_dst, F_IN, generator=gen, dtype=D)
    src_x, pairs = [], []
    for i in range(n_dst):
        for _ in range(i):
            pairs.append((n_dst + len(src_x), i))
            src_x.append(v[i])
    x = torch.cat([torch.randn(n_dst, F_IN, generator=gen, dtype=D), torch.stack(src_x)])
    g = Graph(_ei(pairs), x.shape[0])
    agg = layer.aggregate(x, g)
    for i in range(n_dst):
        expect = ref_lstm(layer, v[i].expand(i, F_IN)) if i else torch.zeros(F_IN, dtype=D)
        torch.testing.assert_close(agg[i], expect, **TOL)
    # the degrees really matter: d and d + 1 copies differ
    assert not torch.allclose(ref_lstm(layer, v[2].expand(2, F_IN)),
                              ref_lstm(layer, v[2].expand(3, F_IN)))


def test_lstm_step_loop_equals_torch_packed_lstm_with_gradients():
    # the per-step recurrence (input projected once per node) against nn.LSTM on the same
    # PackedSequence: last hidden states and gradients wrt x and every LSTM parameter
    from torch.nn.utils.rnn import PackedSequence

    layer = SAGEConv(6, 4, "lstm").double()
    gen = torch.Generator().manual_seed(12)
    x = torch.randn(9, 6, generator=gen, dtype=D, requires_grad=True)
    batch_sizes = [5, 5, 3, 3, 1]                       # 5 sequences of lengths 5, 4, 4, 2, 2
    idx = torch.randint(0, 9, (sum(batch_sizes),), generator=gen)
    up = torch.randn(5, 6, generator=gen, dtype=D)
    ours = layer._lstm_run(x, idx, batch_sizes)
    _, (h_n, _) = layer.lstm(PackedSequence(x[idx], torch.tensor(batch_sizes)))
    torch.testing.assert_close(ours, h_n[0], **TOL)
    params = [x, *layer.lstm.parameters()]
    g_ours = torch.autograd.grad((ours * up).sum(), params)
    g_ref = torch.autograd.grad((h_n[0] * up).sum(), params)
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_lstm_single_neighbour_graph_matches_explicit_cell():
    layer = make_layer("sage-lstm")
    g = Graph(_ei([(1, 0), (2, 1), (0, 3), (3, 2)]), 5)  # every node <= 1 neighbour
    x = torch.randn(5, F_IN, generator=torch.Generator().manual_seed(10), dtype=D)
    agg = layer.aggregate(x, g)
    for s, d in [(1, 0), (2, 1), (0, 3), (3, 2)]:
        torch.testing.assert_close(agg[d], ref_lstm(layer, x[s:s + 1]), **TOL)
    assert bool((agg[4] == 0).all())


def test_lstm_neighbour_order_is_a_random_permutation():
    # two distinct neighbours a, b: every call gives LSTM(a, b) or LSTM(b, a), and both occur
    layer = make_layer("sage-lstm")
    x = torch.randn(3, F_IN, generator=torch.Generator().manual_seed(11), dtype=D)
    g = Graph(_ei([(1, 0), (2, 0)]), 3)
    ab, ba = ref_lstm(layer, x[[1, 2]]), ref_lstm(layer, x[[2, 1]])
    assert not torch.allclose(ab, ba)
    seen = set()
    for seed in range(16):
        torch.manual_seed(seed)
        got = layer.aggregate(x, g)[0]
        if torch.allclose(got, ab, **TOL):
            seen.add("ab")
        elif torch.allclose(got, ba, **TOL):
            seen.add("ba")
        else:
            pytest.fail("LSTM output matches neither neighbour order")
    assert seen == {"ab", "ba"}
    # and the order is drawn from torch's global generator: same seed, same output
    torch.manual_seed(3)
    first = layer.aggregate(x, g)
    torch.manual_seed(3)
    assert torch.equal(first, layer.aggregate(x, g))


def test_unknown_aggregator():
    with pytest.raises(ValueError, match="aggregator"):
        SAGEConv(3, 4, "median")


# --------------------------------------------------------------------------- GAT attention
GAT_NAMES = [n for n in NAMES if n.startswith("gat")]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", GAT_NAMES)
def test_gat_attention_weights(name, kind):
    layer = make_layer(name)
    g, x = make_graph(kind, seed=12)
    out, (ei, alpha) = layer(x, g, return_attention=True)
    ref_out, ref_edges, ref_alpha = ref_gat(layer, x, g)
    torch.testing.assert_close(out, ref_out, **TOL)
    assert ei.tolist() == [list(p) for p in zip(*ref_edges, strict=True)]
    assert alpha.shape == (len(ref_edges), layer.num_heads)
    torch.testing.assert_close(alpha, ref_alpha, **TOL)
    # every node has its loop, so alpha sums to 1 over each node's in-edges, per head
    sums = torch.zeros(g.num_nodes, layer.num_heads, dtype=D).index_add_(0, ei[1], alpha)
    torch.testing.assert_close(sums, torch.ones_like(sums), **TOL)
    assert not alpha.requires_grad


def test_gat_attention_dropout_only_in_training():
    torch.manual_seed(0)
    layer = GATConv(F_IN, 4, num_heads=2, attn_dropout=0.5).double()
    g, x = make_graph("random", seed=13)
    layer.eval()
    ev = layer(x, g)
    assert torch.equal(ev, layer(x, g))
    torch.testing.assert_close(ev, ref_gat(layer, x, g)[0], **TOL)
    layer.train()
    torch.manual_seed(1)
    tr1 = layer(x, g)
    torch.manual_seed(2)
    tr2 = layer(x, g)
    assert not torch.allclose(tr1, ev) and not torch.allclose(tr1, tr2)
    torch.manual_seed(1)
    assert torch.equal(tr1, layer(x, g))  # reproducible from the seed
    # the returned attention is the undropped alpha, in training too
    _, (_, alpha) = layer(x, g, return_attention=True)
    torch.testing.assert_close(alpha, ref_gat(layer, x, g)[2], **TOL)
    # with attn_dropout = 0 training and evaluation agree
    layer.attn_dropout = 0.0
    torch.testing.assert_close(layer(x, g), ev, rtol=0, atol=0)


def test_gat_attention_dropout_drops_coefficients():
    # one head, one out feature, h_j = 1 for all j: sum_j alpha_ij = 1 in eval; in training
    # each coefficient is 0 or alpha/(1-p), so outputs are sums of a subset scaled by 2
    torch.manual_seed(0)
    layer = GATConv(1, 1, num_heads=1, attn_dropout=0.5, bias=False).double()
    with torch.no_grad():
        layer.weight.fill_(1.0)
    g = Graph(_ei([(1, 0), (2, 0), (3, 0)]), 4)
    x = torch.ones(4, 1, dtype=D)
    _, (ei, alpha) = layer(x, g, return_attention=True)
    layer.train()
    outs = set()
    for seed in range(20):
        torch.manual_seed(seed)
        val = float(layer(x, g)[0, 0].detach())
        subsets = [2 * float(alpha[ei[1] == 0][list(m)].sum()) for m in _subsets(4)]
        assert min(abs(val - s) for s in subsets) < 1e-12
        outs.add(round(val, 10))
    assert len(outs) > 1


def _subsets(k: int):
    for mask in range(2 ** k):
        yield [i for i in range(k) if mask >> i & 1]


def test_gat_edge_dim_needs_edge_attr():
    layer = make_layer("gat-edge")
    g, x = make_graph("random")
    with pytest.raises(ValueError, match="edge_attr"):
        layer(x, Graph(g.edge_index, g.num_nodes))
