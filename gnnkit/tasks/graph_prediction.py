"""Graph classification and regression with memory-layer models (GMN, MemGNN).

Protocols (``protocol``):

* ``paper``: stratified ``folds``-fold cross-validation; each fold trains on the other folds
  and evaluates the held-out fold after every epoch; the fold's score is its **best**
  held-out accuracy over epochs (what amirkhas/GraphMemoryNet ``train.py`` reports, and the
  paper's tables). This selects on the evaluation fold, so it is optimistic.
* ``holdout``: the same outer folds, but an inner stratified validation split
  (``val_fraction`` of the training folds) picks the epoch; the outer fold is the test set,
  evaluated once with the selected model. Reported as ``test_acc``.
* Regression data sets (MoleculeNet) use random 80/10/10 splits over ``seeds`` seeds, model
  selection on validation RMSE, test RMSE reported.

Training schedule of the memory keys (paper Sec. 3.4 and the official code):

* The supervised loss updates every parameter **except the keys** (keys frozen), one step
  per batch, with gradient-norm clipping ``clip``.
* On a KL epoch (epochs 1, 1 + ``kl_every``, 1 + 2 ``kl_every``, ...) the clustering loss
  ``kl_weight * sum_layers KL(P || C)`` (``kl_reduction`` sum or mean over nodes) is
  back-propagated on every batch; its gradients are averaged over the batches and applied
  once, at the end of the epoch, by a second Adam over the keys (``kl_params = "keys"``) or
  over the keys and every other parameter (``"all"``, the official ``learn_centroid='a'``).
  With ``kl_skips_supervised`` (official) a KL epoch takes no supervised steps.
* Keys start random (``key_init = "random"``) or as k-means centroids of the first training
  batch's queries (``"kmeans"``, layer by layer).

Long runs: the fold in progress is checkpointed every ``checkpoint_interval`` seconds
(``checkpoints/fold<k>.progress.pt``, removed when the fold's results are written), and
``resume = <run dir>`` continues an interrupted run where it stopped, with the same numbers.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import ops
from ..config import ConfigError, option, save_toml
from ..graph import Graph, batch
from ..ops import to_dense_batch
from ..train.checkpoint import atomic_torch_save, save_checkpoint
from ..train.progress import Progress
from ..train.rundir import environment, make_run_dir, write_csv, write_json
from ..train.seed import seed_everything, torch_threads
from .node_classification import _device, check_device_name

__all__ = ["GraphConfig", "build_model", "fold_splits", "load_graph_data", "load_graph_run",
           "predict_graphs", "predict_loaded", "print_table", "run_folds", "stratified_kfold",
           "train_fold"]

HISTORY_FIELDS = ("fold", "epoch", "kl_epoch", "train_loss", "kl_loss", "val_loss", "val_metric")


@dataclass(frozen=True)
class GraphConfig:
    """Every setting of a graph-prediction run. Presets set these; flags override them."""

    model: str = option("gmn", "model: gmn, memgnn (gnnkit.models.GRAPH_MODELS)")
    dataset: str = option("synthetic", "data set: enzymes, proteins, dd, collab, "
                                       "reddit-binary, ... (TU), esol, lipophilicity, "
                                       "freesolv (MoleculeNet, needs rdkit), a CSV file of "
                                       "SMILES and a numeric target (a path ending in .csv, "
                                       "regression), a TU archive of your own (a path ending "
                                       "in .zip), or synthetic")
    root: str | None = option(None, "data directory (default: $GNNKIT_DATA)")
    protocol: Literal["paper", "holdout"] = option(
        "paper", "paper: best held-out accuracy per fold; holdout: inner validation split "
                 "selects the epoch, the outer fold is tested once (classification; "
                 "regression data sets use random 80/10/10 splits over --seeds)")
    folds: int = option(10, "number of cross-validation folds")
    max_folds: int | None = option(None, "run only the first k folds (default: all)")
    first_fold: int = option(0, "start at this fold: with max_folds, folds first_fold .. "
                                "first_fold + max_folds - 1 (to spread the folds of one CV "
                                "over processes; each fold gives the same numbers either way)")
    seeds: int = option(3, "regression (MoleculeNet): number of random 80/10/10 splits")
    val_fraction: float = option(0.1, "inner validation fraction (holdout protocol)")
    seed: int = option(0, "random seed (folds, initialisation, batches)")
    epochs: int = option(300, "maximum number of epochs per fold")
    patience: int = option(100, "stop when the validation metric (accuracy; RMSE for "
                                "regression) has neither beaten nor equalled its best for "
                                "this many epochs (a tie restarts the count)")
    batch_size: int = option(16, "graphs per batch")
    lr: float = option(2e-3, "Adam learning rate (both optimisers)")
    weight_decay: float = option(0.0, "Adam weight decay")
    clip: float = option(2.0, "gradient-norm clipping (0: none)")
    lr_decay_step: int = option(400, "halve the learning rate every this many epochs (0: never)")
    hidden_dim: int = option(64, "hidden units of queries and memory layers")
    num_keys: tuple[int, ...] = option((10, 1), "keys of each memory layer")
    num_heads: int = option(5, "key heads per memory layer")
    tau: float = option(1.0, "Student-t degrees of freedom")
    dropout: float = option(0.1, "dropout before each layer")
    query: Literal["paper", "two_branch"] = option(
        "paper", "GMN query network: the paper's, or the official two-branch one",
        models=("gmn",))
    topo_hidden: int = option(16, "two-branch query: width of the RWR branch", models=("gmn",))
    rwr_c: float = option(0.1, "RWR: walk-continuation coefficient c (official code's 'restart "
                               "probability')", models=("gmn",))
    rwr_dim: int | None = option(None, "RWR embedding width (default: the data set's largest "
                                       "graph)", models=("gmn",))
    max_nodes: int | None = option(None, "drop graphs with more nodes (official: 1000)")
    gnn_layers: int = option(2, "e-GAT layers", models=("memgnn",))
    gnn_heads: int = option(4, "e-GAT heads (concatenated)", models=("memgnn",))
    kl_weight: float = option(100.0, "weight of the clustering loss (0: never update keys)")
    kl_reduction: Literal["sum", "mean"] = option("sum", "KL summed or averaged over nodes")
    kl_every: int = option(5, "a KL epoch every this many epochs")
    kl_params: Literal["keys", "all"] = option("all", "parameters the KL step updates")
    kl_skips_supervised: bool = option(True, "a KL epoch takes no supervised steps")
    key_init: Literal["random", "kmeans"] = option("random", "initial keys")
    node_features: Literal["auto", "attributes", "labels", "degree"] = option(
        "auto", "TU node features (see gnnkit.datasets.tudataset)")
    degree_cap: int = option(64, "one-hot degree width - 1 (TU sets without node data)")
    repeated_edges: Literal["merge", "keep"] = option(
        "merge", "TU sets: a pair i, j listed more than once in NAME_A.txt (COLLAB, "
                 "REDDIT-BINARY, IMDB-BINARY list every edge twice) is one edge ('merge', as "
                 "PyG) or several ('keep', gnnkit before this option)")
    target_column: str | None = option(None, "CSV data set (--dataset FILE.csv): the column to "
                                             "predict (default: the only numeric column other "
                                             "than the SMILES)")
    smiles_column: str = option("smiles", "CSV data set: the column of SMILES strings")
    threads: int | None = option(None, "torch CPU threads during training (a seed repeats "
                                       "bit for bit on one machine with the same threads and "
                                       "MKL_CBWR=AUTO set)")
    device: str = option("cpu", "torch device: cpu, cuda, cuda:1, ... or auto")
    out_dir: str = option("runs", "parent directory of run directories")
    run_name: str | None = option(None, "run directory name")
    resume: str | None = option(None, "continue the interrupted run in this directory with its "
                                      "saved config.toml: finished folds are kept, the "
                                      "unfinished one restarts from its last checkpoint, the "
                                      "rest run; only --threads, --quiet, --device and "
                                      "--checkpoint-interval may be given beside it")
    checkpoint_interval: float = option(300.0, "seconds between checkpoints of the fold in "
                                               "progress (0: after every epoch), for --resume")
    save: bool = option(True, "write the run directory")
    figures: bool = option(False, "draw memory-layer cluster figures (needs gnnkit[viz])")
    quiet: bool = option(False, "no progress bar, per-fold lines or (when stderr is not a "
                                "terminal) a line per checkpoint")

    def __post_init__(self) -> None:
        check_device_name(self.device)
        for name in ("folds", "seeds", "epochs", "patience", "batch_size", "hidden_dim",
                     "num_heads", "kl_every", "gnn_layers", "gnn_heads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_folds", "max_nodes", "rwr_dim"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1 (or unset), got {getattr(self, name)}")
        if self.folds < 2:
            raise ConfigError(f"folds must be >= 2, got {self.folds}")
        if not 0 <= self.first_fold < self.folds:
            raise ConfigError(f"first_fold must lie in [0, folds = {self.folds}), "
                              f"got {self.first_fold}")
        if not self.num_keys or min(self.num_keys) < 1:
            raise ConfigError(f"num_keys must be positive integers, got {self.num_keys}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a positive number, got {self.lr}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout}")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")
        if not 0 <= self.rwr_c < 1:
            raise ConfigError(f"rwr_c must lie in [0, 1), got {self.rwr_c}")
        if not (self.kl_weight >= 0 and math.isfinite(self.kl_weight)):
            raise ConfigError(f"kl_weight must be a number >= 0, got {self.kl_weight}")
        if not (self.tau > 0 and math.isfinite(self.tau)):
            raise ConfigError(f"tau must be a positive number, got {self.tau}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ConfigError(f"weight_decay must be a number >= 0, got {self.weight_decay}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be >= 1 (or unset), got {self.threads}")
        if not self.checkpoint_interval >= 0:
            raise ConfigError(f"checkpoint_interval must be >= 0 seconds, got "
                              f"{self.checkpoint_interval}")
        if not is_csv(self.dataset) and (self.target_column is not None
                                         or self.smiles_column != "smiles"):
            raise ConfigError(f"target_column and smiles_column name the columns of a CSV data "
                              f"set (dataset = a path ending in .csv); {self.dataset!r} has "
                              f"fixed columns, so drop them")
        if self.resume is not None and not self.save:
            raise ConfigError("resume continues a run directory, so it needs save = true")


# --------------------------------------------------------------------------- data
def is_csv(dataset: str) -> bool:
    """Whether ``dataset`` names a CSV file of molecules rather than a built-in data set."""
    return dataset.lower().endswith(".csv")


def is_tu_zip(dataset: str) -> bool:
    """Whether ``dataset`` is the path of a TU archive (``.zip``) rather than a name."""
    return dataset.lower().endswith(".zip")


def _graph_source(dataset: str) -> tuple[str, str | None]:
    """How :func:`load_graph_data` reads ``dataset``: ``("synthetic", None)``, ``("csv",
    None)``, ``("tu_zip", None)`` (a path), ``("tu", None)`` (a registered TU set),
    ``("tu_name", None)`` (any other name: ``tu/<NAME>.zip`` under the data root),
    ``("registered", None)`` (a registered graph set that is not TU: MoleculeNet) or
    ``("other_task", task)`` (a registered data set of another task)."""
    from ..datasets import list_datasets
    from ..datasets.tudataset import TU_DATASETS

    name = dataset.lower()
    if name == "synthetic":
        return "synthetic", None
    if is_csv(dataset):
        return "csv", None
    if is_tu_zip(dataset):
        return "tu_zip", None
    task = {d["name"]: d["task"] for d in list_datasets()}.get(name)
    if task is not None and task != "graph":
        return "other_task", task
    if task is None:
        return "tu_name", None
    return ("tu" if name in {d.lower() for d in TU_DATASETS} else "registered"), None


def _reads_tu(dataset: str) -> bool:
    """Whether ``load_graph_data`` reads ``dataset`` with the TU reader."""
    return _graph_source(dataset)[0] in ("tu_zip", "tu", "tu_name")


def load_graph_data(cfg: GraphConfig):  # noqa: ANN201 - returns a GraphDataset
    """The data set of ``cfg``, graphs over ``max_nodes`` dropped (counted in ``info``).

    ``cfg.dataset`` is ``synthetic``, the path of a CSV of SMILES or of a TU ``.zip``, a
    registered graph data set (through :func:`gnnkit.datasets.load_graph_dataset`), or the
    name of any other TU data set whose ``tu/<NAME>.zip`` is under the data root or at the
    mirror (``GNNKIT_BASE_URL``).
    """
    from ..datasets import DatasetError, load_graph_dataset
    from ..datasets.download import resolve_root
    from ..datasets.graph_synthetic import cycles_vs_cliques
    from ..datasets.moleculenet import load_molecule_csv
    from ..datasets.tudataset import GraphDataset, load_tu, load_tu_zip

    tu_params = {"node_features": cfg.node_features, "degree_cap": cfg.degree_cap,
                 "repeated_edges": cfg.repeated_edges}
    source, task = _graph_source(cfg.dataset)
    if source == "synthetic":
        ds = cycles_vs_cliques(40, seed=cfg.seed)
    elif source == "csv":
        ds = load_molecule_csv(cfg.dataset, cfg.target_column, cfg.smiles_column)
    elif source == "tu_zip":
        ds = load_tu_zip(cfg.dataset, **tu_params)
    elif source == "other_task":
        raise DatasetError(f"{cfg.dataset!r} is a {task} data set; train it with "
                           f"`gnnkit train {task}`, or pick a graph data set: "
                           f"{', '.join(graph_dataset_names())}")
    elif source == "registered":            # MoleculeNet
        ds = load_graph_dataset(cfg.dataset, cfg.root)
    elif source == "tu":
        ds = load_graph_dataset(cfg.dataset, cfg.root, **tu_params)
    else:                                   # an unregistered TU set: tu/<NAME>.zip
        try:
            ds = load_tu(cfg.dataset, cfg.root, **tu_params)
        except DatasetError as exc:
            if (resolve_root(cfg.root) / "tu" / f"{cfg.dataset}.zip").is_file():
                raise                       # the zip is there but broken: its own error
            raise DatasetError(
                f"unknown graph data set {cfg.dataset!r}: known ones are "
                f"{', '.join(graph_dataset_names())}, or 'synthetic'; also accepted: the path "
                f"of a TU archive (.zip) or of a CSV of SMILES and a target, or the name of "
                f"another TU data set whose zip is under the data root ({exc})") from None
    if cfg.max_nodes is not None:
        keep = [g for g in ds.graphs if g.num_nodes <= cfg.max_nodes]
        if not keep:
            smallest = min((g.num_nodes for g in ds.graphs), default=0)
            raise ConfigError(f"--max-nodes {cfg.max_nodes} drops every graph of "
                              f"{cfg.dataset!r} (the smallest has {smallest} nodes); raise it "
                              f"or leave it unset")
        info = {**ds.info, "dropped_over_max_nodes": len(ds) - len(keep)}
        ds = GraphDataset(ds.name, keep, ds.num_classes, info)
    return ds


def graph_dataset_names() -> list[str]:
    """The registered graph-level data sets, sorted."""
    from ..datasets import list_datasets

    return [d["name"] for d in list_datasets() if d["task"] == "graph"]


def add_rwr(graphs: list[Graph], dim: int, c: float) -> list[Graph]:
    """GMN input: ``x = [rwr_features(g) || x]`` for every graph, without the edges.

    GMN sees the structure only through the RWR embedding (it has no message passing), so
    the returned graphs carry no edges: batching them then copies node rows only (on
    COLLAB, 9,830 directed edges per graph, that halves the bytes copied per batch).
    """
    from ..models.memory import rwr_features

    no_edges = torch.zeros(2, 0, dtype=torch.long)
    return [Graph(no_edges, g.num_nodes, x=torch.cat([rwr_features(g, dim, c), g.x], 1),
                  y=g.y, validate=False) for g in graphs]


def model_inputs(cfg: GraphConfig, graphs: list[Graph]) -> tuple[list[Graph], int]:
    """The graphs the model reads and the width of their RWR embedding: GMN gets
    :func:`add_rwr` (``cfg.rwr_dim``, else the largest graph's size), MemGNN the graphs as
    they are (width 0)."""
    if cfg.model != "gmn":
        return graphs, 0
    topo_dim = cfg.rwr_dim or max(g.num_nodes for g in graphs)
    return add_rwr(graphs, topo_dim, cfg.rwr_c), topo_dim


def stratified_kfold(y: Tensor, k: int, seed: int) -> list[Tensor]:
    """k disjoint folds covering every item; each class is shuffled (seeded) and dealt
    round-robin, so class proportions match within one item per class."""
    gen = torch.Generator().manual_seed(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    start = 0
    for c in torch.unique(y).tolist():
        idx = (y == c).nonzero().view(-1)
        idx = idx[torch.randperm(idx.numel(), generator=gen)].tolist()
        for j, i in enumerate(idx):
            folds[(start + j) % k].append(i)
        start = (start + len(idx)) % k
    return [torch.tensor(sorted(f), dtype=torch.long) for f in folds]


def _inner_split(y: Tensor, idx: Tensor, frac: float, seed: int) -> tuple[Tensor, Tensor]:
    k = max(2, round(1 / frac))
    f = stratified_kfold(y[idx], k, seed + 7919)[0]
    mask = torch.zeros(idx.numel(), dtype=torch.bool)
    mask[f] = True
    return idx[~mask], idx[mask]


# --------------------------------------------------------------------------- model
def build_model(cfg: GraphConfig, in_dim: int, out_dim: int, topo_dim: int = 0,
                edge_dim: int | None = None) -> nn.Module:
    from ..models.memory import GRAPH_MODELS

    cls = GRAPH_MODELS.get(cfg.model)
    if cls is None:
        raise ConfigError(f"unknown graph model {cfg.model!r}; known: {', '.join(GRAPH_MODELS)}")
    common = dict(hidden_dim=cfg.hidden_dim, num_keys=cfg.num_keys, num_heads=cfg.num_heads,
                  tau=cfg.tau, dropout=cfg.dropout)
    if cfg.model == "gmn":
        return cls(in_dim, out_dim, topo_dim, query=cfg.query, topo_hidden=cfg.topo_hidden,
                   **common)
    return cls(in_dim, out_dim, edge_dim, num_gnn_layers=cfg.gnn_layers,
               num_gnn_heads=cfg.gnn_heads, **common)


def model_for(cfg: GraphConfig, graphs: list[Graph], num_classes: int | None,
              topo_dim: int) -> nn.Module:
    """:func:`build_model` sized for ``graphs`` (from :func:`model_inputs`): feature and edge
    feature widths read from the first graph; one output for regression (``num_classes``
    None)."""
    g0 = graphs[0]
    edge_dim = None if g0.edge_attr is None else g0.edge_attr.shape[1]
    return build_model(cfg, g0.x.shape[1] - topo_dim, num_classes or 1, topo_dim, edge_dim)


@torch.no_grad()
def init_keys(model: nn.Module, g: Graph, seed: int) -> None:
    """k-means keys, layer by layer, from one batch's queries."""
    from ..nn.memory import init_keys_kmeans

    gen = torch.Generator().manual_seed(seed)
    was = model.training
    model.eval()
    h, mask = to_dense_batch(model.queries(g), g)
    for layer in model.memory:
        init_keys_kmeans(layer, h, mask, gen)
        h, _ = layer(h, mask)
        mask = None
    model.train(was)


def _batches(graphs: list[Graph], idx: Tensor, size: int, gen: torch.Generator | None,
             device: torch.device, gat: bool = False) -> Iterator[Graph]:
    """Shuffled batches (training, ``gen`` given), or size-sorted ones (evaluation: graphs of
    similar size share a batch, so little padding; the order does not change a metric).

    Batches are built one at a time, as they are consumed: an epoch never holds all of its
    batches at once (GMN on DD: about 1 GB of RWR rows), and the memory of one batch is
    reused for the next. The order is drawn from ``gen`` when the first batch is asked for.
    With ``gat`` (MemGNN on CPU), batches come from :func:`gnnkit.ops.batch_for_gat`: the
    same GAT outputs, without a sort of each batch's edges.
    """
    if gen is not None:
        idx = idx[torch.randperm(idx.numel(), generator=gen)]
    else:
        sizes = torch.tensor([graphs[i].num_nodes for i in idx.tolist()])
        idx = idx[torch.argsort(sizes, stable=True)]
    for s in range(0, idx.numel(), size):
        part = [graphs[i] for i in idx[s:s + size].tolist()]
        if gat and device.type == "cpu":   # GAT index arrays assembled, not sorted per batch
            yield ops.batch_for_gat(part)
        else:
            yield batch(part).to(device)


def _evaluate(model: nn.Module, batches: Iterable[Graph], scale: tuple[float, float] | None
              ) -> tuple[float, float]:
    """(loss, metric): cross-entropy and accuracy; or, for regression (``scale`` = target
    mean and std used in training), MSE and RMSE in the original units."""
    regression = scale is not None
    model.eval()
    loss, hits, n = 0.0, 0.0, 0
    with torch.no_grad():
        for gb in batches:
            out, _ = model(gb)
            if regression:
                pred = out.view(-1) * scale[1] + scale[0]
                loss += F.mse_loss(pred, gb.y.view(-1).to(out.dtype), reduction="sum").item()
            else:
                loss += F.cross_entropy(out, gb.y.view(-1), reduction="sum").item()
                hits += (out.argmax(1) == gb.y.view(-1)).sum().item()
            n += gb.num_graphs
    return loss / n, (math.sqrt(loss / n) if regression else hits / n)


def _clip(params: list[Tensor], clip: float) -> None:
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(params, clip)


# --------------------------------------------------------------------------- one fold
@dataclass
class FoldResult:
    metrics: dict[str, float]
    history: list[dict]
    state_dict: dict[str, Tensor]
    scale: tuple[float, float] | None = None     # regression: training target mean and std


def _load_progress(path: Path, fold: int) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        raise ConfigError(f"cannot read the checkpoint {path} ({type(exc).__name__}: not a "
                          f"gnnkit fold checkpoint, or a damaged one); delete it to restart "
                          f"fold {fold} from its first epoch") from None
    if not isinstance(state, dict) or state.get("fold") != fold or "epoch" not in state:
        raise ConfigError(f"{path} is not a checkpoint of fold {fold}; delete it to restart "
                          f"that fold from its first epoch")
    return state


def train_fold(cfg: GraphConfig, graphs: list[Graph], train_idx: Tensor, val_idx: Tensor,
               test_idx: Tensor | None, num_classes: int | None, fold: int = 0,
               topo_dim: int = 0, checkpoint: str | Path | None = None,
               resume: bool = False, log: Callable[[str], None] | None = None,
               on_epoch: Callable[..., None] | None = None) -> FoldResult:
    """Train on ``train_idx``; monitor ``val_idx`` every epoch; evaluate the best-on-val model on
    ``test_idx`` (when given). Returns train/val(/test) accuracy (best val acc over epochs), or
    for regression (``num_classes=None``; targets standardised with the training mean and std)
    the RMSE (lowest val RMSE over epochs).

    ``checkpoint``: a file the fold's complete training state (model, both optimisers, the
    batch generator, torch's global RNG, the best model so far, history) is written to,
    atomically, at the end of an epoch once ``cfg.checkpoint_interval`` seconds have passed
    since the last write. With ``resume`` and that file present, training continues after the
    saved epoch and gives the same numbers as an uninterrupted run (on CPU, bit for bit, on
    the same kind of machine). ``log``: where a line goes at each checkpoint (the epoch and
    the validation metric) when no progress bar is shown, so a log file shows the fold
    moving. ``on_epoch``: called after each epoch's validation pass as
    ``on_epoch(fold=, epoch=, model=, scale=)`` (the model in evaluation mode; ``scale`` the
    regression targets' training (mean, std), else None), to look at the model as it trains.
    It must not change the model or draw from torch's random generator, or the run no longer
    repeats.
    """
    seed = cfg.seed * 1000 + fold
    seed_everything(seed)
    dev = _device(cfg.device)
    scale = None
    if num_classes is None:
        ytr = torch.cat([graphs[i].y.view(-1) for i in train_idx.tolist()]).double()
        scale = (float(ytr.mean()), float(ytr.std()) if ytr.numel() > 1 else 1.0)
        scale = (scale[0], scale[1] if scale[1] > 0 else 1.0)
    name = "acc" if scale is None else "rmse"
    sign = 1.0 if scale is None else -1.0          # selection maximises sign * metric
    model = model_for(cfg, graphs, num_classes, topo_dim).to(dev)
    keys, others = model.key_parameters(), model.other_parameters()
    kl_set = keys if cfg.kl_params == "keys" else keys + others
    sup_opt = torch.optim.Adam(others, lr=cfg.lr, weight_decay=cfg.weight_decay)
    kl_opt = torch.optim.Adam(kl_set, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    gat = cfg.model == "memgnn"

    def batches(idx: Tensor, size: int, g: torch.Generator | None = None) -> Iterator[Graph]:
        return _batches(graphs, idx, size, g, dev, gat)

    val_b = list(batches(val_idx, 64))                         # every epoch: built once
    if cfg.key_init == "kmeans":
        init_keys(model, next(batches(train_idx, cfg.batch_size, gen)), seed)

    history, best_val, best_loss, best_state, best_epoch, bad = [], -math.inf, math.inf, None, 0, 0
    done, spent = 0, 0.0                   # epochs and seconds before this process (resume)
    checkpoint = None if checkpoint is None else Path(checkpoint)
    if resume and checkpoint is not None and checkpoint.is_file():
        st = _load_progress(checkpoint, fold)
        model.load_state_dict(st["model"])
        sup_opt.load_state_dict(st["sup_opt"])
        kl_opt.load_state_dict(st["kl_opt"])
        gen.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        if dev.type == "cuda" and st.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(st["cuda_rng"], dev)
        history, best_state = list(st["history"]), st["best_state"]
        best_val, best_loss, best_epoch = st["best_val"], st["best_loss"], st["best_epoch"]
        bad, done, spent = st["bad"], st["epoch"], st["seconds"]
    start = saved_at = time.perf_counter()
    epoch = done
    with Progress(cfg.epochs - done, desc=f"fold {fold}", enabled=not cfg.quiet) as bar:
        for epoch in range(done + 1, cfg.epochs + 1):
            if cfg.lr_decay_step and epoch > 1 and (epoch - 1) % cfg.lr_decay_step == 0:
                for opt in (sup_opt, kl_opt):
                    for group in opt.param_groups:
                        group["lr"] *= 0.5
            kl_epoch = cfg.kl_weight > 0 and (epoch - 1) % cfg.kl_every == 0 and any(
                k > 1 for k in cfg.num_keys)
            supervised = not (kl_epoch and cfg.kl_skips_supervised)
            model.train()
            kl_grads = [torch.zeros_like(p) for p in kl_set] if kl_epoch else None
            tr_loss, kl_total, nb = 0.0, 0.0, 0
            for gb in batches(train_idx, cfg.batch_size, gen):
                out, assign = model(gb)
                nb += 1
                if kl_epoch:   # gradients of this batch, applied once at the end of the epoch
                    kl = cfg.kl_weight * model.kl_loss(assign, cfg.kl_reduction)
                    grads = torch.autograd.grad(kl, kl_set, retain_graph=supervised,
                                                allow_unused=True)
                    for acc, gr in zip(kl_grads, grads, strict=True):
                        if gr is not None:
                            acc += gr
                    kl_total += kl.item()
                if supervised:  # keys frozen: only `others` receive this loss
                    if scale is None:
                        loss = F.cross_entropy(out, gb.y.view(-1))
                    else:
                        target = (gb.y.view(-1).to(out.dtype) - scale[0]) / scale[1]
                        loss = F.mse_loss(out.view(-1), target)
                    grads = torch.autograd.grad(loss, others, allow_unused=True)
                    for p, gr in zip(others, grads, strict=True):
                        p.grad = gr
                    _clip(others, cfg.clip)
                    sup_opt.step()
                    tr_loss += loss.item()
            if kl_epoch:
                for p, acc in zip(kl_set, kl_grads, strict=True):
                    p.grad = acc / nb
                _clip(kl_set, cfg.clip)
                kl_opt.step()
            for p in model.parameters():
                p.grad = None
            val_loss, val_metric = _evaluate(model, val_b, scale)
            if on_epoch is not None:
                on_epoch(fold=fold, epoch=epoch, model=model, scale=scale)
            val_acc = sign * val_metric                    # the score: higher is better
            history.append({"fold": fold, "epoch": epoch, "kl_epoch": int(kl_epoch),
                            "train_loss": tr_loss / nb if supervised else float("nan"),
                            "kl_loss": kl_total / nb if kl_epoch else float("nan"),
                            "val_loss": val_loss, "val_metric": val_metric})
            if val_acc > best_val or (val_acc == best_val and val_loss < best_loss):
                best_val, best_loss, best_epoch = val_acc, val_loss, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            bad = 0 if val_acc >= best_val else bad + 1
            bar.update(**{f"val_{name}": val_metric, "best": sign * best_val})
            if bad >= cfg.patience:
                break
            now = time.perf_counter()
            if checkpoint is not None and now - saved_at >= cfg.checkpoint_interval:
                atomic_torch_save({
                    "fold": fold, "epoch": epoch, "seconds": spent + now - start,
                    "model": model.state_dict(), "sup_opt": sup_opt.state_dict(),
                    "kl_opt": kl_opt.state_dict(), "gen": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None,
                    "history": history, "best_state": best_state, "best_val": best_val,
                    "best_loss": best_loss, "best_epoch": best_epoch, "bad": bad}, checkpoint)
                saved_at = time.perf_counter()
                if log is not None and not bar.enabled:   # a log file, not a terminal
                    log(f"fold {fold}: epoch {epoch}, val_{name} {val_metric:.4f}, best "
                        f"{sign * best_val:.4f} at epoch {best_epoch}; checkpoint written")
    elapsed = spent + time.perf_counter() - start
    model.load_state_dict(best_state)
    metrics = {"fold": fold, f"val_{name}": sign * best_val, "val_loss": best_loss,
               f"train_{name}": _evaluate(model, batches(train_idx, 64),
                                         scale)[1],
               "epochs": epoch, "best_epoch": best_epoch, "time_per_epoch": elapsed / epoch}
    if test_idx is not None:
        metrics["test_loss"], metrics[f"test_{name}"] = _evaluate(
            model, batches(test_idx, 64), scale)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return FoldResult(metrics, history, state, scale)


def aggregate(runs: list[dict]) -> dict[str, float]:
    keys = [k for k in runs[0] if k != "fold" and all(k in r for r in runs)]
    out = {}
    for k in keys:
        v = np.asarray([r[k] for r in runs], dtype=np.float64)
        out[f"{k}_mean"], out[f"{k}_std"] = float(v.mean()), float(v.std())
    return out


def fold_splits(cfg: GraphConfig, y: Tensor, regression: bool
                ) -> list[tuple[Tensor, Tensor, Tensor | None]]:
    """(train, val, test) index sets of every run of ``cfg``, as :func:`run_folds` uses them:
    the CV folds ``first_fold`` .. (classification; ``test`` is None under the paper
    protocol) or random 80/10/10 splits, one per seed (regression). ``y``: [num_graphs]."""
    out = []
    if regression:
        n = y.numel()
        for k in range(cfg.seeds):
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed + k))
            a, b = int(0.8 * n), int(0.9 * n)
            out.append((perm[:a].sort().values, perm[a:b].sort().values, perm[b:].sort().values))
        return out
    folds = stratified_kfold(y, cfg.folds, cfg.seed)
    last = cfg.folds if cfg.max_folds is None else min(cfg.folds,
                                                        cfg.first_fold + cfg.max_folds)
    for k in range(cfg.first_fold, last):
        held = folds[k]
        rest = torch.cat([folds[j] for j in range(cfg.folds) if j != k])
        if cfg.protocol == "paper":
            out.append((rest, held, None))
        else:
            tr, va = _inner_split(y, rest, cfg.val_fraction, cfg.seed + k)
            out.append((tr, va, held))
    return out


