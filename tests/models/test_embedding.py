"""Spectral embedding and DeepWalk: eigenvectors against a dense solver; the Huffman tree of
hierarchical softmax (a prefix code, short codes for frequent nodes, probabilities summing to
one); the HS and SGNS steps against autograd; both embeddings separating two communities."""

import numpy as np
import pytest
import torch

from gnnkit import Graph
from gnnkit.models import DeepWalk, SpectralEmbedding
from gnnkit.models.embedding import _hs_step, _noise_table, _sgns_step, huffman_code


def two_cliques_and_a_pair(k=10):
    """Two k-cliques joined by one edge, plus a separate 2-node component and an isolated node."""
    e = [(i, j) for i in range(k) for j in range(i + 1, k)]
    e += [(k + i, k + j) for i in range(k) for j in range(i + 1, k)]
    e += [(0, k), (2 * k, 2 * k + 1)]
    t = torch.tensor(e).t()
    return Graph(edge_index=torch.cat([t, t.flip(0)], 1), num_nodes=2 * k + 3)


def test_spectral_embedding_spans_the_top_eigenvectors():
    g = two_cliques_and_a_pair()
    n = g.num_nodes
    z = SpectralEmbedding(dim=3).fit(g, torch.Generator().manual_seed(0)).double().numpy()
    a = g.to_scipy().toarray()
    d = a.sum(1)
    dinv = 1 / np.sqrt(np.maximum(d, 1))                              # isolated: zero row anyway
    m = dinv[:, None] * a * dinv[None, :]
    w, v = np.linalg.eigh(m)
    assert z.shape == (n, 3)
    np.testing.assert_allclose(z.T @ z, np.eye(3), atol=1e-5)          # orthonormal columns
    # eigenvalue 1 twice (two components with edges), then the cut between the cliques; the
    # rest of the spectrum is <= 0, so the deflated eigenvalue-1 space must not come back
    top = v[:, np.argsort(-w)[:3]]
    np.testing.assert_allclose(z @ z.T, top @ top.T, atol=1e-5)        # same subspace
    np.testing.assert_allclose(np.diag(z.T @ m @ z), np.sort(w)[::-1][:3], atol=1e-5)
    assert np.allclose(z[-1], 0)                                       # isolated node
    with pytest.raises(ValueError, match="dim"):
        SpectralEmbedding(dim=n).fit(g)


def test_spectral_with_more_components_than_dims_uses_the_largest():
    g = two_cliques_and_a_pair(k=4)
    z = SpectralEmbedding(dim=1).fit(g).numpy()
    assert np.count_nonzero(np.abs(z[:, 0]) > 1e-9) == 8               # the 8-node component


def test_sgns_step_is_one_sgd_step_of_the_loss():
    g = torch.Generator().manual_seed(0)
    w_in = torch.randn(30, 6, dtype=torch.float64, generator=g)
    w_out = torch.randn(30, 6, dtype=torch.float64, generator=g)
    cen, ctx = torch.randint(30, (40,), generator=g), torch.randint(30, (40,), generator=g)
    neg = torch.randint(30, (40, 4), generator=g)
    a, b = w_in.clone().requires_grad_(), w_out.clone().requires_grad_()
    u = a[cen]
    loss = (torch.nn.functional.softplus(-(u * b[ctx]).sum(-1)).sum()
            + torch.nn.functional.softplus((b[neg] * u.unsqueeze(1)).sum(-1)).sum())
    loss.backward()
    got = _sgns_step(w_in, w_out, cen, ctx, neg, 0.05)
    assert got == pytest.approx(loss.item(), rel=1e-12)
    assert torch.allclose(w_in, a - 0.05 * a.grad, atol=1e-12)
    assert torch.allclose(w_out, b - 0.05 * b.grad, atol=1e-12)


def test_noise_table_follows_count_to_the_three_quarters():
    counts = torch.tensor([16, 0, 1, 81])
    t = _noise_table(counts, size=10000)
    freq = torch.bincount(t, minlength=4).double() / t.numel()
    w = counts.double().pow(0.75)
    assert torch.allclose(freq, w / w.sum(), atol=1e-3)
    assert freq[1] == 0


def _codes(counts):
    path, code, mask = huffman_code(counts)
    return [tuple(code[v, mask[v]].tolist()) for v in range(counts.numel())], path, mask


def test_huffman_code_is_a_prefix_code_with_short_codes_for_frequent_nodes():
    counts = torch.randint(0, 1000, (57,), generator=torch.Generator().manual_seed(0))
    codes, path, mask = _codes(counts)
    n = counts.numel()
    assert len(set(codes)) == n
    for a in codes:                                         # no code is a prefix of another
        assert not any(b != a and b[:len(a)] == a for b in codes)
    assert sum(2.0 ** -len(c) for c in codes) == 1.0        # Kraft: a full binary tree
    length = torch.tensor([len(c) for c in codes])
    more = counts.unsqueeze(1) > counts.unsqueeze(0)        # [N, N] count[a] > count[b]
    assert bool((length.unsqueeze(1) <= length.unsqueeze(0))[more].all())
    # the path is the tree: inner node = code prefix, one to one, the root N - 2 first
    assert bool((path[:, 0] == n - 2).all())
    inner = {}
    for v, c in enumerate(codes):
        for depth in range(len(c)):
            assert inner.setdefault(c[:depth], int(path[v, depth])) == path[v, depth]
    assert sorted(inner.values()) == list(range(n - 1))


