"""Where the paper's full GAE loss spends its time on CPU, on one thread.

Two tables. The first: nanoseconds per element of the element-wise work on one logits tile
(64 x 4096, the PubMed tile of 1 MB; the variants take turns, medians): ``F.softplus`` then
``sigmoid`` (what the loss took before) against the softplus sum taken from the sigmoid
(``gnnkit.models.losses._softplus_sum_via_sigmoid``). The second: one forward + backward of
``softplus_gram_sum`` on a random Z of ``--nodes`` x 16 for several tile shapes (rows x
columns; "all" = whole rows), alternating the shapes call by call, with the median time and
the median ratio to the first shape, paired by round.

Usage:
    OMP_WAIT_POLICY=passive python benchmarks/kernels/bench_gram_loss.py
    python benchmarks/kernels/bench_gram_loss.py --nodes 60000 --rounds 2 --shapes 4x0,64x4096
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from gnnkit.models.losses import (  # noqa: E402
    _softplus_sum_via_sigmoid,
    softplus_gram_sum,
    tile_shape,
)


def _two_sums(t: torch.Tensor) -> torch.Tensor:
    return 2.0 * t[:, 64:].sum() + t[:, :64].sum()


def _ns_per_element(fns: dict, t: torch.Tensor, repeats: int) -> dict[str, float]:  # noqa: ANN001
    """Median ns per element of each function on a fresh copy of t, the functions taking
    turns call by call (so a burst of load on a shared machine hits them alike)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn(t.clone())
    for _ in range(repeats):
        for name, fn in fns.items():
            x = t.clone()
            t0 = time.perf_counter()
            fn(x)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) * 1e9 / t.numel() for name, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=19717, help="rows of Z (PubMed: 19717)")
    p.add_argument("--shapes", default="13x0,64x4096,32x8192",
                   help="tile shapes ROWSxCOLS, COLS 0 = whole rows; the first is the base")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=200, help="calls per element-wise timing")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)

    s = torch.randn(64, 4096, generator=gen) * 3.0
    scratch = torch.empty_like(s)          # as the loss passes it: one buffer for all tiles
    print(f"torch {torch.__version__}, 1 thread, capability "
          f"{torch.backends.cpu.get_cpu_capability()}\n")
    print("| element-wise work on a 64 x 4096 tile | ns per element |")
    print("|---|---:|")
    rows = {
        "F.softplus": lambda x: F.softplus(x),
        "sigmoid (in place)": lambda x: x.sigmoid_(),
        "F.softplus, its two sums, then sigmoid (before)":
            lambda x: (_two_sums(F.softplus(x)), x.sigmoid_()),
        "softplus sum from the sigmoid, sigmoid left in place (now)":
            lambda x: _softplus_sum_via_sigmoid(x, 64, scratch),
    }
    for name, ns in _ns_per_element(rows, s, a.repeats).items():
        print(f"| {name} | {ns:.2f} |")

    shapes = []
    for item in a.shapes.split(","):
        r, c = (int(v) for v in item.lower().split("x"))
        shapes.append((r, c or None))
    z = (torch.randn(a.nodes, 16, generator=gen) * 0.7).requires_grad_()
    times: dict[tuple[int, int | None], list[float]] = {sh: [] for sh in shapes}
    for k in range(a.rounds):
        for sh in (shapes if k % 2 == 0 else shapes[::-1]):
            t0 = time.perf_counter()
            softplus_gram_sum(z, block_rows=sh[0], block_cols=sh[1]).backward()
            times[sh].append(time.perf_counter() - t0)
    base = times[shapes[0]]
    print(f"\nsoftplus_gram_sum forward + backward, Z [{a.nodes}, 16], {a.rounds} rounds "
          f"(default tiles of 1 MB here: {tile_shape(a.nodes, 1.0)})\n")
    print("| tile (rows x cols) | median s | ratio to the first (paired median) |")
    print("|---|---:|---:|")
    for sh in shapes:
        ratio = statistics.median(x / y for x, y in zip(times[sh], base, strict=True))
        print(f"| {sh[0]} x {sh[1] or 'all'} | {statistics.median(times[sh]):.3f} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
