"""Reproduce Table 1 of Kipf & Welling, "Variational Graph Auto-Encoders" (2016): link
prediction AUC and AP, gnnkit vs the paper vs PyG under the same protocol.

For each data set one edge split is drawn (``--split-seed``, the paper's "fixed dataset
splits") and saved to ``results/split_<dataset>.npz``; every method then trains ``--seeds``
seeds on it with gnnkit's link-prediction trainer (gnnkit/tasks/link_prediction.py) and the
built-in presets (gae.toml / vgae.toml: 200 epochs, Adam 0.01, 32-16, the paper's full
weighted loss). The PyG column runs the very same trainer, loss, split, seeds and metrics with
the model swapped for ``torch_geometric.nn.GAE`` / ``VGAE`` around two or three PyG
``GCNConv`` layers (bias off and cached, as tkipf/gae has no biases; PyG's reparameterisation
and PyG's ``kl_loss``, divided by N as in tkipf/gae).

    python benchmarks/link_prediction/run.py                      # the committed table
    python benchmarks/link_prediction/run.py --methods gae,vgae --datasets cora --seeds 3
    python benchmarks/link_prediction/run.py --pyg-methods gae,vgae,gae*,vgae*   # PyG for X = I too
    python benchmarks/link_prediction/run.py --split per_seed --methods gae,vgae  # split k, seed k

Methods: gae, vgae, gae* / vgae* (featureless, X = I), spectral, deepwalk. Per-seed results
go to ``results/<dataset>__<method>__<framework>.json`` (an existing file is reused unless
``--force``), the Markdown table to ``results/table.md`` and stdout. Data: ``--root`` or
$GNNKIT_DATA. PubMed needs ind.pubmed.allx, which the shared mirror lacks: its rows say "not
measured here".

Two diagnostic columns, not in the paper, explain the baselines' numbers: "test AUC, no
isolated" leaves out the test pairs with a node that has no training edge (such a node keeps
its initial, near-zero embedding under DeepWalk and a zero row under the spectral embedding,
so its pairs score about 0); "test AUC, Z centred" scores with Z - mean(Z).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gnnkit.datasets import DatasetError, LinkSplit, link_split  # noqa: E402
from gnnkit.nn import InnerProductDecoder  # noqa: E402
from gnnkit.tasks import make_config  # noqa: E402
from gnnkit.tasks.link_prediction import LINK_MODELS, load_graph, train_seed  # noqa: E402
from gnnkit.train import roc_auc  # noqa: E402

HERE = Path(__file__).resolve().parent

# Kipf & Welling 2016, Table 1: (AUC, AP) in percent, mean of 10 runs.
PAPER = {
    ("spectral", "cora"): (84.6, 88.5), ("spectral", "citeseer"): (80.5, 85.0),
    ("spectral", "pubmed"): (84.2, 87.8),
    ("deepwalk", "cora"): (83.1, 85.0), ("deepwalk", "citeseer"): (80.5, 83.6),
    ("deepwalk", "pubmed"): (84.4, 84.1),
    ("gae*", "cora"): (84.3, 88.1), ("gae*", "citeseer"): (78.7, 84.1),
    ("gae*", "pubmed"): (82.2, 87.4),
    ("vgae*", "cora"): (84.0, 87.7), ("vgae*", "citeseer"): (78.9, 84.1),
    ("vgae*", "pubmed"): (82.7, 87.5),
    ("gae", "cora"): (91.0, 92.0), ("gae", "citeseer"): (89.5, 89.9),
    ("gae", "pubmed"): (96.4, 96.5),
    ("vgae", "cora"): (91.4, 92.6), ("vgae", "citeseer"): (90.8, 92.0),
    ("vgae", "pubmed"): (94.4, 94.7),
}
METHODS = ("spectral", "deepwalk", "gae*", "vgae*", "gae", "vgae")


# --------------------------------------------------------------------------- PyG models
class _PygEncoder(nn.Module):
    def __init__(self, in_dim: int, hidden_dim: int, latent_dim: int, variational: bool):
        super().__init__()
        from torch_geometric.nn import GCNConv

        self.conv1 = GCNConv(in_dim, hidden_dim, bias=False, cached=True)
        self.conv_mu = GCNConv(hidden_dim, latent_dim, bias=False, cached=True)
        self.conv_logstd = (GCNConv(hidden_dim, latent_dim, bias=False, cached=True)
                            if variational else None)

    def forward(self, x, edge_index):
        h = self.conv1(x, edge_index).relu()
        if self.conv_logstd is None:
            return self.conv_mu(h, edge_index)
        return self.conv_mu(h, edge_index), self.conv_logstd(h, edge_index)


def _identity_if_none(x, g):
    # PyG's GCNConv takes a dense input matrix, as PyG's Planetoid data provide it: the trainer's
    # sparse CSR features are densified, and X = I is a dense [N, N] tensor (fine for Cora and
    # CiteSeer)
    if x is None:
        return torch.eye(g.num_nodes)
    return x.to_dense() if x.layout == torch.sparse_csr else x


class PygGAE(nn.Module):
    """``torch_geometric.nn.GAE`` with gnnkit's model interface (forward(x, g) -> z)."""

    def __init__(self, in_dim, hidden_dim=32, latent_dim=16, dropout=0.0):
        super().__init__()
        from torch_geometric.nn import GAE

        self.model = GAE(_PygEncoder(in_dim, hidden_dim, latent_dim, variational=False))

    def forward(self, x, g):
        return self.model.encode(_identity_if_none(x, g), g.edge_index)

    def embed(self, x, g):
        return self.forward(x, g)


