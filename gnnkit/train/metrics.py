"""Classification metrics in torch: accuracy, micro-F1 and macro-F1; and, for scored binary
decisions (link prediction), ROC-AUC, average precision and their curves (see the section
"ranking metrics" below).

Conventions (the same as scikit-learn's ``accuracy_score`` and ``f1_score``):

* Single-label (``target`` [N] int64 class ids): ``pred`` is either class ids [N] or scores
  [N, C] (logits or probabilities; the arg-max is taken). Macro-F1 averages over the classes
  that occur in ``target`` or in the prediction (scikit-learn's ``labels=None``); micro-F1 then
  equals accuracy.
* Multi-label (``target`` [N, C] of 0/1): ``pred`` is a 0/1 or bool indicator [N, C], or
  floating-point logits [N, C] thresholded at 0. Accuracy is subset accuracy (a row counts only
  when every label is right); macro-F1 averages over all C labels.

A class whose F1 is 0/0 (never predicted and never true, multi-label only) scores 0, as
scikit-learn's ``zero_division`` default does.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["accuracy", "average_precision", "f1_score", "macro_f1", "micro_f1",
           "precision_recall_curve", "roc_auc", "roc_curve"]


def _labels(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Bring (pred, target) to ids [N] and ids [N], or to bool [N, C] and bool [N, C]."""
    if target.dim() == 1:
        if pred.dim() == 2:
            pred = pred.argmax(dim=1)  # scores [N, C] -> ids [N]
        if pred.shape != target.shape:
            raise ValueError(
                f"pred {list(pred.shape)} does not match target {list(target.shape)}")
        return pred.long(), target.long()
    if target.dim() == 2:
        if pred.shape != target.shape:
            raise ValueError(
                f"multi-label pred must have the target's shape {list(target.shape)}, "
                f"got {list(pred.shape)}")
        pred = pred > 0 if pred.dtype.is_floating_point else pred.bool()
        return pred, target.bool()
    raise ValueError(f"target must be class ids [N] or a label indicator [N, C], "
                     f"got shape {list(target.shape)}")


def accuracy(pred: Tensor, target: Tensor) -> float:
    """Fraction of rows predicted correctly (subset accuracy for multi-label targets)."""
    pred, target = _labels(pred, target)
    if target.shape[0] == 0:
        raise ValueError("accuracy of an empty set is undefined")
    correct = pred == target
    if correct.dim() == 2:
        correct = correct.all(dim=1)
    return correct.double().mean().item()


