"""User graphs from plain files: an edge list CSV, optional node features and labels.

File formats (lines that are empty or start with ``#`` are skipped everywhere; fields are
separated by commas and/or whitespace; a first line that is not numeric is a header):

* edges: ``src,dst`` or ``src,dst,weight`` per line; node ids are integers in ``[0, N)``.
* features: ``.npy`` (2-D numeric array [N, F]), or text with one row of F numbers per node.
* labels: ``.npy`` (1-D integer array [N]), or text with either one label per line (line i is
  node i) or ``node,label`` pairs (nodes not listed are unlabelled: label -1, in no split).

N comes from the features, else the labels (one-per-line form), else ``num_nodes``, else the
largest id seen + 1. Every inconsistency raises :class:`DatasetError` naming the file and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..graph import Graph
from .base import NodeDataset
from .errors import DatasetError
from .splits import stratified_split

__all__ = ["load_edgelist"]

_SEP = re.compile(r"[,\s]+")
_INT = re.compile(r"[+-]?\d+")


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each data line; a non-numeric first data line is skipped."""
    try:
        f = open(path, encoding="utf-8-sig")
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from exc
    with f:
        first = True
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            fields = [t for t in _SEP.split(s) if t]
            if first:
                first = False
                if not all(_is_number(t) for t in fields):
                    continue  # header
            yield lineno, fields


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _int(tok: str, path: Path, lineno: int, what: str) -> int:
    if not _INT.fullmatch(tok):
        raise DatasetError(f"{path}, line {lineno}: {what} {tok!r} is not an integer")
    v = int(tok)
    if v < 0:
        raise DatasetError(f"{path}, line {lineno}: {what} {v} is negative; ids and labels "
                           f"must be >= 0")
    return v


