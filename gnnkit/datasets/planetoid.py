"""Planetoid citation graphs: Cora, CiteSeer, PubMed with the public split.

Source: Yang, Cohen & Salakhutdinov, "Revisiting Semi-Supervised Learning with Graph
Embeddings", ICML 2016 (github.com/kimiyoung/planetoid, ``data/ind.<name>.<ext>``). The data
are Cora and CiteSeer (Sen et al., AI Magazine 2008) and PubMed-Diabetes (Namata et al. 2012).
The split is the "public" one used by GCN (Kipf & Welling, ICLR 2017) and GAT (Velickovic et
al., ICLR 2018).

Files (Python-2 pickles, read with a restricted unpickler, see :mod:`._unpickle`):

=========== ========================================================================
``x``       scipy CSR [n_train, F]: features of the labelled training nodes
``y``       ndarray [n_train, C]: one-hot labels of those nodes
``allx``    CSR [n_all, F]: features of all non-test nodes (``allx[:n_train] == x``)
``ally``    ndarray [n_all, C]: their labels
``tx``      CSR [n_test, F]: features of the test nodes, in ``test.index`` order
``ty``      ndarray [n_test, C]: their labels
``graph``   dict {node: [neighbours]}
``test.index`` text, one node id per line: the id of each row of ``tx``/``ty``
=========== ========================================================================

Assembly follows ``load_data`` in tkipf/gcn (``gcn/utils.py``), which GCN and GAT use:

* node i < n_all takes row i of ``allx``/``ally``; node ``test.index[j]`` takes row j of
  ``tx``/``ty`` (Kipf's ``features[test_idx_reorder] = features[test_idx_range]``);
* N = max(n_all, max(test.index) + 1). CiteSeer's test ids have 15 gaps (nodes with no
  features or label in the original data); like Kipf's ``tx_extended``/``ty_extended`` those
  nodes get an all-zero feature row and an all-zero label row, giving N = 3327. An all-zero
  label row becomes class 0 (argmax, as PyG does); these nodes are in no split, so the made-up
  label is never trained or scored on. ``info["num_unlabelled_nodes"]`` counts them;
* splits: train = ``range(n_train)``, val = ``range(n_train, n_train + 500)``, test = sorted
  ``test.index`` (val is clipped to ``n_all`` for tiny files; the real ones have room);
* features are row-normalised (``normalize_features=True``): each row divided by its sum, an
  all-zero row stays zero (Kipf's ``preprocess_features``; GAT does the same).

Graph: the adjacency dict made undirected (both directions stored), duplicates removed and
**self-loops removed**. Kipf's code passes the dict to ``nx.from_dict_of_lists``, which also
symmetrises and de-duplicates but keeps self-loops (CiteSeer's dict has 124, PubMed's 3, Cora's
0), so in his ``A + I`` those nodes get a diagonal entry of 2. We drop them because every gnnkit
layer that wants self-loops adds exactly one per node (``ops.gcn_norm``, GAT's attention), and
a stored loop would count twice; PyG's ``Planetoid`` does the same. Resulting sizes: Cora 2708
nodes / 10556 directed edges, CiteSeer 3327 / 9104, PubMed 19717 / 88648.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..graph import Graph
from ._unpickle import as_adjacency_dict, as_csr, as_dense, restricted_load
from .base import NodeDataset
from .download import fetch
from .errors import DatasetError

__all__ = ["PLANETOID_NAMES", "load_planetoid", "load_planetoid_structure", "planetoid_files"]

PLANETOID_NAMES = ("cora", "citeseer", "pubmed")
_EXTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
_NUM_VAL = 500

CITATION = (
    "Yang, Cohen & Salakhutdinov, Revisiting Semi-Supervised Learning with Graph Embeddings, "
    "ICML 2016; split as in Kipf & Welling, ICLR 2017"
)
_SOURCES = {
    "cora": "Cora (Sen et al., AI Magazine 2008) via github.com/kimiyoung/planetoid",
    "citeseer": "CiteSeer (Sen et al., AI Magazine 2008) via github.com/kimiyoung/planetoid",
    "pubmed": "PubMed-Diabetes (Namata et al., 2012) via github.com/kimiyoung/planetoid",
}


def _check_name(name: str) -> str:
    key = name.lower()
    if key not in PLANETOID_NAMES:
        raise DatasetError(
            f"unknown Planetoid data set {name!r}; known: {', '.join(PLANETOID_NAMES)}")
    return key


def planetoid_files(name: str) -> list[str]:
    """Relative paths of the 8 files of a Planetoid data set, e.g. ``planetoid/ind.cora.x``."""
    key = _check_name(name)
    return [f"planetoid/ind.{key}.{ext}" for ext in _EXTS]


def _read_index(path: Path) -> np.ndarray:
    ids = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if not s:
                continue
            try:
                ids.append(int(s))
            except ValueError:
                raise DatasetError(
                    f"{path}, line {lineno}: expected one integer node id per line, got {s!r}; "
                    f"the file is corrupted: delete it and download again"
                ) from None
    if not ids:
        raise DatasetError(f"{path} holds no node ids; delete it and download again")
    return np.asarray(ids, dtype=np.int64)


def _read(name: str, exts: tuple[str, ...], root, offline, base_url) -> dict:
    paths = {ext: fetch(f"planetoid/ind.{name}.{ext}", root, offline, base_url) for ext in exts}
    raw: dict = {}
    for ext, path in paths.items():
        if ext == "test.index":
            raw[ext] = _read_index(path)
            continue
        obj = restricted_load(path)
        if ext in ("x", "tx", "allx"):
            raw[ext] = as_csr(obj, path)
        elif ext in ("y", "ty", "ally"):
            raw[ext] = as_dense(obj, path)
        else:
            raw[ext] = as_adjacency_dict(obj, path)
    raw["_paths"] = paths
    return raw


def _require(ok: bool, name: str, what: str) -> None:
    if not ok:
        raise DatasetError(
            f"the Planetoid {name} files are inconsistent: {what}; delete them and download again"
        )


def _layout(name: str, raw: dict) -> tuple[int, np.ndarray]:
    """Check row counts; return (N, src_row) where node i takes row ``src_row[i]`` of
    ``vstack(all, t, zero_row)`` (zero_row = n_all + n_test: no data for this node)."""
    test = raw["test.index"]
    n_train, n_all, n_test = raw["y"].shape[0], raw["ally"].shape[0], raw["ty"].shape[0]
    _require(test.shape[0] == n_test, name,
             f"test.index has {test.shape[0]} ids but ty has {n_test} rows")
    _require(np.unique(test).shape[0] == test.shape[0], name, "test.index repeats a node id")
    _require(int(test.min()) >= n_all, name,
             f"test.index holds id {int(test.min())}, which is < {n_all} = rows of ally")
    _require(n_train <= n_all, name, f"y has {n_train} rows but ally only {n_all}")
    n = max(n_all, int(test.max()) + 1)
    src_row = np.full(n, n_all + n_test, dtype=np.int64)
    src_row[:n_all] = np.arange(n_all)
    src_row[test] = n_all + np.arange(n_test)
    return n, src_row


def _labels(name: str, raw: dict, src_row: np.ndarray) -> tuple[torch.Tensor, int, int]:
    y, ty, ally = raw["y"], raw["ty"], raw["ally"]
    c = y.shape[1]
    _require(ty.shape[1] == c and ally.shape[1] == c, name,
             f"label widths differ: y {y.shape[1]}, ty {ty.shape[1]}, ally {ally.shape[1]}")
    _require(bool((ally[: y.shape[0]] == y).all()), name, "ally[:len(y)] differs from y")
    onehot = np.vstack([ally, ty, np.zeros((1, c), dtype=ally.dtype)])[src_row]  # [N, C]
    unlabelled = int((onehot.sum(1) == 0).sum())
    labels = torch.from_numpy(onehot.argmax(1).astype(np.int64))  # zero rows -> class 0
    return labels, c, unlabelled


def _edges(name: str, adj: dict[int, list[int]], n: int) -> tuple[torch.Tensor, dict]:
    """Undirected, de-duplicated, loop-free ``edge_index`` [2, E] sorted by (source, dest)."""
    keys = np.fromiter(adj.keys(), dtype=np.int64, count=len(adj))
    lens = np.fromiter((len(v) for v in adj.values()), dtype=np.int64, count=len(adj))
    src = np.repeat(keys, lens)
    dst = np.fromiter((u for v in adj.values() for u in v), dtype=np.int64, count=int(lens.sum()))
    if src.size:
        lo, hi = min(src.min(), dst.min()), max(src.max(), dst.max())
        _require(lo >= 0 and hi < n, name, f"the graph dict holds node id {lo if lo < 0 else hi}, "
                                           f"outside [0, {n})")
    s, d = torch.from_numpy(src), torch.from_numpy(dst)
    loops = int(torch.unique(s[s == d]).numel())  # nodes listed as their own neighbour
    s, d = torch.cat([s, d]), torch.cat([d, s])
    keep = s != d
    key = torch.unique(s[keep] * n + d[keep])  # sorted, duplicates removed
    edge_index = torch.stack([key // n, key % n])
    stats = {"nodes_with_self_loop_removed": loops, "dict_entries": int(lens.sum())}
    return edge_index, stats


def _row_normalize(x: np.ndarray) -> np.ndarray:
    s = x.sum(1, dtype=np.float64, keepdims=True)
    inv = np.divide(1.0, s, out=np.zeros_like(s), where=s != 0)
    return (x * inv).astype(np.float32)


def _dataset(name: str, raw: dict, x: np.ndarray, n: int, src_row: np.ndarray,
             normalize_features: bool, info: dict) -> NodeDataset:
    y, c, unlabelled = _labels(name, raw, src_row)
    edge_index, estats = _edges(name, raw["graph"], n)
    if normalize_features:
        x = _row_normalize(x)
    n_train = raw["y"].shape[0]
    graph = Graph(edge_index=edge_index, num_nodes=n, x=torch.from_numpy(x), y=y)
    info = {
        "source": _SOURCES[name],
        "citation": CITATION,
        "files": [str(p) for p in raw["_paths"].values()],
        "normalize_features": normalize_features,
        "num_unlabelled_nodes": unlabelled,
        "self_loops": "removed",
        **estats,
        **info,
    }
    return NodeDataset(
        name=name,
        graph=graph,
        train_idx=torch.arange(n_train),
        val_idx=torch.arange(n_train, min(n_train + _NUM_VAL, raw["ally"].shape[0])),
        test_idx=torch.from_numpy(np.sort(raw["test.index"])),
        num_classes=c,
        info=info,
    )


def load_planetoid(
    name: str,
    root: str | os.PathLike | None = None,
    offline: bool | None = None,
    base_url: str | None = None,
    *,
    normalize_features: bool = True,
) -> NodeDataset:
    """Load Cora, CiteSeer or PubMed with the public Planetoid split (see module docstring).

    Args:
        name: ``"cora"``, ``"citeseer"`` or ``"pubmed"`` (case-insensitive).
        root, offline, base_url: where files live and whether/where to download missing ones
            (see :func:`gnnkit.datasets.download.fetch`).
        normalize_features: divide each feature row by its sum (zero rows stay zero).

    Returns:
        A :class:`NodeDataset`: ``graph.x`` float32 [N, F], ``graph.y`` int64 [N], undirected
        loop-free ``edge_index``; train/val/test of 140/500/1000 (Cora), 120/500/1000
        (CiteSeer), 60/500/1000 (PubMed).

    Raises :class:`DatasetError` for a missing file (offline or failed download), a checksum
    mismatch on download, or a corrupted, truncated or non-genuine file. The mirror lacks
    ``ind.pubmed.allx``, so PubMed needs a download or a copy of that file.
    """
    key = _check_name(name)
    raw = _read(key, _EXTS, root, offline, base_url)
    f = raw["x"].shape[1]
    _require(raw["tx"].shape[1] == f and raw["allx"].shape[1] == f, key,
             f"feature widths differ: x {f}, tx {raw['tx'].shape[1]}, allx {raw['allx'].shape[1]}")
    _require(raw["allx"].shape[0] == raw["ally"].shape[0], key,
             f"allx has {raw['allx'].shape[0]} rows but ally has {raw['ally'].shape[0]}")
    for a, b in (("x", "y"), ("tx", "ty")):
        _require(raw[a].shape[0] == raw[b].shape[0], key,
                 f"{a} has {raw[a].shape[0]} rows but {b} has {raw[b].shape[0]}")
    _require((raw["allx"][: raw["x"].shape[0]] != raw["x"]).nnz == 0, key,
             "allx[:len(x)] differs from x")
    n, src_row = _layout(key, raw)
    import scipy.sparse as sp

    zero_row = sp.csr_matrix((1, f), dtype=np.float32)
    stacked = sp.vstack([raw["allx"], raw["tx"], zero_row], format="csr")  # [n_all+n_test+1, F]
    x = stacked[src_row].toarray().astype(np.float32)  # [N, F]
    return _dataset(key, raw, x, n, src_row, normalize_features, {"features": "original"})


def load_planetoid_structure(
    name: str,
    root: str | os.PathLike | None = None,
    offline: bool | None = None,
    base_url: str | None = None,
    *,
    seed: int = 0,
    normalize_features: bool = True,
) -> NodeDataset:
    """A Planetoid graph with its real edges, labels and split but **RANDOM features**.

    FOR SPEED BENCHMARKS ONLY. Accuracy on this data set means nothing. It exists because the
    shared mirror lacks ``ind.pubmed.allx`` (the features of 18717 of PubMed's 19717 nodes):
    everything else (graph, labels, split, feature width) comes from the 7 files that exist, and
    ``x`` is seeded uniform noise of the real shape ([19717, 500] for PubMed), row-normalised
    like the real features when ``normalize_features``. ``name`` of the result is
    ``"<name>-structure"`` and ``info["features"]`` says ``"RANDOM"``.
    """
    key = _check_name(name)
    exts = tuple(e for e in _EXTS if e != "allx")
    raw = _read(key, exts, root, offline, base_url)
    n, src_row = _layout(key, raw)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, raw["x"].shape[1], generator=gen).numpy()  # [N, F]
    ds = _dataset(key, raw, x, n, src_row, normalize_features, {
        "features": f"RANDOM (uniform noise, seed={seed}); for speed benchmarks only, the real "
                    f"features are not used",
    })
    return NodeDataset(name=f"{key}-structure", graph=ds.graph, train_idx=ds.train_idx,
                       val_idx=ds.val_idx, test_idx=ds.test_idx, num_classes=ds.num_classes,
                       info=ds.info)
