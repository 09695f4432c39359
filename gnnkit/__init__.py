"""gnnkit: graph neural networks from the papers, on PyTorch.

The public API, re-exported explicitly::

    from gnnkit import Graph, Block, batch, unbatch, ops
    from gnnkit.nn import GCNConv, SAGEConv, GATConv
    from gnnkit.models import GCN, GAT, GraphSAGE
"""

from . import ops
from .graph import Block, Graph, GraphError, batch, unbatch

__version__ = "0.1.0"

__all__ = ["Block", "Graph", "GraphError", "batch", "unbatch", "ops", "__version__"]
