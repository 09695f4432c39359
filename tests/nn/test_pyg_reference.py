"""Each gnnkit layer equals PyTorch Geometric's corresponding layer given the same weights.

Weight mapping (PyG's ``Linear`` stores ``[out, in]``; gnnkit's GCN/GAT store ``[in, out]``):
GCN ``lin.weight = weight.T``; GAT ``lin.weight = weight.T``, ``lin_edge.weight =
weight_edge.T``, attention vectors and bias copied; SAGE ``lin_l = lin_neigh``, ``lin_r =
lin_self``, and for the pooling aggregator PyG's ``SAGEConv(aggr='max', project=True)`` with
``lin = pool``: PyG's projection is ReLU(lin(x_j)) on the sources only, then max, then lin_l,
plus lin_r on the untouched root features -- the paper's max-pooling aggregator exactly
(pool_dim must equal in_dim, PyG's projection is square). Nodes without in-neighbours
aggregate to 0 in both libraries.

The LSTM aggregator is not compared: PyG runs it over the neighbours in edge_index order
(and requires sorted edges), gnnkit over a random permutation, as the paper does.
"""

from __future__ import annotations

import pytest
import torch

pyg_nn = pytest.importorskip("torch_geometric.nn")

from gnnkit import Graph  # noqa: E402
from gnnkit.nn import GATConv, GCNConv, SAGEConv  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-5)
F_IN, F_E = 5, 3


def make_graph(loops: bool = False, seed: int = 0) -> tuple[Graph, torch.Tensor]:
    """12 nodes (node 11 isolated), random edges with duplicates, optional self-loops."""
    gen = torch.Generator().manual_seed(seed)
    n, m = 12, 11
    src = torch.randint(0, m, (40,), generator=gen)
    dst = torch.randint(0, m, (40,), generator=gen)
    dst = torch.where(src == dst, (dst + 1) % m, dst)
    ei = torch.stack([src, dst])
    ei = torch.cat([ei, ei[:, :5]], 1)  # duplicate edges
    if loops:
        ei = torch.cat([ei, torch.tensor([[2, 5, 7], [2, 5, 7]])], 1)
    e = ei.shape[1]
    g = Graph(ei, n, edge_weight=torch.rand(e, generator=gen) + 0.2,
              edge_attr=torch.randn(e, F_E, generator=gen))
    return g, torch.randn(n, F_IN, generator=gen)


def copy_gcn(a: GCNConv, b) -> None:  # noqa: ANN001
    with torch.no_grad():
        b.lin.weight.copy_(a.weight.t())
        b.bias.copy_(a.bias)


def copy_gat(a: GATConv, b) -> None:  # noqa: ANN001
    with torch.no_grad():
        b.lin.weight.copy_(a.weight.t())
        b.att_src.copy_(a.att_src)
        b.att_dst.copy_(a.att_dst)
        b.bias.copy_(a.bias)
        if a.edge_dim is not None:
            b.lin_edge.weight.copy_(a.weight_edge.t())
            b.att_edge.copy_(a.att_edge)


def copy_sage(a: SAGEConv, b) -> None:  # noqa: ANN001
    with torch.no_grad():
        b.lin_l.weight.copy_(a.lin_neigh.weight)
        b.lin_l.bias.copy_(a.lin_neigh.bias)
        b.lin_r.weight.copy_(a.lin_self.weight)
        if a.aggregator == "pool":
            b.lin.weight.copy_(a.pool.weight)
            b.lin.bias.copy_(a.pool.bias)


def _randomise_biases(m: torch.nn.Module) -> None:
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "bias" in name:
                p.uniform_(-0.5, 0.5)


def _compare(ours, theirs, g, x, call_theirs) -> None:  # noqa: ANN001
    """Same outputs and same gradients wrt x."""
    xa = x.clone().requires_grad_(True)
    xb = x.clone().requires_grad_(True)
    out_a, out_b = ours(xa, g), call_theirs(theirs, xb)
    torch.testing.assert_close(out_a, out_b, **TOL)
    up = torch.randn(out_a.shape, generator=torch.Generator().manual_seed(99))
    (ga,) = torch.autograd.grad((out_a * up).sum(), xa)
    (gb,) = torch.autograd.grad((out_b * up).sum(), xb)
    torch.testing.assert_close(ga, gb, **TOL)


