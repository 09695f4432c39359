"""Reproduce the node-classification table: gnnkit vs the papers vs PyG, same protocol.

For each (model, dataset) the built-in preset (gnnkit/presets/<model>.toml, which cites its
sources) is trained for ``--seeds`` seeds with gnnkit's trainer. The PyG column runs the very
same trainer, protocol, data, split and seeds, with the model's layers swapped for
``torch_geometric.nn`` layers (GCNConv / GATConv / SAGEConv, PyG's own initialisation).

    python benchmarks/node_classification/run.py                 # the committed table
    python benchmarks/node_classification/run.py --models gcn --datasets cora --seeds 3

Data: ``--root`` or $GNNKIT_DATA (the layout of shared/datasets). A data set whose files
are missing (PubMed's ind.pubmed.allx here) is reported as "not measured here".
Writes the Markdown table to stdout and, with ``--out``, to a file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gnnkit.config import load_preset, resolve_config  # noqa: E402
from gnnkit.datasets import DatasetError  # noqa: E402
from gnnkit.models import NODE_MODELS  # noqa: E402
from gnnkit.tasks.node_classification import NodeConfig, load_data, run_seeds  # noqa: E402

# Test accuracy (%) reported by the papers on the public Planetoid split:
# GCN from Kipf & Welling 2017, Table 2; GAT from Velickovic et al. 2018, Table 2.
PAPER = {
    ("gcn", "cora"): 81.5, ("gcn", "citeseer"): 70.3, ("gcn", "pubmed"): 79.0,
    ("gat", "cora"): 83.0, ("gat", "citeseer"): 72.5, ("gat", "pubmed"): 79.0,
}


class _PygStack(nn.Module):
    """Same interface as gnnkit's node models (``layers``, ``embed``), PyG layers inside."""

    def __init__(self, layers: list[nn.Module], dropout: float, act) -> None:
        super().__init__()
        self.layers, self.dropout, self.act = nn.ModuleList(layers), dropout, act

    def embed(self, x, g):
        h = x
        for layer in self.layers[:-1]:
            h = F.dropout(h, self.dropout, self.training)
            h = self.act(layer(h, g.edge_index))
        return h

    def forward(self, x, g):
        h = F.dropout(self.embed(x, g), self.dropout, self.training)
        return self.layers[-1](h, g.edge_index)


def pyg_gcn(in_dim, hidden_dim, out_dim, num_layers=2, dropout=0.5):
    from torch_geometric.nn import GCNConv

    dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
    convs = [GCNConv(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True)]
    return _PygStack(convs, dropout, F.relu)


def pyg_gat(in_dim, hidden_dim, out_dim, num_layers=2, num_heads=8, out_heads=1, dropout=0.6,
            attn_dropout=0.6):
    from torch_geometric.nn import GATConv

    layers, d = [], in_dim
    for _ in range(num_layers - 1):
        layers.append(GATConv(d, hidden_dim, heads=num_heads, dropout=attn_dropout))
        d = hidden_dim * num_heads
    layers.append(GATConv(d, out_dim, heads=out_heads, concat=False, dropout=attn_dropout))
    return _PygStack(layers, dropout, F.elu)


def pyg_sage(in_dim, hidden_dim, out_dim, num_layers=2, aggregator="mean", dropout=0.5,
             normalize=False):
    from torch_geometric.nn import SAGEConv

    if aggregator != "mean" or normalize:
        raise ValueError("the PyG reference here covers the mean aggregator without normalize")
    dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
    convs = [SAGEConv(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True)]
    return _PygStack(convs, dropout, F.relu)


PYG = {"gcn": pyg_gcn, "gat": pyg_gat, "sage": pyg_sage}


@contextlib.contextmanager
def registry_swap(name: str, factory):
    old = NODE_MODELS[name]
    NODE_MODELS[name] = factory
    try:
        yield
    finally:
        NODE_MODELS[name] = old


def measure(model: str, dataset: str, a: argparse.Namespace, framework: str) -> dict:
    preset, label = load_preset(model)
    flags = {"dataset": dataset, "seeds": a.seeds, "seed": a.seed, "save": False, "quiet": True,
             "threads": a.threads}
    if a.root:
        flags["root"] = a.root
    cfg = resolve_config(NodeConfig, preset, flags, where=label)
    ctx = registry_swap(model, PYG[model]) if framework == "pyg" else contextlib.nullcontext()
    t0 = time.perf_counter()
    with ctx:
        res = run_seeds(cfg)
    res["wall_s"] = time.perf_counter() - t0
    return res


def fmt(res: dict | None, key: str = "test_acc") -> str:
    if res is None:
        return "n/a"
    return f"{100 * res[key + '_mean']:.1f} ± {100 * res[key + '_std']:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="gcn,gat,sage")
    ap.add_argument("--datasets", default="cora,citeseer,pubmed")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run (1 is steadiest)")
    ap.add_argument("--root", default=os.environ.get("GNNKIT_DATA"))
    ap.add_argument("--no-pyg", action="store_true", help="skip the PyG column")
    ap.add_argument("--out", help="also write the Markdown table here")
    a = ap.parse_args()

    lines = [
        f"{a.seeds} seeds ({a.seed}..{a.seed + a.seeds - 1}), public Planetoid split, built-in "
        f"presets; torch {torch.__version__}, {platform.machine()}, {a.threads} thread(s).",
        "",
        "| model | dataset | gnnkit test acc (%) | paper | gnnkit - paper | PyG, same protocol (%) "
        "| gnnkit macro-F1 (%) | epochs (mean) | gnnkit s/seed | PyG s/seed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for dataset in a.datasets.split(","):
        try:
            load_data(resolve_config(NodeConfig, None, {"dataset": dataset, "root": a.root}
                                     if a.root else {"dataset": dataset}))
        except DatasetError as exc:
            for model in a.models.split(","):
                paper = PAPER.get((model, dataset))
                lines.append(f"| {model} | {dataset} | not measured here | "
                             f"{paper if paper else '-'} | - | - | - | - | - | - |")
            print(f"# {dataset}: not measured here: {exc}", file=sys.stderr)
            continue
        for model in a.models.split(","):
            ours = measure(model, dataset, a, "gnnkit")
            pyg = None if a.no_pyg else measure(model, dataset, a, "pyg")
            paper = PAPER.get((model, dataset))
            diff = f"{100 * ours['test_acc_mean'] - paper:+.1f}" if paper else "-"
            per_seed = lambda r: f"{r['wall_s'] / a.seeds:.1f}" if r else "n/a"  # noqa: E731
            lines.append(
                f"| {model} | {dataset} | {fmt(ours)} | {paper if paper else '-'} | {diff} | "
                f"{fmt(pyg)} | {fmt(ours, 'test_macro_f1')} | {ours['epochs_mean']:.0f} | "
                f"{per_seed(ours)} | {per_seed(pyg)} |")
            print(lines[-1], file=sys.stderr, flush=True)
    table = "\n".join(lines)
    print(table)
    if a.out:
        Path(a.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
