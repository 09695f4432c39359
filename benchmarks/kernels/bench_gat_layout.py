"""Moving GAT's per-edge [E, H] tensors on CPU: row gathers and transposes, on one thread.

The fused GAT (``gnnkit.ops.gat_attention``) gathers [N, H] node scores onto edges
(``index_select`` on dim 0) and turns [E, H] edge tensors into head-major [H, E] for its
per-head sparse products. Both move bytes only. For each size this prints the median time
of torch's direct call and of what ``gnnkit.ops`` does instead on CPU, alternating call by
call, and checks that the results are equal bit for bit:

* gather: ``index_select`` of rows against ``_take_rows`` (a row of 4, 8 or 16 bytes moved
  as one float32 / float64 / complex128 element by a 1-D gather);
* transpose: ``out.copy_(t.t())`` against ``_transpose_into`` (one strided copy per column);
* with ``--block-diagonal``, two rows more per size, a lead for CUDA (not used by gnnkit
  yet): the H per-head sparse products (``_head_products``) and sampled products
  (``_sddmm_heads``) against one product with the block-diagonal [H N, H N] matrix of the
  H heads (one launch instead of H on a GPU; its index arrays built outside the timing).

Sizes: one MemGNN batch of COLLAB (1,200 nodes, 74,000 edges with loops, 4 heads), and
PubMed's GAT layers (19,717 nodes, 108,365 edges with loops; 8 heads, and 1 output head).

Usage:
    OMP_WAIT_POLICY=passive python benchmarks/kernels/bench_gat_layout.py --block-diagonal
    python benchmarks/kernels/bench_gat_layout.py --device cuda --repeats 50
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


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _paired(fa, fb, repeats: int) -> tuple[float, float, float]:  # noqa: ANN001
    fa(), fb()
    ta, tb = [], []
    for k in range(repeats):
        for f, acc in ((fa, ta), (fb, tb)) if k % 2 == 0 else ((fb, tb), (fa, ta)):
            _sync()
            t0 = time.perf_counter()
            f()
            _sync()
            acc.append(time.perf_counter() - t0)
    ratio = statistics.median(b / a for a, b in zip(ta, tb, strict=True))
    return statistics.median(ta) * 1e3, statistics.median(tb) * 1e3, ratio


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--block-diagonal", action="store_true",
                   help="also time per-head products against one block-diagonal product")
    p.add_argument("--device", default="cpu",
                   help="cuda: only the block-diagonal rows (the gathers and transposes "
                        "take torch's own calls there)")
    a = p.parse_args(argv)
    dev = torch.device(a.device)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, device {dev}, 1 thread, medians of {a.repeats}\n")
    print("| size | N | E | H | op: A -> B | A (ms) | B (ms) | B / A (paired) | equal |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---|")
    for name, n, e, h in SIZES:
        if dev.type != "cpu":
            if h > 1:
                _block_diagonal_rows(name, n, e, h, gen, a.repeats, dev)
            continue
        t = torch.randn(n, h, generator=gen)
        idx = torch.randint(0, n, (e,), generator=gen).sort().values
        o1, o2 = torch.empty(e, h), torch.empty(e, h)
        ta, tb, r = _paired(lambda: torch.index_select(t, 0, idx, out=o1),  # noqa: B023
                            lambda: _take_rows(t, idx, out=o2), a.repeats)  # noqa: B023
        print(f"| {name} | {n} | {e} | {h} | gather rows: index_select -> _take_rows "
              f"| {ta:.3f} | {tb:.3f} | {r:.2f} | {torch.equal(o1, o2)} |")
        x = torch.randn(e, h, generator=gen)
        y1, y2 = torch.empty(h, e), torch.empty(h, e)
        ta, tb, r = _paired(lambda: y1.copy_(x.t()),                        # noqa: B023
                            lambda: _transpose_into(x, y2), a.repeats)     # noqa: B023
        print(f"| {name} | {n} | {e} | {h} | transpose [E, H] -> [H, E]: copy_ -> "
              f"_transpose_into | {ta:.3f} | {tb:.3f} | {r:.2f} | {torch.equal(y1, y2)} |")
        if a.block_diagonal and h > 1:
            _block_diagonal_rows(name, n, e, h, gen, a.repeats, dev)
    return 0


def _block_diagonal_rows(name: str, n: int, e: int, h: int, gen: torch.Generator,
                         repeats: int, dev: torch.device) -> None:
    from gnnkit import Graph, ops

    s = ops._structure(Graph(torch.randint(0, n, (2, e), generator=gen).to(dev), n))
    e, c = s.col.numel(), 8
    rowptr = torch.cat([s.rowptr[:-1].long() + k * e for k in range(h)]
                       + [torch.tensor([h * e], device=dev)]).int()
    col = torch.cat([s.col.long() + k * n for k in range(h)]).int()
    w = torch.rand(h, e, generator=gen).to(dev)
    x = torch.randn(h, n, c, generator=gen).to(dev)
    y = torch.randn(h, n, c, generator=gen).to(dev)
    pattern = torch.sparse_csr_tensor(rowptr, col, torch.ones(h * e, device=dev),
                                      (h * n, h * n))
    res: dict[str, torch.Tensor] = {}

    def heads_mm() -> None:
        res["a"] = ops._head_products(s, w, x)

    def one_mm() -> None:
        res["b"] = torch.mm(torch.sparse_csr_tensor(rowptr, col, w.view(-1), (h * n, h * n)),
                            x.view(h * n, c)).view(h, n, c)

    ta, tb, r = _paired(heads_mm, one_mm, repeats)
    print(f"| {name} | {n} | {e} | {h} | H sparse products (C = {c}) -> one block-diagonal "
          f"| {ta:.3f} | {tb:.3f} | {r:.2f} | {torch.equal(res['a'], res['b'])} |")

    def heads_sddmm() -> None:
        res["c"] = ops._sddmm_heads(s, x, y)

    def one_sddmm() -> None:
        res["d"] = torch.sparse.sampled_addmm(pattern, x.view(h * n, c), y.view(h * n, c).t(),
                                              beta=0.0).values().view(h, e)

    ta, tb, r = _paired(heads_sddmm, one_sddmm, repeats)
    print(f"| {name} | {n} | {e} | {h} | H sampled products -> one block-diagonal "
          f"| {ta:.3f} | {tb:.3f} | {r:.2f} | {torch.equal(res['c'], res['d'])} |")


if __name__ == "__main__":
    raise SystemExit(main())
