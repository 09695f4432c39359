"""Node-level models: plain stacks of layers, each as its paper describes it.

Every model maps ``(x [N, F_in], g) -> logits [N, out_dim]`` and exposes ``embed(x, g)``,
the last hidden representation (the input of the output layer, before its dropout).
For mini-batch training ``g`` may instead be a list of :class:`gnnkit.Block`, one per layer
(from :mod:`gnnkit.sampling`): layer l runs on ``blocks[l].graph`` and keeps its first
``blocks[l].num_dst`` rows, so ``x [blocks[0].num_src, F_in] -> [blocks[-1].num_dst, out_dim]``.
``layers[0]`` is the first layer (trainers that regularise only the first layer, as
Kipf & Welling do, use it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from ..graph import Block, Graph
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


def _per_layer(g: Graph | Sequence[Block], num_layers: int) -> list[tuple[Graph, int | None]]:
    """(graph, rows kept) for each layer: the full graph and all rows, or one block each."""
    if isinstance(g, Graph):
        return [(g, None)] * num_layers
    blocks = list(g)
    if len(blocks) != num_layers or not all(isinstance(b, Block) for b in blocks):
        raise ValueError(
            f"g must be a Graph or a list of {num_layers} Blocks (one per layer, input layer "
            f"first), got {len(blocks)} item(s)"
        )
    return [(b.graph, b.num_dst) for b in blocks]


def _rows(h: Tensor, rows: int | None) -> Tensor:
    """The first ``rows`` rows (a block's destinations), or all of h. No slice when None:
    a full slice would still cost a zero-filled [N, F] gradient copy in backward."""
    return h if rows is None else h[:rows]


class _Stack(nn.Module):
    """Shared loop: dropout -> layer -> activation for hidden layers, dropout -> layer last."""

    layers: nn.ModuleList
    dropout: float

    def _hidden(self, h: Tensor) -> Tensor:
        return F.relu(h)

    def _embed(self, x: Tensor, hops: list[tuple[Graph, int | None]]) -> Tensor:
        h = x
        for layer, (g, rows) in zip(self.layers[:-1], hops, strict=False):
            h = dropout(h, self.dropout, self.training)
            h = self._hidden(_rows(layer(h, g), rows))        # [N, H] or [num_dst, H]
        return h

    def embed(self, x: Tensor, g: Graph | Sequence[Block]) -> Tensor:
        return self._embed(x, _per_layer(g, len(self.layers)))

    def forward(self, x: Tensor, g: Graph | Sequence[Block]) -> Tensor:
        hops = _per_layer(g, len(self.layers))
        h = self._embed(x, hops)
        h = dropout(h, self.dropout, self.training)
        g_last, rows = hops[-1]
        return _rows(self.layers[-1](h, g_last), rows)

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
