"""Does node reordering (gnnkit.reorder) speed up aggregation and GCN training?

For each graph and each order (``none`` = the loader's ids, ``rcm``, ``degree``) it reports
the time to compute the order, a locality figure (mean |dst - src| over the edges of Â, as a
fraction of N: 1/3 for ids with no locality), the forward and backward time of
``ops.spmm`` on Â for F = 16 and 64, and the time of one GCN training epoch (the speed
benchmark's model: 2 layers, hidden 64, dropout 0.5, Adam, full batch). All orders of a
graph run interleaved in every repeat; the table shows medians and the median of the
paired ratios reordered / none. On small graphs one sample averages as many calls as fill
50 ms. Each order of a 1M-node graph holds about 1.7 GB (features,
graph, cached structures); ``--orders none,rcm`` then ``--orders none,degree`` halves the peak.

Graphs:
    synthetic-1m   gnnkit.datasets.random_graph(1M, 10M, 128 features, 16 classes): uniform
                   random edges, so there is no locality for any order to find.
    local-1m       1M nodes on a ring, each undirected edge joins nodes at most 500 apart
                   (5M pairs), then the ids are shuffled: real locality, hidden by the ids.
    pubmed         the real PubMed graph (19717 nodes) with random features of the real shape
                   (load_planetoid_structure; ind.pubmed.allx is missing here).

Usage:
    OMP_WAIT_POLICY=passive nice -n 5 python benchmarks/kernels/bench_reorder.py
    python benchmarks/kernels/bench_reorder.py --graphs pubmed --repeats 20
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

ORDERS = ("none", "rcm", "degree")


def load(name: str, root: str | None):
    from gnnkit import Graph
    from gnnkit.datasets import load_planetoid_structure, random_graph

    if name == "synthetic-1m":
        ds = random_graph(1_000_000, 10_000_000, 128, 16, seed=0)
        return ds.graph, 16
    if name == "local-1m":
        n, pairs, width = 1_000_000, 5_000_000, 500
        gen = torch.Generator().manual_seed(0)
        u = torch.randint(n, (pairs,), generator=gen)
        v = (u + torch.randint(1, width + 1, (pairs,), generator=gen)) % n
        ids = torch.randperm(n, generator=gen)                  # hide the ring order
        u, v = ids[u], ids[v]
        ei = torch.stack([torch.cat([u, v]), torch.cat([v, u])])
        x = torch.randn(n, 128, generator=gen)
        y = torch.randint(16, (n,), generator=gen)
        return Graph(ei, n, x=x, y=y), 16
    if name == "pubmed":
        ds = load_planetoid_structure("pubmed", root=root)
        return ds.graph, ds.num_classes
    raise SystemExit(f"unknown graph {name!r}")


def locality(g) -> float:
    from gnnkit import ops

    gh, _ = ops.gcn_norm(g)
    src, dst = gh.edge_index
    return float((src - dst).abs().double().mean()) / g.num_nodes


def measure(name: str, orders: list[str], threads: list[int], repeats: int,
            root: str | None) -> list[str]:
    """The table rows of one graph."""
    from gnnkit import ops
    from gnnkit.models import GCN
    from gnnkit.reorder import reorder

    g0, classes = load(name, root)
    graphs, order_s = {}, {}
    for o in orders:
        t0 = time.perf_counter()
        graphs[o] = g0 if o == "none" else reorder(g0, o)[0]
        order_s[o] = time.perf_counter() - t0
    loc = {o: locality(g) for o, g in graphs.items()}
    gen = torch.Generator().manual_seed(0)
    xs = {f: torch.randn(g0.num_nodes, f, generator=gen, requires_grad=True) for f in (16, 64)}
    models, opts = {}, {}
    for o, g in graphs.items():
        torch.manual_seed(0)
        models[o] = GCN(g.num_features, 64, classes, dropout=0.5)
        opts[o] = torch.optim.Adam(models[o].parameters(), lr=0.01)

    def spmm_step(o: str, f: int) -> None:
        gh, w = ops.gcn_norm(graphs[o])
        out = ops.spmm(gh, xs[f], w)
        torch.autograd.grad(out, xs[f], xs[f].detach())   # any [N, F] upstream gradient

    def epoch(o: str) -> None:
        g, m = graphs[o], models[o]
        m.train()
        opts[o].zero_grad()
        torch.nn.functional.cross_entropy(m(g.x, g), g.y).backward()
        opts[o].step()

    steps = {"16": lambda o: spmm_step(o, 16), "64": lambda o: spmm_step(o, 64), "epoch": epoch}
    times: dict[tuple, list[float]] = {}
    loads: dict[int, list[float]] = {}
    inner: dict[str, int] = {}  # calls per sample: enough to fill 50 ms, at least one
    for t in threads:
        torch.set_num_threads(t)
        for o in orders:
            for key, fn in steps.items():
                fn(o)  # warm-up: normalisation and CSR caches are built here
                t0 = time.perf_counter()
                fn(o)
                calls = int(0.05 / (time.perf_counter() - t0))
                inner[key] = max(1, min(inner.get(key, calls), calls))
    for _ in range(repeats):
        for t in threads:
            torch.set_num_threads(t)
            loads.setdefault(t, []).append(os.getloadavg()[0])
            for o in orders:
                for key, fn in steps.items():
                    t0 = time.perf_counter()
                    for _ in range(inner[key]):
                        fn(o)
                    times.setdefault((t, o, key), []).append(
                        (time.perf_counter() - t0) / inner[key])

    def med(t: int, o: str, key: str) -> str:
        s = statistics.median(times[(t, o, key)])
        return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"

    def ratio(t: int, o: str, key: str) -> str:
        pairs = zip(times[(t, o, key)], times[(t, "none", key)], strict=True)
        return f"{statistics.median(b / r for b, r in pairs):.2f}"

    rows = []
    for t in threads:
        for o in orders:
            ld = loads[t]
            rows.append(f"| {name} | {o} | {t} | {order_s[o]:.2f} s | {loc[o]:.4f} | "
                        f"{med(t, o, '16')} ({ratio(t, o, '16')}) | "
                        f"{med(t, o, '64')} ({ratio(t, o, '64')}) | "
                        f"{med(t, o, 'epoch')} ({ratio(t, o, 'epoch')}) | "
                        f"{min(ld):.1f}-{max(ld):.1f} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graphs", default="synthetic-1m,local-1m,pubmed")
    ap.add_argument("--orders", default=",".join(ORDERS),
                    help="orders to compare; the first must be none (the ratios' reference)")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--root", default=os.environ.get("GNNKIT_DATA"), help="data directory")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    orders = a.orders.split(",")
    if orders[0] != "none" or any(o not in ORDERS for o in orders):
        raise SystemExit(f"--orders: none first, then any of {', '.join(ORDERS[1:])}")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__}; "
          f"threads {a.threads}; median of {a.repeats} interleaved repeats; "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}.")
    print()
    print("Times are medians; in parentheses the median paired ratio to the same graph's "
          "'none' order.")
    print()
    print("| graph | order | threads | order time | mean \\|dst - src\\| / N | "
          "spmm F=16 fwd+bwd | spmm F=64 fwd+bwd | GCN epoch | load |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in a.graphs.split(","):
        for row in measure(name, orders, threads, a.repeats, a.root):
            print(row, flush=True)


if __name__ == "__main__":
    main()
