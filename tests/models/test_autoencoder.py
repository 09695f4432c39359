"""GAE / VGAE: the paper's reconstruction loss by hand, blockwise == dense (values and
gradients), the KL term against its closed form, the identity-feature path, sampling."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from gnnkit import Graph
from gnnkit.models import GAE, VGAE
from gnnkit.models.losses import (
    dense_recon_loss,
    full_recon_loss,
    kl_term,
    recon_weights,
    row_block,
    sampled_recon_loss,
    softplus_gram_sum,
    tile_shape,
)

sp = F.softplus


def sym(pairs, n):
    """Both directions of undirected pairs, de-duplicated: A_train's edge_index."""
    e = torch.tensor(pairs).t()
    e = torch.cat([e, e.flip(0)], 1)
    key = torch.unique(e[0] * n + e[1])
    return torch.stack([key // n, key % n])


def random_graph_edges(n, m, seed):
    g = torch.Generator().manual_seed(seed)
    e = torch.randint(n, (2, m), generator=g)
    e = e[:, e[0] != e[1]]
    return sym(e.t().tolist(), n)


def test_weights_follow_tkipf_gae():
    pos_weight, norm = recon_weights(3, 4)                 # N^2 = 9, E = 4
    assert pos_weight == pytest.approx(5 / 4) and norm == pytest.approx(9 / 10)
    with pytest.raises(ValueError):
        recon_weights(3, 0)


def test_full_loss_by_hand_two_nodes():
    # one edge: E = 2, pos_weight = (4 - 2) / 2 = 1, norm = 4 / 4 = 1, target = all ones
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])            # S = I
    ei = sym([[0, 1]], 2)
    want = (2 * sp(torch.tensor(-1.0)) + 2 * math.log(2)) / 4
    assert full_recon_loss(z, ei).item() == pytest.approx(want.item(), rel=1e-6)


def test_full_loss_by_hand_path():
    # path 0-1-2, z = [1, 0, -1]: S = [[1,0,-1],[0,0,0],[-1,0,1]]; non-edges (0,2), (2,0)
    z = torch.tensor([[1.0], [0.0], [-1.0]], dtype=torch.float64)
    ei = sym([[0, 1], [1, 2]], 3)
    pw, norm = 5 / 4, 9 / 10
    pos = [1, 0, 0, 0, 0, 0, 1]                            # diagonal 1,0,1 + four edges at 0
    neg = [-1, -1]
    total = sum(pw * math.log1p(math.exp(-s)) for s in pos)
    total += sum(math.log1p(math.exp(s)) for s in neg)
    assert full_recon_loss(z, ei).item() == pytest.approx(norm * total / 9, rel=1e-12)
    assert dense_recon_loss(z, ei).item() == pytest.approx(norm * total / 9, rel=1e-12)


@pytest.mark.parametrize(("rows", "cols"), [(1, None), (4, None), (7, None), (13, None),
                                            (40, None), (1000, None),   # 40 nodes: whole rows
                                            (4, 9), (7, 7), (13, 5), (3, 38), (64, 10)])
