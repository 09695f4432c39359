"""Inner-product decoder against hand-computed values."""

import math

import pytest
import torch

from gnnkit.nn import InnerProductDecoder


def test_pairs_and_full_matrix_by_hand():
    z = torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, -1.0]])
    pairs = torch.tensor([[0, 1, 2], [1, 2, 2]])          # (0,1), (1,2), (2,2)
    dec = InnerProductDecoder()
    prob, logits = dec(z, pairs, return_logits=True)
    assert logits.tolist() == [11.0, -4.0, 1.0]
    sig = [1 / (1 + math.exp(-v)) for v in (11.0, -4.0, 1.0)]
    assert prob.tolist() == pytest.approx(sig)
    assert torch.equal(dec(z, pairs), prob)
    full = dec.forward_all(z)                              # [N, N] = sigmoid(Z Z^T)
    assert full.shape == (3, 3)
    assert torch.allclose(full, torch.sigmoid(z @ z.t()))
    assert torch.allclose(dec.forward_all(z, sigmoid=False)[pairs[0], pairs[1]], logits)
    assert list(dec.parameters()) == []


def test_gradient_and_shape_errors():
    z = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    pairs = torch.tensor([[0, 1], [3, 2]])
    assert torch.autograd.gradcheck(lambda t: InnerProductDecoder()(t, pairs), (z,))
    with pytest.raises(ValueError, match=r"\[2, P\]"):
        InnerProductDecoder()(z, pairs.t().reshape(-1))
