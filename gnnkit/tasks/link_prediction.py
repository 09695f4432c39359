"""Link prediction on one graph (Kipf & Welling, "Variational Graph Auto-Encoders", 2016):
GAE and VGAE, and the paper's baselines, spectral embedding and DeepWalk.

Protocol of one seed (:func:`train_seed`), as in tkipf/gae ``train.py``:

* the edges are split 85/5/10 without leakage (:func:`gnnkit.datasets.link_split`); the
  encoder sees only the training edges. ``split = "fixed"`` (default, the paper: "10 runs with
  random initializations on fixed dataset splits") draws one split from ``split_seed`` for all
  seeds; ``"per_seed"`` draws split k for seed k; ``split_file`` loads a saved one;
* GAE / VGAE: full batch, Adam, ``epochs`` epochs on the loss ``loss``:
  ``"full"`` = the paper's weighted reconstruction loss over all N^2 pairs, computed blockwise
  (:func:`gnnkit.models.losses.full_recon_loss`; the presets use it), or ``"sampled"`` =
  PyG-style positives plus as many fresh random non-edges per epoch; VGAE adds tkipf/gae's KL
  term. The validation AUC/AP are computed after every epoch; ``selection = "final"`` (the
  paper, the presets) tests the final model, ``"best_val_auc"`` the epoch with the highest
  validation AUC;
* spectral / deepwalk: fit the embedding on the training graph;
* scores: z_i^T z_j with Z = the embedding (VGAE: mu), i.e. the inner-product decoder; ROC-AUC
  and average precision of the validation and test pairs. Metrics are computed on the logits
  (the same ranking as sigmoid(logits), without float32 ties at 1.0).

Features: tkipf/gae feeds the raw binary bag-of-words features, so Planetoid features are not
row-normalised here (``normalize_features = false``); features with under 10 % non-zeros go to
the model as a sparse CSR tensor, as there (same numbers up to rounding, a faster first
layer); ``featureless`` uses X = I (GAE*/VGAE*).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from ..config import ConfigError, option, save_toml
from ..datasets.errors import DatasetError
from ..datasets.link_split import LinkSplit, link_split
from ..graph import Graph
from ..models.autoencoder import GAE, VGAE
from ..models.embedding import DeepWalk, SpectralEmbedding
from ..ops import ids_outside
from ..train import (
    Progress,
    average_precision,
    load_checkpoint,
    make_run_dir,
    roc_auc,
    save_checkpoint,
    seed_everything,
    torch_threads,
    write_csv,
    write_json,
)
from ..train.rundir import atomic_write_text
from .node_classification import _device, aggregate, check_device_name

__all__ = ["EPILOG", "LINK_MODELS", "LinkConfig", "SeedResult", "build_model", "evaluate",
           "load_graph", "load_run_config", "load_run_embedding", "make_split", "predict_link",
           "print_table", "read_pairs", "run", "run_seeds", "score_pairs", "train_seed",
           "write_predictions"]

HISTORY_FIELDS = ("seed", "epoch", "train_loss", "val_auc", "val_ap")
_GNN = ("gae", "vgae")
_BASELINES = ("spectral", "deepwalk")


LINK_MODELS: dict[str, type] = {"gae": GAE, "vgae": VGAE, "spectral": SpectralEmbedding,
                                "deepwalk": DeepWalk}


@dataclass(frozen=True)
class LinkConfig:
    """Every setting of a link-prediction run. Presets set these; flags override them."""

    model: str = option("gae", "model: gae, vgae (graph auto-encoders), spectral, deepwalk "
                               "(the paper's baselines)")
    dataset: str = option("cora", "data set: cora, citeseer, pubmed, synthetic (see "
                                  "'gnnkit datasets list')")
    root: str | None = option(None, "data directory (default: $GNNKIT_DATA, else the user "
                                    "cache directory)")
    featureless: bool = option(False, "identity input features X = I (the paper's GAE*, "
                                      "VGAE*)", models=_GNN)
    normalize_features: bool = option(False, "row-normalise Planetoid features (tkipf/gae "
                                             "feeds the raw binary ones)", models=_GNN)
    seed: int = option(0, "first random seed (initialisation, sampling)")
    seeds: int = option(1, "number of seeds: runs use seed, seed+1, ..., seed+seeds-1")
    split: Literal["fixed", "per_seed"] = option(
        "fixed", "edge split: one split from split-seed for all seeds (the paper), or split k "
                 "for seed k")
    split_seed: int = option(0, "seed of the fixed edge split")
    split_file: str | None = option(None, "load the edge split from this .npz (a run's "
                                          "split.npz) instead of drawing one")
    val_frac: float = option(0.05, "fraction of undirected edges for validation")
    test_frac: float = option(0.10, "fraction of undirected edges for testing")
    epochs: int = option(200, "training epochs (full batch)", models=_GNN)
    lr: float = option(0.01, "Adam learning rate", models=_GNN)
    hidden_dim: int = option(32, "units of the first GCN layer", models=_GNN)
    latent_dim: int = option(16, "dimension of Z", models=_GNN)
    dropout: float = option(0.0, "dropout on each GCN layer's input", models=_GNN)
    loss: Literal["full", "sampled"] = option(
        "full", "reconstruction loss: full (the paper's weighted loss over all N^2 pairs, "
                "blockwise) or sampled (positives + as many random non-edges, as PyG)",
        models=_GNN)
    block_mb: float = option(0.0, "memory of one tile of Z Z^T in the full loss, in MB; 0: 1 MB "
                                  "on CPU (cache-sized tiles were fastest there), 64 MB on CUDA "
                                  "(PubMed VGAE epoch 9.6 ms against 292 ms with 1 MB blocks "
                                  "on an H100)", models=_GNN)
    selection: Literal["final", "best_val_auc"] = option(
        "final", "model tested: the final one (the paper) or the epoch with the best "
                 "validation AUC", models=_GNN)
    embedding_dim: int = option(128, "embedding dimension", models=_BASELINES)
    walk_length: int = option(80, "nodes per random walk", models=("deepwalk",))
    walks_per_node: int = option(10, "random walks started from every node",
                                 models=("deepwalk",))
    window: int = option(10, "skip-gram window size", models=("deepwalk",))
    dw_objective: Literal["hs", "ns"] = option(
        "hs", "skip-gram objective: hs (hierarchical softmax, the DeepWalk paper and code) or "
              "ns (negative sampling)", models=("deepwalk",))
    negatives: int = option(5, "negative samples per skip-gram pair (dw-objective ns)",
                            models=("deepwalk",))
    dw_epochs: int = option(1, "passes of SGD over the walk corpus", models=("deepwalk",))
    dw_lr: float = option(0.025, "initial SGD learning rate (decays linearly)",
                          models=("deepwalk",))
    device: str = option("cpu", "torch device: cpu, cuda, cuda:1, ... or auto")
    threads: int | None = option(None, "torch CPU threads during training (default: torch's "
                                       "choice; 1 avoids slow-downs on a busy machine; a seed "
                                       "repeats bit for bit on one machine with the same "
                                       "threads and MKL_CBWR=AUTO set)")
    out_dir: str = option("runs", "parent directory of run directories")
    run_name: str | None = option(None, "run directory name (default: "
                                        "link-<model>-<dataset>-<time>)")
    save: bool = option(True, "write the run directory (config, metrics, history, "
                              "checkpoints, split, embeddings)")
    save_embeddings: bool = option(True, "save every seed's embedding to embeddings.pt, with "
                                         "save (needed by 'gnnkit predict link')")
    figures: bool = option(False, "draw ROC and PR curves, learning curves and a t-SNE of the "
                                  "embeddings (needs gnnkit[viz])")
    quiet: bool = option(False, "no progress bar or per-seed lines")

    def __post_init__(self) -> None:
        positive = ("seeds", "epochs", "hidden_dim", "latent_dim", "embedding_dim",
                    "walk_length", "walks_per_node", "window", "negatives", "dw_epochs")
        if self.threads is not None:
            positive += ("threads",)
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.seed or self.seed + self.seeds > 2**32:
            raise ConfigError(f"seeds must lie in [0, 2**32), got seed={self.seed}")
        if not 0 <= self.split_seed < 2**63:
            raise ConfigError(f"split_seed must be >= 0, got {self.split_seed}")
        for name in ("lr", "dw_lr", "block_mb"):
            v = getattr(self, name)
            if not ((v > 0 or (name == "block_mb" and v == 0)) and math.isfinite(v)):
                raise ConfigError(f"{name} must be a positive number"
                                  f"{' (or 0: by device)' if name == 'block_mb' else ''}, got {v}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout}")
        if not (0 < self.val_frac < 1 and 0 < self.test_frac < 1
                and self.val_frac + self.test_frac < 1):
            raise ConfigError(f"val_frac and test_frac must lie in (0, 1) with a sum below 1, "
                              f"got {self.val_frac} and {self.test_frac}")
        if self.split_file is not None and self.split == "per_seed":
            raise ConfigError("split_file fixes the split: it cannot be combined with "
                              "split = 'per_seed'")
        check_device_name(self.device)
        if not self.save and self.figures:
            raise ConfigError("figures need save = true (a run directory)")


# --------------------------------------------------------------------------- data
def load_graph(cfg: LinkConfig) -> tuple[str, Graph]:
    """The data set's graph (features as tkipf/gae uses them), on the CPU."""
    from ..datasets import load_node_dataset
    from ..datasets.planetoid import PLANETOID_NAMES, load_planetoid

    if cfg.dataset.lower() in PLANETOID_NAMES:
        ds = load_planetoid(cfg.dataset, cfg.root, normalize_features=cfg.normalize_features)
    else:
        ds = load_node_dataset(cfg.dataset, root=cfg.root)
    return ds.name, ds.graph


