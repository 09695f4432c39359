"""Layers: each reads like its paper (equation and shapes in the docstring)."""

from .gat import GATConv
from .gcn import GCNConv
from .sage import AGGREGATORS, SAGEConv

__all__ = ["GCNConv", "SAGEConv", "GATConv", "AGGREGATORS"]
