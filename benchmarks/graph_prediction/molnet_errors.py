"""How much of a MoleculeNet test RMSE a few molecules carry: per-molecule errors of a
``gnnkit train graph`` run on its own split.

    gnnkit train graph --model memgnn --dataset esol --seeds 1 --threads 1 --run-name esol-diag
    python benchmarks/graph_prediction/molnet_errors.py --run runs/esol-diag

The run's split (``--fold``, default 0: the split of seed ``seed + fold``) is redrawn as
``gnnkit train graph`` draws it, its model (the best-on-validation weights) predicts every
molecule (:func:`gnnkit.tasks.graph_prediction.predict_graphs`), and the script prints the
RMSE of each part, the share of the test MSE carried by the worst 1, 3, 5 and 10 test
molecules, the test RMSE without them, and the worst molecules themselves. With 113 test
molecules (ESOL) a handful of hard ones decide much of the figure, so splits differ a lot.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def error_shares(sq_err: list[float], ks: tuple[int, ...] = (1, 3, 5, 10)
                 ) -> list[tuple[int, float, float]]:
    """For each k: (k, share of the summed squared error carried by the k largest, RMSE of
    the others). ``sq_err``: one squared error per molecule."""
    err = sorted(sq_err, reverse=True)
    total = sum(err)
    out = []
    for k in ks:
        if k >= len(err):
            continue
        rest = err[k:]
        out.append((k, sum(err[:k]) / total if total else 0.0, math.sqrt(sum(rest) / len(rest))))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="run directory of gnnkit train graph (molecules)")
    p.add_argument("--fold", type=int, default=0, help="which split / model of the run")
    p.add_argument("--worst", type=int, default=6, help="test molecules to list")
    a = p.parse_args(argv)

    from gnnkit.tasks import graph_prediction as gp
    from gnnkit.tasks import make_config

    run = Path(a.run)
    cfg = make_config("graph", preset=str(run / "config.toml"), save=False, quiet=True)
    ds = gp.load_graph_data(cfg)
    if ds.num_classes is not None:
        p.error(f"{a.run} is a classification run; this script reads regression runs")
    y = torch.cat([g.y.view(-1) for g in ds.graphs]).double()
    splits = gp.fold_splits(cfg, y, True)
    if not 0 <= a.fold < len(splits):
        p.error(f"--fold must lie in [0, {len(splits)})")
    pred = gp.predict_graphs(run, ds.graphs, fold=a.fold)[0].double().view(-1)
    sq = (pred - y) ** 2
    names = ("train", "val", "test")
    print(f"{cfg.model} on {cfg.dataset}, split {a.fold} (seed {cfg.seed + a.fold}): RMSE "
          + ", ".join(f"{n} {math.sqrt(float(sq[idx].mean())):.4f} ({idx.numel()})"
                      for n, idx in zip(names, splits[a.fold], strict=True)))
    test = splits[a.fold][2]
    print("\n| worst test molecules left out | their share of the test MSE "
          "| test RMSE of the rest |")
    print("|---:|---:|---:|")
    for k, share, rest in error_shares(sq[test].tolist()):
        print(f"| {k} | {share:.3f} | {rest:.4f} |")
    worst = test[sq[test].argsort(descending=True)[:a.worst]]
    print("\n| molecule (index in the data set) | measured | predicted | abs error |")
    print("|---|---:|---:|---:|")
    for i in worst.tolist():
        print(f"| {i} | {float(y[i]):.3f} | {float(pred[i]):.3f} | "
              f"{abs(float(pred[i] - y[i])):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