def _counts(pred: Tensor, target: Tensor, num_classes: int | None
            ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per-class true positives, false positives, false negatives and a mask of classes to
    average over."""
    if target.dim() == 1:
        c = int(max(int(pred.max()), int(target.max())) + 1) if target.numel() else 0
        c = max(c, num_classes or 0)
        p = torch.nn.functional.one_hot(pred, c).bool()      # [N, C]
        t = torch.nn.functional.one_hot(target, c).bool()    # [N, C]
        present = p.any(0) | t.any(0)                        # scikit-learn's labels=None
    else:
        p, t = pred, target
        present = torch.ones(t.shape[1], dtype=torch.bool, device=t.device)
    tp = (p & t).sum(0).double()
    fp = (p & ~t).sum(0).double()
    fn = (~p & t).sum(0).double()
    return tp, fp, fn, present


def _f1(tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
    # F1 = 2 TP / (2 TP + FP + FN); 0/0 -> 0
    denom = 2 * tp + fp + fn
    return torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(denom))


def f1_score(pred: Tensor, target: Tensor, average: str = "micro",
             num_classes: int | None = None) -> float:
    """F1 score averaged ``"micro"`` (pool all counts) or ``"macro"`` (mean of per-class F1).

    ``num_classes`` only widens the one-hot width for single-label inputs; which classes enter
    the macro average is decided as documented in the module docstring.
    """
    if average not in ("micro", "macro"):
        raise ValueError(f"average must be 'micro' or 'macro', got {average!r}")
    pred, target = _labels(pred, target)
    if target.shape[0] == 0:
        raise ValueError("F1 of an empty set is undefined")
    tp, fp, fn, present = _counts(pred, target, num_classes)
    if average == "micro":
        return _f1(tp.sum(), fp.sum(), fn.sum()).item()
    return _f1(tp, fp, fn)[present].mean().item()


def micro_f1(pred: Tensor, target: Tensor) -> float:
    return f1_score(pred, target, "micro")


def macro_f1(pred: Tensor, target: Tensor) -> float:
    return f1_score(pred, target, "macro")


# --------------------------------------------------------------------------- ranking metrics
# Binary labels y in {0, 1} and real scores s (logits or probabilities: only their order
# matters). Tied scores are one threshold, exactly as scikit-learn's roc_auc_score,
# average_precision_score, roc_curve and precision_recall_curve treat them. Computed in
# float64.

def _binary(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, int, int]:
    s = scores.detach().reshape(-1).double()
    y = labels.detach().reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"scores ({s.numel()}) and labels ({y.numel()}) differ in length")
    if y.dtype != torch.bool:
        if bool(((y != 0) & (y != 1)).any()):
            raise ValueError("labels must be 0/1 (or bool)")
        y = y.bool()
    if not bool(torch.isfinite(s).all()):
        raise ValueError("scores hold NaN or inf")
    n_pos = int(y.sum())
    return s, y, n_pos, y.numel() - n_pos


def _threshold_counts(s: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """At each distinct score t, from the highest down: (t, TP(s >= t), FP(s >= t))."""
    uniq, inverse = torch.unique(s, sorted=True, return_inverse=True)   # ascending
    pos = torch.zeros(uniq.numel(), dtype=torch.float64, device=s.device)
    pos.index_add_(0, inverse, y.double())
    tot = torch.bincount(inverse, minlength=uniq.numel()).double()
    tps = pos.flip(0).cumsum(0)
    fps = (tot - pos).flip(0).cumsum(0)
    return uniq.flip(0), tps, fps


def roc_auc(scores: Tensor, labels: Tensor) -> float:
    """Area under the ROC curve = P(s_pos > s_neg) + P(s_pos = s_neg) / 2.

    Computed from average ranks (the Mann-Whitney U statistic), which equals the trapezoidal
    area under the tie-aware ROC curve. Shapes: scores [P], labels [P] in {0, 1}.
    Raises ValueError when only one class is present.
    """
    s, y, n_pos, n_neg = _binary(scores, labels)
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC-AUC needs both positive and negative labels")
    _, inverse, counts = torch.unique(s, sorted=True, return_inverse=True, return_counts=True)
    counts = counts.double()
    first = counts.cumsum(0) - counts                    # rank (0-based) of each group's start
    rank = (first + (counts + 1) / 2)[inverse]           # average 1-based rank, ties shared
    u = rank[y].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def average_precision(scores: Tensor, labels: Tensor) -> float:
    """AP = sum_k (R_k - R_{k-1}) P_k over decreasing distinct thresholds (no interpolation),
    scikit-learn's ``average_precision_score``. Raises ValueError without positives."""
    s, y, n_pos, _ = _binary(scores, labels)
    if n_pos == 0:
        raise ValueError("average precision needs at least one positive label")
    _, tps, fps = _threshold_counts(s, y)
    precision = tps / (tps + fps)
    recall = tps / n_pos
    d_recall = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((d_recall * precision).sum())


def roc_curve(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(fpr, tpr, thresholds), starting at (0, 0) with threshold +inf, one point per distinct
    score from the highest down (scikit-learn's ``drop_intermediate=False``)."""
    s, y, n_pos, n_neg = _binary(scores, labels)
    if n_pos == 0 or n_neg == 0:
        raise ValueError("a ROC curve needs both positive and negative labels")
    thr, tps, fps = _threshold_counts(s, y)
    zero = tps.new_zeros(1)
    return (torch.cat([zero, fps / n_neg]), torch.cat([zero, tps / n_pos]),
            torch.cat([thr.new_full((1,), math.inf), thr]))


def precision_recall_curve(scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(precision, recall, thresholds) at each distinct score from the highest down
    (recall increasing). Unlike scikit-learn, no extra (recall 0, precision 1) end point."""
    s, y, n_pos, _ = _binary(scores, labels)
    if n_pos == 0:
        raise ValueError("a precision-recall curve needs at least one positive label")
    thr, tps, fps = _threshold_counts(s, y)
    return tps / (tps + fps), tps / n_pos, thr
