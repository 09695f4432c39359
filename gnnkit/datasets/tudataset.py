"""Graph classification data sets in the TU layout (Morris et al., "TUDataset", 2020).

An archive ``tu/NAME.zip`` holds ``NAME/NAME_<part>.txt`` files:

* ``A`` (required): one edge per line, ``i, j`` (1-based global node ids; both directions
  are listed for undirected graphs);
* ``graph_indicator`` (required): line n = graph id (1-based) of node n; non-decreasing;
* ``graph_labels`` (required): one label per graph;
* ``node_labels``, ``node_attributes``, ``edge_labels``, ``edge_attributes`` (optional).

Node features (``node_features``): ``"auto"`` concatenates the node attributes and the one-hot
node labels that exist (PyG's ``use_node_attr=True``), and falls back to a one-hot degree when
a data set has neither; ``"attributes"``, ``"labels"``, ``"degree"`` pick one source. The
one-hot degree has ``degree_cap + 1`` columns (degrees >= cap share the last one). Per data set
(``auto``): ENZYMES 18 attributes + 3 labels; PROTEINS 1 attribute + 3 labels; DD one-hot labels
(82 distinct values in the shared copy);
COLLAB and REDDIT-BINARY (no node data) one-hot degree.

Repeated edges (``repeated_edges``): some archives list a pair ``i, j`` more than once
(COLLAB, REDDIT-BINARY and IMDB-BINARY list every directed edge twice). ``"merge"`` (the
default) keeps the first line of each pair, so degrees and aggregation count each neighbour
once, as PyG's ``TUDataset`` does; ``"keep"`` keeps every line as its own edge (a
multigraph; gnnkit's only behaviour before this option existed). Repeats of one pair whose
edge labels or attributes differ cannot be merged and raise :class:`DatasetError`.
``info["repeated_edge_lines"]`` counts the lines beyond the first of each pair (merged or
kept), ``info["max_lines_per_edge"]`` the most lines one pair has, and
``info["self_loop_lines"]`` the lines ``i, i`` (kept either way);
``benchmarks/graph_prediction/tu_edges.py`` prints them for the shipped sets.

Graph labels are mapped to ``0..C-1`` in sorted order (e.g. REDDIT-BINARY's ``-1, 1``); the
map is in ``info["label_map"]``. Edge labels become one-hot ``edge_attr`` (edge attributes, if
any, are concatenated first).

Parsing is vectorised (``np.fromstring``); the processed tensors are cached atomically under
``cache_dir`` (default ``$GNNKIT_CACHE``, else ``<user cache>/gnnkit/processed``), keyed by the
archive's size and modification time. Malformed or inconsistent files raise
:class:`DatasetError` naming the file and the problem.
"""

from __future__ import annotations

import os
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..graph import Graph
from .cache import cache_file, load_or_build
from .download import fetch
from .errors import DatasetError

__all__ = ["GraphDataset", "TU_DATASETS", "load_tu", "load_tu_zip", "parse_tu_zip"]

TU_DATASETS = ("ENZYMES", "PROTEINS", "PROTEINS_full", "DD", "COLLAB", "REDDIT-BINARY",
               "IMDB-BINARY", "MUTAG", "NCI1")
_CACHE_VERSION = 2
NodeFeatures = ("auto", "attributes", "labels", "degree")
RepeatedEdges = ("merge", "keep")


