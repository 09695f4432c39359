"""How much of GMN's S Ws product the per-graph blocks skip, in random training batches.

    python benchmarks/graph_prediction/gmn_blocks.py --datasets dd reddit-binary collab proteins

For each data set (the ``graph_gmn`` preset's graphs: those over ``max_nodes`` dropped), draws
``--batches`` random batches of the preset's batch size and prints the mean share of the
batch's [N, m] product (m = its largest graph) that the n x n blocks keep, sum n^2 / (N m),
the mean share of the RWR width (the largest graph kept) that the batch's largest graph
needs, m / topo_dim (what a batch padded to its own largest graph would copy of S), and the
share of batches that take the blocks (``gnnkit.models.memory._block_sizes``, the test
``_block_rows_linear`` makes: the skipped entries, N m - sum n^2, at least
``_BLOCK_MIN_SKIP`` per graph). Sizes only: no model runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["dd", "reddit-binary", "collab", "proteins"])
    p.add_argument("--batches", type=int, default=1000)
    a = p.parse_args(argv)

    from gnnkit.models import memory
    from gnnkit.tasks import graph_prediction as gp
    from gnnkit.tasks import make_config

    print(f"random batches: {a.batches} per data set; threshold {memory._BLOCK_MIN_SKIP} "
          f"skipped entries per graph")
    print("| data set | graphs | largest | batch | blocks / [N, m] work | m / topo_dim "
          "| batches taking blocks |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in a.datasets:
        cfg = make_config("graph", model="gmn", dataset=name, save=False, quiet=True)
        sizes = torch.tensor([g.num_nodes for g in gp.load_graph_data(cfg).graphs
                              if g.num_nodes <= cfg.max_nodes])
        gen = torch.Generator().manual_seed(0)
        kept, width, taken = 0.0, 0.0, 0
        for _ in range(a.batches):
            b = sizes[torch.randperm(sizes.numel(), generator=gen)[:cfg.batch_size]]
            full = int(b.sum()) * int(b.max())
            blocks = int((b * b).sum())
            kept += blocks / full
            width += int(b.max()) / int(sizes.max())
            taken += memory._block_sizes(b.tolist(), int(b.max())) is not None
        print(f"| {name} | {sizes.numel()} | {int(sizes.max())} | {cfg.batch_size} | "
              f"{kept / a.batches:.2f} | {width / a.batches:.2f} | {taken / a.batches:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
