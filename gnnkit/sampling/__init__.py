"""Samplers: neighbourhoods, random walks and negative pairs, vectorised in torch, from explicit
generators."""

from .negative import negative_pairs
from .neighbor import MiniBatch, NeighborLoader, sample_blocks, sample_neighbors
from .random_walk import random_walk, skipgram_pairs

__all__ = [
    "MiniBatch",
    "NeighborLoader",
    "negative_pairs",
    "random_walk",
    "sample_blocks",
    "sample_neighbors",
    "skipgram_pairs",
]
