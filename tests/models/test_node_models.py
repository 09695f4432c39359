"""Node-level models: overfit, determinism, composition as the papers describe, embeddings."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gnnkit import Graph
from gnnkit.models import GAT, GCN, NODE_MODELS, GraphSAGE, register_node_model

N, F_IN, C = 30, 8, 4

# name -> factory(dropout) ; every model configuration the library offers
MODELS = {
    "gcn": lambda p: GCN(F_IN, 16, C, dropout=p),
    "gcn-3": lambda p: GCN(F_IN, 16, C, num_layers=3, dropout=p),
    "gat": lambda p: GAT(F_IN, 8, C, num_heads=4, dropout=p, attn_dropout=p),
    "gat-2out": lambda p: GAT(F_IN, 8, C, num_heads=2, out_heads=2, dropout=p, attn_dropout=p),
    "sage-mean": lambda p: GraphSAGE(F_IN, 16, C, aggregator="mean", dropout=p),
    "sage-pool": lambda p: GraphSAGE(F_IN, 16, C, aggregator="pool", dropout=p),
    "sage-lstm": lambda p: GraphSAGE(F_IN, 16, C, aggregator="lstm", dropout=p),
    "sage-gcn": lambda p: GraphSAGE(F_IN, 16, C, aggregator="gcn", dropout=p),
    "sage-norm": lambda p: GraphSAGE(F_IN, 16, C, dropout=p, normalize=True),
}


def random_graph(seed: int = 0) -> tuple[Graph, torch.Tensor, torch.Tensor]:
    """30 nodes, ~4 random in-edges each (undirected), random features, random labels."""
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, N, (2, 60), generator=gen)
    g = Graph(ei, N).remove_self_loops().to_undirected()
    x = torch.randn(N, F_IN, generator=gen)
    y = torch.randint(0, C, (N,), generator=gen)
    return g, x, y


@pytest.fixture
def one_thread():
    """Tiny problems: one intra-op thread (restored afterwards). With two threads on a busy
    2-core machine, OpenMP's spinning makes this 300-step loop 10-30x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", list(MODELS))
def test_overfits_random_labels(name, one_thread):
    # every model needs < 80 steps here; 200 leaves a wide margin
    torch.manual_seed(0)
    g, x, y = random_graph()
    model = MODELS[name](0.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    model.train()
    for _ in range(200):
        opt.zero_grad()
        loss = F.cross_entropy(model(x, g), y)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x, g).argmax(1) == y).float().mean().item()
    assert acc == 1.0, f"{name}: train accuracy {acc:.3f} after 200 steps"


def _outputs_and_grads(name: str, seed: int):
    torch.manual_seed(seed)
    model = MODELS[name](0.5).train()  # dropout on: the seed must cover it too
    g, x, y = random_graph(seed=1)
    out = model(x, g)
    F.cross_entropy(out, y).backward()
    return out.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("name", list(MODELS))
def test_deterministic_given_seed(name):
    out1, grads1 = _outputs_and_grads(name, seed=7)
    out2, grads2 = _outputs_and_grads(name, seed=7)
    assert torch.equal(out1, out2)
    assert all(torch.equal(a, b) for a, b in zip(grads1, grads2, strict=True))
    out3, _ = _outputs_and_grads(name, seed=8)
    assert not torch.equal(out1, out3)  # the seed matters


@pytest.mark.parametrize("name", list(MODELS))
def test_dropout_only_in_training(name):
    torch.manual_seed(0)
    model = MODELS[name](0.5)
    g, x, _ = random_graph()
    if "lstm" in name:  # its neighbour order is random: fix it per call
        def call():
            torch.manual_seed(123)
            return model(x, g)
    else:
        def call():
            return model(x, g)
    model.eval()
    ev = call()
    torch.manual_seed(1)
    assert torch.equal(ev, call())
    model.train()
    assert not torch.allclose(call(), ev)


def test_gcn_is_relu_stack_of_its_layers():
    torch.manual_seed(0)
    model = GCN(F_IN, 16, C, num_layers=3).eval()
    g, x, _ = random_graph()
    l0, l1, l2 = model.layers
    h = F.relu(l1(F.relu(l0(x, g)), g))
    torch.testing.assert_close(model.embed(x, g), h, rtol=0, atol=0)
    torch.testing.assert_close(model(x, g), l2(h, g), rtol=0, atol=0)
    assert [(layer.in_dim, layer.out_dim) for layer in model.layers] == [(F_IN, 16), (16, 16),
                                                                         (16, C)]


