"""Figures of a run: learning curves and a t-SNE of node embeddings (matplotlib, Agg backend).

Optional dependencies: ``pip install gnnkit[viz]`` (matplotlib and scikit-learn). Trainers do
not import this module; ``run_seeds`` calls it only when figures are asked for, after
:func:`require` has checked the dependencies before any training.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from torch import Tensor

from .train.rundir import atomic_write_bytes

__all__ = ["MissingDependencyError", "plot_assignment_matrix", "plot_learning_curves",
           "plot_link_history", "plot_memory_clusters", "plot_roc_pr", "plot_tsne", "require"]


class MissingDependencyError(ImportError):
    """An optional dependency is missing; the message says what to install."""


def require() -> None:
    """Raise :class:`MissingDependencyError` unless matplotlib and scikit-learn import."""
    missing = []
    for mod in ("matplotlib", "sklearn"):
        try:
            __import__(mod)
        except ImportError:
            missing.append({"sklearn": "scikit-learn"}.get(mod, mod))
    if missing:
        raise MissingDependencyError(
            f"figures need {' and '.join(missing)}: pip install gnnkit[viz]")


def _pyplot():
    require()
    import matplotlib

    matplotlib.use("Agg", force=True)  # files only; never opens a window
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", dpi=120,
                bbox_inches="tight")
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def plot_learning_curves(history: Sequence[Mapping[str, float]], path: str | os.PathLike,
                         title: str = "") -> Path:
    """Training and validation loss (left) and validation accuracy (right) per epoch, one line
    per seed. ``history`` rows carry ``seed, epoch, train_loss, val_loss, val_acc``."""
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    seeds = sorted({int(r["seed"]) for r in history})
    for i, s in enumerate(seeds):
        rows = [r for r in history if int(r["seed"]) == s]
        ep = [r["epoch"] for r in rows]
        first = i == 0  # one legend entry per curve, not per seed
        ax_loss.plot(ep, [r["train_loss"] for r in rows], color="C0", alpha=0.6,
                     label="train loss" if first else None)
        ax_loss.plot(ep, [r["val_loss"] for r in rows], color="C1", alpha=0.6,
                     label="validation loss" if first else None)
        ax_acc.plot(ep, [r["val_acc"] for r in rows], color="C2", alpha=0.6,
                    label="validation accuracy" if first else None)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.legend()
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend()
    if title:
        fig.suptitle(f"{title} ({len(seeds)} seed{'s' if len(seeds) != 1 else ''})")
    return _save(fig, path)


def plot_tsne(embeddings: Tensor, labels: Tensor, path: str | os.PathLike, seed: int = 0,
              title: str = "", threads: int | None = None) -> Path:
    """2-D t-SNE (scikit-learn, PCA init, ``random_state=seed``) of ``embeddings`` [N, D],
    points coloured by ``labels`` [N]. ``threads`` caps the OpenMP/BLAS threads t-SNE uses."""
    plt = _pyplot()
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits  # a scikit-learn dependency

    z = embeddings.detach().cpu().double().numpy()
    y = labels.detach().cpu().numpy()
    n = z.shape[0]
    if n < 3:
        raise ValueError(f"t-SNE needs at least 3 points, got {n}")
    tsne = TSNE(n_components=2, init="pca", random_state=seed, perplexity=min(30.0, (n - 1) / 3))
    with threadpool_limits(threads):
        xy = tsne.fit_transform(z)  # [N, 2]
    fig, ax = plt.subplots(figsize=(6, 6))
    classes = np.unique(y)
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for i, c in enumerate(classes):
        m = y == c
        ax.scatter(xy[m, 0], xy[m, 1], s=4, color=cmap(i % cmap.N), label=str(c))
    ax.set_xticks([])
    ax.set_yticks([])
    if len(classes) <= 20:
        ax.legend(title="class", markerscale=3, fontsize="small", loc="best")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def _layout(edge_index: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Node positions [n, 2]: networkx's spring layout when installed, else a circle."""
    try:
        import networkx as nx
    except ImportError:
        t = 2 * np.pi * np.arange(n) / max(n, 1)
        return np.stack([np.cos(t), np.sin(t)], 1)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edge_index.T.tolist())
    pos = nx.spring_layout(g, seed=seed)
    return np.array([pos[i] for i in range(n)])