# Settings that may differ between a run and its resumption: none changes a result.
_RESUME_FREE = frozenset({"resume", "threads", "quiet", "device", "checkpoint_interval",
                          "run_name", "out_dir"})


def _check_resume(cfg: GraphConfig) -> Path:
    """The run directory ``cfg.resume``, after checking that ``cfg`` is its saved config."""
    from ..config import load_toml, resolve_config

    run_dir = Path(cfg.resume)
    saved_file = run_dir / "config.toml"
    if not saved_file.is_file():
        raise ConfigError(f"--resume {run_dir}: no config.toml there, so it is not a run "
                          f"directory of 'gnnkit train graph'")
    raw = load_toml(saved_file)
    if "repeated_edges" not in raw and _reads_tu(str(raw.get("dataset", ""))):
        raise ConfigError(
            f"--resume {run_dir}: its config.toml predates the repeated_edges setting, so the "
            f"run loaded {raw.get('dataset')!r} keeping repeated edges, and this gnnkit would "
            f"merge them (other graphs, other numbers). Add the line repeated_edges = \"keep\" "
            f"to {saved_file} to go on as it started, or resume it with the gnnkit it started "
            f"with")
    saved = resolve_config(GraphConfig, raw, {}, where=str(saved_file))
    diff = [f.name for f in fields(GraphConfig) if f.name not in _RESUME_FREE
            and getattr(cfg, f.name) != getattr(saved, f.name)]
    if diff:
        shown = ", ".join(f"{n} ({getattr(cfg, n)!r} here, {getattr(saved, n)!r} in the run)"
                          for n in diff)
        raise ConfigError(f"--resume {run_dir}: settings differ from the run's config.toml: "
                          f"{shown}. A resumed run keeps its own settings: give only --resume "
                          f"(and --threads, --quiet, --device, --checkpoint-interval), or in "
                          f"Python make_config('graph', preset='{saved_file}', resume=...)")
    return run_dir


