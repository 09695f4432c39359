"""Node-level models: plain stacks of layers, each as its paper describes it.

Every model maps ``(x [N, F_in], g) -> logits [N, out_dim]`` and exposes ``embed(x, g)``,
the last hidden representation (the input of the output layer, before its dropout).
``layers[0]`` is the first layer (trainers that regularise only the first layer, as
Kipf & Welling do, use it).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..graph import Graph
from ..nn import GATConv, GCNConv, SAGEConv
from ..nn.functional import dropout

__all__ = ["GCN", "GAT", "GraphSAGE", "NODE_MODELS", "register_node_model"]

NODE_MODELS: dict[str, type[nn.Module]] = {}


def register_node_model(name: str):  # noqa: ANN201
    """Class decorator adding a model to :data:`NODE_MODELS`; duplicate names are errors."""
    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        if name in NODE_MODELS:
            raise ValueError(f"node model {name!r} is already registered")
        NODE_MODELS[name] = cls
        return cls
    return deco


def _check_layers(num_layers: int) -> None:
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")


class _Stack(nn.Module):
    """Shared loop: dropout -> layer -> activation for hidden layers, dropout -> layer last."""

    layers: nn.ModuleList
    dropout: float

    def _hidden(self, h: Tensor) -> Tensor:
        return F.relu(h)

    def embed(self, x: Tensor, g: Graph) -> Tensor:
        h = x
        for layer in self.layers[:-1]:
            h = dropout(h, self.dropout, self.training)
            h = self._hidden(layer(h, g))
        return h

    def forward(self, x: Tensor, g: Graph) -> Tensor:
        h = self.embed(x, g)
        h = dropout(h, self.dropout, self.training)
        return self.layers[-1](h, g)

    def reset_parameters(self) -> None:
        for layer in self.layers:
            layer.reset_parameters()


@register_node_model("gcn")
class GCN(_Stack):
    """Kipf & Welling (ICLR 2017), Eq. 9: Z = softmax(Â ReLU(Â X W0) W1), with dropout on
    each layer's input. Returns logits (the softmax lives in the loss)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2,
                 dropout: float = 0.5) -> None:
        super().__init__()
        _check_layers(num_layers)
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(GCNConv(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.dropout = dropout


@register_node_model("gat")
class GAT(_Stack):
    """Veličković et al. (ICLR 2018), Sec. 3.3: hidden GAT layers of ``num_heads`` heads x
    ``hidden_dim`` features, concatenated, ELU; an output layer of ``out_heads`` heads,
    averaged. Dropout ``dropout`` on every layer's input and ``attn_dropout`` on the
    attention coefficients."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2,
                 num_heads: int = 8, out_heads: int = 1, dropout: float = 0.6,
                 attn_dropout: float = 0.6) -> None:
        super().__init__()
        _check_layers(num_layers)
        layers, d = [], in_dim
        for _ in range(num_layers - 1):
            layers.append(GATConv(d, hidden_dim, num_heads, concat=True, attn_dropout=attn_dropout))
            d = hidden_dim * num_heads
        layers.append(GATConv(d, out_dim, out_heads, concat=False, attn_dropout=attn_dropout))
        self.layers = nn.ModuleList(layers)
        self.dropout = dropout

    def _hidden(self, h: Tensor) -> Tensor:
        return F.elu(h)

    def attention(self, x: Tensor, g: Graph) -> list[tuple[Tensor, Tensor]]:
        """Attention weights of every layer, ``[(edge_index [2, E'], alpha [E', H]), ...]``."""
        out, h = [], x
        for i, layer in enumerate(self.layers):
            h = dropout(h, self.dropout, self.training)
            h, att = layer(h, g, return_attention=True)
            out.append(att)
            if i < len(self.layers) - 1:
                h = self._hidden(h)
        return out


@register_node_model("sage")
class GraphSAGE(_Stack):
    """Hamilton et al. (NeurIPS 2017), Algorithm 1 (full-batch): K SAGE layers with
    ``aggregator`` in mean | pool | lstm | gcn, concat-self, ReLU, and with ``normalize`` the
    L2 normalisation of each hidden representation after its nonlinearity (line 7)."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2,
                 aggregator: str = "mean", dropout: float = 0.5, normalize: bool = False) -> None:
        super().__init__()
        _check_layers(num_layers)
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(SAGEConv(a, b, aggregator=aggregator)
                                    for a, b in zip(dims[:-1], dims[1:], strict=True))
        self.dropout, self.normalize = dropout, normalize

    def _hidden(self, h: Tensor) -> Tensor:
        h = F.relu(h)
        return F.normalize(h, p=2.0, dim=-1) if self.normalize else h
