"""Metrics against scikit-learn on random inputs, and hand-computed corner cases."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score
from sklearn.metrics import f1_score as sk_f1

from gnnkit.train import accuracy, f1_score, macro_f1, micro_f1


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), c=st.integers(2, 7), seed=st.integers(0, 2**31 - 1))
def test_single_label_matches_sklearn(n, c, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    p = rng.integers(0, c, n)
    yt, pt = torch.from_numpy(y), torch.from_numpy(p)
    assert accuracy(pt, yt) == pytest.approx(accuracy_score(y, p))
    assert micro_f1(pt, yt) == pytest.approx(sk_f1(y, p, average="micro"))
    assert macro_f1(pt, yt) == pytest.approx(sk_f1(y, p, average="macro", zero_division=0))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), c=st.integers(2, 6), seed=st.integers(0, 2**31 - 1))
def test_scores_are_argmaxed(n, c, seed):
    rng = np.random.default_rng(seed)
    logits = torch.from_numpy(rng.normal(size=(n, c)))
    y = torch.from_numpy(rng.integers(0, c, n))
    p = logits.argmax(1).numpy()
    assert accuracy(logits, y) == pytest.approx(accuracy_score(y.numpy(), p))
    assert f1_score(logits, y, "macro", num_classes=c) == pytest.approx(
        sk_f1(y.numpy(), p, average="macro", zero_division=0))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), c=st.integers(2, 6), seed=st.integers(0, 2**31 - 1))
def test_multi_label_matches_sklearn(n, c, seed):
    # (c >= 2: scikit-learn reads a one-column indicator as a binary target, not multi-label)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, (n, c))
    logits = rng.normal(size=(n, c))
    p = (logits > 0).astype(int)
    yt, lt = torch.from_numpy(y), torch.from_numpy(logits)
    assert accuracy(lt, yt) == pytest.approx(accuracy_score(y, p))
    for avg in ("micro", "macro"):
        expect = sk_f1(y, p, average=avg, zero_division=0)
        assert f1_score(lt, yt, avg) == pytest.approx(expect)
        assert f1_score(torch.from_numpy(p), yt, avg) == pytest.approx(expect)


def test_hand_computed_macro_f1():
    # F1 = 2tp / (2tp + fp + fn). class 0: tp 1 fp 1 fn 1 -> 1/2; class 1: tp 1 fp 1 fn 0
    # -> 2/3; class 2: tp 0 fp 0 fn 1 -> 0
    y = torch.tensor([0, 0, 1, 2])
    p = torch.tensor([0, 1, 1, 0])
    assert accuracy(p, y) == 0.5
    assert macro_f1(p, y) == pytest.approx((1 / 2 + 2 / 3 + 0) / 3)
    # classes absent from both target and prediction do not enter the average
    assert f1_score(p, y, "macro", num_classes=10) == pytest.approx(7 / 18)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="does not match"):
        accuracy(torch.tensor([0, 1]), torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="empty"):
        accuracy(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long))
    with pytest.raises(ValueError, match="average"):
        f1_score(torch.tensor([0]), torch.tensor([0]), "weighted")
