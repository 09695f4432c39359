"""Semi-supervised node classification on one graph, full batch (GCN, GAT, GraphSAGE).

``run(cfg, seed)`` is the whole protocol for one seed: seed, build, train with Adam on the
cross-entropy of the training nodes, early stopping on validation only, restore the kept model
when the protocol says so, evaluate in eval mode. ``run_seeds(cfg)`` loads the data set once,
calls the trainer for seeds ``cfg.seed .. cfg.seed + cfg.seeds - 1`` and writes the run directory.

Early-stopping protocols (see :mod:`gnnkit.train.early_stopping`):

* ``kipf``: tkipf/gcn ``train.py``; the monitored loss is tkipf/gcn's ``model.loss``, i.e. the
  validation cross-entropy plus the weight-decay term ``weight_decay * sum ||w||^2 / 2``. The
  final model is tested.
* ``gat``: PetarV-/GAT ``execute_cora.py``; the saved model is restored before testing.
* ``best_val_acc``: highest validation accuracy (ties: lower loss), restored before testing.
* ``none``: every epoch, final model.

Weight decay is Adam's coupled L2 term (its gradient equals that of
``weight_decay * ||w||^2 / 2`` added to the loss, as both authors' TensorFlow codes do), on all
parameters (``weight_decay_scope = "all"``, PetarV-/GAT) or on the first layer only
(``"first_layer"``, tkipf/gcn: ``model.layers[0]``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ConfigError, option, save_toml
from ..datasets.base import NodeDataset
from ..graph import Graph
from ..ops import ids_outside
from ..reorder import NodeOrder
from ..train import (
    Progress,
    accuracy,
    f1_score,
    make_early_stopping,
    make_run_dir,
    save_checkpoint,
    seed_everything,
    torch_threads,
    write_csv,
    write_json,
)

__all__ = ["NodeConfig", "NodeData", "SeedResult", "aggregate", "build_model", "evaluate",
           "l2_penalty", "load_data", "load_run_config", "make_optimizer", "prepare", "run",
           "run_seeds", "train_seed"]

HISTORY_FIELDS = ("seed", "epoch", "train_loss", "val_loss", "val_acc")


@dataclass(frozen=True)
class NodeConfig:
    """Every setting of a node-classification run. Presets set these; flags override them."""

    model: str = option("gat", "model: gcn, gat, sage (any name in gnnkit.models.NODE_MODELS)")
    dataset: str = option("synthetic", "data set: cora, citeseer, pubmed, synthetic (see "
                                     "'gnnkit datasets list')")
    root: str | None = option(None, "data directory (default: $GNNKIT_DATA, else the user "
                                    "cache directory)")
    seed: int = option(0, "first random seed")
    seeds: int = option(1, "number of seeds: runs use seed, seed+1, ..., seed+seeds-1")
    epochs: int = option(200, "maximum number of training epochs")
    lr: float = option(0.01, "Adam learning rate")
    weight_decay: float = option(5e-4, "L2 coefficient (Adam's coupled weight decay)")
    weight_decay_scope: Literal["all", "first_layer"] = option(
        "all", "parameters that weight decay applies to: all, or the first layer only")
    hidden_dim: int = option(16, "hidden units per layer (per head for gat)")
    num_layers: int = option(2, "number of layers, output layer included")
    num_heads: int = option(8, "attention heads in each hidden layer", models=("gat",))
    out_heads: int = option(1, "attention heads in the output layer (averaged)", models=("gat",))
    dropout: float = option(0.5, "dropout on each layer's input")
    attn_dropout: float = option(0.6, "dropout on attention coefficients", models=("gat",))
    aggregator: Literal["mean", "pool", "lstm", "gcn"] = option(
        "mean", "neighbourhood aggregator", models=("sage",))
    normalize: bool = option(False, "L2-normalise hidden representations", models=("sage",))
    early_stopping: Literal["kipf", "gat", "best_val_acc", "none"] = option(
        "kipf", "early-stopping protocol, on validation only")
    patience: int = option(10, "patience of the early-stopping protocol (window for kipf)")
    device: str = option("cpu", "torch device: cpu, cuda, cuda:1, ... or auto")
    reorder: Literal["none", "rcm", "degree"] = option(
        "none", "relabel nodes once at load for memory locality (rcm: reverse Cuthill-McKee, "
                "degree); metrics, embeddings and saved labels stay in the original node order")
    threads: int | None = option(None, "torch CPU threads during training (default: torch's "
                                       "choice; 1 avoids slow-downs on a busy machine; a seed "
                                       "repeats bit for bit on one machine with the same "
                                       "threads and MKL_CBWR=AUTO set)")
    out_dir: str = option("runs", "parent directory of run directories")
    run_name: str | None = option(None, "run directory name (default: <model>-<dataset>-<time>)")
    save: bool = option(True, "write the run directory (config, metrics, history, checkpoints)")
    save_embeddings: bool = option(False, "save model.embed() of every seed to embeddings.pt")
    figures: bool = option(False, "draw learning curves and a t-SNE of the embeddings "
                                  "(needs gnnkit[viz])")
    quiet: bool = option(False, "no progress bar or per-seed lines")

    def __post_init__(self) -> None:
        positive = ("seeds", "epochs", "hidden_dim", "num_layers", "num_heads", "out_heads",
                    "patience")
        if self.threads is not None:
            positive += ("threads",)
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.seed or self.seed + self.seeds > 2**32:
            raise ConfigError(f"seeds must lie in [0, 2**32), got seed={self.seed}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a positive number, got {self.lr}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}")
        for name in ("dropout", "attn_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name} must lie in [0, 1), got {getattr(self, name)}")
        check_device_name(self.device)
        if not self.save and (self.save_embeddings or self.figures):
            raise ConfigError("save_embeddings and figures need save = true (a run directory)")


# --------------------------------------------------------------------------- data
@dataclass(frozen=True, eq=False)
class NodeData:
    """A data set prepared once for every seed: tensors on the device, the graph built once.

    With ``order`` set the nodes are relabelled (:mod:`gnnkit.reorder`): ``graph``, ``x``,
    ``y`` and the split ids are all in the new order, and :meth:`to_original` puts node rows
    back in the data set's order.
    """

    name: str
    graph: Graph        # on the device; its cached normalisations are reused by every epoch/seed
    x: Tensor           # [N, F] model input
    y: Tensor           # [N] int64
    splits: dict[str, Tensor]  # "train" / "val" / "test" -> node ids
    num_classes: int
    order: NodeOrder | None = None   # the relabelling applied at load, or None

    def to_original(self, t: Tensor) -> Tensor:
        """Node rows ``[N, ...]`` in the data set's own node order."""
        return t if self.order is None else self.order.undo(t)