class PygVGAE(nn.Module):
    """``torch_geometric.nn.VGAE``: forward(x, g, generator) -> (z, mu, logstd); PyG samples
    eps from torch's global RNG (seeded per run by the trainer), so ``generator`` is unused."""

    def __init__(self, in_dim, hidden_dim=32, latent_dim=16, dropout=0.0):
        super().__init__()
        from torch_geometric.nn import VGAE

        self.model = VGAE(_PygEncoder(in_dim, hidden_dim, latent_dim, variational=True))

    def forward(self, x, g, generator=None):
        z = self.model.encode(_identity_if_none(x, g), g.edge_index)   # mu in eval mode
        return z, self.model.__mu__, self.model.__logstd__

    def kl_loss(self, mu, logstd):
        return self.model.kl_loss(mu, logstd) / mu.shape[0]   # tkipf/gae's 1/N scale

    def embed(self, x, g):
        return self.model.encoder(_identity_if_none(x, g), g.edge_index)[0]


@contextlib.contextmanager
def registry_swap(name: str, cls):
    old = LINK_MODELS[name]
    LINK_MODELS[name] = cls
    try:
        yield
    finally:
        LINK_MODELS[name] = old


# --------------------------------------------------------------------------- measuring
def isolated_free_auc(z: torch.Tensor, split: LinkSplit) -> float:
    """Test AUC without the pairs that touch a node with no training edge."""
    deg = torch.bincount(split.train_pos.reshape(-1), minlength=split.num_nodes)
    pairs, labels = split.pairs("test")
    keep = (deg[pairs[0]] > 0) & (deg[pairs[1]] > 0)
    return roc_auc(InnerProductDecoder.logits(z, pairs[:, keep]).double(), labels[keep])


def centred_auc(z: torch.Tensor, split: LinkSplit) -> float:
    """Test AUC of Z - mean(Z) (removes a direction shared by all embeddings)."""
    pairs, labels = split.pairs("test")
    zc = z - z.mean(0)
    return roc_auc(InnerProductDecoder.logits(zc, pairs).double(), labels)


def measure(method: str, dataset: str, framework: str, graph, split_path: Path,
            a: argparse.Namespace) -> dict:
    model = method.rstrip("*")
    flags = {"model": model, "dataset": dataset, "featureless": method.endswith("*"),
             "split_file": str(split_path), "save": False, "quiet": True,
             "threads": a.threads}
    if a.epochs:
        flags["epochs"] = a.epochs
    cfg = make_config("link", **flags)
    fixed = LinkSplit.load(split_path, graph) if a.split == "fixed" else None
    swap = {"gae": PygGAE, "vgae": PygVGAE}
    ctx = registry_swap(model, swap[model]) if framework == "pyg" else contextlib.nullcontext()
    runs = []
    with ctx:
        for seed in range(a.seed, a.seed + a.seeds):
            split = fixed if fixed is not None else link_split(graph, seed=seed)
            res = train_seed(cfg, seed, graph, split)
            m = dict(res.metrics)
            m["test_auc_no_isolated"] = isolated_free_auc(res.embedding, split)
            m["test_auc_centred"] = centred_auc(res.embedding, split)
            runs.append(m)
            print(f"  {dataset} {method} {framework} seed {seed}: test AUC "
                  f"{100 * m['test_auc']:.2f} AP {100 * m['test_ap']:.2f} "
                  f"({m['fit_time']:.1f} s)", file=sys.stderr, flush=True)
    return {"method": method, "dataset": dataset, "framework": framework, "runs": runs,
            "config": {k: v for k, v in vars(cfg).items()},
            "split": str(split_path.name) if fixed is not None else "per_seed: split seed = seed"}


def stats(res: dict | None, key: str) -> tuple[float, float] | None:
    if res is None:
        return None
    v = torch.tensor([r[key] for r in res["runs"]], dtype=torch.float64) * 100
    return float(v.mean()), float(v.std(unbiased=False))


def fmt(ms) -> str:
    return "n/a" if ms is None else f"{ms[0]:.1f} ± {ms[1]:.1f}"


