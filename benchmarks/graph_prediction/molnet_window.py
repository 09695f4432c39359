"""Would averaging over epochs close a MoleculeNet gap? Test RMSE at the epoch chosen on
validation, for single epochs and for predictions averaged over the last w epochs.

    python benchmarks/graph_prediction/molnet_window.py --dataset esol --seeds 3

Trains the ``graph_memgnn`` preset (or ``--model gmn``) on the random 80/10/10 splits of
seeds ``seed .. seed + seeds - 1``, as ``gnnkit train graph`` does, and records every epoch's
validation and test predictions through ``run_folds(on_epoch=...)`` (evaluation mode, no
random draws, so training is the same as without the hook). Then, per split:

* single epoch: the epoch with the lowest validation RMSE (what the trainer reports), its
  test RMSE;
* window w: the mean of the predictions of epochs t-w+1 .. t, with t chosen on the
  validation RMSE of that mean, and its test RMSE.

Averaging predictions over nearby epochs is a proxy for weight averaging (SWA, EMA): if the
epoch-to-epoch noise of the validation curve is what makes the chosen epoch test poorly, the
windows should test much better. The test column never enters a choice.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

WINDOWS = (1, 5, 10, 20, 50)


def rmse(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float((pred - y).pow(2).mean().sqrt())


def best_windows(val: torch.Tensor, test: torch.Tensor, yv: torch.Tensor, yt: torch.Tensor,
                 windows: tuple[int, ...] = WINDOWS) -> dict[int, tuple[int, float, float]]:
    """For each window w: (epoch t chosen on validation, val RMSE, test RMSE) of the mean
    prediction of epochs t-w+1 .. t (fewer at the start). ``val`` [epochs, n_val],
    ``test`` [epochs, n_test]: one row of predictions per epoch."""
    out = {}
    cv, ct = val.cumsum(0), test.cumsum(0)
    for w in windows:
        rows = []
        for t in range(val.shape[0]):
            lo = t - w
            n = w if lo >= 0 else t + 1
            mv = (cv[t] - (cv[lo] if lo >= 0 else 0)) / n
            mt = (ct[t] - (ct[lo] if lo >= 0 else 0)) / n
            rows.append((rmse(mv, yv), t + 1, rmse(mt, yt)))
        v, t, te = min(rows)
        out[w] = (t, v, te)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="esol")
    p.add_argument("--model", default="memgnn", choices=("gmn", "memgnn"))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)

    from gnnkit.graph import batch
    from gnnkit.tasks import graph_prediction as gp
    from gnnkit.tasks import make_config

    cfg = make_config("graph", model=a.model, dataset=a.dataset, seeds=a.seeds, seed=a.seed,
                      save=False, quiet=True, threads=a.threads)
    ds = gp.load_graph_data(cfg)
    if ds.num_classes is not None:
        p.error(f"{a.dataset} is a classification data set; this script reads regression ones")
    y = torch.cat([g.y.view(-1) for g in ds.graphs]).double()
    splits = gp.fold_splits(cfg, y, True)
    graphs, _ = gp.model_inputs(cfg, ds.graphs)
    parts = {k: (va, te) for k, (_, va, te) in enumerate(splits)}
    preds: dict[int, dict[str, list[torch.Tensor]]] = {k: {"val": [], "test": []} for k in parts}

    @torch.no_grad()
    def predict(model, idx: torch.Tensor, scale) -> torch.Tensor:  # noqa: ANN001
        outs = [model(batch([graphs[i] for i in idx[s:s + 64].tolist()]))[0]
                for s in range(0, idx.numel(), 64)]
        return torch.cat(outs).view(-1).double() * scale[1] + scale[0]

    def on_epoch(fold, epoch, model, scale) -> None:  # noqa: ANN001
        va, te = parts[fold]
        preds[fold]["val"].append(predict(model, va, scale))
        preds[fold]["test"].append(predict(model, te, scale))

    res = gp.run_folds(cfg, on_epoch=on_epoch)
    print(f"{a.model} on {a.dataset}, splits of seeds {a.seed}..{a.seed + a.seeds - 1}, "
          f"preset settings, torch {torch.__version__}")
    print("| split | epochs | " + " | ".join(
        f"w={w}: epoch, val, test" for w in WINDOWS) + " |")
    print("|---|---:|" + "---|" * len(WINDOWS))
    table: dict[int, list[float]] = {w: [] for w in WINDOWS}
    for k, (va, te) in parts.items():
        got = best_windows(torch.stack(preds[k]["val"]), torch.stack(preds[k]["test"]),
                           y[va], y[te])
        run = res["runs"][k]
        assert abs(got[1][1] - run["val_rmse"]) < 1e-4, "w=1 must be the trainer's choice"
        cells = []
        for w in WINDOWS:
            t, v, tt = got[w]
            table[w].append(tt)
            cells.append(f"{t}, {v:.3f}, {tt:.3f}")
        print(f"| {k} | {run['epochs']} | " + " | ".join(cells) + " |")
    print("| mean test | | " + " | ".join(
        f"{statistics.fmean(table[w]):.3f} +- {statistics.pstdev(table[w]):.3f}"
        for w in WINDOWS) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
