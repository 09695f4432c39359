"""Layers: each reads like its paper (equation and shapes in the docstring)."""

from . import functional
from .decoders import InnerProductDecoder
from .gat import GATConv
from .gcn import GCNConv
from .memory import MemoryLayer, memory_kl_loss
from .sage import AGGREGATORS, SAGEConv

__all__ = ["functional", "GCNConv", "SAGEConv", "GATConv", "AGGREGATORS", "InnerProductDecoder",
           "MemoryLayer", "memory_kl_loss"]
