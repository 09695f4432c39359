"""Pool several ``run.py`` result directories of one method and data set: each directory's
10-run mean (the paper's unit), the mean over all runs with its standard error, and the
paired difference gnnkit - PyG (the same split and seed on both sides).

It answers "is a 10-run miss the model or the draw?": if gnnkit and PyG agree run by run and
the pooled mean is within the target while one block of ten is not, the block was unlucky.

    python benchmarks/link_prediction/pool.py --dataset citeseer --method gae --block 10 \\
        benchmarks/link_prediction/results/per_seed \\
        benchmarks/link_prediction/results/splits_10_39/per_seed

Each directory holds ``<dataset>__<method>__gnnkit.json`` and ``..._pyg.json`` as run.py
writes them (``--split per_seed``: seed k trains on split k, so every run is a fresh split).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np


def _runs(directory: Path, dataset: str, method: str, framework: str) -> dict[int, dict]:
    path = directory / f"{dataset}__{method}__{framework}.json"
    if not path.is_file():
        sys.exit(f"pool.py: {path} not found; run run.py with --results {directory.parent} "
                 f"first")
    return {r["seed"]: r for r in json.loads(path.read_text())["runs"]}


def _mean_se(v: np.ndarray) -> str:
    se = v.std(ddof=1) / math.sqrt(len(v)) if len(v) > 1 else float("nan")
    return f"{v.mean():.2f} ± {se:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--dataset", default="citeseer")
    ap.add_argument("--method", default="gae")
    ap.add_argument("--block", type=int, default=10,
                    help="rows of this many consecutive seeds (the paper's 10 runs)")
    a = ap.parse_args()
    rows, pooled = [], {"ours": [], "pyg": []}
    for d in a.dirs:
        ours = _runs(d, a.dataset, a.method, "gnnkit")
        pyg = _runs(d, a.dataset, a.method, "pyg")
        seeds = sorted(set(ours) & set(pyg))
        if not seeds:
            sys.exit(f"pool.py: {d}: gnnkit and PyG share no seed")
        o = np.array([[ours[s]["test_auc"], ours[s]["test_ap"]] for s in seeds]) * 100
        p = np.array([[pyg[s]["test_auc"], pyg[s]["test_ap"]] for s in seeds]) * 100
        pooled["ours"].append(o)
        pooled["pyg"].append(p)
        for i in range(0, len(seeds), a.block):
            j = min(i + a.block, len(seeds))
            rows.append((f"{seeds[i]}-{seeds[j - 1]}", o[i:j], p[i:j]))
    rows.append(("all", np.concatenate(pooled["ours"]), np.concatenate(pooled["pyg"])))
    print(f"{a.method} on {a.dataset}: test AUC / AP in %, mean ± standard error of the mean\n")
    print("| seeds (= splits) | runs | ours AUC | ours AP | PyG AUC | PyG AP "
          "| ours - PyG, AUC (paired) | ours - PyG, AP (paired) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, o, p in rows:
        d = o - p
        print(f"| {name} | {len(o)} | {_mean_se(o[:, 0])} | {_mean_se(o[:, 1])} "
              f"| {_mean_se(p[:, 0])} | {_mean_se(p[:, 1])} | {_mean_se(d[:, 0])} "
              f"| {_mean_se(d[:, 1])} |")


if __name__ == "__main__":
    main()
