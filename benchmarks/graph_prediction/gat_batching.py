"""MemGNN training steps with the GAT index arrays of each batch sorted (``batch``) or
assembled from per-graph parts (``ops.batch_for_gat``, what training uses on CPU).

    python benchmarks/graph_prediction/gat_batching.py --datasets collab dd proteins enzymes
    python benchmarks/graph_prediction/gat_batching.py --memory --datasets collab dd

For each data set: the ``graph_memgnn`` preset's model, ``--steps`` batches of 16 graphs
drawn once, every graph's attention structure built once before timing (the one-time cost
of the assembled path, paid in the first epoch of a run), then ``--repeats`` rounds that
each time all steps (batch, forward, cross-entropy, backward, Adam) with the sorted batches
and then with the assembled ones, one thread. Both paths give the same outputs (tested), so
the model trains on the same numbers either way. Prints milliseconds per step (medians)
and the median of the paired ratios (assembled / sorted).

``--memory`` instead builds the arrays of every graph the preset keeps (no timing) and
prints what they hold: the bytes of each graph's attention graph (edges and loops) and of
its index arrays, counting a tensor shared by two arrays once.

``--build-only`` times only the assembly (``ops.batch_for_gat``, steady state: every graph's
parts built before timing), milliseconds per batch, median over ``--repeats`` passes over
the batches; run it with ``PYTHONPATH=<another checkout>`` to compare that checkout's
assembly with the same batches.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from gnnkit import ops
from gnnkit.graph import batch
from gnnkit.tasks import graph_prediction as gp
from gnnkit.tasks import make_config


def steps_ms(model, opt, parts, make) -> float:  # noqa: ANN001
    t = time.perf_counter()
    for part in parts:
        gb = make(part)
        out, _ = model(gb)
        loss = F.cross_entropy(out, gb.y.view(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - t) / len(parts) * 1e3


def kept_bytes(graphs) -> tuple[int, int]:  # noqa: ANN001
    """(bytes, attention edges) that ops.batch_for_gat keeps for ``graphs``."""
    total, edges = 0, 0
    for g in graphs:
        ops.batch_for_gat([g])
        part = g._cache["gat_graph"]
        s = part._cache["structure"]
        seen = {}
        for t in [part.edge_index] + [getattr(s, k) for k in (
                "rowptr", "col", "perm", "colptr", "row", "t_from_csr", "dst_csr", "src_csr",
                "in_deg", "out_deg")]:
            seen[t.data_ptr()] = t.numel() * t.element_size()
        total += sum(seen.values())
        edges += part.num_edges
    return total, edges


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=["collab", "dd", "proteins", "enzymes"])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--memory", action="store_true", help="report the kept arrays' size")
    p.add_argument("--build-only", action="store_true", help="time only ops.batch_for_gat")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.build_only:
        print("| data set | assembling a batch of 16 (ms, median) |")
        print("|---|---:|")
        for name in args.datasets:
            cfg = make_config("graph", model="memgnn", dataset=name, save=False, quiet=True)
            graphs = gp.load_graph_data(cfg).graphs
            gen = torch.Generator().manual_seed(1)
            idx = torch.randperm(len(graphs), generator=gen)[:args.steps * 16].tolist()
            parts = [[graphs[i] for i in idx[s:s + 16]] for s in range(0, len(idx), 16)]
            for part in parts:
                ops.batch_for_gat(part)                  # per-graph structures, once
            times = []
            for _ in range(args.repeats):
                for part in parts:
                    t = time.perf_counter()
                    ops.batch_for_gat(part)
                    times.append(time.perf_counter() - t)
            print(f"| {name} | {statistics.median(times) * 1e3:.3f} |")
        return 0
    if args.memory:
        print("| data set | attention edges | kept (MB) | bytes per edge |")
        print("|---|---:|---:|---:|")
        for name in args.datasets:
            cfg = make_config("graph", model="memgnn", dataset=name, save=False, quiet=True)
            total, edges = kept_bytes(gp.load_graph_data(cfg).graphs)
            print(f"| {name} | {edges} | {total / 1e6:.0f} | {total / edges:.1f} |")
        return 0
    print("| data set | sorted per batch (ms/step) | assembled (ms/step) | ratio |")
    print("|---|---:|---:|---:|")
    for name in args.datasets:
        cfg = make_config("graph", model="memgnn", dataset=name, max_folds=1, save=False,
                          quiet=True)
        data = gp.load_graph_data(cfg)
        graphs = data.graphs
        torch.manual_seed(0)
        model = gp.model_for(cfg, graphs, data.num_classes, 0)
        opt = torch.optim.Adam(model.parameters(), cfg.lr)
        gen = torch.Generator().manual_seed(1)
        idx = torch.randperm(len(graphs), generator=gen)[:args.steps * 16]
        parts = [[graphs[i] for i in idx[s:s + 16].tolist()] for s in range(0, idx.numel(), 16)]
        for part in parts:
            ops.batch_for_gat(part)                      # per-graph structures, once
        old, new = [], []
        for _ in range(args.repeats):
            old.append(steps_ms(model, opt, parts, batch))
            new.append(steps_ms(model, opt, parts, ops.batch_for_gat))
        ratio = statistics.median(b / a for a, b in zip(old, new, strict=True))
        print(f"| {name} | {statistics.median(old):.1f} | {statistics.median(new):.1f} | "
              f"{ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