def plot_memory_clusters(graph, assignment: Tensor, path: str | os.PathLike,
                         title: str = "memory-layer clusters", seed: int = 0,
                         labels: Sequence[str] | None = None) -> Path:
    """A graph with each node coloured by its most likely memory key (argmax_j C_ij);
    marker size grows with the assignment's confidence max_j C_ij.

    ``graph``: one :class:`gnnkit.Graph` with n nodes; ``assignment``: C [n, K];
    ``labels``: n short strings written beside the nodes (e.g. element symbols), or None.
    """
    if labels is not None and len(labels) != graph.num_nodes:
        raise ValueError(f"labels: expected one per node ({graph.num_nodes}), got {len(labels)}")
    plt = _pyplot()
    C = assignment.detach().cpu().double().numpy()
    ei = graph.edge_index.cpu().numpy()
    pos = _layout(ei, graph.num_nodes, seed)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for s, d in ei.T:
        ax.plot(*pos[[s, d]].T, color="0.75", lw=0.6, zorder=1)
    cluster = C.argmax(1)
    sc = ax.scatter(pos[:, 0], pos[:, 1], c=cluster, cmap="tab10", vmin=0,
                    vmax=max(9, C.shape[1] - 1), s=20 + 80 * C.max(1), zorder=2,
                    edgecolors="k", linewidths=0.3)
    for (px, py), text in zip(pos, labels or (), strict=False):
        ax.annotate(text, (px, py), xytext=(4, 4), textcoords="offset points", fontsize=7,
                    zorder=3)
    fig.colorbar(sc, ax=ax, label="key (argmax of C)")
    ax.set_title(title)
    ax.set_axis_off()
    return _save(fig, path)


def plot_assignment_matrix(assignment: Tensor, path: str | os.PathLike,
                           title: str = "assignment matrix C (nodes x keys)") -> Path:
    """Heat map of a memory layer's assignment matrix C [n, K] (rows sum to 1)."""
    plt = _pyplot()
    C = assignment.detach().cpu().double().numpy()
    size = (max(3.0, 0.4 * C.shape[1] + 2), max(3.0, 0.12 * C.shape[0] + 1))
    fig, ax = plt.subplots(figsize=size)
    # colour range 0..max(C): early in training C is close to uniform (1/K) and a fixed
    # 0..1 scale would hide its structure
    im = ax.imshow(C, aspect="auto", cmap="viridis", vmin=0, vmax=max(float(C.max()), 1e-12),
                   interpolation="nearest")
    fig.colorbar(im, ax=ax, label="C_ij")
    ax.set_xlabel("key j")
    ax.set_ylabel("node i")
    ax.set_title(title)
    return _save(fig, path)


# --------------------------------------------------------------------------- link prediction
def plot_roc_pr(curves: Sequence[tuple[Tensor, Tensor]], path: str | os.PathLike,
                title: str = "") -> Path:
    """ROC (left) and precision-recall (right) curves, one line per seed.

    ``curves`` holds ``(scores [P], labels [P])`` per seed (e.g. test pairs' logits and 0/1
    labels); the curves and areas come from :mod:`gnnkit.train.metrics`.
    """
    from .train.metrics import average_precision, precision_recall_curve, roc_auc, roc_curve

    plt = _pyplot()
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(10, 4.5))
    for i, (s, y) in enumerate(curves):
        fpr, tpr, _ = roc_curve(s, y)
        prec, rec, _ = precision_recall_curve(s, y)
        kw = {"color": f"C{i % 10}", "alpha": 0.7, "lw": 1}
        ax_roc.plot(fpr.numpy(), tpr.numpy(), label=f"AUC {roc_auc(s, y):.3f}", **kw)
        ax_pr.step(rec.numpy(), prec.numpy(), where="post",
                   label=f"AP {average_precision(s, y):.3f}", **kw)
    ax_roc.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax_roc.set_xlabel("false positive rate")
    ax_roc.set_ylabel("true positive rate")
    ax_pr.set_xlabel("recall")
    ax_pr.set_ylabel("precision")
    ax_pr.set_ylim(0, 1.02)
    if len(curves) <= 10:
        ax_roc.legend(fontsize="small", loc="lower right")
        ax_pr.legend(fontsize="small", loc="lower left")
    if title:
        n = len(curves)
        fig.suptitle(f"{title} ({n} seed{'s' if n != 1 else ''})")
    return _save(fig, path)


def plot_link_history(history: Sequence[Mapping[str, float]], path: str | os.PathLike,
                      title: str = "") -> Path:
    """Training loss (left) and validation AUC and AP (right) per epoch, one line per seed.
    ``history`` rows carry ``seed, epoch, train_loss, val_auc, val_ap``."""
    plt = _pyplot()
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 4))
    seeds = sorted({int(r["seed"]) for r in history})
    for i, s in enumerate(seeds):
        rows = [r for r in history if int(r["seed"]) == s]
        ep = [r["epoch"] for r in rows]
        first = i == 0
        ax_loss.plot(ep, [r["train_loss"] for r in rows], color="C0", alpha=0.6,
                     label="train loss" if first else None)
        ax_val.plot(ep, [r["val_auc"] for r in rows], color="C1", alpha=0.6,
                    label="validation AUC" if first else None)
        ax_val.plot(ep, [r["val_ap"] for r in rows], color="C2", alpha=0.6,
                    label="validation AP" if first else None)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_val.set_xlabel("epoch")
    ax_val.set_ylabel("score")
    ax_val.legend()
    if title:
        fig.suptitle(f"{title} ({len(seeds)} seed{'s' if len(seeds) != 1 else ''})")
    return _save(fig, path)
