"""The fused GAT attention (``ops.gat_attention``, ``GATConv(fused=True)``) against the plain
composition it replaces (``GATConv(fused=False)``: gathers, leaky_relu, segment_softmax,
dropout, multihead_spmm): outputs and gradients in float32 to 1e-5, float64 gradcheck,
dropout that draws the same mask from the same generator state in both paths and is
redrawn (not stored) for the backward pass, and what the fused path saves for backward.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch.autograd import gradcheck
from torch.func import functional_call

from gnnkit import Graph, ops
from gnnkit.nn import GATConv

F_IN, F_E = 5, 3
TOL32 = dict(rtol=1e-5, atol=1e-5)

CONFIGS = {
    "concat": dict(out_dim=4, num_heads=3),
    "mean": dict(out_dim=3, num_heads=2, concat=False),
    "one-head-nobias": dict(out_dim=4, num_heads=1, bias=False),
    "edge": dict(out_dim=2, num_heads=2, edge_dim=F_E),
    "edge-mean": dict(out_dim=3, num_heads=2, concat=False, edge_dim=F_E),
    "slope": dict(out_dim=4, num_heads=2, negative_slope=0.05),
}


def make_graph(kind: str, seed: int = 0,
               dtype: torch.dtype = torch.float32) -> tuple[Graph, torch.Tensor]:
    """Random graphs with isolated nodes, duplicate edges and self-loops, and corner cases."""
    gen = torch.Generator().manual_seed(seed)
    if kind == "random":
        n = 12                                    # nodes 10 and 11 are isolated
        src = torch.randint(0, 10, (40,), generator=gen)
        dst = torch.randint(0, 10, (40,), generator=gen)
        ei = torch.stack([src, dst])
        ei = torch.cat([ei, ei[:, :6], torch.tensor([[2, 5], [2, 5]])], 1)   # duplicates, loops
    elif kind == "star":                          # one node with many in-edges, others none
        n = 9
        ei = torch.stack([torch.arange(1, 9), torch.zeros(8, dtype=torch.long)])
    elif kind == "no_edges":
        n, ei = 4, torch.zeros(2, 0, dtype=torch.long)
    elif kind == "one_node":
        n, ei = 1, torch.zeros(2, 0, dtype=torch.long)
    else:
        raise ValueError(kind)
    ea = torch.randn(ei.shape[1], F_E, generator=gen, dtype=dtype)
    x = torch.randn(n, F_IN, generator=gen, dtype=dtype)
    return Graph(ei, n, edge_attr=ea), x


def make_pair(cfg: dict, attn_dropout: float, dtype: torch.dtype = torch.float32):
    torch.manual_seed(0)
    fused = GATConv(F_IN, attn_dropout=attn_dropout, **cfg).to(dtype)
    with torch.no_grad():
        if fused.bias is not None:
            fused.bias.uniform_(-0.5, 0.5)
    ref = copy.deepcopy(fused)
    ref.fused = False
    assert fused.fused and "fused=False" in repr(ref)
    return fused, ref


def run(layer: GATConv, g: Graph, x: torch.Tensor, seed: int) -> list[torch.Tensor]:
    """Output, grad wrt x, and every parameter's grad, with the global RNG at ``seed``."""
    layer.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    torch.manual_seed(seed)
    out = layer(x, g)
    w = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view(out.shape)
    (out * w).sum().backward()
    return [out.detach(), x.grad] + [p.grad for p in layer.parameters()]


# --------------------------------------------------------------------------- fused vs reference
@pytest.mark.parametrize("kind", ["random", "star", "no_edges", "one_node"])
@pytest.mark.parametrize("attn_dropout", [0.0, 0.5])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_fused_matches_reference_float32(config, attn_dropout, kind):
    fused, ref = make_pair(CONFIGS[config], attn_dropout)
    g, x = make_graph(kind, seed=1)
    for mode in ("train", "eval"):
        fused.train(mode == "train")
        ref.train(mode == "train")
        for seed in (0, 1):                       # same seed -> same dropout mask in both
            got, want = run(fused, g, x, seed), run(ref, g, x, seed)
            names = ["out", "x.grad"] + [n for n, _ in fused.named_parameters()]
            for name, a, b in zip(names, got, want, strict=True):
                torch.testing.assert_close(a, b, **TOL32, msg=f"{name} ({mode}, seed {seed})")