def check_device_name(name: str) -> None:
    """A config's ``device``: "auto" or a string torch parses (whether this machine has that
    device is :func:`_device`'s question, asked when the run starts)."""
    if name != "auto":
        try:
            torch.device(name)
        except RuntimeError:
            raise ConfigError(f"device {name!r} is not a torch device "
                              f"(use cpu, cuda, cuda:0, ... or auto)") from None


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: CUDA is not available here (use --device cpu)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s)")
    return dev


def _check_splits(ds: NodeDataset) -> None:
    """Split ids that index the graph, parts that do not share nodes, and labels in
    [0, num_classes) on every node of a split: a ConfigError naming the problem, instead of an
    IndexError from inside the loss or a test accuracy that counts training nodes."""
    n, parts = ds.graph.num_nodes, {}
    for k in ("train", "val", "test"):
        idx = getattr(ds, f"{k}_idx")
        if not isinstance(idx, torch.Tensor) or idx.dim() != 1 or idx.dtype.is_floating_point \
                or idx.dtype == torch.bool:
            raise ConfigError(f"data set {ds.name!r}: {k}_idx must be a 1-D tensor of node ids")
        if (bad := ids_outside(idx, n)) is not None:
            raise ConfigError(f"data set {ds.name!r}: {k}_idx holds ids in [{bad[0]}, "
                              f"{bad[1]}], but the graph has {n} nodes")
        if torch.unique(idx).numel() != idx.numel():
            raise ConfigError(f"data set {ds.name!r}: {k}_idx repeats node ids")
        parts[k] = idx.cpu()
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        shared = parts[a][torch.isin(parts[a], parts[b])]
        if shared.numel():
            raise ConfigError(f"data set {ds.name!r}: {a}_idx and {b}_idx share "
                              f"{shared.numel()} node(s) (e.g. node {int(shared[0])}); the "
                              f"parts of a split must be disjoint")
    y = ds.graph.y
    if y is not None and y.dim() == 1 and not y.dtype.is_floating_point:
        used = y[torch.cat(list(parts.values())).to(y.device)]
        if (bad := ids_outside(used, ds.num_classes)) is not None:
            raise ConfigError(f"data set {ds.name!r}: the nodes of the split have labels in "
                              f"[{bad[0]}, {bad[1]}], but num_classes = "
                              f"{ds.num_classes} (labels must lie in [0, num_classes); nodes "
                              f"outside every split may carry any label, e.g. -1)")


