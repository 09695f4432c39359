"""gnnkit.reorder: node relabellings are permutations, products commute with them, and models
on a reordered graph give the plain path's outputs once the rows are put back."""

from __future__ import annotations

import pytest
import torch

from gnnkit import Graph, GraphError, batch, ops
from gnnkit.models import GAT, GCN, GraphSAGE
from gnnkit.reorder import METHODS, NodeOrder, node_order, permute_nodes, reorder


def make_graph(n: int = 40, e: int = 160, seed: int = 0, weight: bool = True) -> Graph:
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=gen)
    x = torch.randn(n, 5, generator=gen)
    y = torch.randint(0, 3, (n,), generator=gen)
    ew = torch.rand(e, generator=gen) + 0.5 if weight else None
    return Graph(ei, n, x=x, y=y, edge_weight=ew)


def path_graph(n: int) -> Graph:
    """A path whose nodes are numbered at random: RCM must recover bandwidth 1."""
    gen = torch.Generator().manual_seed(1)
    label = torch.randperm(n, generator=gen)
    a, b = label[:-1], label[1:]
    return Graph(torch.stack([torch.cat([a, b]), torch.cat([b, a])]), n)


def bandwidth(g: Graph) -> int:
    return int((g.edge_index[0] - g.edge_index[1]).abs().max())


@pytest.mark.parametrize("method", METHODS)
def test_order_is_a_permutation(method):
    g = make_graph()
    order = node_order(g, method)
    assert order.dtype == torch.int64
    assert torch.equal(order.sort().values, torch.arange(g.num_nodes))


def test_rcm_recovers_a_path():
    g = path_graph(50)
    h, _ = reorder(g, "rcm")
    assert bandwidth(g) > 1
    assert bandwidth(h) == 1


def test_degree_order_puts_hubs_first():
    g = make_graph()
    h, perm = reorder(g, "degree")
    deg = torch.bincount(h.edge_index.reshape(-1), minlength=h.num_nodes)
    assert bool((deg[:-1] >= deg[1:]).all())
    old_deg = torch.bincount(g.edge_index.reshape(-1), minlength=g.num_nodes)
    assert torch.equal(perm.apply(old_deg), deg)


def test_permute_moves_node_fields_and_keeps_edges():
    g = make_graph()
    snap = [t.clone() for t in (g.edge_index, g.x, g.y, g.edge_weight)]
    h, perm = reorder(g, "rcm")
    assert torch.equal(h.x, g.x[perm.order]) and torch.equal(h.y, g.y[perm.order])
    assert torch.equal(h.edge_weight, g.edge_weight)  # edges keep their order and fields
    assert torch.equal(perm.original_ids(h.edge_index), g.edge_index)
    assert torch.equal(perm.ids(g.edge_index), h.edge_index)
    assert torch.equal(perm.undo(perm.apply(g.x)), g.x)
    # the input graph is unchanged
    for a, b in zip(snap, (g.edge_index, g.x, g.y, g.edge_weight), strict=True):
        assert torch.equal(a, b)
    # permuting back gives the original graph
    back = permute_nodes(h, NodeOrder(perm.inverse, perm.order))
    assert torch.equal(back.edge_index, g.edge_index) and torch.equal(back.x, g.x)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_spmm_commutes_with_reordering(method, reduce):
    g = make_graph(weight=reduce != "max")
    h, perm = reorder(g, method)
    x = torch.randn(g.num_nodes, 6, dtype=torch.float64)
    w = None if reduce == "max" else g.edge_weight.double()
    ref = ops.spmm(g, x, w, reduce)
    out = perm.undo(ops.spmm(h, perm.apply(x), w, reduce))
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("model_cls", [GCN, GAT, GraphSAGE])
def test_model_forward_on_reordered_graph_equals_plain(method, model_cls):
    """Identical weights: the reordered graph's output, un-permuted, is the plain output."""
    g = make_graph(weight=False)
    torch.manual_seed(0)
    model = model_cls(5, 8, 3).eval()
    h, perm = reorder(g, method)
    with torch.no_grad():
        ref = model(g.x, g)
        out = perm.undo(model(h.x, h))
        emb = perm.undo(model.embed(h.x, h))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(emb, model.embed(g.x, g), rtol=1e-5, atol=1e-5)