def make_split(cfg: LinkConfig, g: Graph, seed: int) -> LinkSplit:
    """The edge split for run ``seed``: from ``cfg.split_file``, else drawn (module docs)."""
    if cfg.split_file is not None:
        return LinkSplit.load(cfg.split_file, g)
    s = cfg.split_seed if cfg.split == "fixed" else seed
    return link_split(g, cfg.val_frac, cfg.test_frac, seed=s)


# --------------------------------------------------------------------------- models
def build_model(cfg: LinkConfig, in_dim: int) -> object:
    """The model ``cfg.model``: an ``nn.Module`` (gae, vgae; weights from torch's RNG) or a
    baseline with ``fit(g, generator) -> Z``."""
    if cfg.model not in LINK_MODELS:
        raise ConfigError(f"unknown model {cfg.model!r}; known models: "
                          f"{', '.join(LINK_MODELS)}")
    cls = LINK_MODELS[cfg.model]
    if cfg.model in _GNN:
        return cls(in_dim, cfg.hidden_dim, cfg.latent_dim, dropout=cfg.dropout)
    if cfg.model == "spectral":
        return cls(cfg.embedding_dim)
    return cls(dim=cfg.embedding_dim, walk_length=cfg.walk_length,
               walks_per_node=cfg.walks_per_node, window=cfg.window,
               objective=cfg.dw_objective, negatives=cfg.negatives, epochs=cfg.dw_epochs,
               lr=cfg.dw_lr)


