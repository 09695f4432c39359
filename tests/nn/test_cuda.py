"""CUDA against CPU: the ops, layers and models compute the same function on both devices.

Every comparison runs in float64 on both sides, so the two devices must agree to rounding
(rtol 1e-9), forward and backward (input and parameter gradients). Then whole training runs on
CUDA: the node task learns an easy graph and repeats itself exactly with the same seed, and the
link and graph tasks train end to end.

Skipped where CUDA is absent (CI has none); on a GPU machine: ``python -m pytest -m gpu``.
``GNNKIT_TEST_DEVICE`` names another second device (``cuda:1``, or ``cpu`` to check these tests
themselves on a machine without a GPU).
"""

from __future__ import annotations

import os

import pytest
import torch
from test_layers import NAMES, graph_for, is_lstm, make_layer

from gnnkit import Graph, batch, ops
from gnnkit.datasets import csbm
from gnnkit.models.losses import full_recon_loss, kl_term, softplus_gram_sum
from gnnkit.models.memory import GMN, MemGNN, rwr_features
from gnnkit.nn import MemoryLayer
from gnnkit.nn.memory import memory_kl_loss
from gnnkit.tasks import make_config

CUDA = torch.device(os.environ.get("GNNKIT_TEST_DEVICE", "cuda"))
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(CUDA.type == "cuda" and not torch.cuda.is_available(),
                                 reason="needs CUDA")]

D = torch.float64
TOL = dict(rtol=1e-9, atol=1e-11)


