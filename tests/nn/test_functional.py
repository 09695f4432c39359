"""gnnkit.nn.functional.dropout: inverted dropout with 16-bit masks."""

from __future__ import annotations

import pytest
import torch

from gnnkit.nn.functional import dropout


def test_identity_when_not_training_or_p_zero():
    x = torch.randn(5, 3)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_rejects_bad_p(p):
    with pytest.raises(ValueError, match="dropout probability"):
        dropout(torch.ones(3), p)


def test_p_one_drops_everything():
    x = torch.randn(7, 2, requires_grad=True)
    y = dropout(x, 1.0)
    assert bool((y == 0).all())
    (g,) = torch.autograd.grad(y.sum(), x)
    assert bool((g == 0).all())


@pytest.mark.parametrize("p,dtype", [(0.1, torch.float32), (0.6, torch.float64),
                                     (0.9, torch.float32)])
def test_rate_scale_and_unbiased(p, dtype):
    torch.manual_seed(0)
    n = 100_000
    x = torch.rand(n, dtype=dtype) + 0.5
    y = dropout(x, p)
    assert y.dtype == dtype and y.shape == x.shape
    kept = y != 0
    # survivors are scaled by 1 / (1 - p) (p rounded to a multiple of 2^-16)
    torch.testing.assert_close(y[kept] / x[kept], torch.full_like(x[kept], 1 / (1 - p)),
                               rtol=2e-4, atol=0)
    # drop rate p (5 standard deviations), and E[y] = x
    sd = (p * (1 - p) / n) ** 0.5
    assert abs((~kept).float().mean().item() - p) < 5 * sd
    ones = dropout(torch.ones(n, dtype=dtype), p)
    assert abs(ones.mean().item() - 1.0) < 5 * sd / (1 - p)


def test_mask_bits_are_independent_across_positions():
    # the mask packs four 16-bit draws per 64-bit word: every lane, and neighbouring lanes
    # jointly, must behave like independent Bernoulli(1 - p) draws
    torch.manual_seed(1)
    p, n = 0.5, 200_000
    keep = dropout(torch.ones(n), p) != 0
    sd = (p * (1 - p) / (n / 4)) ** 0.5
    for lane in range(4):
        assert abs(keep[lane::4].float().mean().item() - (1 - p)) < 5 * sd
    both = (keep[:-1] & keep[1:]).float().mean().item()
    assert abs(both - (1 - p) ** 2) < 0.01


def test_gradient_is_mask_times_scale():
    torch.manual_seed(2)
    x = torch.randn(50, 4, dtype=torch.float64, requires_grad=True)
    y = dropout(x, 0.25)
    up = torch.randn(50, 4, dtype=torch.float64)
    (g,) = torch.autograd.grad((y * up).sum(), x)
    scale = y.detach()[y != 0] / x.detach()[y != 0]
    torch.testing.assert_close(g, up * (y != 0) * scale.mean(), rtol=1e-12, atol=0)


def test_reproducible_from_seed_and_generator():
    x = torch.randn(1000)
    torch.manual_seed(3)
    a = dropout(x, 0.5)
    torch.manual_seed(3)
    assert torch.equal(a, dropout(x, 0.5))
    assert not torch.equal(a, dropout(x, 0.5))
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    assert torch.equal(dropout(x, 0.5, generator=g1), dropout(x, 0.5, generator=g2))
    # an explicit generator leaves the global one alone
    torch.manual_seed(5)
    dropout(x, 0.5, generator=torch.Generator().manual_seed(6))
    after = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(3))


@pytest.mark.parametrize("shape", [(0, 3), (1,), (3, 5), (2, 3, 5)])
def test_shapes_and_non_contiguous_input(shape):
    x = torch.randn(shape)
    y = dropout(x, 0.5)
    assert y.shape == x.shape
    assert bool(((y == 0) | torch.isclose(y, 2 * x)).all())
    xt = torch.randn(5, 3).t()  # non-contiguous
    yt = dropout(xt, 0.5)
    assert yt.shape == (3, 5) and bool(((yt == 0) | torch.isclose(yt, 2 * xt)).all())


def test_input_not_modified():
    x = torch.randn(100)
    ref = x.clone()
    dropout(x, 0.7)
    assert torch.equal(x, ref)


@pytest.mark.parametrize("p", [0.3, 1.0])
def test_same_mask_with_and_without_grad(p):
    # an input without grad takes a float mask directly, one with grad a saved bool mask:
    # the same draws give the same output either way
    x = torch.randn(40, 7)
    torch.manual_seed(7)
    a = dropout(x, p)
    torch.manual_seed(7)
    b = dropout(x.clone().requires_grad_(True), p)
    assert torch.equal(a, b.detach())


def test_large_masks_drawn_in_chunks_do_not_depend_on_the_thread_count():
    # masks above 2 x _CHUNK_WORDS words are drawn in chunks by per-chunk generators on a
    # thread pool: the bits must be a function of the generator state alone, the chunks
    # must not repeat each other, and the keep rate must still be 1 - p
    from gnnkit import ops

    n = 4 * (2 * ops._CHUNK_WORDS + 123)        # int16 draws: just over two chunks of words
    x = torch.ones(n)
    threads = torch.get_num_threads()
    outs = []
    try:
        for t in (1, 2):
            torch.set_num_threads(t)
            outs.append(dropout(x, 0.3, generator=torch.Generator().manual_seed(5)))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(outs[0], outs[1])
    words = ops._dropout_bits(n, None, torch.Generator().manual_seed(6)).view(torch.int64)
    c = ops._CHUNK_WORDS
    assert not torch.equal(words[:c], words[c:2 * c])
    assert abs(float((outs[0] != 0).float().mean()) - 0.7) < 2e-3
    # a different seed gives a different mask
    other = dropout(x, 0.3, generator=torch.Generator().manual_seed(7))
    assert not torch.equal(other, outs[0])