def _scores(z: Tensor, pairs: Tensor) -> Tensor:
    from ..nn.decoders import InnerProductDecoder

    return InnerProductDecoder.logits(z, pairs.to(z.device)).double().cpu()


def evaluate(z: Tensor, split: LinkSplit, parts: tuple[str, ...] = ("val", "test")
             ) -> dict[str, float]:
    """``<part>_auc`` and ``<part>_ap`` of the inner-product scores of embedding ``z``."""
    out = {}
    for part in parts:
        pairs, labels = split.pairs(part)
        s = _scores(z, pairs)
        out[f"{part}_auc"] = roc_auc(s, labels)
        out[f"{part}_ap"] = average_precision(s, labels)
    return out


def _sparse_enough(x: Tensor, max_density: float = 0.1) -> bool:
    """Feed features as a sparse CSR tensor when under 10 % of the entries are non-zero."""
    return x.dim() == 2 and x.numel() > 0 and bool((x != 0).sum() < max_density * x.numel())


def _loss(cfg: LinkConfig, model: nn.Module, x: Tensor | None, g: Graph,
          gen: torch.Generator) -> Tensor:
    from ..models.losses import full_recon_loss, sampled_recon_loss

    kl = None
    if hasattr(model, "kl_loss"):                            # variational: (z, mu, logstd)
        z, mu, logstd = model(x, g, gen)
        kl = model.kl_loss(mu, logstd)
    else:
        z = model(x, g)
    if cfg.loss == "full":
        loss = full_recon_loss(z, g.edge_index, block_mb=block_mb(cfg.block_mb, z.device))
    else:
        loss = sampled_recon_loss(z, g.edge_index, gen)
    return loss if kl is None else loss + kl