def test_blockwise_equals_dense_values_and_gradients(rows, cols):
    n = 40
    ei = random_graph_edges(n, 120, seed=rows)
    z = torch.randn(n, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    z.requires_grad_()
    a = full_recon_loss(z, ei, block_rows=rows, block_cols=cols)
    (ga,) = torch.autograd.grad(a, z)
    b = dense_recon_loss(z, ei)
    (gb,) = torch.autograd.grad(b, z)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    assert torch.allclose(ga, gb, rtol=1e-9, atol=1e-12)      # float64 summation order


def test_blockwise_float32_and_gradcheck():
    z = torch.randn(30, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: softplus_gram_sum(t, block_rows=7), (z,))
    z32 = torch.randn(300, 16) * 0.5
    ei = random_graph_edges(300, 900, seed=0)
    assert full_recon_loss(z32, ei, block_mb=0.01).item() == pytest.approx(
        dense_recon_loss(z32, ei).item(), rel=1e-5)
    assert row_block(300, 0.01) == 8                      # 10 KiB / (300 * 4 B)
    assert row_block(300, 100.0) == 300
    assert tile_shape(300, 0.01) == (64, 64)              # < 64 whole rows fit: 64 rows
    assert tile_shape(20000, 1.0) == (64, 4096)           # 1 MiB / (64 * 4 B) columns
    assert tile_shape(2000, 1.0) == (131, 2000)           # whole rows when 64 or more fit
    assert tile_shape(30, 0.0001) == (30, 30)             # N < 64: all rows, at least N cols
    z_big = torch.randn(700, 16) * 0.5
    ei = random_graph_edges(700, 2000, seed=1)
    assert full_recon_loss(z_big, ei, block_mb=0.05).item() == pytest.approx(   # 64 x 204 tiles
        dense_recon_loss(z_big, ei).item(), rel=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [6.0, 0.01])
def test_cpu_softplus_via_sigmoid_matches_softplus(dtype, scale):
    # the CPU path takes softplus(s) = relu(s) - log max(sigmoid(s), 1 - sigmoid(s)), with
    # the log of products of up to 64 rows: 150 rows (three products) with |S| up to ~300
    # (scale 6), or with every factor near 1/2 (scale 0.01: 0.5^150 would underflow)
    g = torch.Generator().manual_seed(3)
    z = (torch.randn(150, 8, dtype=torch.float64, generator=g) * scale).to(dtype)
    want = torch.nn.functional.softplus(z.double() @ z.double().t()).sum().item()
    got = softplus_gram_sum(z, block_rows=150)            # one block: every product path
    assert got.item() == pytest.approx(want, rel=1e-6 if dtype == torch.float32 else 1e-12)
    assert softplus_gram_sum(z, block_rows=11).item() == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_z_is_summed_in_float32(dtype):
    # 200 x 200 logits near 0: a float16 sum of the tile overflows (and products of 64
    # factors near 1/2 underflow); computed in float32 and cast back instead
    z = (torch.randn(200, 8, generator=torch.Generator().manual_seed(0)) * 0.01).to(dtype)
    z.requires_grad_()
    want = F.softplus(z.double() @ z.double().t()).sum().item()
    got = softplus_gram_sum(z, block_rows=200)
    assert got.dtype == dtype and got.item() == pytest.approx(want, rel=1e-2)
    (grad,) = torch.autograd.grad(got, z)
    assert grad.dtype == dtype and bool(torch.isfinite(grad).all())
    ei = random_graph_edges(200, 400, seed=0)
    want_loss = dense_recon_loss(z.detach().double(), ei).item()
    assert full_recon_loss(z, ei).item() == pytest.approx(want_loss, rel=1e-2)


def test_no_nodes_sum_to_zero():
    z = torch.zeros(0, 4, requires_grad=True)
    out = softplus_gram_sum(z)
    assert out.item() == 0.0 and out.requires_grad


def test_gradient_is_not_computed_without_grad():
    z = torch.randn(20, 3)
    out = softplus_gram_sum(z)                            # no grad: forward only
    assert not out.requires_grad
    assert out.item() == pytest.approx(sp(z @ z.t()).sum().item(), rel=1e-5)


def test_loss_rejects_self_loops():
    with pytest.raises(ValueError, match="self-loops"):
        full_recon_loss(torch.randn(3, 2), torch.tensor([[0, 1], [0, 2]]))


def test_kl_term_matches_closed_form():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(25, 4, dtype=torch.float64, generator=g)
    logstd = 0.3 * torch.randn(25, 4, dtype=torch.float64, generator=g)
    kl = kl_divergence(Normal(mu, logstd.exp()), Normal(0.0, 1.0)).sum(-1).mean() / 25
    assert kl_term(mu, logstd).item() == pytest.approx(kl.item(), rel=1e-12)
    assert VGAE.kl_loss(mu, logstd).item() == pytest.approx(kl.item(), rel=1e-12)
    assert kl_term(torch.zeros(5, 3), torch.zeros(5, 3)).item() == 0.0


def test_sampled_loss_uses_non_edges_and_is_seeded():
    n = 30
    ei = random_graph_edges(n, 60, seed=2)
    z = torch.randn(n, 4)
    a = sampled_recon_loss(z, ei, torch.Generator().manual_seed(3))
    b = sampled_recon_loss(z, ei, torch.Generator().manual_seed(3))
    assert a.item() == b.item()
    # with all-zero logits every term is log 2
    assert sampled_recon_loss(torch.zeros(n, 4), ei).item() == pytest.approx(2 * math.log(2))


def _graph(n=12, seed=0):
    return Graph(edge_index=random_graph_edges(n, 30, seed), num_nodes=n)


def test_gae_shapes_and_equation():
    g = _graph()
    x = torch.randn(12, 5, dtype=torch.float64)
    m = GAE(5, 8, 3).double()
    z = m(x, g)
    assert z.shape == (12, 3)
    # dense transcription: Â ReLU(Â X W0) W1 with Â = D^-1/2 (A + I) D^-1/2
    a = torch.zeros(12, 12, dtype=torch.float64)
    a[g.edge_index[1], g.edge_index[0]] = 1
    a += torch.eye(12, dtype=torch.float64)
    dinv = a.sum(1).rsqrt()
    ah = dinv[:, None] * a * dinv[None, :]
    want = ah @ torch.relu(ah @ x @ m.conv1.weight) @ m.conv2.weight
    assert torch.allclose(z, want, atol=1e-12)
    assert m.conv1.bias is None and m.conv2.bias is None   # tkipf/gae has no biases


@pytest.mark.parametrize("cls", [GAE, VGAE])
def test_identity_features_equal_an_explicit_identity(cls):
    g = _graph()
    torch.manual_seed(0)
    m = cls(12, 8, 3).double().eval()
    eye = torch.eye(12, dtype=torch.float64)
    assert torch.allclose(m.embed(None, g), m.embed(eye, g), atol=1e-12)
    with pytest.raises(ValueError, match="in_dim = N"):
        cls(5, 8, 3).embed(None, g)


def test_vgae_sampling_and_evaluation():
    g = _graph()
    x = torch.randn(12, 5)
    m = VGAE(5, 8, 3)
    m.train()
    z1, mu, logstd = m(x, g, torch.Generator().manual_seed(1))
    z2, _, _ = m(x, g, torch.Generator().manual_seed(1))
    z3, _, _ = m(x, g, torch.Generator().manual_seed(2))
    assert torch.equal(z1, z2) and not torch.equal(z1, z3)
    # z = mu + sigma * eps with eps from the generator
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(z1, mu + logstd.exp() * eps)
    m.eval()
    z, mu_e, _ = m(x, g)
    assert torch.equal(z, mu_e) and torch.equal(m.embed(x, g), mu_e)


def test_dropout_identity_path_drops_rows():
    g = _graph()
    m = GAE(12, 8, 3, dropout=0.5).train()
    torch.manual_seed(0)
    z = m(None, g)
    assert z.shape == (12, 3)
    m.eval()
    assert torch.equal(m(None, g), m(None, g))           # no dropout in evaluation


@pytest.mark.parametrize("cls", [GAE, VGAE])
def test_sparse_features_give_the_dense_result(cls):
    g = _graph()
    x = (torch.rand(12, 30, generator=torch.Generator().manual_seed(0)) < 0.1).double()
    torch.manual_seed(0)
    m = cls(30, 8, 3).double().eval()
    dense = m.embed(x, g)
    xs = x.to_sparse_csr()
    assert torch.allclose(m.embed(xs, g), dense, atol=1e-12)
    m.train()                                           # gradients reach W0 through X W0
    out = m(xs, g) if cls is GAE else m(xs, g, torch.Generator().manual_seed(0))[0]
    out.sum().backward()
    assert m.conv1.weight.grad is not None and bool(m.conv1.weight.grad.abs().sum() > 0)
