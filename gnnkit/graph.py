"""The one graph type of gnnkit, and the functions that batch and convert it.

Conventions, fixed here for the whole library:

* ``edge_index`` is COO, shape ``[2, E]``, ``int64``; row 0 is the source and row 1 the
  destination; messages flow source -> destination. An undirected graph stores both directions.
* ``num_nodes`` (N) is always stored, never inferred from ``edge_index.max()``; isolated nodes
  with the highest ids are therefore kept.
* A batch of B graphs is one ``Graph`` whose node ids are absolute (graph b's nodes occupy
  ``ptr[b]:ptr[b+1]``), with ``batch[n]`` the graph of node n.
* A ``Graph`` is immutable: every transformation returns a new one; nothing in gnnkit mutates a
  graph's tensors in place. Derived structures (CSR views, normalised edge weights) are computed
  once and cached on the instance.

Validation happens once, in the constructor. Each failure raises :class:`GraphError` with a
message that names the field and says how to fix it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["Block", "Graph", "GraphError", "batch", "unbatch"]


class GraphError(ValueError):
    """A graph's fields are inconsistent or invalid. The message names the field and the fix."""


def _as_tensor(value: Any, name: str) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    raise GraphError(
        f"{name} must be a torch.Tensor or numpy.ndarray, got {type(value).__name__}; "
        f"convert it with torch.as_tensor(...)"
    )