def _random_graph(n: int = 40, e: int = 160, seed: int = 0, weight: bool = False) -> Graph:
    """Directed multigraph with duplicates, self-loops and isolated nodes (the last three)."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n - 3, (e,), generator=gen)
    dst = torch.randint(0, n - 3, (e,), generator=gen)
    ei = torch.cat([torch.stack([src, dst]), torch.stack([src[:5], dst[:5]]),
                    torch.tensor([[0, 1], [0, 1]])], 1)
    ew = torch.rand(ei.shape[1], generator=gen, dtype=D) + 0.5 if weight else None
    return Graph(ei, n, edge_weight=ew)


def _both(fn, *inputs: torch.Tensor):
    """fn on CPU and on CUDA, with the gradients of every input under a fixed cotangent."""
    results = []
    for dev in ("cpu", CUDA):
        xs = [t.detach().to(dev).requires_grad_(t.is_floating_point()) for t in inputs]
        out = fn(dev, *xs)
        w = torch.linspace(-1, 1, out.numel(), dtype=out.dtype, device=dev).view_as(out)
        grads = torch.autograd.grad((out * w).sum(), [x for x in xs if x.requires_grad],
                                    allow_unused=True)
        results.append((out.detach().cpu(), [None if g is None else g.cpu() for g in grads]))
    (out_c, grads_c), (out_g, grads_g) = results
    torch.testing.assert_close(out_g, out_c, **TOL)
    for gc, gg in zip(grads_c, grads_g, strict=True):
        assert (gc is None) == (gg is None)
        if gc is not None:
            torch.testing.assert_close(gg, gc, **TOL)
    return out_c


# --------------------------------------------------------------------------- ops
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("weight", [False, True])
def test_spmm_matches_cpu(reduce, weight):
    if weight and reduce in ("max", "min"):
        pytest.skip("edge weights only scale sums and means")
    g = _random_graph(weight=weight)
    x = torch.randn(g.num_nodes, 5, dtype=D)

    def f(dev, x):
        gd = g.to(dev)
        return ops.spmm(gd, x, gd.edge_weight, reduce=reduce)
    out = _both(f, x)
    assert torch.all(out[-3:] == 0)               # isolated nodes receive nothing


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_scatter_and_segment_match_cpu(reduce):
    gen = torch.Generator().manual_seed(1)
    index = torch.randint(0, 9, (60,), generator=gen)
    src = torch.randn(60, 4, generator=gen, dtype=D)
    _both(lambda dev, s: ops.scatter(s, index.to(dev), 11, reduce), src)
    counts = torch.bincount(index, minlength=11)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
    _both(lambda dev, s: ops.segment(s, ptr.to(dev), reduce), src[index.argsort(stable=True)])


def test_sddmm_and_edge_softmax_match_cpu():
    g = _random_graph(seed=2)
    a = torch.randn(g.num_nodes, 6, dtype=D)
    b = torch.randn(g.num_nodes, 6, dtype=D)
    _both(lambda dev, a, b: ops.sddmm(g.to(dev), a, b), a, b)
    logits = torch.randn(g.num_edges, 3, dtype=D)
    dst = g.edge_index[1]
    out = _both(lambda dev, t: ops.edge_softmax(t, dst.to(dev), g.num_nodes), logits)
    sums = torch.zeros(g.num_nodes, 3, dtype=D).index_add_(0, dst, out)
    has_in = torch.bincount(dst, minlength=g.num_nodes) > 0
    torch.testing.assert_close(sums[has_in], torch.ones_like(sums[has_in]))


def test_gcn_norm_degree_and_rwr_match_cpu():
    g = _random_graph(seed=3, weight=True)
    cpu = ops.gcn_norm(g)
    gpu = ops.gcn_norm(g.to(CUDA))
    # the edge order may differ; compare the normalised adjacency as a dense matrix
    def dense(hw: tuple[Graph, torch.Tensor]) -> torch.Tensor:
        h, w = hw
        m = torch.zeros(h.num_nodes, h.num_nodes, dtype=D)
        return m.index_put_((h.edge_index[1].cpu(), h.edge_index[0].cpu()), w.cpu().to(D),
                            accumulate=True)
    torch.testing.assert_close(dense(gpu), dense(cpu), **TOL)
    torch.testing.assert_close(ops.degree(g.edge_index[1].to(CUDA), g.num_nodes).cpu(),
                               ops.degree(g.edge_index[1], g.num_nodes))
    u = Graph(torch.cat([g.edge_index, g.edge_index.flip(0)], 1), g.num_nodes)
    torch.testing.assert_close(ops.rwr(u.to(CUDA), 0.2, dtype=D).cpu(), ops.rwr(u, 0.2, dtype=D),
                               **TOL)


def test_to_dense_batch_matches_cpu():
    gs = [Graph(torch.tensor([[0, 1], [1, 0]]), n, x=torch.randn(n, 3, dtype=D))
          for n in (2, 5, 3)]
    b = batch(gs)
    xc, mc = ops.to_dense_batch(b.x, b)
    xg, mg = ops.to_dense_batch(b.x.to(CUDA), b.to(CUDA))
    torch.testing.assert_close(xg.cpu(), xc)
    assert torch.equal(mg.cpu(), mc)


# --------------------------------------------------------------------------- layers
@pytest.mark.parametrize("name", NAMES)
def test_layer_matches_cpu_forward_and_backward(name):
    cpu = make_layer(name)
    gpu = make_layer(name).to(CUDA)
    g, x = graph_for(name, "random", seed=4)
    outs, grads = [], []
    for layer, dev in ((cpu, "cpu"), (gpu, CUDA)):
        xd = x.to(dev).requires_grad_()
        out = layer(xd, g.to(dev))
        w = torch.linspace(-1, 1, out.numel(), dtype=D, device=dev).view_as(out)
        params = [p for _, p in layer.named_parameters()]
        gs = torch.autograd.grad((out * w).sum(), [xd, *params], allow_unused=True)
        outs.append(out.detach().cpu())
        grads.append([None if t is None else t.cpu() for t in gs])
    torch.testing.assert_close(outs[1], outs[0], **TOL)
    if is_lstm(name):
        # the LSTM reads each node's neighbours in a random order, drawn differently on each
        # device; on these graphs (equal neighbour features) the output and the parameter
        # gradients are order-free, the split of d/dx among equal neighbours is not
        grads = [g[1:] for g in grads]
    for gc, gg in zip(*grads, strict=True):
        assert (gc is None) == (gg is None)
        if gc is not None:
            torch.testing.assert_close(gg, gc, **TOL)


def test_gat_attention_weights_match_cpu():
    name = "gat-edge"
    cpu, gpu = make_layer(name), make_layer(name).to(CUDA)
    g, x = graph_for(name, "random", seed=5)
    _, (ei_c, a_c) = cpu(x, g, return_attention=True)
    _, (ei_g, a_g) = gpu(x.to(CUDA), g.to(CUDA), return_attention=True)
    # same edges (as a multiset, order may differ), same coefficient on each
    key = lambda ei, a: sorted(zip(ei[0].tolist(), ei[1].tolist(),  # noqa: E731
                                   a.detach().cpu().round(decimals=9).tolist(), strict=True))
    assert key(ei_g.cpu(), a_g) == key(ei_c, a_c)


def test_memory_layer_and_kl_match_cpu():
    torch.manual_seed(0)
    cpu = MemoryLayer(6, 5, num_keys=4, num_heads=3).double()
    gpu = MemoryLayer(6, 5, num_keys=4, num_heads=3).double()
    gpu.load_state_dict(cpu.state_dict())
    gpu.to(CUDA)
    q = torch.randn(3, 7, 6, dtype=D)
    mask = torch.ones(3, 7, dtype=torch.bool)
    mask[1, 4:] = False
    mask[2, 2:] = False
    outs = []
    for layer, dev in ((cpu, "cpu"), (gpu, CUDA)):
        qd = q.to(dev).requires_grad_()
        out, C = layer(qd, mask.to(dev))
        loss = out.pow(2).sum() + memory_kl_loss(C, mask.to(dev), "sum")
        grads = torch.autograd.grad(loss, [qd, *layer.parameters()])
        outs.append([t.detach().cpu() for t in (out, C, loss, *grads)])
    for a, b in zip(*outs, strict=True):
        torch.testing.assert_close(b, a, **TOL)
    # the packed-rows path on CUDA equals the padded path on CPU
    gs = [Graph(torch.empty(2, 0, dtype=torch.long), int(n)) for n in mask.sum(1)]
    b = batch(gs)
    rows = torch.cat([q[i, :int(n)] for i, n in enumerate(mask.sum(1))])
    out_p, C_p, m_p = gpu.forward_batch(rows.to(CUDA), b.to(CUDA))
    torch.testing.assert_close(out_p.cpu(), outs[0][0], **TOL)
    torch.testing.assert_close(C_p.cpu()[m_p.cpu()], outs[0][1][mask], **TOL)


# --------------------------------------------------------------------------- models, losses
def _mol(seed: int, n: int) -> Graph:
    gen = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, n, generator=gen) < 0.5).triu(1)
    ei = (a | a.t()).nonzero().t()
    return Graph(ei, n, x=torch.randn(n, 3, generator=gen, dtype=D),
                 edge_attr=torch.randn(ei.shape[1], 2, generator=gen, dtype=D))


@pytest.mark.parametrize("kind", ["gmn", "gmn-two-branch", "memgnn"])
def test_graph_models_match_cpu(kind):
    def build() -> torch.nn.Module:
        torch.manual_seed(0)
        if kind == "memgnn":
            return MemGNN(3, 4, 2, hidden_dim=8, num_gnn_heads=2, num_heads=2).double().eval()
        query = "two_branch" if kind.endswith("branch") else "paper"
        return GMN(3, 4, 8, hidden_dim=8, num_heads=2, query=query, topo_hidden=4).double().eval()
    gs = [_mol(s, n) for s, n in ((1, 4), (2, 7), (3, 5))]
    if kind != "memgnn":
        gs = [Graph(g.edge_index, g.num_nodes, x=torch.cat([rwr_features(g, 8).double(), g.x], 1))
              for g in gs]
    b = batch(gs)
    cpu, gpu = build(), build().to(CUDA)
    res = []
    for model, dev in ((cpu, "cpu"), (gpu, CUDA)):
        out, assign = model(b.to(dev))
        loss = out.pow(2).sum() + model.kl_loss(assign, "sum")
        grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
        res.append([out.detach().cpu(), loss.detach().cpu()]
                   + [t.cpu() for t in grads if t is not None])
    assert len(res[0]) == len(res[1])
    for a, c in zip(*res, strict=True):
        torch.testing.assert_close(c, a, **TOL)


def test_autoencoder_losses_match_cpu():
    gen = torch.Generator().manual_seed(6)
    n = 50
    src = torch.randint(0, n, (120,), generator=gen)
    dst = torch.randint(0, n, (120,), generator=gen)
    keep = src != dst
    ei = torch.stack([src[keep], dst[keep]])
    ei = torch.unique(torch.cat([ei, ei.flip(0)], 1), dim=1)
    z = torch.randn(n, 8, generator=gen, dtype=D)
    _both(lambda dev, z: full_recon_loss(z, ei.to(dev), block_rows=7), z)
    _both(lambda dev, z: softplus_gram_sum(z, block_rows=9), z)
    mu, logstd = torch.randn(n, 4, dtype=D), 0.1 * torch.randn(n, 4, dtype=D)
    _both(lambda dev, m, s: kl_term(m, s), mu, logstd)


# --------------------------------------------------------------------------- tasks on CUDA
def test_node_training_on_cuda_learns_and_repeats_exactly():
    from gnnkit.tasks.node_classification import prepare, train_seed

    data = prepare(csbm(num_nodes=300, num_classes=3, num_features=16, seed=3), str(CUDA))
    assert data.x.device.type == CUDA.type
    differ = []
    for model in ("gcn", "gat", "sage"):
        extra = {"num_heads": 2} if model == "gat" else {}
        cfg = make_config("node", model=model, dataset="synthetic", threads=1, quiet=True,
                          save=False, device=str(CUDA), epochs=100, lr=0.02, early_stopping="none",
                          **extra)
        a, b = train_seed(cfg, 5, data), train_seed(cfg, 5, data)
        assert a.metrics["val_acc"] > 0.7, (model, a.metrics)   # chance: 0.33
        strip = lambda m: {k: v for k, v in m.items() if k != "time_per_epoch"}  # noqa: E731
        if strip(a.metrics) != strip(b.metrics) or not all(
                torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict):
            differ.append(model)
    assert differ == [], f"not bit-for-bit repeatable on {CUDA}: {differ}"


def test_link_and_graph_tasks_train_on_cuda(shared_datasets):
    from gnnkit.tasks.graph_prediction import run_folds
    from gnnkit.tasks.link_prediction import run_seeds

    cfg = make_config("link", model="vgae", dataset="cora", root=str(shared_datasets),
                      device=str(CUDA), quiet=True, save=False, threads=1)
    m = run_seeds(cfg)
    assert m["test_auc_mean"] > 0.88 and m["test_ap_mean"] > 0.88, m
    cfg = make_config("graph", model="memgnn", dataset="mutag", root=str(shared_datasets),
                      device=str(CUDA), quiet=True, save=False, threads=1, epochs=40,
                      protocol="holdout", max_folds=1)
    m = run_folds(cfg)
    assert m["val_acc_mean"] > 0.75 and m["test_loss_mean"] < 1.0, m   # majority class: 0.66


@pytest.mark.parametrize("model", ["gmn", "memgnn"])
def test_graph_training_on_cuda_overfits_and_repeats_exactly(model):
    from gnnkit.tasks.graph_prediction import run_folds

    cfg = make_config("graph", model=model, dataset="synthetic", save=False, quiet=True,
                      folds=4, max_folds=1, epochs=40, hidden_dim=16, num_heads=2,
                      protocol="holdout", key_init="kmeans", lr=0.01, device=str(CUDA))
    a, b = run_folds(cfg), run_folds(cfg)
    assert a["train_acc_mean"] == 1.0, a
    keys = ("val_loss_mean", "test_loss_mean", "train_acc_mean", "best_epoch_mean")
    assert [a[k] for k in keys] == [b[k] for k in keys]


@pytest.mark.parametrize("model", ["gae", "vgae"])
def test_link_training_on_cuda_repeats_exactly(model, shared_datasets):
    from gnnkit.tasks.link_prediction import load_graph, run

    cfg = make_config("link", model=model, dataset="cora", root=str(shared_datasets),
                      device=str(CUDA), quiet=True, save=False, threads=1, epochs=50)
    g = load_graph(cfg)[1]
    a, b = run(cfg, 3, g), run(cfg, 3, g)
    strip = lambda m: {k: v for k, v in m.items() if "time" not in k}  # noqa: E731
    assert strip(a) == strip(b)
    assert a["test_auc"] > 0.8, a


def test_dropout_on_the_device_follows_an_explicit_generator():
    from gnnkit.nn.functional import dropout

    x = torch.randn(64, 32, device=CUDA, requires_grad=True)
    outs = []
    for _ in range(2):
        torch.manual_seed(len(outs))          # a different global state each time
        gen = torch.Generator(device=CUDA).manual_seed(7)
        outs.append(dropout(x, 0.5, True, generator=gen))
    assert torch.equal(outs[0], outs[1])       # the explicit generator alone decides
    kept = outs[0] != 0
    assert 0.3 < kept.float().mean() < 0.7
    torch.testing.assert_close(outs[0][kept], 2 * x.detach()[kept])
    outs[0].sum().backward()
    assert torch.equal(x.grad, 2.0 * kept)