def _read_history(path: Path, folds: set[int]) -> list[dict]:
    """The rows of a run's history.csv that belong to ``folds`` (numbers parsed back)."""
    import csv

    if not path.is_file():
        return []
    ints = {"fold", "epoch", "kl_epoch"}
    with path.open(newline="") as f:
        rows = [{k: (int(v) if k in ints else float(v)) for k, v in r.items()}
                for r in csv.DictReader(f)]
    return [r for r in rows if r["fold"] in folds]


def _check_regression_options(cfg: GraphConfig) -> None:
    """Regression data sets run random 80/10/10 splits over ``seeds``: the cross-validation
    options would be ignored, so asking for one is an error rather than a silent no-op.
    (``--folds 10`` and ``--protocol paper`` equal the defaults, so they cannot be told
    from unset ones here; the command line refuses them through :func:`check_given_options`.)"""
    set_cv = [f for f, bad in (("--protocol holdout", cfg.protocol != "paper"),
                               (f"--folds {cfg.folds}", cfg.folds != GraphConfig.folds),
                               ("--first-fold", cfg.first_fold != 0),
                               ("--max-folds", cfg.max_folds is not None)) if bad]
    if set_cv:
        raise _regression_options_error(cfg, set_cv)


def _regression_options_error(cfg: GraphConfig, named: list[str]) -> ConfigError:
    return ConfigError(
        f"{cfg.dataset!r} is a regression data set: it runs random 80/10/10 splits over "
        f"--seeds {cfg.seeds} and reports test RMSE, so {', '.join(named)} would be "
        f"ignored (cross-validated classification only); drop it and choose the number "
        f"of splits with --seeds")