def _read_edges(path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """-> (edges [E, 2] int64, weights [E] or None, line number of each edge [E])."""
    src, dst, wts, lines = [], [], [], []
    width = None
    for lineno, fields in _rows(path):
        if width is None:
            width = len(fields)
            if width not in (2, 3):
                raise DatasetError(
                    f"{path}, line {lineno}: expected 'src,dst' or 'src,dst,weight', got "
                    f"{len(fields)} fields")
        elif len(fields) != width:
            raise DatasetError(
                f"{path}, line {lineno}: expected {width} fields like the first edge, got "
                f"{len(fields)}")
        src.append(_int(fields[0], path, lineno, "node id"))
        dst.append(_int(fields[1], path, lineno, "node id"))
        if width == 3:
            try:
                w = float(fields[2])
            except ValueError:
                raise DatasetError(
                    f"{path}, line {lineno}: edge weight {fields[2]!r} is not a number") from None
            if not np.isfinite(w):
                raise DatasetError(
                    f"{path}, line {lineno}: edge weight {fields[2]!r} is not finite")
            wts.append(w)
        lines.append(lineno)
    edges = np.array([src, dst], dtype=np.int64).T.reshape(-1, 2)
    weights = np.array(wts, dtype=np.float32) if width == 3 else None
    return edges, weights, np.array(lines, dtype=np.int64)


def _read_features(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read features from {path}: {exc}") from exc
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.dtype.kind not in "biuf":
            raise DatasetError(
                f"{path}: features must be a 2-D numeric array [N, F], got shape {x.shape} "
                f"and dtype {x.dtype}")
        x = x.astype(np.float32)
    else:
        rows, width = [], None
        for lineno, fields in _rows(path):
            if width is None:
                width = len(fields)
            elif len(fields) != width:
                raise DatasetError(
                    f"{path}, line {lineno}: {len(fields)} feature values, but the first row "
                    f"has {width}")
            try:
                rows.append([float(t) for t in fields])
            except ValueError:
                raise DatasetError(
                    f"{path}, line {lineno}: a feature value is not a number") from None
        if not rows:
            raise DatasetError(f"{path} holds no feature rows")
        x = np.array(rows, dtype=np.float32)
    if not np.isfinite(x).all():
        row = int(np.nonzero(~np.isfinite(x).all(1))[0][0])
        raise DatasetError(f"{path}: features hold NaN or inf (first in row {row})")
    return x


def _read_labels(path: Path) -> tuple[np.ndarray | None, dict[int, int] | None]:
    """-> (labels [N] for the one-per-line/.npy form, or {node: label} for node,label pairs)."""
    if path.suffix == ".npy":
        try:
            y = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read labels from {path}: {exc}") from exc
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1 or y.dtype.kind not in "biuf":
            raise DatasetError(f"{path}: labels must be a 1-D integer array [N], got shape "
                               f"{y.shape} and dtype {y.dtype}")
        if y.dtype.kind == "f":
            if not np.isfinite(y).all() or (y != np.round(y)).any():
                bad = int(np.nonzero(~np.isfinite(y) | (y != np.round(y)))[0][0])
                raise DatasetError(f"{path}: labels must be integers; entry {bad} is {y[bad]}")
        y = y.astype(np.int64)
        if (y < 0).any():
            bad = int(np.nonzero(y < 0)[0][0])
            raise DatasetError(f"{path}: labels must be >= 0; entry {bad} is {y[bad]}")
        return y, None
    single, pairs, width = [], {}, None
    for lineno, fields in _rows(path):
        if width is None:
            width = len(fields)
            if width not in (1, 2):
                raise DatasetError(f"{path}, line {lineno}: expected 'label' or 'node,label' "
                                   f"per line, got {width} fields")
        elif len(fields) != width:
            raise DatasetError(f"{path}, line {lineno}: expected {width} field(s) like the "
                               f"first line, got {len(fields)}")
        if width == 1:
            single.append(_int(fields[0], path, lineno, "label"))
        else:
            node = _int(fields[0], path, lineno, "node id")
            if node in pairs:
                raise DatasetError(f"{path}, line {lineno}: node {node} is labelled twice")
            pairs[node] = _int(fields[1], path, lineno, "label")
    if width is None:
        raise DatasetError(f"{path} holds no labels")
    if width == 1:
        return np.array(single, dtype=np.int64), None
    return None, pairs


def load_edgelist(
    edges: str | os.PathLike,
    features: str | os.PathLike | None = None,
    labels: str | os.PathLike | None = None,
    *,
    num_nodes: int | None = None,
    undirected: bool = True,
    remove_self_loops: bool = False,
    split: tuple[float, float, float] | tuple[int, int, int] = (0.6, 0.2, 0.2),
    seed: int | torch.Generator = 0,
    name: str | None = None,
) -> NodeDataset:
    """Load a user graph (formats in the module docstring) as a :class:`NodeDataset`.

    Args:
        edges: edge list file.
        features: node features file, or None (then ``graph.x`` is None).
        labels: node labels file, or None (then ``graph.y`` is None and ``num_classes`` 0).
        num_nodes: N, needed only when neither features nor one-per-line labels give it;
            checked against them otherwise.
        undirected: store both directions of each edge. Duplicate edges are always merged;
            their weights (if any) are averaged, so listing (u, v, w) and (v, u, w) gives w.
        remove_self_loops: drop edges (i, i); kept by default.
        split: train/val/test fractions (floats summing to at most 1), or approximate counts
            (ints), drawn per class in proportion to its size (stratified) with ``seed``.
            Unlabelled nodes are in no split; without labels all nodes are split.
        seed: int or ``torch.Generator`` for the split.
        name: data set name (default: the edge file's stem).

    Returns: ``graph.x`` float32 [N, F], ``graph.y`` int64 [N] (-1 = unlabelled),
    ``graph.edge_weight`` float32 [E] when the edge file has a weight column.
    """
    epath = Path(edges)
    e, w, lines = _read_edges(epath)
    x = None if features is None else _read_features(Path(features))
    y_list, y_pairs = (None, None) if labels is None else _read_labels(Path(labels))

    # ---- the node count and where it came from
    sources = []
    if x is not None:
        sources.append((x.shape[0], f"{features} has {x.shape[0]} feature rows"))
    if y_list is not None:
        sources.append((y_list.shape[0], f"{labels} has {y_list.shape[0]} labels"))
    if num_nodes is not None:
        sources.append((int(num_nodes), f"num_nodes={int(num_nodes)}"))
    if len({s[0] for s in sources}) > 1:
        raise DatasetError("node counts disagree: " + "; ".join(s[1] for s in sources))
    if sources:
        n, why = sources[0]
    else:
        hi = max([int(e.max()) if e.size else -1] + list(y_pairs or {}))
        n, why = hi + 1, "the largest node id + 1"
    if n < 1:
        raise DatasetError(f"{epath}: the graph has no nodes; give features, labels or num_nodes")
    if e.size and int(e.max()) >= n:
        row = int(np.nonzero((e >= n).any(1))[0][0])
        bad = int(e[row].max())
        raise DatasetError(
            f"{epath}, line {int(lines[row])}: node id {bad} is out of range: N = {n} ({why}), "
            f"so ids must lie in [0, {n})")

    y = None
    if y_list is not None:
        y = torch.from_numpy(y_list)
    elif y_pairs is not None:
        bad = [v for v in y_pairs if v >= n]
        if bad:
            raise DatasetError(f"{labels}: node id {bad[0]} is out of range [0, {n}) ({why})")
        y = torch.full((n,), -1, dtype=torch.long)
        y[torch.tensor(list(y_pairs), dtype=torch.long)] = torch.tensor(
            list(y_pairs.values()), dtype=torch.long)
    num_classes = 0 if y is None or not bool((y >= 0).any()) else int(y.max()) + 1

    g = Graph(
        edge_index=torch.from_numpy(np.ascontiguousarray(e.T)),
        num_nodes=n,
        x=None if x is None else torch.from_numpy(x),
        edge_weight=None if w is None else torch.from_numpy(w),
        y=y,
    )
    if remove_self_loops:
        g = g.remove_self_loops()
    g = g.to_undirected(reduce="mean") if undirected else g.coalesce(reduce="mean")

    labelled = n if y is None else int((y >= 0).sum())
    fr = tuple(split)
    if len(fr) != 3:
        raise DatasetError(f"split must have three entries (train, val, test), got {split!r}")
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in fr):
        if sum(fr) > labelled:
            raise DatasetError(f"split asks for {sum(fr)} nodes but only {labelled} are labelled")
        fr = tuple(v / max(labelled, 1) for v in fr)
    train, val, test = stratified_split(y, n, fr, seed)
    info = {
        "source": "user files",
        "files": [str(p) for p in (edges, features, labels) if p is not None],
        "undirected": undirected,
        "self_loops": "removed" if remove_self_loops else "kept as given",
        "num_nodes_from": why,
        "split": list(split),
        "seed": seed if isinstance(seed, int) else "generator",
    }
    return NodeDataset(name=name or epath.stem, graph=g, train_idx=train, val_idx=val,
                       test_idx=test, num_classes=num_classes, info=info)