def prepare(ds: NodeDataset, device: str | torch.device = "cpu",
            reorder: str = "none") -> NodeData:
    """A :class:`NodeDataset` on ``device`` ("auto": cuda when available), ready to train.

    ``reorder`` ("rcm", "degree"; "none" keeps the ids) relabels the nodes once for memory
    locality (:func:`gnnkit.reorder.reorder`); the split ids follow their nodes, so every
    metric is that of the plain path (up to summation order). With dropout, the same random
    numbers fall on rows in another order: a run is then equivalent in distribution to the
    plain one, not equal number for number.
    """
    _check_splits(ds)
    g, order = ds.graph, None
    if reorder != "none":
        from ..reorder import reorder as reorder_graph

        g, order = reorder_graph(g, reorder)
    g = g.to(_device(str(device)))
    y = g.y
    if g.x is None or y is None:
        raise ConfigError(f"data set {ds.name!r} has no node features or labels")
    if y.dim() != 1 or y.dtype.is_floating_point:
        raise ConfigError(f"data set {ds.name!r} has multi-label targets {list(y.shape)}; "
                          f"node classification here needs one class id per node")
    x = g.x  # feature preprocessing is the loader's (Planetoid: row-normalised, as the papers)
    splits = {k: getattr(ds, f"{k}_idx").to(g.device) for k in ("train", "val", "test")}
    if order is not None:
        splits = {k: order.ids(idx) for k, idx in splits.items()}
    for k, idx in splits.items():
        if idx.numel() == 0:
            raise ConfigError(f"data set {ds.name!r} has an empty {k} split")
    return NodeData(ds.name, g, x, y.long(), splits, int(ds.num_classes), order)


def load_data(cfg: NodeConfig) -> NodeData:
    """Load ``cfg.dataset`` and move it to ``cfg.device``, once for all seeds."""
    from ..datasets import load_node_dataset

    return prepare(load_node_dataset(cfg.dataset, root=cfg.root), cfg.device, cfg.reorder)


# --------------------------------------------------------------------------- model
_MODEL_KWARGS: dict[str, Callable[[NodeConfig], dict]] = {
    "gat": lambda c: {"num_heads": c.num_heads, "out_heads": c.out_heads,
                      "attn_dropout": c.attn_dropout},
    "sage": lambda c: {"aggregator": c.aggregator, "normalize": c.normalize},
}


def _model_class(name: str) -> type[nn.Module]:
    from ..models import NODE_MODELS

    if name not in NODE_MODELS:
        raise ConfigError(f"unknown model {name!r}; known models: {', '.join(NODE_MODELS)}")
    return NODE_MODELS[name]


def build_model(cfg: NodeConfig, in_dim: int, out_dim: int) -> nn.Module:
    """The model ``cfg.model`` with the config's hyperparameters (weights from torch's RNG)."""
    kwargs = {"in_dim": in_dim, "hidden_dim": cfg.hidden_dim, "out_dim": out_dim,
              "num_layers": cfg.num_layers, "dropout": cfg.dropout}
    kwargs.update(_MODEL_KWARGS.get(cfg.model, lambda c: {})(cfg))
    return _model_class(cfg.model)(**kwargs)


def _decayed_params(model: nn.Module, scope: str) -> list[nn.Parameter]:
    if scope == "all":
        return list(model.parameters())
    layers = getattr(model, "layers", None)
    if not layers:
        raise ConfigError("weight_decay_scope = 'first_layer' needs a model with .layers")
    return list(layers[0].parameters())


def make_optimizer(model: nn.Module, cfg: NodeConfig) -> torch.optim.Adam:
    """Adam with weight decay on ``cfg.weight_decay_scope``'s parameters only."""
    decayed = _decayed_params(model, cfg.weight_decay_scope)
    ids = {id(p) for p in decayed}
    rest = [p for p in model.parameters() if id(p) not in ids]
    groups = [{"params": decayed, "weight_decay": cfg.weight_decay}]
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return torch.optim.Adam(groups, lr=cfg.lr)