def check_given_options(cfg: GraphConfig, given: Iterable[str]) -> None:
    """The command line's check of the options it was ``given`` (config field names): on a
    data set known to be regression before it is loaded (a CSV of SMILES, MoleculeNet),
    ``--folds`` and ``--protocol`` are refused even at their default values, which
    :func:`run_folds` cannot tell from unset ones."""
    if _graph_source(cfg.dataset)[0] not in ("csv", "registered"):
        return
    given = set(given)
    named = [f"--{k} {getattr(cfg, k)}" for k in ("protocol", "folds") if k in given]
    if named:
        raise _regression_options_error(cfg, named)


def _check_targets(ds) -> None:  # noqa: ANN001
    """One target per graph: a class id in [0, num_classes), or (regression) a finite number.
    A ConfigError that names the first bad graph, instead of an error from inside the loss."""
    for i, g in enumerate(ds.graphs):
        y = g.y
        if y is None or y.numel() != 1:
            got = "no target" if y is None else f"a target of shape {list(y.shape)}"
            raise ConfigError(f"data set {ds.name!r}: graph {i} has {got}; graph-level tasks "
                              f"need one target (y) per graph")
        v = float(y.reshape(()))
        if ds.num_classes is None:
            if not math.isfinite(v):
                raise ConfigError(f"data set {ds.name!r}: graph {i} has target {v}")
        elif y.dtype.is_floating_point or not 0 <= v < ds.num_classes:
            raise ConfigError(f"data set {ds.name!r}: graph {i} has label {y.reshape(()).item()!r}"
                              f", but labels must be class ids in [0, num_classes = "
                              f"{ds.num_classes})")


