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

A cross-validation too long for one sitting (run directories are not kept from one machine to
the next) is gathered in parts: ``--partial`` writes the folds finished so far, with their
settings and the commit they were collected at, to ``results/partial/<name>.json`` (commit
it), and says which folds are still missing. A later call names that file among ``--runs``
beside the new run directories; once no fold is missing, a call without ``--partial`` writes
the result as above. The folds of one cross-validation are independent and seeded, so folds
run on different days are runs of one configuration, as long as the code's numerics did not
change in between (check that before merging). They equal one long run's numbers bit for bit
only on the same kind of machine: each fold's machine is kept (``environment``, from
``checkpoints/fold<k>.json``), and a merge over several kinds says so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
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
# what --partial adds to each fold: where it came from, not what it measured
SOURCE_KEYS = {"source", "collected_at", "environment"}


def _commit() -> str:
    """The checkout's commit, ``+dirty`` when gnnkit/ has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", str(HERE.parents[1] / "gnnkit"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _read(src: Path, commit: str) -> tuple[dict, list[dict]]:
    """Settings (less the fold range) and folds of a run directory (each fold tagged with
    its source, the checkout's ``commit`` and its machine) or of a --partial file."""
    if src.is_file() and src.suffix == ".json":
        part = json.loads(src.read_text())
        if "config" not in part or "folds" not in part:
            raise SystemExit(f"{src} is not a file written by collect.py --partial")
        return part["config"], part["folds"]
    if not (src / "config.toml").is_file() or not (src / "metrics.json").is_file():
        raise SystemExit(f"{src} is neither a run directory (config.toml and metrics.json) "
                         "nor a --partial file")
    cfg = tomllib.loads((src / "config.toml").read_text())
    folds = json.loads((src / "metrics.json").read_text())["runs"]

    def env(k: int) -> dict | None:  # the machine that finished fold k (runs since session 11)
        info = src / "checkpoints" / f"fold{k}.json"
        return json.loads(info.read_text()).get("environment") if info.is_file() else None

    return ({k: v for k, v in cfg.items() if k not in RANGE_KEYS},
            [{**f, "source": src.name, "collected_at": commit, "environment": env(f["fold"])}
             for f in folds])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", required=True,
                   help="run directories, and results/partial/*.json files of earlier parts")
    p.add_argument("--name", required=True, help="results/metrics/<name>.json")
    p.add_argument("--note", default="")
    p.add_argument("--partial", action="store_true",
                   help="write the folds so far to results/partial/<name>.json instead")
    p.add_argument("--results", type=Path, default=HERE / "results",
                   help="where metrics/, partial/ and the *.jsonl tables are")
    a = p.parse_args(argv)
    configs, folds, commit = [], [], _commit()
    for d in a.runs:
        cfg, got = _read(Path(d), commit)
        configs.append(cfg)
        folds += got
    if any(c != configs[0] for c in configs[1:]):
        diff = sorted(k for c in configs[1:] for k in c if c.get(k) != configs[0].get(k))
        raise SystemExit(f"the runs differ in settings other than the fold range: {diff}")
    cfg = configs[0]
    by_fold: dict[int, dict] = {}
    skip = SOURCE_KEYS | {"time_per_epoch"}
    for f in folds:   # a fold run twice must give the same numbers (runs are deterministic)
        prev = by_fold.setdefault(f["fold"], f)
        same = {k: v for k, v in prev.items() if k not in skip} == {
            k: v for k, v in f.items() if k not in skip}
        if not same:
            raise SystemExit(f"fold {f['fold']} appears twice with different metrics")
    folds = list(by_fold.values())
    ids = sorted(by_fold)
    machines = {(e["cpu"], e["cpu_capability"], e["torch"])
                for e in (f.get("environment") for f in folds) if e}
    if len(machines) > 1:
        print(f"note: the folds ran on {len(machines)} kinds of machine {sorted(machines)}; "
              "each fold is a run of the same settings, but not bit for bit the numbers one "
              "machine would give")
    regression = "val_rmse" in folds[0]
    expect = list(range(cfg.get("seeds", 3) if regression else cfg.get("folds", 10)))
    if a.partial:
        missing = [k for k in expect if k not in by_fold]
        out_dir = a.results / "partial"
        out_dir.mkdir(parents=True, exist_ok=True)
        folds.sort(key=lambda f: f["fold"])
        part = {"config": cfg, "folds": folds, "missing": missing, "note": a.note}
        (out_dir / f"{a.name}.json").write_text(json.dumps(part, indent=1))
        print(f"{cfg['model']} {cfg['dataset']} {cfg.get('protocol', 'paper')}: folds {ids} "
              f"kept in partial/{a.name}.json; missing {missing}")
        return 0
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
    (a.results / "metrics").mkdir(parents=True, exist_ok=True)
    (a.results / "metrics" / f"{a.name}.json").write_text(json.dumps(out, indent=1))
    table = a.results / ("molnet.jsonl" if regression else "tu.jsonl")
    with open(table, "a") as fh:
        fh.write(json.dumps(row) + "\n")
    print(f"{row['model']} {row['dataset']} {row['protocol']}: {metric} {row['acc_mean']:.2f} "
          f"± {row['acc_std']:.2f} over {len(folds)} ({', '.join(f'{v:.2f}' for v in vals)}); "
          f"epochs {[f['epochs'] for f in folds]}; wrote {a.name}.json and a row of {table.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
