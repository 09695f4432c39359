"""Models composed from gnnkit layers."""

from .autoencoder import GAE, VGAE
from .embedding import DeepWalk, SpectralEmbedding
from .memory import GMN, GRAPH_MODELS, MemGNN, register_graph_model
from .node import GAT, GCN, NODE_MODELS, GraphSAGE, register_node_model

__all__ = ["GCN", "GAT", "GraphSAGE", "NODE_MODELS", "register_node_model", "GAE", "VGAE",
           "DeepWalk", "SpectralEmbedding", "GMN", "MemGNN", "GRAPH_MODELS",
           "register_graph_model"]