def table(results: dict, a: argparse.Namespace, datasets: list[str], missing: dict) -> str:
    lines = [
        f"{a.seeds} seeds ({a.seed}..{a.seed + a.seeds - 1}) "
        + (f"on one fixed split per data set (split seed {a.split_seed})" if a.split == "fixed"
           else "each on its own split (split seed = seed, as rerunning tkipf/gae's train.py "
                "draws a new split)")
        + f"; mean ± std (population) in percent; torch "
        f"{torch.__version__}, {platform.machine()}, {a.threads} thread(s).",
        "",
        "| method | dataset | ours AUC | ours AP | paper AUC | paper AP | ours - paper (AUC / AP) "
        "| PyG AUC | PyG AP | test AUC, no isolated | test AUC, Z centred | ours s/seed "
        "| PyG s/seed |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for dataset in datasets:
        for method in a.methods.split(","):
            paper = PAPER.get((method, dataset))
            p_auc, p_ap = paper if paper else ("-", "-")
            if dataset in missing:
                lines.append(f"| {method} | {dataset} | not measured here ({missing[dataset]}) "
                             f"| | {p_auc} | {p_ap} | | | | | | | |")
                continue
            ours = results.get((dataset, method, "gnnkit"))
            pyg = results.get((dataset, method, "pyg"))
            auc, ap = stats(ours, "test_auc"), stats(ours, "test_ap")
            diff = (f"{auc[0] - p_auc:+.1f} / {ap[0] - p_ap:+.1f}"
                    if paper and auc else "-")
            secs = lambda r: ("-" if r is None else  # noqa: E731
                              f"{sum(x['fit_time'] for x in r['runs']) / len(r['runs']):.1f}")
            lines.append(
                f"| {method} | {dataset} | {fmt(auc)} | {fmt(ap)} | {p_auc} | {p_ap} | {diff} "
                f"| {fmt(stats(pyg, 'test_auc')) if pyg else '-'} "
                f"| {fmt(stats(pyg, 'test_ap')) if pyg else '-'} "
                f"| {fmt(stats(ours, 'test_auc_no_isolated'))} "
                f"| {fmt(stats(ours, 'test_auc_centred'))} | {secs(ours)} | {secs(pyg)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--datasets", default="cora,citeseer,pubmed")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--split", choices=("fixed", "per_seed"), default="fixed",
                    help="fixed: one split for all seeds (the paper's 'fixed dataset splits'); "
                         "per_seed: seed k trains on split k (what rerunning tkipf/gae's "
                         "train.py does); results then go to <results>/per_seed")
    ap.add_argument("--epochs", type=int, help="override the presets' 200 (smoke tests only)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--root", default=os.environ.get("GNNKIT_DATA"))
    ap.add_argument("--pyg-methods", default="gae,vgae",
                    help="methods that also run with PyG models (gae*, vgae* possible; "
                         "'' for none)")
    ap.add_argument("--results", default=str(HERE / "results"), help="results directory")
    ap.add_argument("--force", action="store_true", help="recompute existing results")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = Path(a.results) / ("per_seed" if a.split == "per_seed" else "")
    out.mkdir(parents=True, exist_ok=True)
    datasets = a.datasets.split(",")
    results, missing = {}, {}
    for dataset in datasets:
        cfg = make_config("link", dataset=dataset, **({"root": a.root} if a.root else {}))
        try:
            _, graph = load_graph(cfg)
        except DatasetError as exc:
            missing[dataset] = "ind.pubmed.allx missing" if "allx" in str(exc) else "no data"
            print(f"# {dataset}: not measured here: {exc}", file=sys.stderr)
            continue
        split_path = out / f"split_{dataset}.npz"
        if a.split == "fixed" and not split_path.is_file():
            link_split(graph, seed=a.split_seed).save(split_path)
        order = sorted(a.methods.split(","), key=lambda m: m == "deepwalk")  # slowest last
        for method in order:
            frameworks = ["gnnkit"]
            if method in a.pyg_methods.split(",") and method.rstrip("*") in ("gae", "vgae"):
                frameworks.append("pyg")
            for fw in frameworks:
                path = out / f"{dataset}__{method}__{fw}.json"
                if path.is_file() and not a.force:
                    res = json.loads(path.read_text())
                    have = [r["seed"] for r in res["runs"]]
                    if have != list(range(a.seed, a.seed + a.seeds)):
                        print(f"# {path.name}: reusing its {len(have)} runs (seeds {have[0]}-"
                              f"{have[-1]}), not seeds {a.seed}-{a.seed + a.seeds - 1} as "
                              f"asked; --force recomputes", file=sys.stderr)
                    results[(dataset, method, fw)] = res
                    continue
                t0 = time.perf_counter()
                res = measure(method, dataset, fw, graph, split_path, a)
                res["wall_s"] = time.perf_counter() - t0
                path.write_text(json.dumps(res, indent=1) + "\n")
                results[(dataset, method, fw)] = res
    text = table(results, a, datasets, missing)
    print(text)
    (out / "table.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