def test_gat_is_elu_stack_with_concat_hidden_and_averaged_output():
    torch.manual_seed(0)
    model = GAT(F_IN, 8, C, num_heads=4, out_heads=3).eval()
    g, x, _ = random_graph()
    l0, l1 = model.layers
    assert l0.concat and l0.num_heads == 4 and not l1.concat and l1.num_heads == 3
    h = F.elu(l0(x, g))
    torch.testing.assert_close(model.embed(x, g), h, rtol=0, atol=0)
    torch.testing.assert_close(model(x, g), l1(h, g), rtol=0, atol=0)


@pytest.mark.parametrize("aggregator", ["mean", "pool", "gcn"])
def test_sage_is_relu_stack_with_normalisation_after_the_nonlinearity(aggregator):
    torch.manual_seed(0)
    model = GraphSAGE(F_IN, 16, C, num_layers=3, aggregator=aggregator, normalize=True).eval()
    g, x, _ = random_graph()
    l0, l1, l2 = model.layers
    assert all(layer.aggregator == aggregator and not layer.normalize for layer in model.layers)
    h = F.normalize(F.relu(l0(x, g)), dim=-1)
    h = F.normalize(F.relu(l1(h, g)), dim=-1)
    torch.testing.assert_close(model.embed(x, g), h, rtol=0, atol=0)
    torch.testing.assert_close(model(x, g), l2(h, g), rtol=0, atol=0)


def test_sage_normalize_gives_unit_norm_hidden_rows():
    torch.manual_seed(0)
    model = GraphSAGE(F_IN, 16, C, num_layers=3, normalize=True).eval()
    g, x, _ = random_graph()
    seen = []
    handle = model.layers[1].register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    z = model.embed(x, g)
    handle.remove()
    for h in (seen[0], z):  # the input of layer 2 and the last hidden representation
        norms = h.norm(dim=1)
        nonzero = norms > 0  # an all-zero row after ReLU stays zero
        assert nonzero.sum() >= N - 2
        torch.testing.assert_close(norms[nonzero], torch.ones(int(nonzero.sum())))
    plain = GraphSAGE(F_IN, 16, C, num_layers=3, normalize=False).eval()
    assert not torch.allclose(plain.embed(x, g).norm(dim=1), torch.ones(N))


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_gat_attention_one_entry_per_layer(num_layers):
    torch.manual_seed(0)
    model = GAT(F_IN, 8, C, num_layers=num_layers, num_heads=4, out_heads=2).eval()
    g, x, _ = random_graph()
    att = model.attention(x, g)
    assert len(att) == num_layers
    e_loops = g.num_edges + N  # g has no self-loops; one is added per node
    for i, (ei, alpha) in enumerate(att):
        heads = 2 if i == num_layers - 1 else 4
        assert ei.shape == (2, e_loops) and alpha.shape == (e_loops, heads)
        sums = torch.zeros(N, heads).index_add_(0, ei[1], alpha)
        torch.testing.assert_close(sums, torch.ones(N, heads))
    # the last layer's attention is the one its forward uses on the model's hidden input
    _, (ei, alpha) = model.layers[-1](model.embed(x, g), g, return_attention=True)
    torch.testing.assert_close(att[-1][1], alpha, rtol=0, atol=0)


@pytest.mark.parametrize("name,dim", [("gcn", 16), ("gcn-3", 16), ("gat", 32), ("gat-2out", 16),
                                      ("sage-mean", 16), ("sage-lstm", 16)])
def test_embed_shape(name, dim):
    torch.manual_seed(0)
    model = MODELS[name](0.0).eval()
    g, x, _ = random_graph()
    assert model.embed(x, g).shape == (N, dim)
    assert model(x, g).shape == (N, C)


def test_single_layer_embed_is_input():
    model = GCN(F_IN, 16, C, num_layers=1).eval()
    g, x, _ = random_graph()
    assert model.embed(x, g) is x and model(x, g).shape == (N, C)


def test_registry():
    assert NODE_MODELS["gcn"] is GCN and NODE_MODELS["gat"] is GAT
    assert NODE_MODELS["sage"] is GraphSAGE
    with pytest.raises(ValueError, match="already registered"):
        register_node_model("gcn")(GCN)
    assert NODE_MODELS["gcn"] is GCN


@pytest.mark.parametrize("cls", [GCN, GAT, GraphSAGE])
def test_num_layers_must_be_positive(cls):
    with pytest.raises(ValueError, match="num_layers"):
        cls(F_IN, 16, C, num_layers=0)


@pytest.mark.parametrize("name", ["gcn", "gat", "sage-pool"])
def test_reset_parameters_changes_outputs(name):
    torch.manual_seed(0)
    model = MODELS[name](0.0).eval()
    g, x, _ = random_graph()
    before = model(x, g)
    model.reset_parameters()
    assert not torch.allclose(model(x, g), before)