def l2_penalty(params: list[nn.Parameter], weight_decay: float) -> float:
    """``weight_decay * sum ||w||^2 / 2`` (TensorFlow's ``l2_loss`` convention)."""
    with torch.no_grad():
        return weight_decay * 0.5 * sum(float(p.pow(2).sum()) for p in params)


@torch.no_grad()
def evaluate(model: nn.Module, data: NodeData) -> dict[str, float]:
    """Loss, accuracy, micro- and macro-F1 of every split, in eval mode (no dropout)."""
    model.eval()
    logits = model(data.x, data.graph)  # [N, C]
    out = {}
    for split, idx in data.splits.items():
        z, t = logits[idx], data.y[idx]
        out[f"{split}_loss"] = F.cross_entropy(z, t).item()
        out[f"{split}_acc"] = accuracy(z, t)
        out[f"{split}_micro_f1"] = f1_score(z, t, "micro", data.num_classes)
        out[f"{split}_macro_f1"] = f1_score(z, t, "macro", data.num_classes)
    return out


# --------------------------------------------------------------------------- training
@dataclass
class SeedResult:
    metrics: dict[str, float]
    history: list[dict[str, float]]
    state_dict: dict[str, Tensor]         # the tested model
    embeddings: Tensor | None = None      # model.embed(x, g) of the tested model, on CPU,
                                          # rows in the data set's node order


def train_seed(cfg: NodeConfig, seed: int, data: NodeData, embed: bool = False) -> SeedResult:
    """Train and evaluate one seed on prepared ``data``."""
    with torch_threads(cfg.threads):
        return _train_seed(cfg, seed, data, embed)


def _train_seed(cfg: NodeConfig, seed: int, data: NodeData, embed: bool) -> SeedResult:
    seed_everything(seed)
    model = build_model(cfg, data.x.shape[1], data.num_classes).to(data.x.device)
    opt = make_optimizer(model, cfg)
    stopper = make_early_stopping(cfg.early_stopping, cfg.patience)
    decayed = _decayed_params(model, cfg.weight_decay_scope)
    x, g, y = data.x, data.graph, data.y
    train_idx, val_idx = data.splits["train"], data.splits["val"]

    history: list[dict[str, float]] = []
    best_state, best_epoch, epoch = None, 0, 0
    start = time.perf_counter()
    with Progress(cfg.epochs, desc=f"seed {seed}", enabled=not cfg.quiet) as bar:
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x, g)[train_idx], y[train_idx])
            loss.backward()
            opt.step()

            model.eval()
            with torch.no_grad():
                z = model(x, g)[val_idx]  # [N_val, C]
                val_loss = F.cross_entropy(z, y[val_idx]).item()
                val_acc = accuracy(z, y[val_idx])
            history.append({"seed": seed, "epoch": epoch, "train_loss": loss.item(),
                            "val_loss": val_loss, "val_acc": val_acc})
            monitored = val_loss
            if cfg.early_stopping == "kipf":  # tkipf/gcn monitors model.loss = CE + L2 term
                monitored += l2_penalty(decayed, cfg.weight_decay)
            decision = stopper.step(monitored, val_acc)
            if decision.save:
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                best_epoch = epoch
            bar.update(val_loss=val_loss, val_acc=val_acc)
            if decision.stop:
                break
    elapsed = time.perf_counter() - start

    if stopper.restore_best and best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_epoch = epoch  # the final model is the one tested
    metrics = {"seed": seed, **evaluate(model, data), "epochs": epoch, "best_epoch": best_epoch,
               "time_per_epoch": elapsed / max(epoch, 1)}
    emb = None
    if embed:
        with torch.no_grad():
            emb = data.to_original(model.embed(x, g)).detach().cpu()  # [N, D]
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return SeedResult(metrics, history, state, emb)


def run(cfg: NodeConfig, seed: int, data: NodeData | None = None) -> dict[str, float]:
    """Metrics of one seed: ``{split}_{acc,micro_f1,macro_f1,loss}``, ``epochs``,
    ``best_epoch``, ``time_per_epoch``. Loads the data unless ``data`` is given."""
    return train_seed(cfg, seed, data if data is not None else load_data(cfg)).metrics


