"""Moving GAT's per-edge [E, H] tensors on CPU: row gathers and transposes, on one thread.

The fused GAT (``gnnkit.ops.gat_attention``) gathers [N, H] node scores onto edges
(``index_select`` on dim 0) and turns [E, H] edge tensors into head-major [H, E] for its
per-head sparse products. Both move bytes only. For each size this prints the median time
of torch's direct call and of what ``gnnkit.ops`` does instead on CPU, alternating call by
call, and checks that the results are equal bit for bit:

* gather: ``index_select`` of rows against ``_take_rows`` (a row of 4, 8 or 16 bytes moved
  as one float32 / float64 / complex128 element by a 1-D gather);
* transpose: ``out.copy_(t.t())`` against ``_transpose_into`` (one strided copy per column).

Sizes: one MemGNN batch of COLLAB (1,200 nodes, 74,000 edges with loops, 4 heads), and
PubMed's GAT layers (19,717 nodes, 108,365 edges with loops; 8 heads, and 1 output head).

Usage:
    OMP_WAIT_POLICY=passive python benchmarks/kernels/bench_gat_layout.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gnnkit.ops import _take_rows, _transpose_into  # noqa: E402

SIZES = [("COLLAB batch", 1200, 74485, 4), ("PubMed, hidden", 19717, 108365, 8),
         ("PubMed, output", 19717, 108365, 1)]


def _paired(fa, fb, repeats: int) -> tuple[float, float, float]:  # noqa: ANN001
    fa(), fb()
    ta, tb = [], []
    for k in range(repeats):
        for f, acc in ((fa, ta), (fb, tb)) if k % 2 == 0 else ((fb, tb), (fa, ta)):
            t0 = time.perf_counter()
            f()
            acc.append(time.perf_counter() - t0)
    ratio = statistics.median(b / a for a, b in zip(ta, tb, strict=True))
    return statistics.median(ta) * 1e3, statistics.median(tb) * 1e3, ratio


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=200)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, 1 thread, medians of {a.repeats}\n")
    print("| size | N | E | H | op | torch (ms) | gnnkit.ops (ms) | ratio (paired) | equal |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---|")
    for name, n, e, h in SIZES:
        t = torch.randn(n, h, generator=gen)
        idx = torch.randint(0, n, (e,), generator=gen).sort().values
        o1, o2 = torch.empty(e, h), torch.empty(e, h)
        ta, tb, r = _paired(lambda: torch.index_select(t, 0, idx, out=o1),  # noqa: B023
                            lambda: _take_rows(t, idx, out=o2), a.repeats)  # noqa: B023
        print(f"| {name} | {n} | {e} | {h} | gather rows | {ta:.3f} | {tb:.3f} | {r:.2f} | "
              f"{torch.equal(o1, o2)} |")
        x = torch.randn(e, h, generator=gen)
        y1, y2 = torch.empty(h, e), torch.empty(h, e)
        ta, tb, r = _paired(lambda: y1.copy_(x.t()),                        # noqa: B023
                            lambda: _transpose_into(x, y2), a.repeats)     # noqa: B023
        print(f"| {name} | {n} | {e} | {h} | transpose [E, H] -> [H, E] | {ta:.3f} | {tb:.3f} "
              f"| {r:.2f} | {torch.equal(y1, y2)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