def test_unknown_method_and_bad_inputs():
    g = make_graph()
    with pytest.raises(ValueError, match="rcm"):
        node_order(g, "metis")
    with pytest.raises(GraphError, match="permutation"):
        NodeOrder.from_order(torch.tensor([0, 0, 1]))
    with pytest.raises(GraphError, match="nodes"):
        permute_nodes(g, NodeOrder.from_order(torch.arange(3)))
    with pytest.raises(GraphError, match="single graph"):
        reorder(batch([make_graph(seed=1), make_graph(seed=2)]))


def test_graph_without_edges_keeps_a_valid_order():
    g = Graph(torch.zeros(2, 0, dtype=torch.long), 4, x=torch.randn(4, 2))
    for method in METHODS:
        h, perm = reorder(g, method)
        assert h.num_edges == 0 and torch.equal(perm.undo(h.x), g.x)


# --------------------------------------------------------------------------- node task
def _node_data(method: str = "none"):
    from gnnkit.datasets import csbm
    from gnnkit.tasks.node_classification import prepare

    ds = csbm(num_nodes=150, num_classes=3, num_features=8, seed=3)
    return ds, prepare(ds, reorder=method)


def _node_cfg(**kw):
    from gnnkit.tasks import make_config

    base = dict(model="gcn", dataset="synthetic", threads=1, quiet=True, save=False)
    base.update(kw)
    return make_config("node", **base)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("model", ["gcn", "gat", "sage"])
def test_node_task_reordered_forward_and_metrics_equal_plain(method, model):
    """Identical weights: logits (put back in order) and every metric equal the plain path."""
    from gnnkit.tasks.node_classification import build_model, evaluate

    ds, reo = _node_data(method)
    _, plain = _node_data()
    assert reo.order is not None and plain.order is None
    for k in ("train", "val", "test"):  # split ids follow their nodes, in the same order
        assert torch.equal(reo.order.original_ids(reo.splits[k]), plain.splits[k])
    assert torch.equal(reo.to_original(reo.y), plain.y)
    torch.manual_seed(0)
    m = build_model(_node_cfg(model=model, num_heads=2), 8, 3).eval()
    with torch.no_grad():
        torch.testing.assert_close(reo.to_original(m(reo.x, reo.graph)), m(plain.x, plain.graph),
                                   rtol=1e-5, atol=1e-5)
    a, b = evaluate(m, plain), evaluate(m, reo)
    assert a.keys() == b.keys()
    for k in a:
        assert b[k] == pytest.approx(a[k], abs=1e-5), k


@pytest.mark.parametrize("method", METHODS)
def test_node_task_training_with_reordering_matches_plain(method, tmp_path):
    """Without dropout, training is the same computation: same metrics, and the saved
    embeddings and labels come back in the data set's node order."""
    from gnnkit.tasks.node_classification import run_seeds
    from gnnkit.train import load_checkpoint

    ds, reo = _node_data(method)
    _, plain = _node_data()
    out = {}
    for name, data in (("plain", plain), ("reo", reo)):
        cfg = _node_cfg(epochs=30, dropout=0.0, early_stopping="none", save=True,
                        save_embeddings=True, out_dir=str(tmp_path), run_name=name)
        out[name] = (run_seeds(cfg, data=data), load_checkpoint(tmp_path / name / "embeddings.pt"))
    (ra, ea), (rb, eb) = out["plain"], out["reo"]
    for k in ("train_acc", "val_acc", "test_acc", "train_loss", "val_loss", "test_loss"):
        assert rb["runs"][0][k] == pytest.approx(ra["runs"][0][k], abs=1e-4), k
    assert torch.equal(eb["y"], ds.graph.y) and torch.equal(ea["y"], ds.graph.y)
    torch.testing.assert_close(eb["embeddings"], ea["embeddings"], rtol=1e-4, atol=1e-4)


def test_node_config_reorder_option():
    from gnnkit.config import ConfigError

    assert _node_cfg().reorder == "none"
    assert _node_cfg(reorder="rcm").reorder == "rcm"
    with pytest.raises(ConfigError):
        _node_cfg(reorder="metis")