# --------------------------------------------------------------------------- training
@dataclass
class SeedResult:
    metrics: dict[str, float]
    history: list[dict[str, float]]
    state_dict: dict[str, Tensor]        # the tested model (baselines: {"embedding": Z})
    embedding: Tensor                    # [N, D] on the CPU: Z of the tested model (VGAE: mu)


@contextlib.contextmanager
def _blas_threads(n: int | None):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        yield
        return
    with threadpool_limits(n):
        yield


def train_seed(cfg: LinkConfig, seed: int, g: Graph, split: LinkSplit) -> SeedResult:
    """Train and evaluate one seed: ``g`` is the full graph (its features, on any device),
    ``split`` the edge split; the model sees only ``split.train_graph(g)``."""
    with torch_threads(cfg.threads), _blas_threads(cfg.threads):
        return _train_seed(cfg, seed, g, split)


def _train_seed(cfg: LinkConfig, seed: int, g: Graph, split: LinkSplit) -> SeedResult:
    seed_everything(seed)
    dev = _device(cfg.device)
    gt = split.train_graph(g).to(dev)                        # training edges only
    gen = torch.Generator(device=dev).manual_seed(seed)
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    if cfg.model in _BASELINES:
        z = build_model(cfg, 0).fit(gt.to("cpu"), torch.Generator().manual_seed(seed))
        elapsed = time.perf_counter() - start
        metrics = {"seed": seed, **evaluate(z, split), "fit_time": elapsed}
        return SeedResult(metrics, history, {"embedding": z.clone()}, z)

    x = None if cfg.featureless else gt.x
    if x is None and not cfg.featureless:
        raise ConfigError(f"data set {cfg.dataset!r} has no node features; use --featureless")
    if x is not None and _sparse_enough(x):
        x = x.to_sparse_csr()                  # bag-of-words features: a sparse first product
    model = build_model(cfg, gt.num_nodes if cfg.featureless else x.shape[1]).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    best = (-math.inf, 0, None)                              # (val_auc, epoch, state)
    with Progress(cfg.epochs, desc=f"seed {seed}", enabled=not cfg.quiet) as bar:
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            opt.zero_grad(set_to_none=True)
            loss = _loss(cfg, model, x, gt, gen)
            loss.backward()
            opt.step()
            model.eval()
            with torch.no_grad():
                val = evaluate(model.embed(x, gt), split, ("val",))
            history.append({"seed": seed, "epoch": epoch, "train_loss": loss.item(), **val})
            if cfg.selection == "best_val_auc" and val["val_auc"] > best[0]:
                best = (val["val_auc"], epoch, {k: v.detach().clone()
                                                for k, v in model.state_dict().items()})
            bar.update(loss=loss.item(), val_auc=val["val_auc"])
    elapsed = time.perf_counter() - start
    best_epoch = cfg.epochs
    if cfg.selection == "best_val_auc":
        model.load_state_dict(best[2])
        best_epoch = best[1]
    model.eval()
    with torch.no_grad():
        z = model.embed(x, gt).detach().cpu()                # [N, D]
    metrics = {"seed": seed, **evaluate(z, split), "train_loss": history[-1]["train_loss"],
               "epochs": cfg.epochs, "best_epoch": best_epoch, "fit_time": elapsed,
               "time_per_epoch": elapsed / cfg.epochs}
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return SeedResult(metrics, history, state, z)


def block_mb(requested: float, device: torch.device) -> float:
    """Tile size of the full loss in MB: ``requested``, or by device when it is 0 (1 MB on CPU,
    64 MB on CUDA, where a few launches per small tile leave the GPU idle)."""
    if requested:
        return requested
    return 64.0 if device.type == "cuda" else 1.0


def run(cfg: LinkConfig, seed: int, g: Graph | None = None,
        split: LinkSplit | None = None) -> dict[str, float]:
    """Metrics of one seed (loads the graph and draws the split unless given)."""
    if g is None:
        g = load_graph(cfg)[1]
    if split is None:
        split = make_split(cfg, g, seed)
    return train_seed(cfg, seed, g, split).metrics


