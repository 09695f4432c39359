"""Two runs' per-fold figures side by side: the difference fold by fold, its mean, standard
error and range, over the folds both have.

    python benchmarks/graph_prediction/paired.py \
        results/metrics/gmn_reddit-binary_paper_official_schedule.json:val_acc \
        results/metrics/gmn_reddit-binary_holdout_official_schedule.json:test_acc
    python benchmarks/graph_prediction/paired.py \
        runs/<run>/history.csv:100 \
        results/metrics/memgnn_reddit-binary_paper_100_epochs.json:val_acc

A source is ``FILE.json:KEY`` (a ``collect.py`` file, or ``molnet_reference.py --out``'s:
``KEY`` of each entry of ``folds``) or ``FILE.csv:N`` (a classification run's ``history.csv``:
each fold's best ``val_metric``, an accuracy, over its first ``N`` epochs). Paths are taken as
given, else under this directory. Accuracies (``*_acc`` keys, histories) are printed in %,
other figures (``test_rmse``, ...) as they are; the two sources must be of one kind:

    python benchmarks/graph_prediction/paired.py \
        results/metrics/memgnn_esol_official_schedule_10splits.json:test_rmse \
        results/molnet_reference_esol_400.json:test_rmse
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def per_fold(source: str) -> dict[int, float]:
    """``{fold: figure}`` of one source (see the module docstring)."""
    name, _, arg = source.rpartition(":")
    path = Path(name) if Path(name).is_file() else HERE / name
    if not name or not path.is_file():
        raise SystemExit(f"{source!r}: give FILE.json:KEY or FILE.csv:N with an existing FILE")
    if path.suffix == ".csv":
        if not arg.isdigit():
            raise SystemExit(f"{source!r}: after a history.csv give N, a number of epochs")
        limit = int(arg)
        best: dict[int, float] = {}
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            missing = {"fold", "epoch", "val_metric"} - set(reader.fieldnames or ())
            if missing:
                raise SystemExit(f"{path}: not a run's history.csv (no column {sorted(missing)})")
            for row in reader:
                fold, epoch, v = int(row["fold"]), int(row["epoch"]), float(row["val_metric"])
                if epoch <= limit:
                    best[fold] = max(best.get(fold, -math.inf), v)
        return best
    data = json.loads(path.read_text())
    folds = data.get("folds") if isinstance(data, dict) else None
    if not isinstance(folds, list):
        raise SystemExit(f"{path}: not a collect.py file (no list 'folds')")
    if folds and any(arg not in r for r in folds):
        keys = sorted(k for k, v in folds[0].items() if isinstance(v, (int, float)))
        raise SystemExit(f"{source!r}: the folds of {path.name} have no {arg!r}; "
                         f"give one of {', '.join(keys)}")
    return {int(r["fold"]): float(r[arg]) for r in folds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="FILE.json:KEY or FILE.csv:N")
    ap.add_argument("b", help="FILE.json:KEY or FILE.csv:N")
    args = ap.parse_args(argv)
    accuracy = _is_accuracy(args.a)
    if _is_accuracy(args.b) != accuracy:
        raise SystemExit(f"{args.a!r} and {args.b!r} are not figures of one kind (an accuracy "
                         f"and another metric); pair accuracies with accuracies")
    scale, unit, what, digits = (100.0, " (%)", " points", 2) if accuracy else (1.0, "", "", 3)
    a, b = per_fold(args.a), per_fold(args.b)
    folds = sorted(set(a) & set(b))
    if not folds:
        raise SystemExit("the two sources have no fold in common")
    d = [scale * (a[k] - b[k]) for k in folds]
    print(f"| fold | A{unit} | B{unit} | A - B |")
    print("|---:|---:|---:|---:|")
    for k, x in zip(folds, d, strict=True):
        print(f"| {k} | {scale * a[k]:.{digits}f} | {scale * b[k]:.{digits}f} | {x:+.{digits}f} |")
    mean = sum(d) / len(d)
    se = (math.sqrt(sum((x - mean) ** 2 for x in d) / (len(d) - 1) / len(d))
          if len(d) > 1 else float("nan"))
    print(f"\n{len(d)} folds: A - B = {mean:+.{digits}f}{what} on average (standard error "
          f"{se:.{digits}f}), from {min(d):+.{digits}f} to {max(d):+.{digits}f}")
    return 0


def _is_accuracy(source: str) -> bool:
    """A history (``FILE.csv:N``) or an ``*_acc`` key holds accuracies (printed in %)."""
    name, _, key = source.rpartition(":")
    return name.endswith(".csv") or key.endswith("acc")


if __name__ == "__main__":
    sys.exit(main())
