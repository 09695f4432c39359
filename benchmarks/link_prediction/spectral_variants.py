"""Which spectral embedding? Variants of the paper's SC baseline on the fixed split (seed 0).

    python benchmarks/link_prediction/spectral_variants.py [--datasets cora citeseer]

The VGAE paper cites Tang & Liu (2011) for its spectral-clustering baseline and gives only
the dimension (128). gnnkit's ``spectral`` model uses the 128 top eigenvectors of
D^-1/2 A D^-1/2 of the training graph (``gnnkit/models/embedding.py``). This script scores,
with the same inner-product decoder and metrics, the variants a reader might have in mind:

* ``top128``: gnnkit's definition (the eigenvalue-1 eigenvectors included);
* ``drop-first``: eigenvectors 2..129 (the largest-eigenvalue one dropped, as
  scikit-learn's ``SpectralEmbedding`` does with ``drop_first=True``);
* ``drop-first / sqrt(d)``: the same rows divided by sqrt(degree) (scikit-learn's
  normalised-Laplacian output, the random-walk eigenvectors);
* ``top128 / sqrt(d)``: gnnkit's eigenvectors divided by sqrt(degree).

It prints val/test AUC and AP in %. None of the variants is chosen from this table: it
shows how much the paper's under-specified baseline depends on such details.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

from gnnkit.models.embedding import SpectralEmbedding
from gnnkit.tasks.link_prediction import LinkConfig, evaluate, load_graph, make_split

PAPER = {"cora": (84.6, 88.5), "citeseer": (80.5, 85.0)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["cora", "citeseer"])
    a = p.parse_args(argv)
    print("| data set | variant | val AUC | val AP | test AUC | test AP | paper AUC / AP |")
    print("|---|---|---:|---:|---:|---:|---|")
    for ds in a.datasets:
        cfg = LinkConfig(model="spectral", dataset=ds)
        _, g = load_graph(cfg)
        split = make_split(cfg, g, 0)
        tg = split.train_graph(g)
        z = SpectralEmbedding(129).fit(tg, torch.Generator().manual_seed(0)).double()
        deg = torch.bincount(tg.edge_index[0], minlength=g.num_nodes).double()
        root = torch.where(deg > 0, deg.sqrt(), torch.ones_like(deg))[:, None]
        variants = {"top128": z[:, :128], "drop-first": z[:, 1:],
                    "drop-first / sqrt(d)": z[:, 1:] / root, "top128 / sqrt(d)": z[:, :128] / root}
        for name, zz in variants.items():
            m = evaluate(zz.float(), split)
            paper = PAPER.get(ds, ("-", "-"))
            print(f"| {ds} | {name} | {100 * m['val_auc']:.1f} | {100 * m['val_ap']:.1f} | "
                  f"{100 * m['test_auc']:.1f} | {100 * m['test_ap']:.1f} | "
                  f"{paper[0]} / {paper[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
