"""MemoryLayer, its clustering loss and key initialisation against the paper's equations."""

from __future__ import annotations

import pytest
import torch

from gnnkit.nn.memory import MemoryLayer, init_keys_kmeans, kl_target, kmeans, memory_kl_loss


def _layer(in_dim=3, out_dim=4, keys=3, heads=2, tau=1.0, seed=0) -> MemoryLayer:
    torch.manual_seed(seed)
    layer = MemoryLayer(in_dim, out_dim, keys, heads, tau).double()
    with torch.no_grad():
        layer.conv.bias.fill_(0.3)  # a non-trivial bias must not break anything
    return layer


def _reference(layer: MemoryLayer, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eqs. 1-4 transcribed with loops, one graph q [n, F] (no padding)."""
    H, K, _ = layer.keys.shape
    n, tau = q.shape[0], layer.tau
    w = layer.conv.weight.view(H)
    b = layer.conv.bias.view(())
    C = torch.zeros(n, K, dtype=q.dtype)
    for i in range(n):
        merged = []
        for j in range(K):
            acc = b.clone()
            for h in range(H):
                num = [(1 + ((q[i] - layer.keys[h, jj]) ** 2).sum() / tau) ** (-(tau + 1) / 2)
                       for jj in range(K)]                               # Eq. 1, unnormalised
                acc = acc + w[h] * num[j] / sum(num)
            merged.append(acc)
        m = torch.stack(merged)
        C[i] = torch.exp(m) / torch.exp(m).sum()
    V = torch.zeros(K, q.shape[1], dtype=q.dtype)
    for j in range(K):
        for i in range(n):
            V[j] += C[i, j] * q[i]
    out = torch.nn.functional.leaky_relu(V @ layer.lin.weight.t(), layer.negative_slope)
    return out, C


@pytest.mark.parametrize("tau", [1.0, 2.5])
def test_memory_layer_matches_the_equations(tau):
    layer = _layer(tau=tau)
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(2, 5, 3, generator=gen, dtype=torch.float64)
    out, C = layer(q)
    assert out.shape == (2, 3, 4) and C.shape == (2, 5, 3)
    for b in range(2):
        ref_out, ref_C = _reference(layer, q[b])
        torch.testing.assert_close(C[b], ref_C)
        torch.testing.assert_close(out[b], ref_out)
    torch.testing.assert_close(C.sum(-1), torch.ones(2, 5, dtype=torch.float64))


def test_padding_changes_nothing():
    layer = _layer()
    gen = torch.Generator().manual_seed(2)
    q = torch.randn(1, 4, 3, generator=gen, dtype=torch.float64)
    out, C = layer(q)
    loss = memory_kl_loss(C)
    pad = torch.cat([q, 1e3 * torch.randn(1, 3, 3, generator=gen, dtype=torch.float64)], 1)
    mask = torch.tensor([[True] * 4 + [False] * 3])
    out_p, C_p = layer(pad, mask)
    torch.testing.assert_close(out_p, out)
    torch.testing.assert_close(C_p[:, :4], C)
    assert torch.all(C_p[:, 4:] == 0)
    torch.testing.assert_close(memory_kl_loss(C_p, mask), loss)
    torch.testing.assert_close(kl_target(C_p)[:, :4], kl_target(C))
    # gradients reaching the keys are the same with and without padding
    g1 = torch.autograd.grad(out.sum() + loss, layer.keys)[0]
    out_p, C_p = layer(pad, mask)
    g2 = torch.autograd.grad(out_p.sum() + memory_kl_loss(C_p, mask), layer.keys)[0]
    torch.testing.assert_close(g1, g2)


def test_node_permutation_permutes_assignments_and_keeps_output():
    layer = _layer()
    q = torch.randn(1, 6, 3, dtype=torch.float64)
    perm = torch.randperm(6)
    out, C = layer(q)
    out2, C2 = layer(q[:, perm])
    torch.testing.assert_close(out2, out)
    torch.testing.assert_close(C2, C[:, perm])


def test_kl_target_and_loss_by_hand():
    C = torch.tensor([[[0.6, 0.4], [0.2, 0.8], [0.5, 0.5]]], dtype=torch.float64)
    f = [0.6 + 0.2 + 0.5, 0.4 + 0.8 + 0.5]
    P = torch.zeros(1, 3, 2, dtype=torch.float64)
    for i in range(3):
        s = sum(C[0, i, j] ** 2 / f[j] for j in range(2))
        for j in range(2):
            P[0, i, j] = C[0, i, j] ** 2 / f[j] / s
    torch.testing.assert_close(kl_target(C), P)
    kl = sum(P[0, i, j] * torch.log(P[0, i, j] / C[0, i, j]) for i in range(3) for j in range(2))
    torch.testing.assert_close(memory_kl_loss(C, reduction="sum"), kl)
    torch.testing.assert_close(memory_kl_loss(C, reduction="mean"), kl / 3)
    # P is a constant: the gradient is -P/C (times the reduction), not d/dC of P log P
    Cg = C.clone().requires_grad_(True)
    memory_kl_loss(Cg, reduction="sum").backward()
    torch.testing.assert_close(Cg.grad, -P / C)
    with pytest.raises(ValueError, match="reduction"):
        memory_kl_loss(C, reduction="batchmean")


def test_gradcheck_float64():
    layer = _layer(in_dim=2, out_dim=2, keys=2, heads=2)
    q = torch.randn(1, 3, 2, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, True, False]])
    assert torch.autograd.gradcheck(lambda t: layer(t, mask)[0], (q,))
    assert torch.autograd.gradcheck(lambda t: layer(t, mask)[1], (q,))
    # (the KL loss holds P constant on purpose, so its gradient is not the numerical one)


def test_kmeans_init_finds_well_separated_centres():
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    pts = torch.cat([c + 0.1 * torch.randn(20, 2, generator=gen) for c in centres])
    found = kmeans(pts, 3, torch.Generator().manual_seed(3))
    d = torch.cdist(centres, found)
    assert sorted(d.argmin(1).tolist()) == [0, 1, 2] and float(d.min(1).values.max()) < 0.2
    layer = MemoryLayer(2, 2, 3, num_heads=2)
    q = torch.cat([pts, torch.full((5, 2), 1e6)])[None]  # padded rows far away: ignored
    mask = torch.tensor([[True] * 60 + [False] * 5])
    init_keys_kmeans(layer, q, mask, torch.Generator().manual_seed(4))
    for h in range(2):
        assert float(torch.cdist(centres, layer.keys[h].detach()).min(1).values.max()) < 0.2


def test_state_dict_round_trip_and_repr():
    a, b = _layer(seed=0), _layer(seed=5)
    b.load_state_dict(a.state_dict())
    q = torch.randn(2, 4, 3, dtype=torch.float64)
    torch.testing.assert_close(a(q)[0], b(q)[0])
    assert "num_keys=3" in repr(a)
    with pytest.raises(ValueError):
        MemoryLayer(3, 3, 0)
    assert list(a.keys.shape) == [2, 3, 3]


def test_forward_batch_on_packed_rows_equals_the_padded_forward_values_and_grads():
    from gnnkit.graph import Graph, batch
    from gnnkit.ops import to_dense_batch

    layer = _layer(tau=2.5)
    gen = torch.Generator().manual_seed(5)
    gs = [Graph(torch.zeros(2, 0, dtype=torch.long), n,
                x=torch.randn(n, 3, generator=gen, dtype=torch.float64)) for n in (2, 6, 4)]
    g = batch(gs)
    q1 = g.x.clone().requires_grad_(True)
    out1, C1, mask1 = layer.forward_batch(q1, g)
    q2 = g.x.clone().requires_grad_(True)
    h, mask2 = to_dense_batch(q2, g)
    out2, C2 = layer(h, mask2)
    torch.testing.assert_close(out1, out2)
    torch.testing.assert_close(C1, C2)
    assert torch.equal(mask1, mask2) and torch.all(C1[~mask1] == 0)
    w = torch.randn(out1.shape, generator=gen, dtype=torch.float64)
    loss1 = (out1 * w).sum() + memory_kl_loss(C1, mask1, "sum")
    loss2 = (out2 * w).sum() + memory_kl_loss(C2, mask2, "sum")
    g1 = torch.autograd.grad(loss1, [q1, layer.keys, layer.conv.weight])
    g2 = torch.autograd.grad(loss2, [q2, layer.keys, layer.conv.weight])
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(a, b)
    # each packed row's assignment is the padded batch's row for that node
    torch.testing.assert_close(layer.assign(g.x), C2[mask2])
