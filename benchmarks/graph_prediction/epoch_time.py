"""Training epoch time of GMN / MemGNN, one checkout against another, alternating.

    # this checkout alone
    python benchmarks/graph_prediction/epoch_time.py --models gmn memgnn --datasets proteins
    # before/after a change: a worktree of the old commit against this checkout
    git worktree add /tmp/old <commit>
    python benchmarks/graph_prediction/epoch_time.py --checkouts /tmp/old . --repeats 3

Each measurement is a fresh process that imports gnnkit from the given checkout and trains
fold 0 of the paper protocol (built-in preset) for ``--epochs`` epochs, one thread; the
reported time is ``time_per_epoch`` of the run (training, the per-epoch validation pass,
the KL epochs as scheduled). The checkouts alternate within each repeat, so load on a
shared machine hits both alike; the table gives the median per checkout and the median of
the paired ratios (last checkout / first).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, torch
sys.path.insert(0, sys.argv[1])
import torch._dynamo  # noqa: F401  (imported by the first Adam; keep it out of the timing)
from gnnkit.tasks import make_config
from gnnkit.tasks.graph_prediction import run_folds
cfg = make_config("graph", model=sys.argv[2], dataset=sys.argv[3], epochs=int(sys.argv[4]),
                  patience=10**6, max_folds=1, seeds=1, save=False, quiet=True, threads=1)
res = run_folds(cfg)
print(json.dumps({"s_per_epoch": res["time_per_epoch_mean"]}))
"""


def measure(checkout: str, model: str, dataset: str, epochs: int) -> float:
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "passive")}
    out = subprocess.run([sys.executable, "-c", CHILD, str(Path(checkout).resolve()), model,
                          dataset, str(epochs)], capture_output=True, text=True, env=env,
                         check=False)
    if out.returncode != 0:
        raise SystemExit(f"{checkout} {model} {dataset} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["s_per_epoch"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    here = str(Path(__file__).resolve().parents[2])
    p.add_argument("--checkouts", nargs="+", default=[here])
    p.add_argument("--models", nargs="+", default=["gmn", "memgnn"])
    p.add_argument("--datasets", nargs="+", default=["enzymes", "proteins"])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--repeats", type=int, default=1)
    a = p.parse_args(argv)
    heads = " | ".join(f"{c} (s/epoch)" for c in a.checkouts)
    ratio = len(a.checkouts) > 1
    print(f"| model | data set | {heads} |" + (" ratio last/first |" if ratio else ""))
    print("|---|---|" + "---:|" * (len(a.checkouts) + ratio))
    for model in a.models:
        for ds in a.datasets:
            times: list[list[float]] = [[] for _ in a.checkouts]
            for _ in range(a.repeats):
                for i, c in enumerate(a.checkouts):
                    times[i].append(measure(c, model, ds, a.epochs))
            cells = " | ".join(f"{statistics.median(t):.3f}" for t in times)
            line = f"| {model} | {ds} | {cells} |"
            if ratio:
                r = statistics.median(b / f for f, b in zip(times[0], times[-1], strict=True))
                line += f" {r:.2f} |"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
