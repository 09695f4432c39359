"""Models composed from gnnkit layers."""

from .node import GAT, GCN, NODE_MODELS, GraphSAGE, register_node_model

__all__ = ["GCN", "GAT", "GraphSAGE", "NODE_MODELS", "register_node_model"]