def test_huffman_code_of_a_known_distribution():
    # merges: (1, 1) -> 2; (2 [node 5], 2) -> 4; (3, 4) -> 7; (5, 7) -> 12; (10, 12) -> 22
    codes, _, _ = _codes(torch.tensor([5, 1, 1, 3, 10, 2]))
    assert [len(c) for c in codes] == [2, 5, 5, 3, 1, 4]
    assert codes[4] == (0,)
    z, _, _ = huffman_code(torch.tensor([7]))
    assert z.shape == (1, 0)                                # one node: no decision


@pytest.mark.parametrize("n", [2, 3, 40])
def test_hierarchical_softmax_sums_to_one_over_all_nodes(n):
    g = torch.Generator().manual_seed(n)
    counts = torch.randint(1, 50, (n,), generator=g)
    path, code, mask = huffman_code(counts)
    u = torch.randn(8, dtype=torch.float64, generator=g)           # one center's vector
    v = torch.randn(n - 1, 8, dtype=torch.float64, generator=g)    # inner-node vectors
    s = v[path] @ u                                                # [N, L]
    p = torch.where(mask, torch.sigmoid((1 - 2 * code).double() * s), 1.0).prod(1)  # [N]
    assert float(p.sum()) == pytest.approx(1.0, abs=1e-12)
    assert bool((p > 0).all())


def test_hs_step_is_one_sgd_step_of_the_log_likelihood():
    g = torch.Generator().manual_seed(0)
    n, d = 30, 6
    path, code, mask = huffman_code(torch.randint(1, 100, (n,), generator=g))
    w_in = torch.randn(n, d, dtype=torch.float64, generator=g)
    w_out = torch.randn(n - 1, d, dtype=torch.float64, generator=g)
    cen, ctx = torch.randint(n, (40,), generator=g), torch.randint(n, (40,), generator=g)
    a, b = w_in.clone().requires_grad_(), w_out.clone().requires_grad_()
    # -log P(o | c) = -sum_l log sigmoid((1 - 2 d_l) u_c . v_{n_l}), summed over the batch
    s = (b[path[ctx]] * a[cen].unsqueeze(1)).sum(-1)                # [B, L]
    sign = 1.0 - 2.0 * code[ctx].double()
    loss = -(torch.nn.functional.logsigmoid(sign * s) * mask[ctx]).sum()
    loss.backward()
    got = _hs_step(w_in, w_out, cen, path[ctx], code[ctx].double(), mask[ctx].double(), 0.05)
    assert got == pytest.approx(loss.item(), rel=1e-12)
    assert torch.allclose(w_in, a - 0.05 * a.grad, atol=1e-12)
    assert torch.allclose(w_out, b - 0.05 * b.grad, atol=1e-12)
    assert not torch.equal(w_out, b.detach())                       # something was learnt


def test_deepwalk_defaults_are_the_papers_and_errors_are_clear():
    dw = DeepWalk()
    assert (dw.objective, dw.dim, dw.walk_length, dw.walks_per_node, dw.window, dw.epochs,
            dw.lr) == ("hs", 128, 80, 10, 10, 1, 0.025)
    g = two_cliques_and_a_pair(k=3)
    with pytest.raises(ValueError, match="objective"):
        DeepWalk(objective="softmax").fit(g)
    with pytest.raises(FloatingPointError, match="batch_size"):
        DeepWalk(dim=4, walk_length=10, walks_per_node=2, lr=1e6).fit(
            g, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("objective", ["hs", "ns"])
def test_deepwalk_separates_two_communities_and_is_seeded(objective):
    g = two_cliques_and_a_pair(k=8)
    kw = dict(dim=8, walk_length=20, walks_per_node=10, window=3, epochs=2, batch_size=256,
              objective=objective)
    dw = DeepWalk(**kw)
    z = dw.fit(g, torch.Generator().manual_seed(0))
    assert z.shape == (g.num_nodes, 8)
    zn = torch.nn.functional.normalize(z, dim=1)
    sim = zn @ zn.t()
    within = (sim[1:8, 1:8].sum() - 7) / 42
    across = sim[1:8, 9:16].mean()
    assert within > across + 0.5
    assert dw.loss_history[-1] < dw.loss_history[0]
    again = DeepWalk(**kw).fit(g, torch.Generator().manual_seed(0))
    assert torch.equal(z, again)
    other = DeepWalk(**kw).fit(g, torch.Generator().manual_seed(1))
    assert not torch.equal(z, other)
