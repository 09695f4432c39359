"""Max aggregation over in-neighbours (GraphSAGE's pooling aggregator): three CPU kernels.

    python benchmarks/kernels/bench_max.py --threads 2 --repeats 10

- ``gather + segment``: x[src] as an [E, F] tensor, then ``segment_reduce`` max over CSR rows
  (gnnkit's path before 2026-11-22; still the path off CPU). Backward splits ties evenly.
- ``sparse.mm amax``: torch's fused CSR kernel ``torch.sparse.mm(A, x, reduce="amax")``, which
  saves the argmax [N, F] for its backward (gnnkit's CPU path now).
- ``embedding_bag max``: ``F.embedding_bag(col, x, rowptr[:-1], mode="max")``.

Prints median forward and forward + backward times (ms) and the largest difference from the
first kernel's output. PubMed is the real graph (random features); synthetic-100k is
``gnnkit.datasets.random_graph(100_000, 1_000_000)``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench_ops import timeit  # noqa: E402  (this directory: the shared median timer)

from gnnkit import ops  # noqa: E402
from gnnkit.datasets import load_planetoid_structure, random_graph  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--root", default=os.environ.get("GNNKIT_DATA"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pubmed = load_planetoid_structure("pubmed", root=a.root).graph
    cases = [("pubmed", pubmed, 500), ("pubmed", pubmed, 64),
             ("synthetic-100k", random_graph(100_000, 1_000_000, 8, 2, seed=0).graph, 128)]
    print(f"torch {torch.__version__}, {a.threads} thread(s), median of {a.repeats}\n")
    print("| graph | F | kernel | forward (ms) | forward + backward (ms) | max abs diff |")
    print("|---|---:|---|---:|---:|---:|")
    gen = torch.Generator().manual_seed(0)
    for name, g, f in cases:
        for row in _case(name, g, f, gen, a.repeats):
            print(row, flush=True)


def _case(name: str, g, f: int, gen: torch.Generator, repeats: int) -> list[str]:  # noqa: ANN001
    rowptr, col, _ = g.csr
    n = g.num_nodes
    s = ops._structure(g)
    x = torch.relu(torch.randn(n, f, generator=gen)).requires_grad_()
    up = torch.randn(n, f, generator=gen)
    adj = torch.sparse_csr_tensor(s.rowptr, s.col, torch.ones(col.numel()), (n, n))
    kernels = {
        "gather + segment": lambda: ops.segment(x[col], rowptr, "max"),
        "sparse.mm amax": lambda: torch.sparse.mm(adj, x, reduce="amax"),
        "embedding_bag max": lambda: F.embedding_bag(s.col, x, s.rowptr[:-1], mode="max"),
    }
    rows, ref = [], None
    for label, fn in kernels.items():
        out = fn().detach()
        ref = out if ref is None else ref
        diff = float((out - ref).abs().max())

        def both(fn=fn) -> None:  # noqa: ANN001
            x.grad = None
            (fn() * up).sum().backward()

        fwd = 1e3 * timeit(fn, repeats)
        rows.append(f"| {name} | {f} | {label} | {fwd:.1f} | {1e3 * timeit(both, repeats):.1f} | "
                    f"{diff:.1e} |")
    return rows

if __name__ == "__main__":
    main()
