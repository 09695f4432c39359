"""Merge the per-fold metrics of runs that split one cross-validation over processes.

    python benchmarks/graph_prediction/collect.py --runs runs/gmn-proteins-f0 \
        runs/gmn-proteins-f5 --name gmn_proteins_paper_official_schedule

``gnnkit train graph ... --first-fold F --max-folds M --run-name R`` writes
``runs/R/metrics.json`` with the folds it ran. This script reads those files, checks that
they come from one configuration (same model, data set, protocol, seed and preset settings
apart from the fold range) and that no fold is missing, and writes

* ``results/metrics/<name>.json``: every fold's metrics and the mean ± std (population);
* one row appended to ``results/tu.jsonl`` (classification) or ``results/molnet.jsonl``
  (regression), the table ``report.py`` prints.

A fold present in two runs (a process that went on past its range) is kept once, after
checking that both runs report the same metrics for it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import tomllib

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from table import result_row  # noqa: E402

# settings that differ between the processes of one cross-validation without changing a
# fold's numbers: the fold range, where the run was written, how often it checkpointed
RANGE_KEYS = {"first_fold", "max_folds", "run_name", "out_dir", "checkpoint_interval",
              "resume", "threads", "quiet", "device"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", required=True, help="run directories")
    p.add_argument("--name", required=True, help="results/metrics/<name>.json")
    p.add_argument("--note", default="")
    a = p.parse_args(argv)
    configs, folds = [], []
    for d in a.runs:
        d = Path(d)
        cfg = tomllib.loads((d / "config.toml").read_text())
        configs.append({k: v for k, v in cfg.items() if k not in RANGE_KEYS})
        folds += json.loads((d / "metrics.json").read_text())["runs"]
    if any(c != configs[0] for c in configs[1:]):
        diff = sorted(k for c in configs[1:] for k in c if c.get(k) != configs[0].get(k))
        raise SystemExit(f"the runs differ in settings other than the fold range: {diff}")
    cfg = configs[0]
    by_fold: dict[int, dict] = {}
    for f in folds:   # a fold run twice must give the same numbers (runs are deterministic)
        prev = by_fold.setdefault(f["fold"], f)
        same = {k: v for k, v in prev.items() if k != "time_per_epoch"} == {
            k: v for k, v in f.items() if k != "time_per_epoch"}
        if not same:
            raise SystemExit(f"fold {f['fold']} appears twice with different metrics")
    folds = list(by_fold.values())
    ids = sorted(by_fold)
    regression = "val_rmse" in folds[0]
    expect = list(range(cfg.get("seeds", 3) if regression else cfg.get("folds", 10)))
    if ids != expect:
        raise SystemExit(f"folds {ids} are not exactly {expect}: a fold is missing or repeated")
    folds.sort(key=lambda f: f["fold"])
    row = result_row(cfg["model"], cfg["dataset"], cfg.get("protocol", "paper"), a.name,
                     cfg.get("epochs"), folds)
    metric, vals = row["metric"], np.array(row["per_fold"]) * (1 if regression else 100)
    out = {"model": row["model"], "dataset": row["dataset"],
           "protocol": cfg.get("protocol", "paper"), "config": cfg,
           "runs": [str(r) for r in a.runs], "folds": folds,
           f"{metric}_mean": row["acc_mean"], f"{metric}_std": row["acc_std"], "note": a.note}
    (HERE / "results" / "metrics").mkdir(parents=True, exist_ok=True)
    (HERE / "results" / "metrics" / f"{a.name}.json").write_text(json.dumps(out, indent=1))
    table = HERE / "results" / ("molnet.jsonl" if regression else "tu.jsonl")
    with open(table, "a") as fh:
        fh.write(json.dumps(row) + "\n")
    print(f"{row['model']} {row['dataset']} {row['protocol']}: {metric} {row['acc_mean']:.2f} "
          f"± {row['acc_std']:.2f} over {len(folds)} ({', '.join(f'{v:.2f}' for v in vals)}); "
          f"epochs {[f['epochs'] for f in folds]}; wrote {a.name}.json and a row of {table.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