def test_dropout_changes_with_the_seed_and_reproduces():
    fused, ref = make_pair(CONFIGS["concat"], 0.5)
    g, x = make_graph("random", seed=2)
    a, b = run(fused, g, x, 0), run(fused, g, x, 1)
    assert not torch.allclose(a[0], b[0])
    torch.testing.assert_close(run(fused, g, x, 0), a, rtol=0, atol=0)
    fused.eval()
    ev = run(fused, g, x, 0)[0]
    assert not torch.allclose(a[0], ev)


def test_dropout_one_drops_everything():
    fused, ref = make_pair(CONFIGS["mean"], 1.0)
    g, x = make_graph("random", seed=3)
    got, want = run(fused, g, x, 0), run(ref, g, x, 0)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, **TOL32)
    torch.testing.assert_close(got[0], fused.bias.detach().expand_as(got[0]))


@pytest.mark.parametrize("config", list(CONFIGS))
def test_fused_attention_weights_match_reference(config):
    fused, ref = make_pair(CONFIGS[config], 0.5)
    g, x = make_graph("random", seed=4)
    for layer in (fused, ref):
        layer.train()
    torch.manual_seed(0)
    out_f, (ei_f, alpha_f) = fused(x, g, return_attention=True)
    torch.manual_seed(0)
    out_r, (ei_r, alpha_r) = ref(x, g, return_attention=True)
    assert torch.equal(ei_f, ei_r)
    torch.testing.assert_close(out_f, out_r, **TOL32)
    torch.testing.assert_close(alpha_f, alpha_r, **TOL32)
    assert not alpha_f.requires_grad


# --------------------------------------------------------------------------- gradcheck (float64)
@pytest.mark.parametrize("attn_dropout", [0.0, 0.5])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_fused_layer_gradcheck(config, attn_dropout):
    fused, _ = make_pair(CONFIGS[config], attn_dropout, torch.float64)
    fused.train()
    g, x = make_graph("random", seed=5, dtype=torch.float64)
    names = [n for n, _ in fused.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in fused.parameters()]
    x = x.clone().requires_grad_(True)

    def f(x, *ps):
        torch.manual_seed(0)                     # the same dropout mask on every call
        return functional_call(fused, dict(zip(names, ps, strict=True)), (x, g))

    assert gradcheck(f, (x, *params), fast_mode=True)


@pytest.mark.parametrize("dropout", [0.0, 0.4])
@pytest.mark.parametrize("with_edge", [False, True])
def test_gat_attention_op_gradcheck(with_edge, dropout):
    g, _ = make_graph("random", seed=6)
    ga = ops.gat_graph(g)
    n, heads, c, e = ga.num_nodes, 3, 2, ga.num_edges
    gen = torch.Generator().manual_seed(7)
    h = torch.randn(n, heads, c, dtype=torch.float64, generator=gen, requires_grad=True)
    a_s = torch.randn(heads, c, dtype=torch.float64, generator=gen, requires_grad=True)
    a_d = torch.randn(1, heads, c, dtype=torch.float64, generator=gen, requires_grad=True)
    s_e = torch.randn(e, heads, dtype=torch.float64, generator=gen, requires_grad=True)

    def f(h, a_s, a_d, s_e):
        drawn = torch.Generator().manual_seed(8)   # a fresh generator: the same mask each call
        return ops.gat_attention(ga, h, a_s, a_d, s_e if with_edge else None, 0.2, dropout,
                                 drawn)[0]

    assert gradcheck(f, (h, a_s, a_d, s_e), fast_mode=False)