def _check_splits(cfg: GraphConfig, ds, splits: list) -> None:  # noqa: ANN001
    """Every run needs graphs to train on, to select with and (holdout) to test, and a
    cross-validation needs at least one graph per fold: too few graphs (a small data set, or
    ``max_nodes`` dropping most of one) is an error here, not an accuracy over an empty fold."""
    n = len(ds.graphs)
    if ds.num_classes is not None and n < cfg.folds:
        problem = "at least one graph per fold"
    else:
        problem = ""
        for tr, va, te in splits:
            parts = {"training": tr, "validation": va, **({} if te is None else {"test": te})}
            empty = [name for name, idx in parts.items() if idx.numel() == 0]
            if empty:
                problem = f"a non-empty {' and '.join(empty)} part in every split"
                break
    if not problem:
        return
    dropped = ds.info.get("dropped_over_max_nodes", 0)
    why = f" after --max-nodes {cfg.max_nodes} dropped {dropped}" if dropped else ""
    how = ("random 80/10/10 splits" if ds.num_classes is None else
           f"{cfg.folds}-fold cross-validation ({cfg.protocol} protocol)")
    raise ConfigError(
        f"{cfg.dataset!r} has {n} graphs{why}: too few for {how}, which needs {problem}. "
        f"Use a larger data set{'' if ds.num_classes is None else ' or fewer --folds'}"
        f"{' or a larger --max-nodes' if dropped else ''}.")


