"""Spectral embedding and DeepWalk: eigenvectors against a dense solver, the SGNS gradient
against autograd, and both embeddings separating two communities."""

import numpy as np
import pytest
import torch

from gnnkit import Graph
from gnnkit.models import DeepWalk, SpectralEmbedding
from gnnkit.models.embedding import _noise_table, _sgns_step


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


def test_deepwalk_separates_two_communities_and_is_seeded():
    g = two_cliques_and_a_pair(k=8)
    dw = DeepWalk(dim=8, walk_length=20, walks_per_node=10, window=3, epochs=2,
                  batch_size=256)
    z = dw.fit(g, torch.Generator().manual_seed(0))
    assert z.shape == (g.num_nodes, 8)
    zn = torch.nn.functional.normalize(z, dim=1)
    sim = zn @ zn.t()
    within = (sim[1:8, 1:8].sum() - 7) / 42
    across = sim[1:8, 9:16].mean()
    assert within > across + 0.5
    assert dw.loss_history[-1] < dw.loss_history[0]
    again = DeepWalk(dim=8, walk_length=20, walks_per_node=10, window=3, epochs=2,
                     batch_size=256).fit(g, torch.Generator().manual_seed(0))
    assert torch.equal(z, again)
