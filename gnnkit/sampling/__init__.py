"""Samplers: random walks and negative pairs, vectorised in torch, from explicit generators."""

from .negative import negative_pairs
from .random_walk import random_walk, skipgram_pairs

__all__ = ["negative_pairs", "random_walk", "skipgram_pairs"]
