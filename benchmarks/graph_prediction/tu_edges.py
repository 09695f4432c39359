"""How each TU archive lists its edges: repeated pairs and self-loops, per data set.

    python benchmarks/graph_prediction/tu_edges.py                    # every shipped TU set
    python benchmarks/graph_prediction/tu_edges.py --datasets collab reddit-binary

Reads ``tu/<NAME>.zip`` from the data root (``GNNKIT_DATA``) with gnnkit's TU reader and
prints, per data set: the lines of ``NAME_A.txt``, the lines that repeat a pair ``i, j``
already listed (``repeated_edges = "merge"``, the default, drops them; ``"keep"`` keeps
them as extra edges), the most lines one pair has, the lines ``i, i`` (self-loops, kept
either way), and the edges gnnkit loads when merging (keeping loads every line). Parsing
is not cached here (``use_cache=False``): COLLAB's 49 M lines took 19 s here.
"""

from __future__ import annotations

import argparse
import sys
import time

from gnnkit.datasets.tudataset import TU_DATASETS, load_tu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(TU_DATASETS),
                    help="TU data set names (default: every shipped one)")
    ap.add_argument("--root", default=None, help="data root (default: GNNKIT_DATA)")
    args = ap.parse_args(argv)

    print("| data set | graphs | lines in NAME_A.txt | repeated lines | most lines per pair "
          "| self-loop lines | edges loaded, merge (default) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.datasets:
        t0 = time.perf_counter()
        ds = load_tu(name, args.root, offline=True, use_cache=False)
        info = ds.info
        print(f"| {ds.name} | {info['num_graphs']} | {info['edge_lines']:,} | "
              f"{info['repeated_edge_lines']:,} | {info['max_lines_per_edge']} | "
              f"{info['self_loop_lines']:,} | {info['num_edges']:,} |",
              flush=True)
        print(f"  ({name}: {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
