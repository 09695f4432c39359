"""Node reordering for memory locality: relabel nodes, and undo it on outputs.

A sparse product ``out = A x`` reads one row of ``x`` per edge. When the sources of nearby
destinations have nearby ids, those reads hit cache lines and pages already loaded; a
relabelling that shrinks the bandwidth of A (reverse Cuthill-McKee) or clusters the
most-read rows (degree ordering) can therefore speed up aggregation without changing its
result. Whether it pays is a property of the graph: ``benchmarks/kernels/README.md``
("Node reordering") has the measurements.

Convention: new node ``i`` is old node ``order[i]``; ``inverse[old] = new``. Rows of a
node tensor go to the new order with ``t[order]`` and back with ``t[inverse]``::

    h, perm = reorder(g, "rcm")          # h: the relabelled graph, perm: a NodeOrder
    out = perm.undo(model(h.x, h))       # [N, C] rows in the original node order
    idx_new = perm.ids(idx)              # original node ids -> ids in h
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .graph import Graph, GraphError

__all__ = ["METHODS", "NodeOrder", "node_order", "permute_nodes", "reorder"]

METHODS = ("rcm", "degree")


@dataclass(frozen=True, eq=False)
class NodeOrder:
    """A relabelling of N nodes.

    Fields:
        order: ``[N]`` int64, new -> old (new node i is old node ``order[i]``).
        inverse: ``[N]`` int64, old -> new.
    """

    order: Tensor
    inverse: Tensor

    @classmethod
    def from_order(cls, order: Tensor) -> NodeOrder:
        order = torch.as_tensor(order).long().reshape(-1)
        n = order.numel()
        ar = torch.arange(n, device=order.device)
        if n and (int(order.min()) < 0 or int(order.max()) >= n
                  or not torch.equal(torch.bincount(order, minlength=n), torch.ones_like(ar))):
            raise GraphError(f"order must be a permutation of 0..{n - 1}")
        inverse = torch.empty_like(order)
        inverse[order] = ar
        return cls(order, inverse)

    @property
    def num_nodes(self) -> int:
        return self.order.numel()

    def apply(self, t: Tensor) -> Tensor:
        """Rows in the original order -> rows in the new order.  [N, *] -> [N, *]"""
        return t[self.order.to(t.device)]

    def undo(self, t: Tensor) -> Tensor:
        """Rows in the new order -> rows in the original order.  [N, *] -> [N, *]"""
        return t[self.inverse.to(t.device)]

    def ids(self, nodes: Tensor) -> Tensor:
        """Original node ids -> the same nodes' ids in the reordered graph (any shape)."""
        return self.inverse.to(nodes.device)[nodes]

    def original_ids(self, nodes: Tensor) -> Tensor:
        """Ids in the reordered graph -> original node ids (any shape)."""
        return self.order.to(nodes.device)[nodes]


def _symmetric_pattern(g: Graph):  # noqa: ANN202 - scipy.sparse.csr_matrix
    import scipy.sparse as sp

    n = g.num_nodes
    ei = g.edge_index.cpu().numpy()
    ones = np.ones(ei.shape[1], dtype=np.int8)
    a = sp.csr_matrix((ones, (ei[0], ei[1])), shape=(n, n))
    return (a + a.T).tocsr()  # undirected structure; values are irrelevant


def node_order(g: Graph, method: str = "rcm") -> Tensor:
    """A locality-improving node order ``[N]`` int64 (new -> old).

    Methods:
        ``"rcm"``: reverse Cuthill-McKee on the symmetrised structure A + A^T
            (``scipy.sparse.csgraph.reverse_cuthill_mckee``): a breadth-first order from a
            low-degree node, reversed; it shrinks the bandwidth of A, so the sources read by
            consecutive destinations lie close together.
        ``"degree"``: by total degree (in + out), highest first, ties by id: the rows read
            most often share cache lines and pages.
    """
    if method not in METHODS:
        raise ValueError(f"unknown reordering method {method!r}; known: {', '.join(METHODS)}")
    if g.ptr is not None and g.num_graphs > 1:
        raise GraphError("reorder a single graph; a batch's node ranges must stay contiguous")
    if method == "degree":
        deg = torch.bincount(g.edge_index.reshape(-1), minlength=g.num_nodes)
        return torch.argsort(-deg, stable=True).to(g.device)
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    perm = reverse_cuthill_mckee(_symmetric_pattern(g), symmetric_mode=True)
    return torch.from_numpy(perm.astype(np.int64)).to(g.device)


def permute_nodes(g: Graph, perm: NodeOrder) -> Graph:
    """The same graph with node ``perm.order[i]`` relabelled ``i``.

    Node fields (``x``, node-level ``y``) move with their nodes; edges keep their order, so
    edge fields are unchanged. ``permute_nodes(permute_nodes(g, p), NodeOrder(p.inverse,
    p.order))`` is ``g``.
    """
    if perm.num_nodes != g.num_nodes:
        raise GraphError(f"the order has {perm.num_nodes} nodes but the graph has {g.num_nodes}")
    if g.ptr is not None and g.num_graphs > 1:
        raise GraphError("permute a single graph; a batch's node ranges must stay contiguous")
    inv = perm.inverse.to(g.device)
    y = g.y
    if y is not None and y.dim() > 0 and y.shape[0] == g.num_nodes:
        y = perm.apply(y)
    return Graph(edge_index=inv[g.edge_index], num_nodes=g.num_nodes,
                 x=None if g.x is None else perm.apply(g.x), edge_weight=g.edge_weight,
                 edge_attr=g.edge_attr, y=y, batch=g.batch, ptr=g.ptr, validate=False)


def reorder(g: Graph, method: str = "rcm") -> tuple[Graph, NodeOrder]:
    """Relabel ``g``'s nodes by :func:`node_order`; returns the new graph and the order.

    Products on the returned graph equal those on ``g`` with rows permuted:
    ``perm.undo(ops.spmm(h, perm.apply(x))) == ops.spmm(g, x)`` (up to summation order).
    """
    perm = NodeOrder.from_order(node_order(g, method))
    return permute_nodes(g, perm), perm
