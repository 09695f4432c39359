"""ROC-AUC, average precision and their curves against scikit-learn (ties included)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.metrics import precision_recall_curve as sk_pr_curve
from sklearn.metrics import roc_curve as sk_roc_curve

from gnnkit.train import average_precision, precision_recall_curve, roc_auc, roc_curve


def _data(n, seed, levels):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[0], y[1] = 0, 1                                   # both classes present
    s = rng.integers(0, levels, n).astype(float) if levels else rng.normal(size=n)
    return s, y


@settings(max_examples=80, deadline=None)
@given(n=st.integers(2, 80), seed=st.integers(0, 2**31 - 1), levels=st.sampled_from([0, 2, 5]))
def test_auc_and_ap_match_sklearn(n, seed, levels):
    s, y = _data(n, seed, levels)          # levels > 0: heavy ties
    st_, yt = torch.from_numpy(s), torch.from_numpy(y)
    assert roc_auc(st_, yt) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert average_precision(st_, yt) == pytest.approx(average_precision_score(y, s), abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 60), seed=st.integers(0, 2**31 - 1), levels=st.sampled_from([0, 3]))
def test_curves_match_sklearn(n, seed, levels):
    s, y = _data(n, seed, levels)
    fpr, tpr, thr = roc_curve(torch.from_numpy(s), torch.from_numpy(y))
    sk_fpr, sk_tpr, _ = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr.numpy(), sk_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr.numpy(), sk_tpr, atol=1e-12)
    assert thr[0] == float("inf") and bool((thr[1:].diff() < 0).all())
    prec, rec, _ = precision_recall_curve(torch.from_numpy(s), torch.from_numpy(y))
    sk_p, sk_r, _ = sk_pr_curve(y, s)
    # scikit-learn lists the points from full recall down and appends (recall 0, precision 1)
    np.testing.assert_allclose(prec.numpy(), sk_p[:-1][::-1], atol=1e-12)
    np.testing.assert_allclose(rec.numpy(), sk_r[:-1][::-1], atol=1e-12)


def test_hand_computed_values():
    s = torch.tensor([0.9, 0.8, 0.8, 0.1])
    y = torch.tensor([1, 0, 1, 0])
    # pairs (pos, neg): (0.9, 0.8) win, (0.9, 0.1) win, (0.8, 0.8) tie, (0.8, 0.1) win
    assert roc_auc(s, y) == pytest.approx(3.5 / 4)
    # thresholds 0.9: P=1, R=1/2; 0.8: P=2/3, R=1 -> AP = 1/2 * 1 + 1/2 * 2/3
    assert average_precision(s, y) == pytest.approx(0.5 + 1 / 3)
    assert roc_auc(-s, y) == pytest.approx(1 - 3.5 / 4)        # reversed ranking
    assert roc_auc(torch.tensor([1.0, 2.0]), torch.tensor([False, True])) == 1.0


def test_invalid_inputs():
    with pytest.raises(ValueError, match="both positive and negative"):
        roc_auc(torch.rand(5), torch.ones(5))
    with pytest.raises(ValueError, match="at least one positive"):
        average_precision(torch.rand(5), torch.zeros(5))
    with pytest.raises(ValueError, match="0/1"):
        roc_auc(torch.rand(3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="NaN"):
        roc_auc(torch.tensor([0.0, float("nan")]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="length"):
        roc_auc(torch.rand(3), torch.tensor([0, 1]))