def _log_line(m: dict[str, float]) -> str:
    line = (f"seed {m['seed']}: test_auc {m['test_auc']:.4f}  test_ap {m['test_ap']:.4f}  "
            f"val_auc {m['val_auc']:.4f}  val_ap {m['val_ap']:.4f}")
    if "time_per_epoch" in m:
        return line + f"  {m['epochs']} epochs, {m['time_per_epoch'] * 1e3:.1f} ms/epoch"
    return line + f"  fit {m['fit_time']:.1f} s"


def run_seeds(cfg: LinkConfig, log: Callable[[str], None] | None = None,
              graph: Graph | None = None) -> dict:
    """Run seeds ``cfg.seed .. cfg.seed + cfg.seeds - 1`` and aggregate.

    Returns ``<metric>_mean`` / ``<metric>_std`` (``val_auc``, ``val_ap``, ``test_auc``,
    ``test_ap``, ``fit_time``; GNNs also ``train_loss``, ``epochs``, ``best_epoch``,
    ``time_per_epoch``), ``num_seeds``, ``run_dir`` and ``runs`` (per seed). With
    ``cfg.save`` the run directory holds ``config.toml``, ``metrics.json``, ``history.csv``,
    ``checkpoints/seed<k>.pt`` (GNNs: the state dict; baselines: ``{"embedding": Z}``), the
    split (``split.npz``, or ``splits/seed<k>.npz`` with ``split = "per_seed"``),
    ``embeddings.pt`` (``seeds`` [S], ``embeddings`` [S, N, D], ``y`` [N] when the graph has
    labels) and, with ``figures``, ``figures/``. ``graph`` replaces loading ``cfg.dataset``.
    """
    if cfg.model not in LINK_MODELS:
        raise ConfigError(f"unknown model {cfg.model!r}; known models: "
                          f"{', '.join(LINK_MODELS)}")
    if cfg.figures:
        from .. import viz

        viz.require()
    log = log if (log is not None and not cfg.quiet) else (lambda _msg: None)
    g = graph if graph is not None else load_graph(cfg)[1]
    fixed = make_split(cfg, g, cfg.seed) if cfg.split == "fixed" else None
    run_dir = None
    if cfg.save:
        name = cfg.run_name or f"link-{cfg.model}-{cfg.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
        run_dir = make_run_dir(cfg.out_dir, name)
        save_toml(cfg, run_dir / "config.toml", header=(
            "Resolved config of this run (a valid preset): "
            f"gnnkit train link --preset {run_dir / 'config.toml'}"))
        if fixed is not None:
            fixed.save(run_dir / "split.npz")
    runs, history, embs, curves = [], [], [], []
    seeds = list(range(cfg.seed, cfg.seed + cfg.seeds))
    for seed in seeds:
        split = fixed if fixed is not None else make_split(cfg, g, seed)
        res = train_seed(cfg, seed, g, split)
        runs.append(res.metrics)
        history.extend(res.history)
        embs.append(res.embedding)
        if cfg.figures:
            pairs, labels = split.pairs("test")
            curves.append((_scores(res.embedding, pairs), labels))
        log(_log_line(res.metrics))
        if run_dir is not None:
            if fixed is None:
                split.save(run_dir / "splits" / f"seed{seed}.npz")
            save_checkpoint(res.state_dict, run_dir / "checkpoints" / f"seed{seed}.pt")
            write_csv(run_dir / "history.csv", history, HISTORY_FIELDS)
            write_json(run_dir / "metrics.json", {"aggregate": aggregate(runs), "runs": runs})
    agg = aggregate(runs)
    if run_dir is not None and cfg.save_embeddings:
        emb = {"seeds": torch.tensor(seeds), "embeddings": torch.stack(embs)}
        if g.y is not None and g.y.dim() == 1:
            emb["y"] = g.y.cpu()
        save_checkpoint(emb, run_dir / "embeddings.pt")
    if run_dir is not None and cfg.figures:
        _figures(cfg, run_dir, history, curves, embs[0], g.y)
    return {**agg, "num_seeds": cfg.seeds, "run_dir": None if run_dir is None else str(run_dir),
            "runs": runs}