def run_folds(cfg: GraphConfig, log: Callable[[str], None] | None = None, data=None,  # noqa: ANN001
              on_epoch: Callable[..., None] | None = None) -> dict:
    """Cross-validate ``cfg`` (see the module docstring). Returns ``<metric>_mean/_std``
    (paper protocol: ``val_acc`` is the paper's number; holdout: ``test_acc``),
    ``num_folds``, ``run_dir`` and ``runs``. ``on_epoch``: see :func:`train_fold`.

    With ``cfg.resume`` (a run directory; ``cfg`` must be its saved config, apart from
    threads, quiet, device and checkpoint_interval) the folds already in its metrics.json
    are kept, an interrupted fold continues from its checkpoint, and the others run.
    """
    resume_dir = _check_resume(cfg) if cfg.resume is not None else None
    if cfg.figures:
        from .. import viz

        viz.require()
    build_model(cfg, 1, 2, 1)  # unknown model names fail before anything is loaded
    _device(cfg.device)        # and so does a device this machine lacks
    log = log if (log is not None and not cfg.quiet) else (lambda _m: None)
    ds = data if data is not None else load_graph_data(cfg)
    _check_targets(ds)
    if ds.num_classes is None:
        _check_regression_options(cfg)
    splits = fold_splits(cfg, torch.cat([g.y.view(-1) for g in ds.graphs]),
                         ds.num_classes is None)
    _check_splits(cfg, ds, splits)
    graphs, topo_dim = model_inputs(cfg, ds.graphs)
    run_dir, runs, history = None, [], []
    if resume_dir is not None:
        run_dir = resume_dir
        if (run_dir / "metrics.json").is_file():
            runs = json.loads((run_dir / "metrics.json").read_text())["runs"]
        history = _read_history(run_dir / "history.csv", {r["fold"] for r in runs})
    elif cfg.save:
        label = Path(cfg.dataset).stem if is_csv(cfg.dataset) or is_tu_zip(cfg.dataset) \
            else cfg.dataset
        name = cfg.run_name or f"{cfg.model}-{label}-{time.strftime('%Y%m%d-%H%M%S')}"
        run_dir = make_run_dir(cfg.out_dir, name)
        save_toml(cfg, run_dir / "config.toml", header=(
            f"Resolved config of this run: gnnkit train graph --preset {run_dir / 'config.toml'}"))
    finished = {r["fold"] for r in runs}
    n_folds = len(splits)
    metric = "acc" if ds.num_classes is not None else "rmse"
    with torch_threads(cfg.threads):
        first = cfg.first_fold   # fold index of splits[0] (0 for regression, checked above)
        for k, (tr, va, te) in enumerate(splits, start=first):
            if k in finished:
                log(f"fold {k}: finished before, kept from {run_dir / 'metrics.json'}")
                continue
            progress = None if run_dir is None else run_dir / "checkpoints" / f"fold{k}.progress.pt"
            if resume_dir is not None and progress.is_file():
                log(f"fold {k}: continuing from {progress}")
            res = train_fold(cfg, graphs, tr, va, te, ds.num_classes, k, topo_dim,
                             checkpoint=progress, resume=resume_dir is not None, log=log,
                             on_epoch=on_epoch)
            runs.append(res.metrics)
            history.extend(res.history)
            m = res.metrics
            extra = f"  test_{metric} {m[f'test_{metric}']:.4f}" if te is not None else ""
            log(f"fold {k}: val_{metric} {m[f'val_{metric}']:.4f}{extra}  epochs {m['epochs']} "
                f"(best {m['best_epoch']})  {m['time_per_epoch']:.2f} s/epoch")
            if run_dir is not None:
                save_checkpoint(res.state_dict, run_dir / "checkpoints" / f"fold{k}.pt")
                write_json(run_dir / "checkpoints" / f"fold{k}.json",
                           {**_fold_model_info(cfg, ds, graphs, topo_dim, res.scale),
                            "environment": environment()})
                write_csv(run_dir / "history.csv", history, HISTORY_FIELDS)
                write_json(run_dir / "metrics.json", {"aggregate": aggregate(runs),
                                                      "runs": runs, "data": ds.info})
                progress.unlink(missing_ok=True)   # the fold's results are safely written
            if k == first and run_dir is not None and cfg.figures:
                _figures(cfg, res, graphs, ds.graphs, te if te is not None else va,
                         ds.num_classes, topo_dim, run_dir, _is_molecules(ds))
    protocol = cfg.protocol if ds.num_classes is not None else "random_80_10_10"
    return {**aggregate(runs), "num_folds": n_folds, "protocol": protocol,
            "run_dir": None if run_dir is None else str(run_dir), "runs": runs}


