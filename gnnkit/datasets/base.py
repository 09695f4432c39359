"""Data set containers shared by every loader."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor

from ..graph import Graph

__all__ = ["NodeDataset"]


@dataclass(frozen=True, eq=False)
class NodeDataset:
    """A single graph with node labels and a train/validation/test split.

    Fields:
        name: registry name, e.g. ``"cora"``.
        graph: the graph; ``graph.x`` [N, F] float32 features, ``graph.y`` [N] int64 labels
            (for multi-label data, [N, C] float).
        train_idx, val_idx, test_idx: int64 node ids of each split (disjoint).
        num_classes: C.
        info: free-form provenance (source, citation, preprocessing), shown by
            ``gnnkit datasets info``.
    """

    name: str
    graph: Graph
    train_idx: Tensor
    val_idx: Tensor
    test_idx: Tensor
    num_classes: int
    info: dict = field(default_factory=dict)

    @property
    def num_features(self) -> int:
        return self.graph.num_features
