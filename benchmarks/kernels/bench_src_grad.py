"""The fused GAT backward's sum of edge gradients onto source nodes, two ways, on one thread.

``index_add`` (what the CPU path ran until 2026-11-23) against a gather into CSC order
followed by ``segment_reduce`` (what every device runs now; CUDA always did, because its
``index_add_`` adds atomically in no fixed order), alternating call by call; prints the
medians and their ratio. The default
size is one MemGNN batch of COLLAB: 16 graphs, about 1,200 nodes and 80,000 directed edges,
4 heads.

Usage:
    OMP_WAIT_POLICY=passive python benchmarks/kernels/bench_src_grad.py
    python benchmarks/kernels/bench_src_grad.py --nodes 19717 --edges 88648 --heads 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gnnkit import Graph, ops  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=1200)
    p.add_argument("--edges", type=int, default=80000)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--repeats", type=int, default=200)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    ei = torch.randint(0, a.nodes, (2, a.edges), generator=gen)
    s = ops._structure(Graph(ei, a.nodes))
    d = torch.randn(a.edges, a.heads, generator=gen)

    def index_add() -> torch.Tensor:
        return torch.zeros(a.nodes, a.heads).index_add_(0, s.src_csr, d)

    def segments() -> torch.Tensor:
        return ops._seg_sum(ops._take_rows(d, s.t_from_csr), s.out_deg)

    torch.testing.assert_close(segments(), index_add())      # the same sums, to rounding
    times: dict[str, list[float]] = {"index_add": [], "segments": []}
    for _ in range(5):
        index_add(), segments()
    for _ in range(a.repeats):
        for name, f in (("index_add", index_add), ("segments", segments)):
            t0 = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(f"N = {a.nodes}, E = {a.edges}, H = {a.heads}, one thread, torch {torch.__version__}")
    print("| index_add (ms) | segments (ms) | segments / index_add |")
    print("|---:|---:|---:|")
    print(f"| {med['index_add']:.3f} | {med['segments']:.3f} | "
          f"{med['segments'] / med['index_add']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