def _is_molecules(ds) -> bool:  # noqa: ANN001 - a GraphDataset
    """Whether ``ds`` holds molecules parsed from a CSV of SMILES (MoleculeNet or the user's)."""
    return ds.num_classes is None and is_csv(str(ds.info.get("source", "")))


def _fold_model_info(cfg: GraphConfig, ds, graphs: list[Graph], topo_dim: int,  # noqa: ANN001
                     scale: tuple[float, float] | None) -> dict:
    """What :func:`predict_graphs` needs besides the weights and config.toml: the model's
    input widths, the target scaling (regression) and the class labels (classification)."""
    g0 = graphs[0]
    return {"model": cfg.model, "in_dim": g0.x.shape[1] - topo_dim,
            "edge_dim": None if g0.edge_attr is None else g0.edge_attr.shape[1],
            "topo_dim": topo_dim, "num_classes": ds.num_classes,
            "input": "molecules" if _is_molecules(ds) else "graphs",
            "target": ds.info.get("target"),
            "target_mean": None if scale is None else scale[0],
            "target_std": None if scale is None else scale[1],
            "label_map": ds.info.get("label_map")}


def load_graph_run(run_dir: str | Path, fold: int | None = None
                   ) -> tuple[GraphConfig, nn.Module, dict]:
    """``(config, model in eval mode, info)`` of fold ``fold`` (default: the run's first
    finished fold) of a ``gnnkit train graph`` run: the best-on-validation weights of
    ``checkpoints/fold<k>.pt`` and the sizes and target scaling of ``fold<k>.json``."""
    from ..config import load_toml, resolve_config

    run_dir = Path(run_dir)
    saved = run_dir / "config.toml"
    if not saved.is_file():
        raise ConfigError(f"--run {run_dir}: no config.toml there, so it is not a run "
                          f"directory of 'gnnkit train graph'")
    raw = load_toml(saved)
    # a run saved before the setting existed read its TU data keeping repeated edges
    raw.setdefault("repeated_edges", "keep")
    cfg = resolve_config(GraphConfig, raw, {}, where=str(saved))
    ckpt = run_dir / "checkpoints"
    done = sorted(int(p.stem[4:]) for p in ckpt.glob("fold*.json") if p.stem[4:].isdigit())
    if not done:
        raise ConfigError(f"--run {run_dir}: no finished fold with a saved model "
                          f"(checkpoints/fold<k>.pt and .json); the run has not finished a "
                          f"fold, or it was trained before gnnkit saved them: train it again")
    k = done[0] if fold is None else fold
    if k not in done or not (ckpt / f"fold{k}.pt").is_file():
        raise ConfigError(f"--run {run_dir}: no saved model for fold {k}; folds with one: "
                          f"{', '.join(map(str, done))}")
    info = {**json.loads((ckpt / f"fold{k}.json").read_text()), "fold": k,
            "run_dir": str(run_dir)}
    model = build_model(cfg, info["in_dim"], info["num_classes"] or 1, info["topo_dim"],
                        info["edge_dim"])
    model.load_state_dict(torch.load(ckpt / f"fold{k}.pt", map_location="cpu",
                                     weights_only=True))
    return cfg, model.eval(), info