@dataclass(frozen=True, eq=False)
class Graph:
    """One graph or a batch of graphs. COO, source -> destination; indices absolute in a batch.

    Fields:
        edge_index: ``[2, E]`` int64; row 0 = source, row 1 = destination.
        num_nodes: N, always stored (>= 1).
        x: node features ``[N, F]`` (floating point, finite), or None.
        edge_weight: ``[E]`` (floating point, finite), or None.
        edge_attr: edge features ``[E, F_e]`` (floating point, finite), or None.
        y: node targets ``[N, ...]`` or graph targets (``[B, ...]`` in a batch; ``[1, ...]``
            or a scalar for a single graph), or None.
        batch: ``[N]`` int64 graph id of each node (set by :func:`batch`), or None.
        ptr: ``[B + 1]`` int64 node offsets of each graph (set by :func:`batch`), or None.

    Construction validates every field once and raises :class:`GraphError` naming the field.
    Pass ``validate=False`` only for tensors produced by gnnkit itself from a valid graph.
    """

    edge_index: Tensor
    num_nodes: int
    x: Tensor | None = None
    edge_weight: Tensor | None = None
    edge_attr: Tensor | None = None
    y: Tensor | None = None
    batch: Tensor | None = None
    ptr: Tensor | None = None
    validate: bool = field(default=True, repr=False)
    # Derived structures memoised by gnnkit.ops (normalised weights, self-loop graphs, CSR of
    # those). Not part of the graph's value: never compared, copied or printed.
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.validate:
            self._check()

    # ------------------------------------------------------------------ validation
    def _check(self) -> None:  # noqa: C901 - one flat list of checks reads best
        set_ = object.__setattr__.__get__(self)  # normalise fields once, before freezing
        ei = _as_tensor(self.edge_index, "edge_index")
        if ei.dtype.is_floating_point or ei.dtype == torch.bool or ei.is_complex():
            raise GraphError(
                f"edge_index must hold integer node ids, got dtype {ei.dtype}; "
                f"use edge_index.long()"
            )
        if ei.dim() != 2 or ei.shape[0] != 2:
            hint = " (it looks transposed: pass edge_index.t())" if (
                ei.dim() == 2 and ei.shape[1] == 2) else ""
            raise GraphError(
                f"edge_index must have shape [2, E], got {list(ei.shape)}{hint}"
            )
        ei = ei.long().contiguous()
        set_("edge_index", ei)
        n = self.num_nodes
        if isinstance(n, Tensor) and n.numel() == 1:
            n = int(n.item())
        if isinstance(n, (bool, float)) or not isinstance(n, (int, np.integer)):
            raise GraphError(f"num_nodes must be an int, got {type(n).__name__} ({n!r})")
        n = int(n)
        if n <= 0:
            raise GraphError(
                f"num_nodes must be >= 1, got {n}: an empty graph has nothing to learn from; "
                f"drop it from the data set"
            )
        set_("num_nodes", n)
        if ei.numel() > 0:
            lo, hi = int(ei.min()), int(ei.max())
            if lo < 0:
                raise GraphError(
                    f"edge_index holds a negative node id ({lo}); node ids must lie in "
                    f"[0, num_nodes) = [0, {n})"
                )
            if hi >= n:
                raise GraphError(
                    f"edge_index holds node id {hi} but num_nodes = {n}; ids must lie in "
                    f"[0, {n}): fix the ids or pass num_nodes={hi + 1}"
                )
        e = ei.shape[1]
        dev = ei.device
        for name in ("x", "edge_weight", "edge_attr", "y", "batch", "ptr"):
            v = getattr(self, name)
            if v is None:
                continue
            v = _as_tensor(v, name)
            if v.device != dev:
                raise GraphError(
                    f"{name} is on {v.device} but edge_index is on {dev}; move both with "
                    f"graph.to(device)"
                )
            set_(name, v)
        self._check_float("x", 2, n, "rows (one per node)")
        self._check_float("edge_weight", 1, e, "entries (one per edge)")
        self._check_float("edge_attr", 2, e, "rows (one per edge)")
        num_graphs = None
        if (self.batch is None) != (self.ptr is None):
            raise GraphError(
                "batch and ptr must be given together; build batches with gnnkit.batch()")
        if self.ptr is not None:
            ptr, b = self.ptr.long(), self.batch.long()
            if ptr.dim() != 1 or ptr.numel() < 2 or int(ptr[0]) != 0 or int(ptr[-1]) != n:
                raise GraphError(
                    f"ptr must be [B + 1] offsets from 0 to num_nodes={n}, got {ptr.tolist()[:8]}"
                )
            if bool((ptr[1:] < ptr[:-1]).any()):
                raise GraphError("ptr must be non-decreasing")
            if b.shape != (n,):
                raise GraphError(f"batch must have shape [{n}] (one graph id per node), "
                                 f"got {list(b.shape)}")
            num_graphs = ptr.numel() - 1
            expect = torch.repeat_interleave(torch.arange(num_graphs, device=dev), ptr.diff())
            if not torch.equal(b, expect):
                raise GraphError("batch disagrees with ptr; build batches with gnnkit.batch()")
            set_("ptr", ptr)
            set_("batch", b)
        if self.y is not None:
            # node targets [N, ...], or graph targets: [B, ...] in a batch, [1, ...] or a
            # scalar for a single graph (the form batch() stacks and unbatch() returns)
            graphs = 1 if num_graphs is None else num_graphs
            scalar_ok = self.y.dim() == 0 and num_graphs is None
            if not scalar_ok and (self.y.dim() == 0 or self.y.shape[0] not in (n, graphs)):
                rows = self.y.shape[0] if self.y.dim() > 0 else "no"
                raise GraphError(
                    f"y has {rows} rows but must have {n} (one per node) or {graphs} "
                    f"(one per graph)"
                )
            if self.y.dtype.is_floating_point and not bool(torch.isfinite(self.y).all()):
                raise GraphError("y holds NaN or inf; clean or drop those targets")

    def _check_float(self, name: str, dim: int, rows: int, what: str) -> None:
        v = getattr(self, name)
        if v is None:
            return
        if not v.dtype.is_floating_point:
            raise GraphError(
                f"{name} must be floating point, got {v.dtype}; use {name}.float()"
            )
        if v.dim() != dim:
            shape = "[N, F]" if name == "x" else ("[E]" if dim == 1 else "[E, F_e]")
            raise GraphError(f"{name} must have shape {shape}, got {list(v.shape)}")
        if v.shape[0] != rows:
            raise GraphError(f"{name} has {v.shape[0]} rows but the graph needs {rows} {what}")
        if not bool(torch.isfinite(v).all()):
            bad = int((~torch.isfinite(v)).sum())
            raise GraphError(
                f"{name} holds {bad} NaN or inf value(s); clean them (e.g. torch.nan_to_num) "
                f"before building the graph"
            )

    # ------------------------------------------------------------------ basics
    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]

    @property
    def num_graphs(self) -> int:
        return 1 if self.ptr is None else self.ptr.numel() - 1

    @property
    def device(self) -> torch.device:
        return self.edge_index.device

    @property
    def num_features(self) -> int:
        return 0 if self.x is None else self.x.shape[1]

    def replace(self, **changes: Any) -> Graph:
        """A new graph with some fields replaced (validated again)."""
        return replace(self, _cache={}, validate=True, **changes)

    def _derive(self, **changes: Any) -> Graph:
        # Internal: fields computed by gnnkit from this (valid) graph skip re-validation.
        return replace(self, _cache={}, validate=False, **changes)

    def to(self, device: torch.device | str) -> Graph:
        """The same graph with every tensor on ``device``."""
        moved = {
            f.name: getattr(self, f.name).to(device)
            for f in fields(self)
            if isinstance(getattr(self, f.name), Tensor)
        }
        return self._derive(**moved)

    def __repr__(self) -> str:
        parts = [f"num_nodes={self.num_nodes}", f"num_edges={self.num_edges}"]
        for name in ("x", "edge_weight", "edge_attr", "y"):
            v = getattr(self, name)
            if v is not None:
                parts.append(f"{name}={list(v.shape)}")
        if self.ptr is not None:
            parts.append(f"num_graphs={self.num_graphs}")
        return f"Graph({', '.join(parts)})"

    # ------------------------------------------------------------------ cached views
    @cached_property
    def csr(self) -> tuple[Tensor, Tensor, Tensor]:
        """CSR by destination: ``(rowptr [N+1], col [E], perm [E])``.

        Row i lists the in-edges of node i; ``col = edge_index[0, perm]`` are their sources,
        sorted by (destination, source). ``perm`` maps CSR order back to COO edge ids, so an
        edge tensor ``w`` [E] in COO order is ``w[perm]`` in CSR order.
        """
        return _compressed(self.edge_index[1], self.edge_index[0], self.num_nodes)

    @cached_property
    def csc(self) -> tuple[Tensor, Tensor, Tensor]:
        """CSR by source (the transpose): ``(colptr [N+1], row [E], perm [E])``.

        Row j lists the out-edges of node j; ``row = edge_index[1, perm]`` are their
        destinations. Used for backward passes (A^T products).
        """
        return _compressed(self.edge_index[0], self.edge_index[1], self.num_nodes)

    @cached_property
    def in_degree(self) -> Tensor:
        """Number of in-edges of each node, ``[N]`` int64 (duplicates counted)."""
        return self.csr[0].diff()

    @cached_property
    def out_degree(self) -> Tensor:
        return self.csc[0].diff()

    # ------------------------------------------------------------------ structure transforms
    def _with_edges(self, edge_index: Tensor, edge_ids: Tensor | None) -> Graph:
        """Same nodes, new edges; edge fields follow ``edge_ids`` (None: drop them)."""
        ew = ea = None
        if edge_ids is not None:
            ew = None if self.edge_weight is None else self.edge_weight[edge_ids]
            ea = None if self.edge_attr is None else self.edge_attr[edge_ids]
        return self._derive(edge_index=edge_index, edge_weight=ew, edge_attr=ea)

    def has_self_loops(self) -> bool:
        return bool((self.edge_index[0] == self.edge_index[1]).any())

    def remove_self_loops(self) -> Graph:
        keep = (self.edge_index[0] != self.edge_index[1]).nonzero().view(-1)
        return self._with_edges(self.edge_index[:, keep], keep)

    def add_self_loops(self, fill_value: float = 1.0) -> Graph:
        """Remove existing self-loops, then add one loop per node (appended after the edges).

        New loops get ``edge_weight = fill_value`` and ``edge_attr`` = zeros. Use
        :func:`gnnkit.ops.add_remaining_self_loops` to keep existing loops' weights instead.
        """
        g = self.remove_self_loops()
        n = self.num_nodes
        loop = torch.arange(n, device=self.device).repeat(2, 1)
        ei = torch.cat([g.edge_index, loop], dim=1)
        ew = ea = None
        if g.edge_weight is not None:
            ew = torch.cat([g.edge_weight, g.edge_weight.new_full((n,), fill_value)])
        if g.edge_attr is not None:
            ea = torch.cat([g.edge_attr, g.edge_attr.new_zeros(n, g.edge_attr.shape[1])])
        return self._derive(edge_index=ei, edge_weight=ew, edge_attr=ea)

    def coalesce(self, reduce: str = "sum") -> Graph:
        """Merge duplicate edges and sort edges by (source, destination).

        Duplicate edges' ``edge_weight``/``edge_attr`` are combined with ``reduce``
        ('sum', 'mean', 'max', 'min'); without edge fields duplicates are simply dropped.
        """
        n = self.num_nodes
        key = self.edge_index[0] * n + self.edge_index[1]
        uniq, inverse = torch.unique(key, sorted=True, return_inverse=True)
        ei = torch.stack([uniq // n, uniq % n])

        def merge(v: Tensor | None) -> Tensor | None:
            if v is None:
                return None
            shape = (uniq.numel(),) + tuple(v.shape[1:])
            idx = inverse.view(-1, *([1] * (v.dim() - 1))).expand_as(v)
            out = v.new_zeros(shape)
            r = {"sum": "sum", "mean": "mean", "max": "amax", "min": "amin"}[reduce]
            return out.scatter_reduce(0, idx, v, r, include_self=False)

        if reduce not in ("sum", "mean", "max", "min"):
            raise ValueError(f"reduce must be one of sum, mean, max, min; got {reduce!r}")
        return self._derive(
            edge_index=ei, edge_weight=merge(self.edge_weight), edge_attr=merge(self.edge_attr)
        )

    def is_undirected(self) -> bool:
        """True when every edge (u, v) has its reverse (v, u) (multiplicities ignored)."""
        n = self.num_nodes
        fwd = torch.unique(self.edge_index[0] * n + self.edge_index[1])
        bwd = torch.unique(self.edge_index[1] * n + self.edge_index[0])
        return fwd.numel() == bwd.numel() and bool(torch.equal(fwd, bwd))

    def to_undirected(self, reduce: str = "sum") -> Graph:
        """Add every reverse edge, then coalesce (duplicates merged with ``reduce``)."""
        ei = torch.cat([self.edge_index, self.edge_index.flip(0)], dim=1)
        g = self._derive(
            edge_index=ei,
            edge_weight=None if self.edge_weight is None else self.edge_weight.repeat(2),
            edge_attr=None if self.edge_attr is None else self.edge_attr.repeat(2, 1),
        )
        return g.coalesce(reduce)

    def subgraph(self, nodes: Tensor) -> Graph:
        """The node-induced subgraph on ``nodes`` (ids or a bool mask), relabelled 0..k-1.

        Nodes keep the order given; node fields are sliced; edges keep their relative order.
        """
        nodes = _as_tensor(nodes, "nodes").to(self.device)
        if nodes.dtype == torch.bool:
            if nodes.shape != (self.num_nodes,):
                raise GraphError(f"a node mask must have shape [{self.num_nodes}], "
                                 f"got {list(nodes.shape)}")
            nodes = nodes.nonzero().view(-1)
        nodes = nodes.long().view(-1)
        if nodes.numel() == 0:
            raise GraphError("subgraph needs at least one node")
        if int(nodes.min()) < 0 or int(nodes.max()) >= self.num_nodes:
            raise GraphError(f"subgraph node ids must lie in [0, {self.num_nodes})")
        if torch.unique(nodes).numel() != nodes.numel():
            raise GraphError("subgraph node ids must be distinct")
        relabel = torch.full((self.num_nodes,), -1, dtype=torch.long, device=self.device)
        relabel[nodes] = torch.arange(nodes.numel(), device=self.device)
        s, d = relabel[self.edge_index[0]], relabel[self.edge_index[1]]
        keep = ((s >= 0) & (d >= 0)).nonzero().view(-1)
        y = self.y
        if y is not None and y.dim() > 0 and y.shape[0] == self.num_nodes:
            y = y[nodes]
        return Graph(
            edge_index=torch.stack([s[keep], d[keep]]),
            num_nodes=nodes.numel(),
            x=None if self.x is None else self.x[nodes],
            edge_weight=None if self.edge_weight is None else self.edge_weight[keep],
            edge_attr=None if self.edge_attr is None else self.edge_attr[keep],
            y=y,
            validate=False,
        )

    # ------------------------------------------------------------------ conversions
    @classmethod
    def from_edge_list(cls, edges: Any, num_nodes: int, **node_fields: Any) -> Graph:
        """From an ``[E, 2]`` (or ``[2, E]``) array/tensor/list of (source, destination) pairs."""
        t = torch.as_tensor(np.asarray(edges)) if not isinstance(edges, Tensor) else edges
        if t.numel() == 0:
            t = t.reshape(2, 0).long()  # np.asarray([]) is float64
        elif t.dim() == 2 and t.shape[1] == 2 and t.shape[0] != 2:
            t = t.t()
        elif t.dim() == 2 and t.shape == (2, 2):
            t = t.t()  # ambiguous 2x2: a list of pairs, as the docstring says
        return cls(edge_index=t, num_nodes=num_nodes, **node_fields)

    def to_edge_list(self) -> np.ndarray:
        """``[E, 2]`` numpy array of (source, destination)."""
        return self.edge_index.t().cpu().numpy()

    @classmethod
    def from_scipy(cls, adj: Any, **node_fields: Any) -> Graph:
        """From a square ``scipy.sparse`` adjacency, ``A[i, j] != 0`` meaning edge i -> j.

        Stored values become ``edge_weight`` unless they are all 1.
        """
        import scipy.sparse as sp

        if not sp.issparse(adj):
            raise GraphError(f"from_scipy needs a scipy.sparse matrix, got {type(adj).__name__}")
        if adj.shape[0] != adj.shape[1]:
            raise GraphError(f"an adjacency matrix must be square, got shape {adj.shape}")
        coo = adj.tocoo()
        keep = coo.data != 0  # explicitly stored zeros are not edges
        ei = torch.from_numpy(np.vstack([coo.row[keep], coo.col[keep]]).astype(np.int64))
        w = torch.from_numpy(np.asarray(coo.data[keep], dtype=np.float32))
        ew = None if bool((w == 1).all()) else w
        return cls(edge_index=ei, num_nodes=adj.shape[0], edge_weight=ew, **node_fields)

    def to_scipy(self, fmt: str = "csr") -> Any:
        """Adjacency as a ``scipy.sparse`` matrix (duplicates summed), ``A[src, dst]``."""
        import scipy.sparse as sp

        w = (np.ones(self.num_edges, dtype=np.float32) if self.edge_weight is None
             else self.edge_weight.detach().cpu().numpy())
        ei = self.edge_index.cpu().numpy()
        a = sp.coo_matrix((w, (ei[0], ei[1])), shape=(self.num_nodes, self.num_nodes))
        return a.asformat(fmt)

    @classmethod
    def from_networkx(cls, nx_graph: Any, **node_fields: Any) -> Graph:
        """From a networkx graph; nodes are numbered in ``nx_graph.nodes`` order.

        An undirected networkx graph gives both directions of each edge. A numeric 'weight'
        edge attribute becomes ``edge_weight`` when every edge has one.
        """
        nodes = list(nx_graph.nodes)
        index = {v: i for i, v in enumerate(nodes)}
        src, dst, wts = [], [], []
        directed = nx_graph.is_directed()
        for u, v, data in nx_graph.edges(data=True):
            w = data.get("weight")
            pairs = [(u, v)] if directed or u == v else [(u, v), (v, u)]
            for a, b in pairs:
                src.append(index[a])
                dst.append(index[b])
                wts.append(w)
        ei = torch.tensor([src, dst], dtype=torch.long).reshape(2, -1)
        ew = None
        if wts and all(w is not None for w in wts):
            ew = torch.tensor(wts, dtype=torch.float32)
        return cls(edge_index=ei, num_nodes=len(nodes),
                   edge_weight=ew, **node_fields)

    def to_networkx(self, directed: bool = True) -> Any:
        """A ``networkx.DiGraph`` (or ``Graph`` with ``directed=False``) on nodes 0..N-1."""
        import networkx as nx

        g = nx.DiGraph() if directed else nx.Graph()
        g.add_nodes_from(range(self.num_nodes))
        ei = self.edge_index.cpu().tolist()
        if self.edge_weight is None:
            g.add_edges_from(zip(ei[0], ei[1], strict=True))
        else:
            w = self.edge_weight.detach().cpu().tolist()
            g.add_weighted_edges_from(zip(ei[0], ei[1], w, strict=True))
        return g

    @classmethod
    def from_pyg(cls, data: Any) -> Graph:
        """From a ``torch_geometric.data.Data`` (edge_index, x, edge_attr, edge_weight, y)."""
        n = data.num_nodes
        if n is None:
            raise GraphError("the PyG Data object has no num_nodes; set data.num_nodes")
        return cls(
            edge_index=data.edge_index,
            num_nodes=int(n),
            x=getattr(data, "x", None),
            edge_weight=getattr(data, "edge_weight", None),
            edge_attr=getattr(data, "edge_attr", None),
            y=getattr(data, "y", None),
        )

    def to_pyg(self) -> Any:
        """A ``torch_geometric.data.Data`` with the same tensors (shared, not copied)."""
        try:
            from torch_geometric.data import Data
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("to_pyg needs torch_geometric: pip install torch_geometric") from exc
        kw = {k: getattr(self, k) for k in ("x", "edge_weight", "edge_attr", "y", "batch", "ptr")
              if getattr(self, k) is not None}
        return Data(edge_index=self.edge_index, num_nodes=self.num_nodes, **kw)


@dataclass(frozen=True, eq=False)
class Block:
    """One sampled hop of message passing: a bipartite graph from source to destination nodes.

    A K-layer GNN trained on mini-batches runs layer l on block l (GraphSAGE, Hamilton et al.,
    NeurIPS 2017, Algorithm 2): block K-1 has the seed nodes as destinations, and the source
    nodes of block l are the destination nodes of block l-1. :func:`gnnkit.sampling.sample_blocks`
    builds them.

    The block is stored as an ordinary :class:`Graph` over its ``num_src`` source nodes, with
    local ids, in which the ``num_dst`` destination nodes come first (local ids
    ``0..num_dst-1``) and every edge points into one of them. A layer therefore runs on a block
    unchanged and the destination rows are a prefix of its output::

        h = layer(h, block.graph)[:block.num_dst]      # [num_src, F] -> [num_dst, F']

    Each destination node aggregates exactly its sampled in-edges, so with every in-edge kept
    (fanout -1) a mean/max/GCN-variant SAGE layer or a GAT layer gives the full-graph result
    on the destination nodes. ``GCNConv`` normalises with the block's own degrees: a source
    node that is not a destination has in-degree 0 in the block, so its weight differs from
    the full graph's (as in PyG and DGL on sampled subgraphs).

    Fields:
        graph: ``Graph`` on ``num_src`` nodes; ``edge_index`` [2, E_b] local (row 0 source,
            row 1 destination < ``num_dst``); ``edge_weight``/``edge_attr`` the sampled
            edges' own, when the parent graph has them; no node fields.
        num_dst: number of destination nodes (>= 1).
        n_id: ``[num_src]`` int64 id in the parent graph of each source node;
            ``n_id[:num_dst]`` are the destination nodes.
        e_id: ``[E_b]`` int64 id of each edge in the parent graph (a column of its
            ``edge_index``).
    """

    graph: Graph
    num_dst: int
    n_id: Tensor
    e_id: Tensor

    def __post_init__(self) -> None:
        if not 1 <= self.num_dst <= self.graph.num_nodes:
            raise GraphError(
                f"num_dst must lie in [1, num_src={self.graph.num_nodes}], got {self.num_dst}"
            )
        if self.n_id.shape != (self.graph.num_nodes,):
            raise GraphError(
                f"n_id must have shape [num_src={self.graph.num_nodes}], "
                f"got {list(self.n_id.shape)}"
            )
        if self.e_id.shape != (self.graph.num_edges,):
            raise GraphError(
                f"e_id must have shape [E_b={self.graph.num_edges}], got {list(self.e_id.shape)}"
            )

    @property
    def num_src(self) -> int:
        return self.graph.num_nodes

    @property
    def num_edges(self) -> int:
        return self.graph.num_edges

    @property
    def edge_index(self) -> Tensor:
        """``[2, E_b]`` local ids: row 0 source (< num_src), row 1 destination (< num_dst)."""
        return self.graph.edge_index

    @property
    def dst_id(self) -> Tensor:
        """``[num_dst]`` parent-graph ids of the destination nodes (a view of ``n_id``)."""
        return self.n_id[: self.num_dst]

    def to(self, device: torch.device | str) -> Block:
        """The same block with every tensor on ``device``."""
        return Block(self.graph.to(device), self.num_dst, self.n_id.to(device),
                     self.e_id.to(device))

    def __repr__(self) -> str:
        return (f"Block(num_src={self.num_src}, num_dst={self.num_dst}, "
                f"num_edges={self.num_edges})")


def _compressed(row: Tensor, col: Tensor, n: int) -> tuple[Tensor, Tensor, Tensor]:
    """Sort edges by (row, col) and return (rowptr [n+1], col sorted [E], perm [E])."""
    if row.numel() == 0:
        z = torch.zeros(n + 1, dtype=torch.long, device=row.device)
        e = torch.zeros(0, dtype=torch.long, device=row.device)
        return z, e, e
    # One stable sort on a combined key when it fits in int64, else two stable sorts.
    if n < math.isqrt(2**62):
        perm = torch.argsort(row * n + col)
    else:  # pragma: no cover - graphs with > 2^31 nodes
        p1 = torch.argsort(col, stable=True)
        perm = p1[torch.argsort(row[p1], stable=True)]
    counts = torch.bincount(row, minlength=n)
    rowptr = torch.zeros(n + 1, dtype=torch.long, device=row.device)
    torch.cumsum(counts, 0, out=rowptr[1:])
    return rowptr, col[perm], perm


def batch(graphs: list[Graph] | tuple[Graph, ...]) -> Graph:
    """Concatenate graphs into one: node ids offset, ``batch`` and ``ptr`` set.

    Every graph must carry the same optional fields. Node-level ``y`` (one row per node) is
    concatenated; graph-level ``y`` (one row per graph, e.g. a class id of shape [1] or a
    scalar) is stacked to ``[B, ...]``.
    """
    graphs = list(graphs)
    if not graphs:
        raise GraphError("batch() needs at least one graph")
    for name in ("x", "edge_weight", "edge_attr", "y"):
        has = {getattr(g, name) is not None for g in graphs}
        if len(has) > 1:
            raise GraphError(f"batch(): some graphs have {name} and some do not; give all or none")
    if any(g.ptr is not None for g in graphs):
        raise GraphError("batch(): a graph in the list is already a batch; unbatch it first")
    for name in ("x", "edge_attr"):
        widths = {tuple(getattr(g, name).shape[1:]) for g in graphs if getattr(g, name) is not None}
        if len(widths) > 1:
            raise GraphError(f"batch(): the graphs' {name} have different widths "
                             f"{sorted(widths)}; every graph needs the same features")
    sizes = torch.tensor([g.num_nodes for g in graphs])
    ptr = torch.zeros(len(graphs) + 1, dtype=torch.long)
    torch.cumsum(sizes, 0, out=ptr[1:])
    dev = graphs[0].device
    ptr = ptr.to(dev)
    ei = torch.cat([g.edge_index + ptr[i] for i, g in enumerate(graphs)], dim=1)
    b = torch.repeat_interleave(torch.arange(len(graphs), device=dev), sizes.to(dev))

    def cat(name: str) -> Tensor | None:
        vals = [getattr(g, name) for g in graphs]
        return None if vals[0] is None else torch.cat(vals, 0)

    y = None
    if graphs[0].y is not None:
        ys = [g.y for g in graphs]
        node_level = all(t.dim() > 0 and t.shape[0] == g.num_nodes
                         for t, g in zip(ys, graphs, strict=True))
        if node_level and not all(g.num_nodes == 1 for g in graphs):
            y = torch.cat(ys, 0)
        else:  # graph-level targets
            y = torch.stack([t.reshape(t.shape[1:]) if t.dim() > 0 and t.shape[0] == 1 else t
                             for t in ys])
    return Graph(edge_index=ei, num_nodes=int(ptr[-1]), x=cat("x"), edge_weight=cat("edge_weight"),
                 edge_attr=cat("edge_attr"), y=y, batch=b, ptr=ptr, validate=False)


def unbatch(g: Graph) -> list[Graph]:
    """Split a batch made by :func:`batch` back into its graphs (inverse of batch)."""
    if g.ptr is None:
        return [g]
    ptr = g.ptr.tolist()
    nb = len(ptr) - 1
    # edges are grouped by graph in a batch; find each graph's edge range from its sources
    edge_graph = g.batch[g.edge_index[0]]
    counts = torch.bincount(edge_graph, minlength=nb).tolist()
    order = torch.argsort(edge_graph, stable=True)
    out, start = [], 0
    graph_level_y = g.y is not None and g.y.shape[0] == nb and g.y.shape[0] != g.num_nodes
    for i in range(nb):
        eids = order[start:start + counts[i]]
        start += counts[i]
        lo, hi = ptr[i], ptr[i + 1]
        y = None
        if g.y is not None:
            y = g.y[i:i + 1] if graph_level_y else g.y[lo:hi]
        out.append(Graph(
            edge_index=g.edge_index[:, eids] - lo,
            num_nodes=hi - lo,
            x=None if g.x is None else g.x[lo:hi],
            edge_weight=None if g.edge_weight is None else g.edge_weight[eids],
            edge_attr=None if g.edge_attr is None else g.edge_attr[eids],
            y=y,
            validate=False,
        ))
    return out