# --------------------------------------------------------------------------- the dropout mask
def test_op_matches_the_composition_with_an_explicit_generator():
    """gat_attention(generator=G) drops what nn.functional.dropout(alpha, generator=G) drops,
    and its backward redraws that mask even after G and the global generator moved on."""
    from gnnkit.nn.functional import dropout

    g, _ = make_graph("random", seed=9)
    ga = ops.gat_graph(g)
    s = ops._structure(ga)
    n, heads, c = ga.num_nodes, 4, 3
    torch.manual_seed(10)
    h0, a_s0, a_d0 = torch.randn(n, heads, c), torch.randn(heads, c), torch.randn(heads, c)
    grad = torch.randn(n, heads, c)

    def leaves():
        return [t.clone().requires_grad_(True) for t in (h0, a_s0, a_d0)]

    h, a_s, a_d = leaves()
    gen = torch.Generator().manual_seed(11)
    out, alpha = ops.gat_attention(ga, h, a_s, a_d, None, 0.2, 0.3, gen, return_alpha=True)
    torch.randn(100, generator=gen), torch.randn(100)      # both generators move on
    out.backward(grad)

    hr, a_sr, a_dr = leaves()
    s_src, s_dst = (hr * a_sr).sum(-1), (hr * a_dr).sum(-1)
    z = torch.nn.functional.leaky_relu(ops.gather_src(ga, s_src) + ops.gather_dst(ga, s_dst), 0.2)
    alpha_r = ops.segment_softmax(z, ga.csr[0], s.dst_csr)
    used = dropout(alpha_r, 0.3, generator=torch.Generator().manual_seed(11))
    out_r = ops.multihead_spmm(ga, used, hr)
    out_r.backward(grad)

    assert bool((used == 0).any()) and bool((used != 0).any())
    torch.testing.assert_close(alpha, alpha_r.detach(), **TOL32)
    torch.testing.assert_close(out, out_r, **TOL32)
    for a, b in ((h, hr), (a_s, a_sr), (a_d, a_dr)):
        torch.testing.assert_close(a.grad, b.grad, **TOL32)


def test_evaluation_draws_no_random_numbers():
    fused, _ = make_pair(CONFIGS["concat"], 0.5)
    fused.eval()
    g, x = make_graph("random", seed=12)
    torch.manual_seed(0)
    state = torch.get_rng_state()
    fused(x, g)
    assert torch.equal(state, torch.get_rng_state())


# --------------------------------------------------------------------------- what is saved
def _saved(fn) -> list[torch.Tensor]:  # noqa: ANN001
    saved: list[torch.Tensor] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return saved


@pytest.mark.parametrize("attn_dropout", [0.0, 0.5])
def test_fused_saves_one_edge_tensor(attn_dropout):
    """Between forward and backward the fused path keeps one [E', H] tensor (the softmax
    numerators) and no dropout mask; the reference keeps several."""
    g, _ = make_graph("random", seed=13)
    ga = ops.gat_graph(g)
    heads, e = 3, ga.num_edges
    torch.manual_seed(0)
    h = torch.randn(ga.num_nodes, heads, 2, requires_grad=True)
    a_s = torch.randn(heads, 2, requires_grad=True)
    a_d = torch.randn(heads, 2, requires_grad=True)
    saved = _saved(lambda: ops.gat_attention(ga, h, a_s, a_d, None, 0.2, attn_dropout))
    per_edge = [t for t in saved if t.dim() >= 1 and t.shape[0] == e]
    assert [tuple(t.shape) for t in per_edge] == [(e, heads)]
    assert all(t.dtype == h.dtype for t in saved)                  # no bool mask

    fused, ref = make_pair(CONFIGS["concat"], attn_dropout)
    fused.train(), ref.train()
    g, x = make_graph("random", seed=13)

    def edge_bytes(layer: GATConv) -> int:
        torch.manual_seed(0)
        ts = _saved(lambda: layer(x, g))
        seen = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
                for t in ts if t.dim() >= 1 and t.shape[0] == e}
        return sum(seen.values())

    assert edge_bytes(fused) < edge_bytes(ref)


