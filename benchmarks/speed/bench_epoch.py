"""Training-epoch time and peak memory, gnnkit against PyTorch Geometric, in one run.

Every (model, dataset, framework) measurement runs in its own process, so peak memory is
that case's alone. The frameworks alternate within each repeat (the order flips every
repeat), and the table reports medians over repeats and the median of the per-repeat paired
ratios gnnkit / PyG, which is robust to a machine whose load drifts during the run.

PyG runs in two input forms, ``edge_index`` and a ``torch.sparse`` CSR adjacency
(``adj_t``); the faster one (per case) is the PyG figure. Both models have the same
architecture and sizes (below) and use each framework's standard layers.

Usage:
    python benchmarks/speed/bench_epoch.py                       # the committed table
    python benchmarks/speed/bench_epoch.py --models gcn --datasets cora,pubmed --repeats 5
    python benchmarks/speed/bench_epoch.py --device cuda         # same table on a GPU

Writes a Markdown table to stdout (and to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATASETS = ("cora", "pubmed", "synthetic-100k", "synthetic-1m")
MODELS = ("gcn", "gat", "sage")
FRAMEWORKS = ("gnnkit", "pyg", "pyg-sparse")
# Architecture per model (identical in both frameworks): two layers.
HIDDEN = {"gcn": 64, "gat": 8, "sage": 64}  # GAT: 8 heads x 8 features
SYNTH = {"synthetic-100k": (100_000, 1_000_000), "synthetic-1m": (1_000_000, 10_000_000)}
SYNTH_FEATURES, SYNTH_CLASSES = 128, 16


# --------------------------------------------------------------------------- child side
def _load(dataset: str, root: str | None):
    sys.path.insert(0, str(REPO))
    from gnnkit.datasets import load_planetoid, load_planetoid_structure, random_graph

    if dataset in SYNTH:
        n, e = SYNTH[dataset]
        return random_graph(n, e, SYNTH_FEATURES, SYNTH_CLASSES, seed=0)
    if dataset == "pubmed":  # ind.pubmed.allx may be absent: real graph, features of the right shape
        return load_planetoid_structure("pubmed", root=root)
    return load_planetoid(dataset, root=root)


class _PeakRSS:
    """Peak resident memory of this process from now on (Linux: VmHWM after a reset;
    elsewhere a 2 ms sampling thread)."""

    def __init__(self) -> None:
        self.base = self._rss()
        self.peak = self.base
        self._reset_ok = False
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self._reset_ok = True
        except OSError:
            self._stop = False
            self._t = threading.Thread(target=self._sample, daemon=True)
            self._t.start()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop:
            self.peak = max(self.peak, self._rss())
            time.sleep(0.002)

    def stop(self) -> int:
        if self._reset_ok:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024 - self.base
        self._stop = True
        self._t.join()
        return self.peak - self.base


def _build(framework: str, model: str, in_dim: int, out_dim: int):
    import torch
    import torch.nn.functional as F

    if framework == "gnnkit":
        from gnnkit.models import GAT, GCN, GraphSAGE

        return {
            "gcn": lambda: GCN(in_dim, HIDDEN["gcn"], out_dim, dropout=0.5),
            "gat": lambda: GAT(in_dim, HIDDEN["gat"], out_dim, num_heads=8, out_heads=1),
            "sage": lambda: GraphSAGE(in_dim, HIDDEN["sage"], out_dim, aggregator="mean"),
        }[model]()
    import torch_geometric.nn as pyg

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            h = HIDDEN[model]
            if model == "gcn":
                self.c1, self.c2 = pyg.GCNConv(in_dim, h, cached=True), pyg.GCNConv(h, out_dim, cached=True)
                self.p, self.act = 0.5, F.relu
            elif model == "gat":
                self.c1 = pyg.GATConv(in_dim, h, heads=8, dropout=0.6)
                self.c2 = pyg.GATConv(8 * h, out_dim, heads=1, concat=False, dropout=0.6)
                self.p, self.act = 0.6, F.elu
            else:
                self.c1, self.c2 = pyg.SAGEConv(in_dim, h), pyg.SAGEConv(h, out_dim)
                self.p, self.act = 0.5, F.relu

        def forward(self, x, adj):
            x = F.dropout(x, self.p, self.training)
            x = self.act(self.c1(x, adj))
            x = F.dropout(x, self.p, self.training)
            return self.c2(x, adj)

    return Net()


def child(args: argparse.Namespace) -> None:
    import torch

    torch.manual_seed(0)
    ds = _load(args.dataset, args.root)
    dev = torch.device(args.device)
    g = ds.graph.to(dev)
    x, y = g.x, g.y
    train = ds.train_idx.to(dev) if args.dataset not in SYNTH else None
    m = _build(args.framework, args.model, x.shape[1], ds.num_classes).to(dev)
    if args.framework == "gnnkit":
        def fwd():
            return m(x, g)
    elif args.framework == "pyg":
        ei = g.edge_index

        def fwd():
            return m(x, ei)
    else:  # torch.sparse CSR adjacency, transposed (rows = destinations), as PyG expects adj_t
        n = g.num_nodes
        rowptr, col, _ = g.csr
        adj_t = torch.sparse_csr_tensor(rowptr, col, torch.ones(col.numel(), device=dev), (n, n))

        def fwd():
            return m(x, adj_t)
    opt = torch.optim.Adam(m.parameters(), lr=0.01)

    def epoch() -> None:
        m.train()
        opt.zero_grad()
        out = fwd()
        loss = torch.nn.functional.cross_entropy(out if train is None else out[train],
                                                 y if train is None else y[train])
        loss.backward()
        opt.step()

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    try:
        for _ in range(args.warmup):  # caches (normalisation, CSR) are built here
            epoch()
        sync()
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        peak = _PeakRSS()
        times = []
        for _ in range(args.epochs):
            t0 = time.perf_counter()
            epoch()
            sync()
            times.append(time.perf_counter() - t0)
        mem = torch.cuda.max_memory_allocated() if dev.type == "cuda" else peak.stop()
        m.eval()
        with torch.no_grad():
            t0 = time.perf_counter()
            fwd()
            sync()
            infer = time.perf_counter() - t0
        res = {"epoch_s": statistics.median(times), "infer_s": infer, "peak_bytes": mem}
    except (RuntimeError, NotImplementedError, ValueError, TypeError) as exc:
        res = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"}
    print("RESULT " + json.dumps(res), flush=True)


# --------------------------------------------------------------------------- parent side
def run_case(fw: str, model: str, dataset: str, a: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", "--framework", fw, "--model", model,
           "--dataset", dataset, "--epochs", str(a.epochs), "--warmup", str(a.warmup),
           "--device", a.device] + (["--root", a.root] if a.root else [])
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {a.timeout} s"}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
    if p.returncode < 0 or p.returncode == 137:
        tail = f"killed (signal {-p.returncode}; out of memory?)"
    return {"error": tail[:120]}


def fmt_ms(s: float | None) -> str:
    if s is None:
        return "n/a"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--datasets", default="cora,pubmed,synthetic-1m")
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs per process (median)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--root", default=os.environ.get("GNNKIT_DATA"), help="data directory")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", help="also write the Markdown table here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--framework", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--dataset", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a)
        return
    import torch

    fws = a.frameworks.split(",")
    rows = []
    for dataset in a.datasets.split(","):
        for model in a.models.split(","):
            runs: dict[str, list[dict]] = {fw: [] for fw in fws}
            for r in range(a.repeats):
                order = fws if r % 2 == 0 else fws[::-1]
                for fw in order:
                    res = run_case(fw, model, dataset, a)
                    runs[fw].append(res)
                    print(f"# {dataset} {model} {fw} rep{r}: {res}", file=sys.stderr, flush=True)
            rows.append(summarise(dataset, model, runs))
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()}; "
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {a.device}; "
        f"repeats {a.repeats}, {a.epochs} timed epochs per process (median).",
        "",
        "| dataset | model | gnnkit epoch | PyG epoch (form) | epoch ratio gnnkit/PyG | "
        "gnnkit inference | PyG inference | gnnkit peak mem | PyG peak mem | mem ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += rows
    table = "\n".join(lines)
    print(table)
    if a.out:
        Path(a.out).write_text(table + "\n")


def summarise(dataset: str, model: str, runs: dict[str, list[dict]]) -> str:
    def med(fw: str, key: str) -> float | None:
        vals = [r[key] for r in runs.get(fw, []) if key in r]
        return statistics.median(vals) if vals else None

    ours = med("gnnkit", "epoch_s")
    pyg_forms = [fw for fw in ("pyg", "pyg-sparse") if med(fw, "epoch_s") is not None]
    best = min(pyg_forms, key=lambda fw: med(fw, "epoch_s")) if pyg_forms else None
    errs = {fw: r["error"] for fw, rs in runs.items() for r in rs if "error" in r}
    if best is None or ours is None:
        why = "; ".join(f"{fw}: {e}" for fw, e in errs.items())
        return (f"| {dataset} | {model} | {fmt_ms(ours)} | failed | n/a | "
                f"{fmt_ms(med('gnnkit', 'infer_s'))} | n/a | n/a | n/a | n/a |  <!-- {why} -->")
    ratios = [o["epoch_s"] / p["epoch_s"] for o, p in zip(runs["gnnkit"], runs[best], strict=True)
              if "epoch_s" in o and "epoch_s" in p]
    mo, mp = med("gnnkit", "peak_bytes"), med(best, "peak_bytes")
    mem_ratio = f"{mo / mp:.2f}" if mo and mp else "n/a"
    form = "edge_index" if best == "pyg" else "torch.sparse"
    return (f"| {dataset} | {model} | {fmt_ms(ours)} | {fmt_ms(med(best, 'epoch_s'))} ({form}) | "
            f"**{statistics.median(ratios):.2f}** | {fmt_ms(med('gnnkit', 'infer_s'))} | "
            f"{fmt_ms(med(best, 'infer_s'))} | {mo / 2**20:.0f} MB | {mp / 2**20:.0f} MB | {mem_ratio} |")


if __name__ == "__main__":
    main()