def predict_graphs(run_dir: str | Path, graphs: list[Graph], fold: int | None = None,
                   batch_size: int = 64) -> tuple[Tensor, dict]:
    """Predictions of a trained run's model (see :func:`load_graph_run`) for ``graphs``, in
    their order: regression [G] in the target's units; classification [G, C] class
    probabilities (column c is class c; ``info["label_map"]`` maps the data set's labels to
    c). The graphs need the features the run was trained on (same node and edge widths);
    GMN's RWR embedding is computed here, with the run's width. Returns ``(pred, info)``."""
    run = load_graph_run(run_dir, fold)
    return predict_loaded(run, graphs, batch_size), run[2]


@torch.no_grad()
def predict_loaded(run: tuple[GraphConfig, nn.Module, dict], graphs: list[Graph],
                   batch_size: int = 64) -> Tensor:
    """:func:`predict_graphs` with a run already loaded by :func:`load_graph_run`: the
    predictions only."""
    cfg, model, info = run
    if not graphs:
        raise ConfigError("no graphs to predict")
    width = {g.x.shape[1] if g.x is not None else 0 for g in graphs}
    ew = {None if g.edge_attr is None else g.edge_attr.shape[1] for g in graphs}
    if width != {info["in_dim"]} or (cfg.model == "memgnn" and ew != {info["edge_dim"]}):
        raise ConfigError(
            f"the graphs have {sorted(width)} node feature(s) and edge features "
            f"{sorted(ew, key=str)}, but fold {info['fold']} of {info['run_dir']} was trained on "
            f"{info['in_dim']} and {info['edge_dim']}: give graphs made the way its data set "
            f"was ({cfg.dataset!r}, node_features {cfg.node_features!r}, degree_cap "
            f"{cfg.degree_cap}, repeated_edges {cfg.repeated_edges!r})")
    if info["topo_dim"]:
        graphs = add_rwr(graphs, info["topo_dim"], cfg.rwr_c)
    outs = [model(batch(graphs[s:s + batch_size]))[0]
            for s in range(0, len(graphs), batch_size)]
    out = torch.cat(outs)
    if info["num_classes"] is None:
        return out.view(-1).double() * info["target_std"] + info["target_mean"]
    return torch.softmax(out.double(), 1)


def _figures(cfg: GraphConfig, res: FoldResult, graphs: list[Graph], drawn: list[Graph],
             idx: Tensor, num_classes: int, topo_dim: int, run_dir,  # noqa: ANN001
             molecules: bool = False) -> None:
    """Figures of the first memory layer on graph ``idx[0]``: the model reads
    ``graphs`` (GMN: with the RWR embedding, no edges), the drawing shows ``drawn`` (the
    data set's graphs, with their edges; molecules with element symbols)."""
    from .. import viz

    model = model_for(cfg, graphs, num_classes, topo_dim)
    model.load_state_dict(res.state_dict)
    model.eval()
    g = graphs[int(idx[0])]
    with torch.no_grad():
        _, assign = model(batch([g]))
    C = assign[0][0][0]                                                  # [n, K]
    shown = drawn[int(idx[0])]
    labels = None
    if molecules:                        # atoms labelled by element
        from ..datasets.moleculenet import element_symbols

        labels = element_symbols(shown.x)
    viz.plot_memory_clusters(shown, C, run_dir / "figures" / "memory_clusters.png",
                             title=f"{cfg.model} on {cfg.dataset}: first memory layer",
                             labels=labels)
    viz.plot_assignment_matrix(C, run_dir / "figures" / "assignment_matrix.png")


def print_table(cfg: GraphConfig, res: dict) -> None:
    """Mean ± std over folds, as the CLI prints it."""
    def fmt(key: str) -> str:
        m, s = res.get(f"{key}_mean"), res.get(f"{key}_std")
        return "-" if m is None else f"{m:.4f} ± {s:.4f}"

    where = f", run dir {res['run_dir']}" if res.get("run_dir") else ""
    n = res["num_folds"]
    unit = "split" if res["protocol"] == "random_80_10_10" else "fold"
    print(f"{cfg.model} on {cfg.dataset}: {n} {unit}{'s' if n != 1 else ''}, protocol "
          f"{res['protocol']} (mean ± std){where}")
    for key, label in (("train_acc", "train accuracy"), ("val_acc", "best val accuracy"),
                       ("test_acc", "test accuracy"), ("train_rmse", "train RMSE"),
                       ("val_rmse", "best val RMSE"), ("test_rmse", "test RMSE"),
                       ("epochs", "epochs"), ("time_per_epoch", "s/epoch")):
        if f"{key}_mean" in res or key.endswith("_acc") and "val_acc_mean" in res:
            print(f"{label:18} {fmt(key)}")