def test_fused_path_leaves_inputs_unchanged():
    fused, _ = make_pair(CONFIGS["edge"], 0.5)
    fused.train()
    g, x = make_graph("random", seed=14)
    before = (g.edge_index.clone(), g.edge_attr.clone(), x.clone())
    run(fused, g, x, 0)
    assert torch.equal(g.edge_index, before[0]) and torch.equal(g.edge_attr, before[1])
    assert torch.equal(x, before[2])


def test_gat_attention_rejects_bad_shapes():
    g, _ = make_graph("random")
    ga = ops.gat_graph(g)
    h = torch.randn(ga.num_nodes, 2, 3)
    with pytest.raises(ValueError, match="att_src"):
        ops.gat_attention(ga, h, torch.randn(2, 4), torch.randn(2, 3))
    with pytest.raises(ValueError, match="s_edge"):
        ops.gat_attention(ga, h, torch.randn(2, 3), torch.randn(2, 3), torch.randn(3, 2))
    with pytest.raises(ValueError, match="dropout"):
        ops.gat_attention(ga, h, torch.randn(2, 3), torch.randn(2, 3), dropout=1.5)


@pytest.mark.parametrize("dups", [False, True])
def test_batch_for_gat_assembles_the_batch_structure_without_changing_outputs(dups):
    """ops.batch_for_gat builds each graph's attention structure once and concatenates them;
    its index arrays equal those gat_graph(batch(...)) sorts for, and GATConv (fused and not,
    with edge features and attention dropout) gives the same outputs, attention and
    gradients. Duplicate edges may change places within their row, so with duplicates the
    dropout mask can fall on the other copy: that case is checked without dropout."""
    from gnnkit import batch, ops

    gen = torch.Generator().manual_seed(3)
    graphs = []
    for _ in range(9):
        n = int(torch.randint(1, 9, (), generator=gen))
        ei = torch.randint(0, n, (2, int(torch.randint(0, 3 * n, (), generator=gen))),
                           generator=gen)
        if not dups:
            ei = torch.unique(ei, dim=1)
            ei = ei[:, torch.randperm(ei.shape[1], generator=gen)]
        graphs.append(Graph(ei, n, x=torch.randn(n, F_IN, generator=gen, dtype=torch.float64),
                            edge_attr=torch.randn(ei.shape[1], 3, generator=gen,
                                                  dtype=torch.float64)))
    assert dups == any(g.coalesce().num_edges < g.num_edges for g in graphs)
    plain = batch(graphs)
    fast = ops.batch_for_gat(graphs)
    assert ops.gat_graph(fast) is fast and fast.num_nodes == plain.num_nodes
    a, b = ops._structure(ops.gat_graph(plain)), ops._structure(fast)
    names = ["rowptr", "col", "colptr", "row", "dst_csr", "src_csr", "in_deg", "out_deg"]
    for name in names + ([] if dups else ["t_from_csr"]):
        assert getattr(a, name).dtype == getattr(b, name).dtype
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    if not dups:     # the same edges, with the same features, at every CSR position
        ga = ops.gat_graph(plain)
        assert torch.equal(ga.edge_index[:, a.perm], fast.edge_index[:, b.perm])
        assert torch.equal(ga.edge_attr[a.perm], fast.edge_attr[b.perm])
    tol = dict(rtol=1e-12, atol=1e-12)
    for fused in (True, False):
        torch.manual_seed(0)
        layer = GATConv(F_IN, 4, num_heads=2, edge_dim=3, attn_dropout=0.0 if dups else 0.3,
                        fused=fused).double()
        outs = []
        for g, s in ((plain, a), (fast, b)):
            x = g.x.clone().requires_grad_()
            torch.manual_seed(1)
            out, (_, alpha) = layer(x, g, return_attention=True)
            out.pow(2).sum().backward()
            outs.append((out.detach(), x.grad, alpha[s.perm]))    # alpha in CSR order
            layer.zero_grad()
        (o1, g1, a1), (o2, g2, a2) = outs
        torch.testing.assert_close(o1, o2, **tol)
        torch.testing.assert_close(g1, g2, **tol)
        if dups:
            a1, a2 = a1.sort(0).values, a2.sort(0).values
        torch.testing.assert_close(a1, a2, **tol)