def _figures(cfg: LinkConfig, run_dir: Path, history: list[dict], curves: list,
             emb: Tensor, y: Tensor | None) -> None:
    from .. import viz

    fig_dir = run_dir / "figures"
    title = f"{cfg.model}{'*' if cfg.featureless else ''} on {cfg.dataset}"
    viz.plot_roc_pr(curves, fig_dir / "roc_pr_test.png", title=f"{title}, test pairs")
    if history:
        viz.plot_link_history(history, fig_dir / "learning_curves.png", title=title)
    labels = y.cpu() if y is not None and y.dim() == 1 else torch.zeros(emb.shape[0],
                                                                         dtype=torch.long)
    viz.plot_tsne(emb, labels, fig_dir / f"tsne_seed{cfg.seed}.png", seed=cfg.seed,
                  title=f"t-SNE of {title} embeddings, seed {cfg.seed}", threads=cfg.threads)


def load_run_config(run_dir: str | Path) -> LinkConfig:
    """The resolved config saved in a run directory."""
    from ..config import config_from_dict, load_toml

    path = Path(run_dir) / "config.toml"
    return config_from_dict(LinkConfig, load_toml(path), where=str(path))


# --------------------------------------------------------------------------- prediction
def read_pairs(path: str | Path, num_nodes: int | None = None) -> Tensor:
    """Node pairs from a text file: one ``u v`` or ``u,v`` per line; blank lines, ``#``
    comments and a non-numeric first line (a header) are skipped. Raises
    :class:`DatasetError` naming the line for a malformed line or (given ``num_nodes``) an
    id outside ``[0, num_nodes)``. Returns ``[2, P]`` int64."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"pairs file {str(path)!r} does not exist") from None
    except UnicodeDecodeError:
        raise DatasetError(f"pairs file {str(path)!r} is not UTF-8 text") from None
    rows: list[tuple[int, int]] = []
    first = True
    for i, line in enumerate(text.splitlines(), 1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        parts = body.replace(",", " ").split()
        try:
            if len(parts) != 2:
                raise ValueError
            u, v = int(parts[0]), int(parts[1])
        except ValueError:
            if first and not any(p.lstrip("-").isdigit() for p in parts):
                first = False
                continue                                    # a header such as "u,v"
            raise DatasetError(f"pairs file {str(path)!r} line {i}: expected two integer node "
                               f"ids 'u v', got {line.strip()!r}") from None
        first = False
        if num_nodes is not None:
            for node in (u, v):
                if not 0 <= node < num_nodes:
                    raise DatasetError(f"pairs file {str(path)!r} line {i}: unknown node id "
                                       f"{node}; the run's graph has {num_nodes} nodes "
                                       f"(ids 0..{num_nodes - 1})")
        rows.append((u, v))
    if not rows:
        raise DatasetError(f"pairs file {str(path)!r} holds no node pairs")
    return torch.tensor(rows, dtype=torch.long).t().contiguous()


def load_run_embedding(run_dir: str | Path, seed: int | None = None) -> tuple[Tensor, int]:
    """``(Z [N, D], seed)``: the embedding of the tested model of ``seed`` (default: the run's
    first seed) saved in a run directory's ``embeddings.pt``."""
    run_dir = Path(run_dir)
    path = run_dir / "embeddings.pt"
    if not run_dir.is_dir():
        raise DatasetError(f"run directory {str(run_dir)!r} does not exist")
    if not path.is_file():
        raise DatasetError(f"run directory {str(run_dir)!r} has no embeddings.pt (not a link "
                           f"prediction run, or trained with --no-save-embeddings)")
    data = load_checkpoint(path)
    seeds = [int(s) for s in data["seeds"]]
    s = seeds[0] if seed is None else seed
    if s not in seeds:
        raise DatasetError(f"run {str(run_dir)!r} has no seed {s}; its seeds: "
                           f"{', '.join(map(str, seeds))}")
    return data["embeddings"][seeds.index(s)], s


def score_pairs(z: Tensor, pairs: Tensor) -> Tensor:
    """sigmoid(z_u^T z_v) for ``pairs`` [2, P] of embedding ``z`` [N, D] -> [P] float64.
    Raises :class:`DatasetError` for a node id outside ``[0, N)``."""
    n = z.shape[0]
    if ids_outside(pairs, n) is not None:
        bad = int(pairs[(pairs < 0) | (pairs >= n)][0])
        raise DatasetError(f"unknown node id {bad}; the run's graph has {n} nodes "
                           f"(ids 0..{n - 1})")
    return torch.sigmoid(_scores(z, pairs))