@dataclass(frozen=True, eq=False)
class GraphDataset:
    """A list of graphs with one target each.

    Fields:
        name: e.g. ``"ENZYMES"``.
        graphs: one :class:`Graph` per item; ``x`` [n, F] float32, ``y`` [1] (int64 class
            or float targets [1, T]), optional ``edge_attr`` [e, F_e].
        num_classes: C for classification, None for regression.
        info: provenance: feature sources, label map, skipped items, ...
    """

    name: str
    graphs: list[Graph]
    num_classes: int | None
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, i: int) -> Graph:
        return self.graphs[i]

    @property
    def task(self) -> str:
        return "regression" if self.num_classes is None else "classification"

    @property
    def num_features(self) -> int:
        return self.graphs[0].num_features

    @property
    def edge_dim(self) -> int | None:
        ea = self.graphs[0].edge_attr
        return None if ea is None else ea.shape[1]

    @property
    def y(self) -> Tensor:
        return torch.cat([g.y.view(1, -1) for g in self.graphs]).squeeze(-1)

    @property
    def max_nodes(self) -> int:
        return max(g.num_nodes for g in self.graphs)


# --------------------------------------------------------------------------- parsing
def _numbers(text: str, where: str, dtype: type, cols: int | None) -> np.ndarray:
    """Parse comma/whitespace separated numbers; rows = non-blank lines."""
    text = text.strip()
    if not text:
        return np.zeros((0, cols or 1), dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            arr = np.fromstring(text.replace(",", " "), dtype=dtype, sep=" ")
        except (ValueError, DeprecationWarning):
            bad = _first_bad_line(text, dtype)
            raise DatasetError(f"{where}: line {bad[0]} is not a row of numbers: {bad[1]!r}; "
                               f"the file is malformed or truncated: delete the archive and "
                               f"download it again") from None
    rows = text.count("\n") + 1
    if cols is None:
        cols = arr.size // rows if rows and arr.size % rows == 0 else -1
    if cols <= 0 or arr.size != rows * cols:
        lines = [ln for ln in text.split("\n") if ln.strip()]
        widths = {len(ln.replace(",", " ").split()) for ln in lines}
        if len(widths) != 1 or (cols > 0 and widths != {cols}):
            raise DatasetError(f"{where}: rows have different numbers of values "
                               f"({sorted(widths)[:5]}, expected {cols if cols > 0 else 'equal'}"
                               f"); the file is malformed or truncated")
        rows, cols = len(lines), widths.pop()
    return arr.reshape(rows, cols)


def _first_bad_line(text: str, dtype: type) -> tuple[int, str]:
    for i, ln in enumerate(text.split("\n"), 1):
        try:
            [dtype(t) if dtype is not np.int64 else int(t) for t in ln.replace(",", " ").split()]
        except ValueError:
            return i, ln[:80]
    return 0, ""  # pragma: no cover - fromstring only fails on a bad token


def _members(zf: zipfile.ZipFile, name: str) -> dict[str, str]:
    out = {}
    for info in zf.infolist():
        base = info.filename.rsplit("/", 1)[-1]
        if base.startswith(f"{name}_") and base.endswith(".txt"):
            out[base[len(name) + 1:-4]] = info.filename
    return out


def _pair_keys(src: np.ndarray, dst: np.ndarray, n: int) -> np.ndarray:
    return src.astype(np.int64) * (n + 1) + dst


def _first_of_each_pair(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """The line numbers (sorted) of the first occurrence of each ``(src, dst)`` pair, and
    the most lines one pair has."""
    _, first, counts = np.unique(_pair_keys(src, dst, n), return_index=True,
                                 return_counts=True)
    return np.sort(first), int(counts.max(initial=0))


def _check_repeats_agree(edge_feat: np.ndarray, src_all: np.ndarray, dst_all: np.ndarray,
                         n: int, where: str) -> None:
    """Raise when two lines of one pair carry different edge labels / attributes."""
    _, inverse = np.unique(_pair_keys(src_all, dst_all, n), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    same_pair = inverse[order][1:] == inverse[order][:-1]
    differs = np.any(edge_feat[order][1:] != edge_feat[order][:-1], axis=1) & same_pair
    if np.any(differs):
        k = int(np.nonzero(differs)[0][0])
        i, j = sorted((int(order[k]), int(order[k + 1])))
        raise DatasetError(
            f"{where}: lines {i + 1} and {j + 1} list the same edge ({src_all[i]}, "
            f"{dst_all[i]}) with different edge labels or attributes, so the repeats cannot "
            f"be merged into one edge; load with repeated_edges='keep' (CLI "
            f"--repeated-edges keep) to keep each line as its own edge")


def _one_hot(values: np.ndarray) -> tuple[np.ndarray, list]:
    """One-hot columns over the sorted distinct values of each column of ``values`` [n, c]."""
    blocks, vocab = [], []
    for col in values.T:
        uniq, inv = np.unique(col, return_inverse=True)
        oh = np.zeros((col.size, uniq.size), dtype=np.float32)
        oh[np.arange(col.size), inv] = 1
        blocks.append(oh)
        vocab.append(uniq.tolist())
    return np.concatenate(blocks, 1), vocab


def parse_tu_zip(path: str | os.PathLike, name: str, node_features: str = "auto",
                 degree_cap: int = 64, repeated_edges: str = "merge") -> dict:
    """Parse a TU archive into flat arrays (see :func:`load_tu`). Returns a dict of tensors:
    ``edge_index`` [2, E] (0-based global), ``ptr`` [G+1], ``eptr`` [G+1] (edges grouped by
    graph), ``x`` [N, F], ``y`` [G], ``edge_attr`` [E, F_e] or None, and ``info``."""
    if node_features not in NodeFeatures:
        raise DatasetError(f"node_features must be one of {', '.join(NodeFeatures)}, "
                           f"got {node_features!r}")
    if repeated_edges not in RepeatedEdges:
        raise DatasetError(f"repeated_edges must be one of {', '.join(RepeatedEdges)}, "
                           f"got {repeated_edges!r}")
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DatasetError(f"{path} is not a readable zip archive ({e}); the download is "
                           f"corrupted or truncated: delete it and download again") from None
    with zf:
        parts = _members(zf, name)
        for req in ("A", "graph_indicator", "graph_labels"):
            if req not in parts:
                raise DatasetError(f"{path} has no {name}/{name}_{req}.txt (found: "
                                   f"{', '.join(sorted(parts)) or 'nothing'}); is it the {name} "
                                   f"archive?")

        def read(part: str, dtype: type, cols: int | None = None) -> np.ndarray:
            try:
                raw = zf.read(parts[part])
            except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as e:
                raise DatasetError(f"{path}: cannot read {parts[part]} ({e}); the archive is "
                                   f"corrupted: delete it and download again") from None
            return _numbers(raw.decode("latin-1"), f"{path}:{parts[part]}", dtype, cols)

        ind = read("graph_indicator", np.int64, 1)[:, 0]
        n = ind.size
        where = f"{path}:{parts['graph_indicator']}"
        if n == 0:
            raise DatasetError(f"{where} is empty: the data set has no nodes")
        if ind.min() < 1:
            raise DatasetError(f"{where}: graph ids must be >= 1, found {int(ind.min())}")
        if np.any(np.diff(ind) < 0):
            raise DatasetError(f"{where}: graph ids must be non-decreasing (nodes grouped by "
                               f"graph)")
        glabels = read("graph_labels", np.float64)
        num_graphs = glabels.shape[0]
        if int(ind.max()) != num_graphs:
            raise DatasetError(f"{where} names {int(ind.max())} graphs but "
                               f"{parts['graph_labels']} has {num_graphs} labels; the files "
                               f"disagree")
        sizes = np.bincount(ind - 1, minlength=num_graphs)
        if np.any(sizes == 0):
            empty = (np.nonzero(sizes == 0)[0] + 1)[:5].tolist()
            raise DatasetError(f"{where}: graph(s) {empty} have no nodes (empty graphs)")
        ptr = np.concatenate([[0], np.cumsum(sizes)])

        a = read("A", np.int64, 2)
        where_a = f"{path}:{parts['A']}"
        if a.size and (a.min() < 1 or a.max() > n):
            bad = int(a.min()) if a.min() < 1 else int(a.max())
            raise DatasetError(f"{where_a}: node id {bad} is out of range [1, {n}] ({n} nodes "
                               f"in {parts['graph_indicator']})")
        src, dst = a[:, 0] - 1, a[:, 1] - 1
        eg = ind[src]
        if np.any(eg != ind[dst]):
            i = int(np.nonzero(eg != ind[dst])[0][0])
            raise DatasetError(f"{where_a}: line {i + 1} joins nodes of different graphs "
                               f"({src[i] + 1} in graph {eg[i]}, {dst[i] + 1} in graph "
                               f"{ind[dst[i]]})")
        first, most = _first_of_each_pair(src, dst, n)
        repeated = int(a.shape[0] - first.size)
        lines = first if repeated_edges == "merge" else np.arange(a.shape[0])
        order = lines[np.argsort(eg[lines], kind="stable")]
        src, dst = src[order], dst[order]
        eptr = np.concatenate([[0], np.cumsum(np.bincount(eg[order] - 1,
                                                          minlength=num_graphs))])

        def node_part(part: str, dtype: type) -> np.ndarray | None:
            if part not in parts:
                return None
            v = read(part, dtype)
            if v.shape[0] != n:
                raise DatasetError(f"{path}:{parts[part]} has {v.shape[0]} rows but "
                                   f"{parts['graph_indicator']} lists {n} nodes")
            return v

        attrs = node_part("node_attributes", np.float64)
        nlab = node_part("node_labels", np.int64)
        info: dict = {"source": str(path), "num_graphs": num_graphs, "num_nodes": n,
                      "num_edges": int(order.size), "edge_lines": int(a.shape[0]),
                      "repeated_edge_lines": repeated, "max_lines_per_edge": most,
                      "repeated_edges": repeated_edges,
                      "self_loop_lines": int(np.count_nonzero(a[:, 0] == a[:, 1]))}
        blocks, sources = [], []
        want_attr = node_features in ("auto", "attributes")
        want_lab = node_features in ("auto", "labels")
        if want_attr and attrs is not None:
            blocks.append(attrs.astype(np.float32))
            sources.append(f"attributes ({attrs.shape[1]})")
        if want_lab and nlab is not None:
            oh, vocab = _one_hot(nlab)
            blocks.append(oh)
            sources.append(f"one-hot node labels ({oh.shape[1]})")
        if node_features in ("attributes", "labels") and not blocks:
            raise DatasetError(f"{name} has no node {node_features}; use node_features='auto' "
                               f"or 'degree'")
        if not blocks:
            deg = np.bincount(dst, minlength=n)
            oh = np.zeros((n, degree_cap + 1), dtype=np.float32)
            oh[np.arange(n), np.minimum(deg, degree_cap)] = 1
            blocks.append(oh)
            sources.append(f"one-hot degree (cap {degree_cap}, max degree {int(deg.max())})")
        x = np.concatenate(blocks, 1)
        info["node_features"] = " + ".join(sources)

        eblocks = []
        if "edge_attributes" in parts:
            ea = read("edge_attributes", np.float64)
            if ea.shape[0] != a.shape[0]:
                raise DatasetError(f"{path}:{parts['edge_attributes']} has {ea.shape[0]} rows "
                                   f"but {parts['A']} has {a.shape[0]} edges")
            eblocks.append(ea.astype(np.float32))
        if "edge_labels" in parts:
            el = read("edge_labels", np.int64)
            if el.shape[0] != a.shape[0]:
                raise DatasetError(f"{path}:{parts['edge_labels']} has {el.shape[0]} rows "
                                   f"but {parts['A']} has {a.shape[0]} edges")
            eblocks.append(_one_hot(el)[0])
        edge_attr = None
        if eblocks:
            full = np.concatenate(eblocks, 1)
            if repeated_edges == "merge" and repeated:
                _check_repeats_agree(full, src_all=a[:, 0], dst_all=a[:, 1], n=n,
                                     where=where_a)
            edge_attr = full[order]

    if glabels.shape[1] != 1:
        raise DatasetError(f"{path}:{parts['graph_labels']} must hold one label per line")
    uniq, y = np.unique(glabels[:, 0], return_inverse=True)
    info["label_map"] = {str(int(v) if float(v).is_integer() else v): i
                         for i, v in enumerate(uniq.tolist())}
    local = np.stack([src, dst]) - np.repeat(ptr[:-1], np.diff(eptr))[None]
    return {"edge_index": torch.from_numpy(local), "ptr": torch.from_numpy(ptr),
            "eptr": torch.from_numpy(eptr), "x": torch.from_numpy(x),
            "y": torch.from_numpy(y.astype(np.int64)),
            "edge_attr": None if edge_attr is None else torch.from_numpy(edge_attr),
            "num_classes": int(uniq.size), "info": info}


def unpack_graphs(p: dict) -> list[Graph]:
    """The graphs of a packed dict (``x``, ``edge_index`` local to each graph, ``ptr`` /
    ``eptr`` node and edge offsets, ``y`` one row per graph, ``edge_attr`` or None)."""
    ptr, eptr = p["ptr"].tolist(), p["eptr"].tolist()
    ei, x, y, ea = p["edge_index"], p["x"], p["y"], p["edge_attr"]
    graphs = []
    for i in range(len(ptr) - 1):
        graphs.append(Graph(
            edge_index=ei[:, eptr[i]:eptr[i + 1]], num_nodes=ptr[i + 1] - ptr[i],
            x=x[ptr[i]:ptr[i + 1]], y=y[i:i + 1],
            edge_attr=None if ea is None else ea[eptr[i]:eptr[i + 1]], validate=False))
    return graphs


def load_tu(name: str, root: str | os.PathLike | None = None, offline: bool | None = None,
            base_url: str | None = None, node_features: str = "auto", degree_cap: int = 64,
            cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
            repeated_edges: str = "merge") -> GraphDataset:
    """Load ``tu/<name>.zip`` (fetched into the data root when missing) as a GraphDataset.

    The processed tensors are cached atomically (``cache_dir``; an unwritable cache is
    skipped). ``name`` is case-insensitive for the data sets in :data:`TU_DATASETS`.
    """
    canon = {d.lower(): d for d in TU_DATASETS}.get(name.lower(), name)
    path = fetch(f"tu/{canon}.zip", root, offline, base_url)
    return load_tu_zip(path, canon, node_features, degree_cap, cache_dir, use_cache,
                       repeated_edges)


def load_tu_zip(path: str | os.PathLike, name: str | None = None, node_features: str = "auto",
                degree_cap: int = 64, cache_dir: str | os.PathLike | None = None,
                use_cache: bool = True, repeated_edges: str = "merge") -> GraphDataset:
    """A TU archive anywhere on disk (your own data in the official layout,
    ``NAME/NAME_A.txt`` ...) as a GraphDataset; ``name`` defaults to the file's stem.
    Cached like :func:`load_tu`, keyed by the file's size and modification time."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no such TU archive: {path} (give the path of a zip holding "
                           f"NAME/NAME_A.txt, NAME_graph_indicator.txt, NAME_graph_labels.txt)")
    canon = name or path.stem
    st = path.stat()
    key = (f"{canon}-{node_features}-{degree_cap}-{repeated_edges}-{st.st_size}-"
           f"{st.st_mtime_ns}-v{_CACHE_VERSION}")
    cfile = cache_file("tu", key, cache_dir)
    p = load_or_build(cfile, lambda: parse_tu_zip(path, canon, node_features, degree_cap,
                                                  repeated_edges), use_cache)
    info = dict(p["info"])
    info["cache"] = str(cfile) if use_cache else None
    return GraphDataset(canon, unpack_graphs(p), int(p["num_classes"]), info)
