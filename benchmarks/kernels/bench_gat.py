"""GATConv forward + backward: the fused attention path against the plain composition.

Times one GATConv layer (8 heads x 8 features, attention dropout 0.6, training mode) on
PubMed (500 input features, the real graph with random features) and on random graphs,
``fused=True`` and ``fused=False`` alternating call by call, and reports the medians, their
ratio, and the bytes autograd keeps between forward and backward (every tensor the layer
saves for its backward pass, counted once per storage), and the largest relative difference
between the two paths' outputs and gradients (same seed, so the same dropout mask).

Usage:
    OMP_WAIT_POLICY=passive python benchmarks/kernels/bench_gat.py
    OMP_WAIT_POLICY=passive python benchmarks/kernels/bench_gat.py --graphs random-100k --repeats 21
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
from gnnkit.datasets import load_planetoid_structure, random_graph  # noqa: E402
from gnnkit.nn import GATConv  # noqa: E402

GRAPHS = {"random-100k": (100_000, 1_000_000), "random-1m": (1_000_000, 10_000_000)}


def load(name: str, root: str | None):
    if name == "pubmed":
        ds = load_planetoid_structure("pubmed", root=root)
        return ds.graph, ds.graph.x
    n, e = GRAPHS[name]
    g = random_graph(n, e, 64, 2, seed=0).graph
    return g, g.x


def saved_bytes(fn) -> int:  # noqa: ANN001
    """Bytes of the distinct storages autograd saves while ``fn`` runs its forward pass."""
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        st = t.untyped_storage()
        seen[st.data_ptr()] = st.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graphs", default="pubmed,random-100k")
    ap.add_argument("--repeats", type=int, default=11, help="timed calls per path (median)")
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=8)
    ap.add_argument("--attn-dropout", type=float, default=0.6)
    ap.add_argument("--root", default=os.environ.get("GNNKIT_DATA"))
    a = ap.parse_args()
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}; load average {os.getloadavg()[0]:.1f}; "
          f"GATConv(F_in, {a.hidden}, heads={a.heads}, attn_dropout={a.attn_dropout}), "
          f"train mode, forward + backward, median of {a.repeats} alternating calls.\n")
    print("| graph | N | E' (with loops) | reference fwd+bwd | fused fwd+bwd | fused/reference "
          "| reference saved | fused saved |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in a.graphs.split(","):
        g, x = load(name, a.root)
        torch.manual_seed(0)
        layers = {}
        for fused in (False, True):
            torch.manual_seed(0)
            layers[fused] = GATConv(x.shape[1], a.hidden, a.heads, attn_dropout=a.attn_dropout,
                                    fused=fused).train()

        def step(fused: bool, seed: int = 0, layers=layers, x=x, g=g) -> list[torch.Tensor]:  # noqa: ANN001
            layer = layers[fused]
            layer.zero_grad(set_to_none=True)
            torch.manual_seed(seed)
            out = layer(x, g)
            out.backward(torch.ones_like(out))
            return [out.detach()] + [p.grad for p in layer.parameters()]

        ref, got = step(False), step(True)          # also warms the caches
        err = max(float((r - f).abs().max() / (r.abs().max() + 1e-30))
                  for r, f in zip(ref, got, strict=True))
        times: dict[bool, list[float]] = {False: [], True: []}
        for r in range(a.repeats):
            for fused in ((False, True) if r % 2 == 0 else (True, False)):
                t0 = time.perf_counter()
                step(fused, r)
                times[fused].append(time.perf_counter() - t0)
        mem = {}
        for fused in (False, True):
            torch.manual_seed(0)
            mem[fused] = saved_bytes(lambda f=fused: layers[f](x, g)) / 2**20  # noqa: B023
        tr, tf = statistics.median(times[False]), statistics.median(times[True])
        ratios = statistics.median(f / r for r, f in zip(times[False], times[True], strict=True))
        print(f"| {name} | {g.num_nodes} | {g.num_edges + g.num_nodes} | {tr * 1e3:.1f} ms | "
              f"{tf * 1e3:.1f} ms | **{ratios:.2f}** | {mem[False]:.0f} MB | {mem[True]:.0f} MB |"
              f"  <!-- max rel diff {err:.1e}; load {os.getloadavg()[0]:.1f} -->", flush=True)


if __name__ == "__main__":
    main()