def aggregate(runs: list[dict[str, float]]) -> dict[str, float]:
    """``<key>_mean`` and ``<key>_std`` (population std, ddof=0) of every metric over runs."""
    out = {}
    for key in runs[0]:
        if key == "seed":
            continue
        v = np.asarray([r[key] for r in runs], dtype=np.float64)
        out[f"{key}_mean"] = float(v.mean())
        out[f"{key}_std"] = float(v.std())
    return out


def run_seeds(cfg: NodeConfig, log: Callable[[str], None] | None = None,
              data: NodeData | None = None) -> dict:
    """Run seeds ``cfg.seed .. cfg.seed + cfg.seeds - 1`` and aggregate.

    Returns the aggregate (``<metric>_mean`` / ``<metric>_std``) plus ``num_seeds``,
    ``run_dir`` (None when ``cfg.save`` is false) and ``runs`` (per-seed metrics). With
    ``cfg.save`` the run directory holds ``config.toml`` (the resolved config, a valid preset),
    ``metrics.json`` (``aggregate`` and ``runs``), ``history.csv``, ``checkpoints/seed<k>.pt``
    (the tested model of seed k) and, on request, ``embeddings.pt`` and ``figures/``.
    ``log`` receives one line per finished seed. ``data`` (from :func:`prepare`) replaces
    loading ``cfg.dataset`` (and ``cfg.reorder``: the data's own order is used).
    """
    _model_class(cfg.model)  # unknown names fail before anything is written
    if cfg.figures:
        from .. import viz

        viz.require()  # fail before training, not after
    log = log if (log is not None and not cfg.quiet) else (lambda _msg: None)
    data = data if data is not None else load_data(cfg)
    run_dir = None
    if cfg.save:
        name = cfg.run_name or f"{cfg.model}-{cfg.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
        run_dir = make_run_dir(cfg.out_dir, name)
        save_toml(cfg, run_dir / "config.toml", header=(
            "Resolved config of this run (a valid preset): "
            f"gnnkit train node --preset {run_dir / 'config.toml'}"))
    runs, history, embs = [], [], []
    for seed in range(cfg.seed, cfg.seed + cfg.seeds):
        res = train_seed(cfg, seed, data, embed=cfg.save_embeddings or cfg.figures)
        runs.append(res.metrics)
        history.extend(res.history)
        if res.embeddings is not None:
            embs.append(res.embeddings)
        m = res.metrics
        log(f"seed {seed}: test_acc {m['test_acc']:.4f}  val_acc {m['val_acc']:.4f}  "
            f"epochs {m['epochs']} (best {m['best_epoch']})  {m['time_per_epoch'] * 1e3:.1f} "
            f"ms/epoch")
        if run_dir is not None:
            save_checkpoint(res.state_dict, run_dir / "checkpoints" / f"seed{seed}.pt")
            write_csv(run_dir / "history.csv", history, HISTORY_FIELDS)
            write_json(run_dir / "metrics.json", {"aggregate": aggregate(runs), "runs": runs})
    agg = aggregate(runs)
    if run_dir is not None and cfg.save_embeddings:
        save_checkpoint({"seeds": torch.arange(cfg.seed, cfg.seed + cfg.seeds),
               "embeddings": torch.stack(embs), "y": data.to_original(data.y).cpu()},
               run_dir / "embeddings.pt")
    if run_dir is not None and cfg.figures:
        from .. import viz

        fig_dir = run_dir / "figures"
        viz.plot_learning_curves(history, fig_dir / "learning_curves.png",
                                 title=f"{cfg.model} on {cfg.dataset}")
        viz.plot_tsne(embs[0], data.to_original(data.y).cpu(),
                      fig_dir / f"tsne_seed{cfg.seed}.png", seed=cfg.seed,
                      title=f"t-SNE of {cfg.model} embeddings, {cfg.dataset}, seed {cfg.seed}",
                      threads=cfg.threads)
    return {**agg, "num_seeds": cfg.seeds, "run_dir": None if run_dir is None else str(run_dir),
            "runs": runs}


def load_run_config(run_dir: str | Path) -> NodeConfig:
    """The resolved config saved in a run directory."""
    from ..config import config_from_dict, load_toml

    path = Path(run_dir) / "config.toml"
    return config_from_dict(NodeConfig, load_toml(path), where=str(path))
