"""GMN / MemGNN: RWR against a dense solve, permutation invariance, batch independence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnnkit import ops
from gnnkit.datasets.graph_synthetic import cycles_vs_cliques
from gnnkit.graph import Graph, batch
from gnnkit.models.memory import GMN, GRAPH_MODELS, MemGNN, rwr_features
from gnnkit.nn.functional import dropout


def _graph(seed=0, n=6, p=0.5, feat=3, edge_dim=None) -> Graph:
    gen = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, n, generator=gen) < p).triu(1)
    a = a | a.t()
    ei = a.nonzero().t()
    ea = None if edge_dim is None else torch.randn(ei.shape[1], edge_dim, generator=gen)
    return Graph(ei, n, x=torch.randn(n, feat, generator=gen), edge_attr=ea)


def test_rwr_matches_dense_inverse():
    g = _graph(n=7, p=0.4)
    g = Graph(torch.cat([g.edge_index, torch.tensor([[6], [6]])], 1), 8)  # a loop + isolated 7
    a = np.zeros((8, 8))
    for s, d in g.edge_index.t().tolist():
        a[s, d] += 1
    deg = a.sum(1)
    dinv = np.array([1 / np.sqrt(v) if v > 0 else 0.0 for v in deg])
    c = 0.3
    ref = (1 - c) * np.linalg.inv(np.eye(8) - c * dinv[:, None] * a * dinv[None, :])
    np.testing.assert_allclose(ops.rwr(g, c, dtype=torch.float64).numpy(), ref, atol=1e-12)
    assert float(ops.rwr(g, c)[7, 7]) == pytest.approx(1 - c)   # isolated: only the restart
    with pytest.raises(ValueError):
        ops.rwr(g, 1.0)
    with pytest.raises(ValueError, match="one graph"):
        ops.rwr(batch([g, g]))


def test_rwr_features_sorted_padded_and_equivariant():
    g = _graph(n=5)
    s = rwr_features(g, 8)
    assert s.shape == (5, 8) and torch.all(s[:, 5:] == 0)
    assert torch.all(s[:, :4] >= s[:, 1:5])
    perm = torch.randperm(5)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(5)
    gp = Graph(inv[g.edge_index], 5)   # node perm[k] becomes node k
    torch.testing.assert_close(rwr_features(gp, 8), s[perm])
    assert rwr_features(g, 3).shape == (5, 3)


def _models(in_dim=3, edge_dim=2, topo=8):
    torch.manual_seed(0)
    return [GMN(in_dim, 4, topo, hidden_dim=8, num_heads=2).double().eval(),
            GMN(in_dim, 4, topo, hidden_dim=8, num_heads=2, query="two_branch",
                topo_hidden=4).double().eval(),
            MemGNN(in_dim, 4, edge_dim, hidden_dim=8, num_gnn_heads=2,
                   num_heads=2).double().eval()]


def _input(model, g: Graph, topo=8) -> Graph:
    x = g.x.double()
    if isinstance(model, GMN):
        x = torch.cat([rwr_features(g, topo, 0.1).double(), x], 1)
    return Graph(g.edge_index, g.num_nodes, x=x,
                 edge_attr=None if g.edge_attr is None else g.edge_attr.double())


@pytest.mark.parametrize("k", [0, 1, 2])
def test_graph_output_is_permutation_invariant(k):
    model = _models()[k]
    g = _graph(n=7, edge_dim=2)
    perm = torch.randperm(7)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(7)
    gp = Graph(inv[g.edge_index], 7, x=g.x[perm], edge_attr=g.edge_attr)
    out, assign = model(batch([_input(model, g)]))
    out_p, assign_p = model(batch([_input(model, gp)]))
    torch.testing.assert_close(out_p, out)
    torch.testing.assert_close(assign_p[0][0][0], assign[0][0][0][perm])
    assert [a[0].shape[-1] for a in assign] == [10, 1]


@pytest.mark.parametrize("k", [0, 1, 2])
def test_batch_members_do_not_interact(k):
    model = _models()[k]
    gs = [_input(model, _graph(seed=s, n=n, edge_dim=2)) for s, n in ((1, 4), (2, 7), (3, 5))]
    out, assign = model(batch(gs))
    for i, g in enumerate(gs):
        o, a = model(batch([g]))
        torch.testing.assert_close(out[i:i + 1], o)
        torch.testing.assert_close(assign[0][0][i, :g.num_nodes], a[0][0][0])
    # the KL loss of a padded batch equals the sum of the single-graph losses (reduction sum)
    kl = model.kl_loss(assign, "sum")
    torch.testing.assert_close(kl, sum(model.kl_loss(model(batch([g]))[1], "sum") for g in gs))


def test_key_parameters_split_and_registry():
    m = GMN(3, 2, 5)
    keys, others = m.key_parameters(), m.other_parameters()
    assert len(keys) == 2 and all(p.shape[0] == 5 for p in keys)
    assert len(keys) + len(others) == len(list(m.parameters()))
    assert set(GRAPH_MODELS) >= {"gmn", "memgnn"}
    ds = cycles_vs_cliques(6)
    assert [int(g.y) for g in ds.graphs] == [0, 1, 0, 1, 0, 1]


@pytest.mark.parametrize("query", ["paper", "two_branch"])
def test_gmn_queries_read_only_the_batchs_rwr_columns_and_match_full_width(query):
    # topo = 12 columns, graphs of 4 and 7 nodes: the model multiplies 7 columns of S.
    torch.manual_seed(0)
    model = GMN(3, 2, 12, hidden_dim=8, num_heads=2, query=query, topo_hidden=4).double().eval()
    gs = [_input(model, _graph(seed=s, n=n), topo=12) for s, n in ((1, 4), (2, 7))]
    g = batch(gs)
    s, x = g.x[:, :12], g.x[:, 12:]
    act = lambda t: torch.nn.functional.leaky_relu(t, 0.2)  # noqa: E731
    if query == "paper":
        ref = act(model.w1(torch.cat([act(model.w0(s)), x], 1)))
    else:
        ref = torch.cat([act(model.wb(act(model.wa(x)))), act(model.ws(s))], 1)
    torch.testing.assert_close(model.queries(g), ref)
    # a non-zero entry beyond the largest graph would be ignored, so the padding must be zero
    assert torch.all(s[:, 7:] == 0)


def test_gmn_two_branch_dropout_sits_where_the_official_code_puts_it():
    # training mode, the same RNG stream: the forward pass equals a transcription with dropout
    # after each linear map of the two branches, none on Q0, one before the second layer
    torch.manual_seed(0)
    p = 0.4
    model = GMN(3, 2, 12, hidden_dim=8, num_heads=2, query="two_branch", topo_hidden=4,
                dropout=p).double().train()
    g = batch([_input(model, _graph(seed=s, n=n), topo=12) for s, n in ((1, 4), (2, 7))])
    torch.manual_seed(5)
    out, _ = model(g)
    torch.manual_seed(5)
    act = lambda t: torch.nn.functional.leaky_relu(t, 0.2)  # noqa: E731
    d = lambda t: dropout(t, p, True)  # noqa: E731   (gnnkit's, as the model draws it)
    s, x = g.x[:, :7], g.x[:, 12:]                   # 7 = the largest graph's RWR columns
    hx = act(d(model.wb(act(d(model.wa(x))))))
    hs = act(d(torch.nn.functional.linear(s, model.ws.weight[:, :7], model.ws.bias)))
    h, _, _ = model.memory[0].forward_batch(torch.cat([hx, hs], 1), g)
    h, _ = model.memory[1](d(h))
    torch.testing.assert_close(out, model.head(h.mean(1)))
    torch.manual_seed(5)
    assert not torch.equal(model(g)[0], model.eval()(g)[0])   # dropout did act


def test_gmn_block_rows_product_matches_the_dense_one_with_gradients(monkeypatch):
    # three graphs of 3, 7 and 5 nodes, RWR width 9: each graph's rows multiplied by its own
    # n x n block give S W^T + b and the same gradients for W and b as the whole [N, 9] product
    from gnnkit.models import memory
    from gnnkit.models.memory import _block_rows_linear

    monkeypatch.setattr(memory, "_BLOCK_MIN_SKIP", 0)     # blocks even for these tiny graphs
    calls = []
    monkeypatch.setattr(memory._BlockRows, "apply",
                        lambda *a, f=memory._BlockRows.apply: calls.append(1) or f(*a))
    torch.manual_seed(0)
    sizes, topo = (3, 7, 5), 9
    gs = [_input(GMN(2, 2, topo, hidden_dim=8, num_heads=2), _graph(seed=k, n=n), topo=topo)
          for k, n in enumerate(sizes)]
    g = batch(gs)
    s = g.x[:, :topo].double()
    assert all(torch.all(s[int(g.ptr[b]):int(g.ptr[b + 1]), n:] == 0)
               for b, n in enumerate(sizes))                  # the skipped part is zero
    w = torch.randn(4, topo, dtype=torch.double, requires_grad=True)
    bias = torch.randn(4, dtype=torch.double, requires_grad=True)
    up = torch.randn(s.shape[0], 4, dtype=torch.double)
    got = _block_rows_linear(s, w, bias, g.ptr)
    (got * up).sum().backward()
    gw, gb = w.grad.clone(), bias.grad.clone()
    w.grad = bias.grad = None
    ref = torch.nn.functional.linear(s, w, bias)
    (ref * up).sum().backward()
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(gw, w.grad)
    torch.testing.assert_close(gb, bias.grad)
    no_bias = _block_rows_linear(s, w.detach(), None, g.ptr)
    torch.testing.assert_close(no_bias, s @ w.detach().t())
    assert len(calls) == 2                                    # both went through the blocks
