"""A small hyperparameter sweep of MemGNN on a MoleculeNet set, chosen on validation RMSE.

    python benchmarks/graph_prediction/sweep.py --dataset esol --seeds 3 \
        --configs base wd1e-4 drop0 hidden128 layers3
    python benchmarks/graph_prediction/sweep.py --dataset esol --seeds 3 --report

Every config is the ``graph_memgnn`` preset (the official GMN settings) with the overrides
named in ``CONFIGS``; each runs on the same random 80/10/10 splits (seeds 0..seeds-1), the
epoch with the lowest validation RMSE is tested. The config to use is the one with the
lowest **mean validation RMSE**; the test column is printed for every row so the reader can
see what the choice costs or gains, but it never enters the choice. Rows are appended to
``--out`` (JSON lines, default ``results/sweep/<dataset>.jsonl``) and printed as a Markdown table;
``--report`` prints the table of every config in that file (several processes can each run
some configs and append to it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

from gnnkit.tasks import make_config
from gnnkit.tasks.graph_prediction import run_folds

CONFIGS: dict[str, dict] = {
    "base": {},
    "wd1e-4": {"weight_decay": 1e-4},
    "wd1e-5": {"weight_decay": 1e-5},
    "drop0": {"dropout": 0.0},
    "drop0.2": {"dropout": 0.2},
    "hidden128": {"hidden_dim": 128},
    "layers3": {"gnn_layers": 3},
    "layers4": {"gnn_layers": 4},
    "layers6": {"gnn_layers": 6},
    "layers4-klkeys": {"gnn_layers": 4, "kl_params": "keys"},
    "keys5": {"num_keys": (5, 1)},
    "batch32": {"batch_size": 32},
    "kl0": {"kl_weight": 0.0},
    "klkeys": {"kl_params": "keys"},
    "lr1e-3": {"lr": 1e-3},
    "decay100": {"lr_decay_step": 100},
}


def print_table(rows: list[dict], model: str, dataset: str, seeds: int) -> None:
    """The rows as a Markdown table, the one with the lowest mean validation RMSE marked."""
    best = min(rows, key=lambda r: r["val_rmse_mean"])
    print(f"\n{model} on {dataset}, {seeds} splits; chosen on validation: {best['config']}\n")
    print("| config | overrides | val RMSE | test RMSE | train RMSE | epochs | s/epoch |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        mark = " (chosen)" if r is best else ""
        print(f"| {r['config']}{mark} | {r['overrides'] or '-'} | {r['val_rmse_mean']:.3f} ± "
              f"{r['val_rmse_std']:.3f} | {r['test_rmse_mean']:.3f} ± {r['test_rmse_std']:.3f} | "
              f"{r['train_rmse_mean']:.3f} | {r['epochs_mean']:.0f} | {r['s_per_epoch']:.2f} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="esol")
    p.add_argument("--model", default="memgnn")
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2000)
    p.add_argument("--patience", type=int, default=200)
    p.add_argument("--out", default=None,
                   help="JSON lines output (default: results/sweep/<dataset>.jsonl)")
    p.add_argument("--report", action="store_true",
                   help="train nothing: print the table of every config in --out (the latest "
                        "row of each, for this model and number of splits)")
    a = p.parse_args(argv)
    default = Path(__file__).resolve().parent / "results" / "sweep" / f"{a.dataset}.jsonl"
    out = Path(a.out) if a.out else default
    if a.report:
        latest: dict[str, dict] = {}
        for line in out.read_text().splitlines():
            r = json.loads(line)
            if r["model"] == a.model and r["dataset"] == a.dataset and r["seeds"] == a.seeds:
                latest[r["config"]] = r
        if not latest:
            p.error(f"no {a.model} rows with {a.seeds} splits in {out}")
        print_table(list(latest.values()), a.model, a.dataset, a.seeds)
        return 0
    torch.set_num_threads(1)
    rows = []
    for name in a.configs:
        cfg = make_config("graph", model=a.model, dataset=a.dataset, seeds=a.seeds,
                          epochs=a.epochs, patience=a.patience, threads=1, quiet=True,
                          out_dir="runs/sweep", **CONFIGS[name])
        t0 = time.perf_counter()
        res = run_folds(cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
        row = {"dataset": a.dataset, "model": a.model, "config": name,
               "overrides": {k: list(v) if isinstance(v, tuple) else v
                             for k, v in CONFIGS[name].items()},
               "seeds": res["num_folds"],
               "val_rmse_mean": res["val_rmse_mean"], "val_rmse_std": res["val_rmse_std"],
               "test_rmse_mean": res["test_rmse_mean"], "test_rmse_std": res["test_rmse_std"],
               "train_rmse_mean": res["train_rmse_mean"], "epochs_mean": res["epochs_mean"],
               "per_seed": [(r["val_rmse"], r["test_rmse"]) for r in res["runs"]],
               "s_per_epoch": res["time_per_epoch_mean"], "wall_s": time.perf_counter() - t0,
               "run_dir": res["run_dir"], "date": time.strftime("%Y-%m-%d %H:%M")}
        rows.append(row)
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"{name}: val {row['val_rmse_mean']:.3f}  test {row['test_rmse_mean']:.3f}",
              file=sys.stderr, flush=True)
    print_table(rows, a.model, a.dataset, a.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