# --------------------------------------------------------------------------- GCN
@pytest.mark.parametrize("loops", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("out", [3, 8])  # both product orders
@pytest.mark.parametrize("options", [{}, {"normalize": False}, {"add_self_loops": False}])
def test_gcn_matches_pyg(loops, weighted, out, options):
    torch.manual_seed(0)
    g, x = make_graph(loops=loops)
    if not weighted:
        g = Graph(g.edge_index, g.num_nodes)
    a = GCNConv(F_IN, out, **options)
    b = pyg_nn.GCNConv(F_IN, out, **options)
    _randomise_biases(a)
    copy_gcn(a, b)
    _compare(a, b, g, x, lambda m, x: m(x, g.edge_index, g.edge_weight))


# --------------------------------------------------------------------------- GAT
GAT_CONFIGS = {
    "concat": dict(heads=3, concat=True),
    "mean": dict(heads=2, concat=False),
    "edge": dict(heads=2, concat=True, edge_dim=F_E),
    "edge-mean": dict(heads=3, concat=False, edge_dim=F_E),
    "slope": dict(heads=2, concat=True, negative_slope=0.05),
}


def _gat_pair(cfg: dict):
    torch.manual_seed(1)
    heads, concat = cfg["heads"], cfg["concat"]
    a = GATConv(F_IN, 4, num_heads=heads, concat=concat, edge_dim=cfg.get("edge_dim"),
                negative_slope=cfg.get("negative_slope", 0.2))
    b = pyg_nn.GATConv(F_IN, 4, heads=heads, concat=concat, edge_dim=cfg.get("edge_dim"),
                       negative_slope=cfg.get("negative_slope", 0.2))
    _randomise_biases(a)
    copy_gat(a, b)
    return a.eval(), b.eval()


def _pyg_gat_call(g: Graph, cfg: dict):
    ea = g.edge_attr if "edge_dim" in cfg else None
    return lambda m, x: m(x, g.edge_index, edge_attr=ea)


@pytest.mark.parametrize("loops", [False, True])
@pytest.mark.parametrize("config", list(GAT_CONFIGS))
def test_gat_matches_pyg(config, loops):
    cfg = GAT_CONFIGS[config]
    a, b = _gat_pair(cfg)
    g, x = make_graph(loops=loops, seed=2)
    _compare(a, b, g, x, _pyg_gat_call(g, cfg))


@pytest.mark.parametrize("loops", [False, True])
@pytest.mark.parametrize("config", list(GAT_CONFIGS))
def test_gat_attention_matches_pyg(config, loops):
    cfg = GAT_CONFIGS[config]
    a, b = _gat_pair(cfg)
    g, x = make_graph(loops=loops, seed=3)
    _, (ei_a, al_a) = a(x, g, return_attention=True)
    ea = g.edge_attr if "edge_dim" in cfg else None
    _, (ei_b, al_b) = b(x, g.edge_index, edge_attr=ea, return_attention_weights=True)
    assert al_a.shape == al_b.shape == (ei_a.shape[1], cfg["heads"])

    # align: sort both edge lists by (dst, src); duplicates keep their relative order
    def order(ei: torch.Tensor) -> torch.Tensor:
        return torch.argsort(ei[1] * g.num_nodes + ei[0], stable=True)

    oa, ob = order(ei_a), order(ei_b)
    assert torch.equal(ei_a[:, oa], ei_b[:, ob])
    torch.testing.assert_close(al_a[oa], al_b[ob].detach(), **TOL)


# --------------------------------------------------------------------------- SAGE
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("loops", [False, True])
def test_sage_mean_matches_pyg(normalize, loops):
    torch.manual_seed(2)
    g, x = make_graph(loops=loops, seed=4)
    a = SAGEConv(F_IN, 6, "mean", normalize=normalize)
    b = pyg_nn.SAGEConv(F_IN, 6, aggr="mean", normalize=normalize)
    _randomise_biases(a)
    copy_sage(a, b)
    _compare(a, b, g, x, lambda m, x: m(x, g.edge_index))


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("loops", [False, True])
def test_sage_pool_matches_pyg_max_project(normalize, loops):
    torch.manual_seed(3)
    g, x = make_graph(loops=loops, seed=5)
    a = SAGEConv(F_IN, 6, "pool", normalize=normalize)
    b = pyg_nn.SAGEConv(F_IN, 6, aggr="max", project=True, normalize=normalize)
    _randomise_biases(a)
    copy_sage(a, b)
    _compare(a, b, g, x, lambda m, x: m(x, g.edge_index))
