"""Edge splits for link prediction, without leakage, reproducible from a seed, saved to files.

The protocol is that of Kipf & Welling, "Variational Graph Auto-Encoders" (NIPS 2016 workshop
on Bayesian deep learning), Sec. 4, as coded in ``mask_test_edges`` of tkipf/gae
(``gae/preprocessing.py``):

* the graph is read as undirected and loop-free: each edge {u, v}, u != v, counted once
  (u < v, "the upper triangle"), whatever directions or duplicates the input stores;
* a random permutation of those E_u edges gives ``floor(test_frac * E_u)`` test edges, then
  ``floor(val_frac * E_u)`` validation edges; the rest (85 % by default) train;
* validation and test each get as many negative pairs as positives: pairs {u, v}, u != v,
  that are **not edges of the full graph**, all distinct (within and across the two sets),
  drawn uniformly among such pairs;
* the encoder sees only the training edges, stored in both directions
  (:meth:`LinkSplit.train_graph`), so an edge and its reverse are always in the same part.

Differences from tkipf/gae: its validation negatives are checked against the training and
validation edges only, so a test edge can come back as a validation "non-edge", and the two
negative sets may overlap; here neither happens. Randomness comes from an explicit seed or
``torch.Generator`` instead of NumPy's global state, so the split itself differs from the
reference's for the same seed number.

A split is saved with :meth:`LinkSplit.save` (``.npz``, no pickles) and reloaded against a
graph with :meth:`LinkSplit.load`, which refuses a split that does not belong to that graph
(node count, an edge the graph lacks, a negative the graph has, or a different edge set).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..graph import Graph
from .errors import DatasetError
from .splits import as_generator

__all__ = ["LinkSplit", "graph_fingerprint", "link_split", "undirected_edges"]

_PARTS = ("train_pos", "val_pos", "val_neg", "test_pos", "test_neg")
_FORMAT = "gnnkit-link-split-v1"
_ENUMERATE_LIMIT = 1_000_000   # enumerate every non-edge when the graph has at most this many pairs


def undirected_edges(g: Graph) -> Tensor:
    """The graph's undirected, loop-free edges, each once as (u, v) with u < v, sorted.

    Shapes: g with E stored edges -> [2, E_u] int64.
    """
    n = g.num_nodes
    u, v = g.edge_index.cpu()
    lo, hi = torch.minimum(u, v), torch.maximum(u, v)
    key = torch.unique(lo[lo != hi] * n + hi[lo != hi])   # sorted, duplicates removed
    return torch.stack([key // n, key % n])


def graph_fingerprint(g: Graph) -> str:
    """SHA-256 of N and the sorted undirected edge set: equal for the same graph however its
    edges are ordered, directed or duplicated."""
    e = undirected_edges(g)
    h = hashlib.sha256()
    h.update(np.int64(g.num_nodes).tobytes())
    h.update(np.ascontiguousarray((e[0] * g.num_nodes + e[1]).numpy()).astype("<i8").tobytes())
    return h.hexdigest()


def _keys(pairs: Tensor, n: int) -> Tensor:
    return pairs[0] * n + pairs[1]


def _isin_sorted(keys: Tensor, sorted_keys: Tensor) -> Tensor:
    if sorted_keys.numel() == 0:
        return torch.zeros(keys.shape, dtype=torch.bool)
    pos = torch.searchsorted(sorted_keys, keys).clamp_(max=sorted_keys.numel() - 1)
    return sorted_keys[pos] == keys


def _sample_non_edges(n: int, count: int, edge_keys: Tensor, gen: torch.Generator) -> Tensor:
    """``count`` distinct pairs (u < v) that are not edges, uniformly; [2, count] in draw order.

    Small graphs: a random permutation of every non-edge. Large ones: rejection sampling of
    uniform ordered pairs u != v (each unordered pair equally likely), keeping the first
    occurrence of each new pair.
    """
    total = n * (n - 1) // 2
    free = total - edge_keys.numel()
    if count > free:
        raise DatasetError(f"the graph has only {free} non-edge pairs but the split needs "
                           f"{count} negatives; use smaller validation/test fractions")
    if count == 0:
        return torch.zeros(2, 0, dtype=torch.long)
    if total <= _ENUMERATE_LIMIT:
        iu = torch.triu_indices(n, n, offset=1)                       # [2, total]
        cand = iu[:, ~_isin_sorted(_keys(iu, n), edge_keys)]
        return cand[:, torch.randperm(cand.shape[1], generator=gen)[:count]]
    chosen = torch.zeros(0, dtype=torch.long)
    accept = free / total
    while chosen.numel() < count:
        need = count - chosen.numel()
        m = int(need / accept * 1.2) + 64
        a = torch.randint(n, (m,), generator=gen)
        b = (a + torch.randint(1, n, (m,), generator=gen)) % n           # uniform over b != a
        key = torch.minimum(a, b) * n + torch.maximum(a, b)
        key = key[~_isin_sorted(key, edge_keys)]
        key = key[~torch.isin(key, chosen)]
        uniq, inv = torch.unique(key, return_inverse=True)
        first = torch.full((uniq.numel(),), key.numel(), dtype=torch.long)
        first.scatter_reduce_(0, inv, torch.arange(key.numel()), "amin")
        chosen = torch.cat([chosen, key[first.sort().values][:need]])   # first occurrences
    return torch.stack([chosen // n, chosen % n])


@dataclass(frozen=True, eq=False)
class LinkSplit:
    """A link-prediction split of one undirected graph with N nodes.

    Fields (pairs are ``[2, k]`` int64 with row 0 < row 1, each undirected pair once):
        num_nodes: N.
        train_pos: training edges (the encoder's graph, see :meth:`train_graph`).
        val_pos, val_neg: validation edges and as many non-edges.
        test_pos, test_neg: test edges and as many non-edges.
        fingerprint: :func:`graph_fingerprint` of the graph the split was made from.
        seed: the integer seed it was drawn with (-1 when a Generator was passed).
    """

    num_nodes: int
    train_pos: Tensor
    val_pos: Tensor
    val_neg: Tensor
    test_pos: Tensor
    test_neg: Tensor
    fingerprint: str
    seed: int = -1

    # ------------------------------------------------------------------ views
    @property
    def train_edge_index(self) -> Tensor:
        """Training edges in both directions, ``[2, 2 * E_train]``."""
        return torch.cat([self.train_pos, self.train_pos.flip(0)], dim=1)

    def train_graph(self, g: Graph) -> Graph:
        """``g`` with only the training edges (both directions); node fields kept."""
        self._check_nodes(g.num_nodes)
        return Graph(edge_index=self.train_edge_index.to(g.device), num_nodes=g.num_nodes,
                     x=g.x, y=g.y)

    def pairs(self, part: str) -> tuple[Tensor, Tensor]:
        """Pairs and 0/1 labels of ``"val"`` or ``"test"``: ``([2, 2k], [2k])``, positives
        first."""
        if part not in ("val", "test"):
            raise ValueError(f"part must be 'val' or 'test', got {part!r}")
        pos, neg = getattr(self, f"{part}_pos"), getattr(self, f"{part}_neg")
        labels = torch.cat([torch.ones(pos.shape[1]), torch.zeros(neg.shape[1])])
        return torch.cat([pos, neg], dim=1), labels

    def sizes(self) -> dict[str, int]:
        return {p: int(getattr(self, p).shape[1]) for p in _PARTS}

    def _check_nodes(self, n: int) -> None:
        if n != self.num_nodes:
            raise DatasetError(f"the split is for a graph with {self.num_nodes} nodes but this "
                               f"graph has {n}")

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write the split to ``path`` (``.npz``, arrays only), atomically."""
        from ..train.rundir import atomic_write_bytes

        buf = io.BytesIO()
        np.savez(buf, format=np.array(_FORMAT), num_nodes=np.int64(self.num_nodes),
                 fingerprint=np.array(self.fingerprint), seed=np.int64(self.seed),
                 **{p: getattr(self, p).cpu().numpy().astype(np.int64) for p in _PARTS})
        return atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike, graph: Graph) -> LinkSplit:
        """Read a split saved by :meth:`save` and check that it belongs to ``graph``.

        Raises :class:`DatasetError` for a missing or malformed file, a node-count mismatch,
        a positive pair that is not an edge of ``graph``, a negative pair that is one, or a
        graph whose edge set differs from the one the split was made from (fingerprint).
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
        except FileNotFoundError:
            raise DatasetError(f"split file {str(path)!r} does not exist") from None
        except (OSError, ValueError, EOFError) as exc:
            why = ("not a numpy .npz archive" if "pickle" in str(exc) or isinstance(exc, EOFError)
                   else str(exc))
            raise DatasetError(f"split file {str(path)!r} is not a gnnkit split (.npz): "
                               f"{why}; a link run saves its split as split.npz in its run "
                               f"directory (or LinkSplit.save)") from None
        missing = [k for k in ("format", "num_nodes", "fingerprint", *_PARTS) if k not in data]
        if missing or str(data["format"]) != _FORMAT:
            raise DatasetError(f"split file {str(path)!r} is not a gnnkit link split "
                               f"(missing {', '.join(missing) or 'format tag'})")
        n = int(data["num_nodes"])
        if n != graph.num_nodes:
            raise DatasetError(f"split file {str(path)!r} is for a graph with {n} nodes but "
                               f"this graph has {graph.num_nodes}")
        parts = {}
        for p in _PARTS:
            a = data[p]
            if a.ndim != 2 or a.shape[0] != 2 or a.dtype.kind not in "iu":
                raise DatasetError(f"split file {str(path)!r}: {p} must be an integer array "
                                   f"of shape [2, k], got {a.dtype} {list(a.shape)}")
            t = torch.from_numpy(a.astype(np.int64))
            if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n or bool((t[0] >= t[1]).any())):
                raise DatasetError(f"split file {str(path)!r}: {p} holds pairs outside "
                                   f"0 <= u < v < {n}")
            parts[p] = t
        edge_keys = _keys(undirected_edges(graph), n)
        for p in ("train_pos", "val_pos", "test_pos"):
            bad = ~_isin_sorted(_keys(parts[p], n), edge_keys)
            if bool(bad.any()):
                u, v = parts[p][:, bad.nonzero()[0, 0]].tolist()
                raise DatasetError(f"split file {str(path)!r} does not match the graph: its "
                                   f"{p} pair ({u}, {v}) is not an edge of the graph")
        for p in ("val_neg", "test_neg"):
            bad = _isin_sorted(_keys(parts[p], n), edge_keys)
            if bool(bad.any()):
                u, v = parts[p][:, bad.nonzero()[0, 0]].tolist()
                raise DatasetError(f"split file {str(path)!r} does not match the graph: its "
                                   f"{p} pair ({u}, {v}) is an edge of the graph")
        fp = graph_fingerprint(graph)
        if str(data["fingerprint"]) != fp:
            raise DatasetError(f"split file {str(path)!r} was made from a different graph "
                               f"(edge-set fingerprint {str(data['fingerprint'])[:12]}... vs "
                               f"{fp[:12]}...)")
        seed = int(data["seed"]) if "seed" in data else -1
        return cls(num_nodes=n, fingerprint=fp, seed=seed, **parts)


def link_split(
    g: Graph,
    val_frac: float = 0.05,
    test_frac: float = 0.10,
    seed: int | torch.Generator = 0,
) -> LinkSplit:
    """Split the undirected edges of ``g`` into train / validation / test (see module docs).

    Sizes: ``n_test = floor(test_frac * E_u)``, ``n_val = floor(val_frac * E_u)``, the rest
    train; each of validation and test gets as many non-edges. Raises :class:`DatasetError`
    when the graph is too small for a non-empty part, or has too few non-edges.
    """
    if not (0 < val_frac < 1 and 0 < test_frac < 1 and val_frac + test_frac < 1):
        raise DatasetError(f"val_frac and test_frac must lie in (0, 1) with a sum below 1, got "
                           f"{val_frac} and {test_frac}")
    gen = as_generator(seed)
    n = g.num_nodes
    edges = undirected_edges(g)
    e = edges.shape[1]
    n_test, n_val = math.floor(test_frac * e), math.floor(val_frac * e)
    n_train = e - n_test - n_val
    if min(n_test, n_val, n_train) < 1:
        raise DatasetError(
            f"graph too small to split: {e} undirected edge(s) give {n_train} train, {n_val} "
            f"validation and {n_test} test edge(s); every part needs at least one (with "
            f"val_frac={val_frac}, test_frac={test_frac} that takes "
            f"{math.ceil(1 / min(val_frac, test_frac))} edges)")
    perm = torch.randperm(e, generator=gen)
    test_ids, val_ids, train_ids = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    neg = _sample_non_edges(n, n_val + n_test, _keys(edges, n), gen)

    def part(pairs: Tensor) -> Tensor:  # sorted by (u, v): the same split, the same file
        return pairs[:, torch.argsort(_keys(pairs, n))]

    return LinkSplit(
        num_nodes=n,
        train_pos=part(edges[:, train_ids]),
        val_pos=part(edges[:, val_ids]),
        val_neg=part(neg[:, :n_val]),
        test_pos=part(edges[:, test_ids]),
        test_neg=part(neg[:, n_val:]),
        fingerprint=graph_fingerprint(g),
        seed=-1 if isinstance(seed, torch.Generator) else int(seed),
    )
