"""Markdown table of every run recorded in results/*.jsonl (written by table.py).

    python benchmarks/graph_prediction/report.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    rows = []
    for f in sorted((HERE / "results").glob("*.jsonl")):
        rows += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    print("| model | data set | protocol | runs | epochs/run | metric | ours | train | paper "
          "(target) | s/epoch | preset or results/metrics file |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        paper = "-" if r["paper"] is None else f"{r['paper']:.2f}"
        metric = r.get("metric", "val_acc" if r["protocol"] == "paper" else "test_acc")
        unit = "" if "rmse" in metric else " %"
        print(f"| {r['model']} | {r['dataset']} | {r['protocol']} | {r['folds']} | "
              f"{r['epochs']} | {metric} | {r['acc_mean']:.2f} ± {r['acc_std']:.2f}{unit} | "
              f"{r['train_acc_mean']:.2f} | {paper} | {r['s_per_epoch']:.2f} | "
              f"{r.get('preset', '-')} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
