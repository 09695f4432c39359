"""The measurements that chose gnnkit's kernel implementations (see gnnkit/ops.py).

Each row times one way of computing the same quantity on a random graph (default: 1M nodes,
10M edges, the speed benchmark's large graph) and checks it against the first row's result.

    python benchmarks/kernels/bench_ops.py [--nodes 1000000 --edges 10000000 --repeats 3]

Sections:
  aggregation  out = A x (sum over in-edges, with edge weights), x [N, F]:
               gather + index_add_, gather + scatter_reduce, CSR torch.sparse.mm (int64 and
               int32 indices; reduce='sum'), embedding_bag (mode='sum', per-sample weights,
               CSR row pointers as offsets)
  edge->node   summing per-edge rows [E, H] onto destinations (the backward of a gather):
               index_add_ vs segment_reduce over CSR rows
  sddmm        per-edge dot products <a[dst], b[src]> per head [E, H]:
               chunked gather-multiply-sum vs torch.sparse.sampled_addmm per head
  dropout      F.dropout vs gnnkit.nn.functional.dropout on [N, 128]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def timeit(f, repeats: int) -> float:
    f()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--edges", type=int, default=10_000_000)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    from gnnkit.nn.functional import dropout

    gen = torch.Generator().manual_seed(0)
    n, e, f, h = a.nodes, a.edges, a.features, a.heads
    src = torch.randint(0, n, (e,), generator=gen)
    dst = torch.randint(0, n, (e,), generator=gen)
    order = torch.argsort(dst * n + src)
    src, dst = src[order], dst[order]
    lengths = torch.bincount(dst, minlength=n)
    rowptr = torch.zeros(n + 1, dtype=torch.long)
    rowptr[1:] = lengths.cumsum(0)
    x = torch.randn(n, f, generator=gen)
    ones = torch.ones(e)
    a64 = torch.sparse_csr_tensor(rowptr, src, ones, (n, n))
    a32 = torch.sparse_csr_tensor(rowptr.int(), src.int(), ones, (n, n))
    src32, off32 = src.int(), rowptr[:-1].int()
    rows: list[tuple[str, str, float, float]] = []

    def section(name: str, cands: list[tuple[str, object]]) -> None:
        ref = None
        for label, fn in cands:
            t = timeit(fn, a.repeats)
            out = fn()
            err = 0.0 if ref is None else float((out - ref).abs().max())
            ref = out if ref is None else ref
            rows.append((name, label, t, err))
            print(f"# {name:12s} {label:40s} {t * 1e3:9.1f} ms  max|diff| {err:.1e}",
                  file=sys.stderr)

    section("aggregation", [
        ("gather + index_add_", lambda: torch.zeros(n, f).index_add_(0, dst, x[src])),
        ("gather + scatter_reduce", lambda: torch.zeros(n, f).scatter_reduce_(
            0, dst[:, None].expand(-1, f), x[src], "sum")),
        ("CSR sparse.mm, int64 indices", lambda: torch.sparse.mm(a64, x)),
        ("CSR sparse.mm, int32 indices", lambda: torch.sparse.mm(a32, x)),
        ("CSR sparse.mm reduce='sum', int32", lambda: torch.sparse.mm(a32, x, "sum")),
        ("embedding_bag sum over CSR rows, int32 (chosen)", lambda: torch.nn.functional
         .embedding_bag(src32, x, off32, mode="sum", per_sample_weights=ones)),
    ])
    ge = torch.randn(e, h, generator=gen)
    section("edge->node", [
        ("index_add_", lambda: torch.zeros(n, h).index_add_(0, dst, ge)),
        ("segment_reduce over CSR rows (chosen)", lambda: torch.segment_reduce(
            ge, "sum", lengths=lengths, unsafe=True)),
    ])
    c = max(1, f // h)
    ha, hb = torch.randn(n, h, c, generator=gen), torch.randn(n, h, c, generator=gen)

    def sddmm_gather():
        out = torch.empty(e, h)
        for lo in range(0, e, 1 << 20):
            hi = min(lo + (1 << 20), e)
            out[lo:hi] = (ha.index_select(0, dst[lo:hi]) * hb.index_select(0, src[lo:hi])).sum(-1)
        return out

    def sddmm_sampled():
        return torch.stack([torch.sparse.sampled_addmm(a32, ha[:, k].contiguous(),
                                                       hb[:, k].t().contiguous(), beta=0.0).values()
                            for k in range(h)], 1)

    section("sddmm", [("chunked gather-multiply-sum", sddmm_gather),
                      ("sampled_addmm per head (chosen)", sddmm_sampled)])
    xd = torch.randn(n, 128, generator=gen)
    # dropout: compare the fraction of zeros (different random streams), not values
    section("dropout", [
        ("F.dropout p=0.5 (zero fraction)", lambda: (torch.nn.functional.dropout(xd, 0.5) == 0)
         .float().mean().reshape(1)),
        ("gnnkit dropout p=0.5 (zero fraction)", lambda: (dropout(xd, 0.5) == 0).float().mean()
         .reshape(1)),
    ])
    print(f"Graph: {n} nodes, {e} edges; F={f}, H={h}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; median of {a.repeats}.\n")
    print("| op | implementation | time | max abs diff vs first |")
    print("|---|---|---:|---:|")
    for name, label, t, err in rows:
        print(f"| {name} | {label} | {t * 1e3:.1f} ms | {err:.1e} |")


if __name__ == "__main__":
    main()