def predict_link(run_dir: str | Path, pairs: Tensor, seed: int | None = None) -> Tensor:
    """Probabilities sigmoid(z_u^T z_v) of ``pairs`` [2, P] from a trained run's embedding
    (the tested model of ``seed``, default: the run's first seed). Returns [P] float64."""
    z, _ = load_run_embedding(run_dir, seed)
    return score_pairs(z, pairs)


def write_predictions(path: str | Path | None, pairs: Tensor, prob: Tensor) -> str:
    """``u,v,probability`` CSV text (header included); written atomically to ``path`` when
    given. Returns the text."""
    lines = ["u,v,probability"] + [f"{u},{v},{p:.6f}" for (u, v), p in
                                   zip(pairs.t().tolist(), prob.tolist(), strict=True)]
    text = "\n".join(lines) + "\n"
    if path is not None:
        atomic_write_text(path, text)
    return text



# --------------------------------------------------------------------------- command line
EPILOG = """\
Values are resolved in this order, later wins: the config's built-in defaults < the preset
(--preset, else the model's built-in preset gnnkit/presets/<model>.toml: gae.toml, vgae.toml)
< the preset's [dataset.<name>] table for the selected data set < command-line flags. The
defaults shown above are the resolved values for the {label}.

Protocol (Kipf & Welling 2016, tkipf/gae): the undirected edges are split 85/5/10 into
train/validation/test, each held-out part with as many non-edges; the encoder sees only the
training edges. GAE/VGAE train full batch for --epochs with Adam on the paper's weighted
reconstruction loss over all N^2 pairs (--loss full, computed blockwise in --block-mb blocks)
or on sampled negatives (--loss sampled); the final model is tested (--selection
best_val_auc: the epoch with the best validation AUC). DeepWalk trains skip-gram with
hierarchical softmax (--dw-objective hs, as the authors' code) for one epoch on 10 walks of
80 nodes from every node, window 10, dimension 128 (the paper's stated DeepWalk settings).
Pairs are scored with the inner product z_u . z_v; metrics: ROC-AUC and average precision.

Output: a run directory <out-dir>/<run-name>/ with config.toml, metrics.json, history.csv,
checkpoints/seed<k>.pt, split.npz (splits/seed<k>.npz with --split per_seed), embeddings.pt
(+ figures/ with --figures). With --json, stdout is one JSON object: <split>_<metric>_mean /
_std (test_auc_mean, test_ap_mean, val_auc_mean, ...), num_seeds and run_dir; otherwise a
table of mean ± std over seeds.

examples:
  gnnkit train link --model vgae --dataset cora --seeds 10
  gnnkit train link --model gae --dataset citeseer --featureless --json
  gnnkit train link --model deepwalk --dataset cora --split-file runs/<run>/split.npz
  gnnkit predict link --run runs/<run> --pairs pairs.txt
"""


def print_table(cfg: LinkConfig, res: dict) -> None:
    """The human-readable result of ``gnnkit train link``."""
    def fmt(key: str, scale: float = 100.0, digits: int = 2) -> str:
        m, s = res.get(f"{key}_mean"), res.get(f"{key}_std")
        return "-" if m is None else f"{m * scale:.{digits}f} ± {s * scale:.{digits}f}"

    n = res["num_seeds"]
    name = cfg.model + ("*" if cfg.featureless and cfg.model in _GNN else "")
    where = f", run dir {res['run_dir']}" if res.get("run_dir") else ""
    print(f"{name} on {cfg.dataset}: {n} seed{'s' if n != 1 else ''} (mean ± std, "
          f"percent){where}")
    print(f"{'':6}{'validation':>16}{'test':>16}")
    for metric, label in (("auc", "AUC"), ("ap", "AP")):
        print(f"{label:6}{fmt(f'val_{metric}'):>16}{fmt(f'test_{metric}'):>16}")
    if "time_per_epoch_mean" in res:
        print(f"{res['epochs_mean']:.0f} epochs (tested model from epoch "
              f"{fmt('best_epoch', 1.0, 1)}), {res['time_per_epoch_mean'] * 1e3:.1f} ms/epoch")
    else:
        print(f"fit time {fmt('fit_time', 1.0, 1)} s")
    print(f"test AUC / AP: {fmt('test_auc')} / {fmt('test_ap')}")
