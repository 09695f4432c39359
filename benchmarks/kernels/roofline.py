"""Roofline of GCN aggregation on the 1M-node graph: what the memory system allows, and
where gnnkit's sparse product stands against it.

GCN aggregation is ``out = Â x`` with Â = D^-1/2 (A + I) D^-1/2 (``ops.gcn_norm``) on
``gnnkit.datasets.random_graph(1_000_000, 10_000_000, ...)`` (the speed benchmark's large
graph): N = 1M rows, nnz = E + N = 11M, x [N, F] float32 with F = 64 (GCN hidden layer) or 16
(output layer). The backward pass computes Â^T g the same way on the cached transpose.

Three measurements, all with public tools only (torch, ``gnnkit.ops``, ``Graph.csr``):

1. Streaming bandwidth on float32 arrays of ``--stream-mb`` MB each (default 512, larger than
   the last-level cache share): ``copy_`` (bytes = read + write = 2S), ``torch.add(a, b,
   out=c)`` (3S), ``sum`` (S). Write-allocate traffic the hardware may add is not counted.
2. Random-gather bandwidth: ``index_select`` of nnz rows of x [N, F] (F = 16, 64, 128), the
   indices either uniform random (int64) or the GCN graph's CSR column indices (int32; the
   access pattern of the forward product; the graph is symmetric, so the backward's CSC
   pattern is the same), the output either
     - to memory: one output buffer of >= 704 MB, bytes = rows*F*4 read + rows*F*4 written
       + index bytes, or
     - to cache: a 1 MB output buffer reused chunk by chunk, bytes = rows*F*4 + index bytes
       (the random-read rate alone; the buffer never leaves L2).
     - summed: ``embedding_bag(mode="sum")`` adds the gathered rows into N output rows, in
       bags of the graph's in-degrees (the unweighted product when the order is CSR), bytes
       = rows*F*4 + index bytes + offsets 8 N or 4 N + N*F*4 written; torch's fastest gather
       (FBGEMM kernels that prefetch the rows).
   The gather limit of a (threads, F) pair is the best GB/s of these six variants.
3. ``ops.spmm(gh, x, w)`` forward (no autograd) and its backward (``torch.autograd.grad`` of
   the product: Â^T g on the cached CSC), F = 16 and 64; beside it ``torch.sparse.mm`` on
   int32 CSR tensors of Â and Â^T (gnnkit's kernel before this benchmark). Bytes model, the
   minimum either kernel must move when no row of x stays cached between its uses:
       rowptr 4 (N + 1) + column indices 4 nnz + values 4 nnz        (CSR read once)
     + 4 F nnz                                                       (one row of x per nnz)
     + 4 F N                                                         (output written once)
   achieved GB/s = bytes / time; "% of gather limit" = achieved / gather limit (same F and
   threads); "% of streaming" = achieved / the best streaming GB/s (same threads).

Every case runs once as warm-up, then ``--repeats`` times, interleaved (repeat r runs every
case once for every thread count), and the table shows medians. The 1-minute load average is
recorded before every repeat; with ``--max-load`` a repeat first waits (up to ``--wait`` s)
for the load to drop below it. Run with ``OMP_WAIT_POLICY=passive`` on a shared machine.

Usage:
    OMP_WAIT_POLICY=passive nice -n 5 python benchmarks/kernels/roofline.py
    python benchmarks/kernels/roofline.py --nodes 100000 --edges 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gnnkit.train.rundir import cpu_model  # noqa: E402

GATHER_OUT_BYTES = 1 << 30   # "to memory" output buffer (capped at nnz rows)
CACHE_OUT_BYTES = 1 << 20    # "to cache" output buffer


def _cache(level: int) -> str:
    """Size of the unified cache of ``level`` seen by CPU 0 (Linux sysfs), else '?'."""
    root = Path("/sys/devices/system/cpu/cpu0/cache")
    for d in sorted(root.glob("index*")) if root.exists() else []:
        try:
            if int((d / "level").read_text()) == level and \
                    (d / "type").read_text().strip() == "Unified":
                return (d / "size").read_text().strip()
        except (OSError, ValueError):
            continue
    return "?"


def _load() -> float:
    return os.getloadavg()[0]


class Case:
    """One timed operation: a name, the bytes it moves, the function, its samples."""

    def __init__(self, group: str, key: tuple, nbytes: float, fn: Callable[[], object],
                 rows: int = 0) -> None:
        self.group, self.key, self.nbytes, self.fn, self.rows = group, key, nbytes, fn, rows
        self.times: dict[int, list[float]] = {}

    def run(self, threads: int) -> None:
        t0 = time.perf_counter()
        self.fn()
        self.times.setdefault(threads, []).append(time.perf_counter() - t0)

    def median(self, threads: int) -> float:
        return statistics.median(self.times[threads])


def build_cases(a: argparse.Namespace) -> tuple[list[Case], dict]:
    from gnnkit import ops
    from gnnkit.datasets import random_graph

    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    g = random_graph(a.nodes, a.edges, 1, 2, seed=0).graph   # features unused here
    gh, w = ops.gcn_norm(g)                                   # Â: self-loops, [nnz] weights
    n, nnz = gh.num_nodes, gh.num_edges
    col32 = gh.csr[1].to(torch.int32)                         # CSR column indices, [nnz]
    rnd64 = torch.randint(n, (nnz,), generator=gen)           # uniform random, [nnz]
    info = {"n": n, "nnz": nnz, "setup_s": time.perf_counter() - t0}
    cases: list[Case] = []

    # 1. streaming
    s_el = a.stream_mb * 2**20 // 4
    sa, sb, sc = (torch.rand(s_el, generator=gen) for _ in range(3))
    S = s_el * 4
    cases += [
        Case("stream", ("copy",), 2 * S, lambda: sc.copy_(sa)),
        Case("stream", ("add",), 3 * S, lambda: torch.add(sa, sb, out=sc)),
        Case("stream", ("sum",), S, lambda: sa.sum()),
    ]

    # 2. gathers
    big = torch.empty(GATHER_OUT_BYTES // 4)
    small = torch.empty(CACHE_OUT_BYTES // 4)
    widths = sorted(set(a.gather_features) | set(a.features))
    xs = {f: torch.randn(n, f, generator=gen) for f in widths}

    def gather(x: torch.Tensor, idx: torch.Tensor, buf: torch.Tensor) -> Callable[[], None]:
        f = x.shape[1]
        chunk = min(buf.numel() // f, idx.numel())
        out = buf[: chunk * f].view(chunk, f)

        def fn() -> None:
            for i in range(0, idx.numel(), chunk):
                j = min(i + chunk, idx.numel())
                torch.index_select(x, 0, idx[i:j], out=out[: j - i])
        return fn

    def bags(x: torch.Tensor, idx: torch.Tensor, offsets: torch.Tensor) -> Callable[[], None]:
        return lambda: torch.nn.functional.embedding_bag(idx, x, offsets, mode="sum")

    rowptr = gh.csr[0]
    for f in a.gather_features:
        x = xs[f]
        for order, idx in (("random", rnd64), ("csr", col32)):
            ib = idx.element_size() * nnz
            cases.append(Case("gather", (f, order, "memory"), 2 * 4 * f * nnz + ib,
                              gather(x, idx, big), rows=nnz))
            cases.append(Case("gather", (f, order, "cache"), 4 * f * nnz + ib,
                              gather(x, idx, small), rows=nnz))
            offsets = rowptr[:-1].to(idx.dtype)
            cases.append(Case("gather", (f, order, "summed"),
                              4 * f * nnz + ib + offsets.element_size() * n + 4 * f * n,
                              bags(x, idx, offsets), rows=nnz))

    # 3. gnnkit's product, forward and backward
    def model_bytes(f: int) -> int:
        return 4 * (n + 1) + 4 * nnz + 4 * nnz + 4 * f * nnz + 4 * f * n

    # the same products with torch.sparse.mm on CSR tensors built from the public CSR/CSC
    # views (gnnkit's kernel before it moved to embedding_bag), for comparison
    rp, col, perm = gh.csr
    cp, row, perm_t = gh.csc
    a_csr = torch.sparse_csr_tensor(rp.int(), col.int(), w[perm], (n, n))
    a_csc = torch.sparse_csr_tensor(cp.int(), row.int(), w[perm_t], (n, n))
    ours, mm = "ops.spmm", "torch.sparse.mm"
    for f in a.features:
        x = xs[f]
        xr = x.clone().requires_grad_(True)

        def fwd(x: torch.Tensor = x) -> None:
            with torch.no_grad():
                ops.spmm(gh, x, w)

        def bwd(xr: torch.Tensor = xr, gout: torch.Tensor = x) -> float:
            out = ops.spmm(gh, xr, w)
            t0 = time.perf_counter()
            torch.autograd.grad(out, xr, gout)   # any [N, F] upstream gradient
            return time.perf_counter() - t0      # the backward alone

        cases += [
            Case("spmm", (f, "forward", ours), model_bytes(f), fwd, rows=nnz),
            _BackwardCase("spmm", (f, "backward", ours), model_bytes(f), bwd, rows=nnz),
            Case("spmm", (f, "forward", mm), model_bytes(f),
                 lambda x=x: torch.sparse.mm(a_csr, x), rows=nnz),
            Case("spmm", (f, "backward", mm), model_bytes(f),
                 lambda x=x: torch.sparse.mm(a_csc, x), rows=nnz),
        ]
    return cases, info


class _BackwardCase(Case):
    """Times only the backward part of its function (which runs a forward first and
    returns the seconds its backward took)."""

    def run(self, threads: int) -> None:
        self.times.setdefault(threads, []).append(self.fn())


def wait_for_load(max_load: float | None, wait: float) -> float:
    start = time.time()
    while max_load is not None and _load() > max_load and time.time() - start < wait:
        time.sleep(10)
    return _load()


def report(cases: list[Case], info: dict, a: argparse.Namespace, loads: list[float]) -> str:
    th = a.threads
    lines = [
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, L2 {_cache(2)} per core, "
        f"L3 {_cache(3)}, {platform.system()}; torch {torch.__version__}; "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}.",
        f"Graph: random_graph({a.nodes}, {a.edges}) + self-loops: N = {info['n']}, "
        f"nnz = {info['nnz']}; median of {a.repeats} interleaved repeats; 1-min load before "
        f"repeats: {min(loads):.2f}-{max(loads):.2f} (median {statistics.median(loads):.2f}).",
        "",
        "Streaming bandwidth",
        "",
        "| threads | op | bytes | time | GB/s |",
        "|---:|---|---:|---:|---:|",
    ]
    stream = {}
    for t in th:
        for c in cases:
            if c.group == "stream":
                gbs = c.nbytes / c.median(t) / 1e9
                stream[t] = max(stream.get(t, 0.0), gbs)
                lines.append(f"| {t} | {c.key[0]} | {c.nbytes / 1e9:.2f} GB | "
                             f"{c.median(t) * 1e3:.1f} ms | {gbs:.2f} |")
    lines += ["", "Random-gather bandwidth (nnz rows of x [N, F])", "",
              "| threads | F | index order | output | bytes | time | GB/s | M rows/s |",
              "|---:|---:|---|---|---:|---:|---:|---:|"]
    limit: dict[tuple[int, int], tuple[float, str]] = {}
    for t in th:
        for c in cases:
            if c.group == "gather":
                f, order, out = c.key
                gbs = c.nbytes / c.median(t) / 1e9
                if gbs > limit.get((t, f), (0.0, ""))[0]:
                    limit[(t, f)] = (gbs, f"{order}, {out}")
                lines.append(f"| {t} | {f} | {order} | {out} | {c.nbytes / 1e9:.2f} GB | "
                             f"{c.median(t) * 1e3:.1f} ms | {gbs:.2f} | "
                             f"{c.rows / c.median(t) / 1e6:.1f} |")
    lines += ["", "GCN aggregation (ops.spmm of the normalised adjacency) against the limits", "",
              "| threads | F | pass | kernel | time | bytes (model) | GB/s | "
              "gather limit (variant) | % of gather limit | M nnz/s | % of streaming |",
              "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t in th:
        for c in cases:
            if c.group == "spmm":
                f, pas, kernel = c.key
                tm = c.median(t)
                gbs = c.nbytes / tm / 1e9
                lim, var = limit.get((t, f), (None, ""))
                pct = f"**{100 * gbs / lim:.0f}%**" if lim else "n/a"
                lim_s = f"{lim:.2f} GB/s ({var})" if lim else "n/a"
                lines.append(f"| {t} | {f} | {pas} | {kernel} | {tm * 1e3:.1f} ms | "
                             f"{c.nbytes / 1e9:.2f} GB | "
                             f"{gbs:.2f} | {lim_s} | {pct} | {c.rows / tm / 1e6:.1f} | "
                             f"{100 * gbs / stream[t]:.0f}% |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--features", default="16,64", help="F of the spmm cases")
    ap.add_argument("--gather-features", default="16,64,128", help="F of the gather cases")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--stream-mb", type=int, default=512)
    ap.add_argument("--max-load", type=float, default=None,
                    help="before each repeat, wait for the 1-min load average to drop below this")
    ap.add_argument("--wait", type=float, default=300, help="longest wait per repeat (s)")
    ap.add_argument("--out", help="also write the Markdown tables here")
    a = ap.parse_args()
    a.features = [int(v) for v in a.features.split(",")]
    a.gather_features = [int(v) for v in a.gather_features.split(",")]
    a.threads = [int(v) for v in a.threads.split(",")]

    cases, info = build_cases(a)
    for t in a.threads:  # warm-up: caches (CSR, CSC, weights) are built here
        torch.set_num_threads(t)
        for c in cases:
            c.fn()
    loads = []
    for r in range(a.repeats):
        loads.append(wait_for_load(a.max_load, a.wait))
        for t in a.threads:
            torch.set_num_threads(t)
            for c in cases:
                c.run(t)
        print(f"# repeat {r}: load {loads[-1]:.2f} -> {_load():.2f}", file=sys.stderr, flush=True)
    table = report(cases, info, a, loads)
    print(table)
    if a.out:
        Path(a.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
