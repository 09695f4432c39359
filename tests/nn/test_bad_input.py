"""Layers and models given the wrong input: a ValueError that names the layer, what it got and
the fix, raised before any product (not a shape or dtype error from inside torch)."""

from __future__ import annotations

import pytest
import torch

from gnnkit import Graph, batch
from gnnkit.models.memory import GMN, MemGNN
from gnnkit.nn import GATConv, GCNConv, InnerProductDecoder, MemoryLayer, SAGEConv

G = Graph(torch.tensor([[0, 1, 2], [1, 2, 0]]), 3, x=torch.randn(3, 4))
EA = Graph(G.edge_index, 3, edge_attr=torch.randn(3, 2))

CASES = {
    "gcn: width": (lambda: GCNConv(5, 2)(G.x, G),
                   r"GCNConv: x has 4 features per row, but the layer was built for 5"),
    "sage: width": (lambda: SAGEConv(5, 2)(G.x, G), r"SAGEConv: x has 4 features per row"),
    "gat: width": (lambda: GATConv(5, 2)(G.x, G), r"GATConv: x has 4 features per row"),
    "gcn: rows": (lambda: GCNConv(4, 2)(torch.randn(5, 4), G),
                  r"GCNConv: x has 5 rows but the graph has 3 nodes"),
    "gat: rows": (lambda: GATConv(4, 2)(torch.randn(2, 4), G),
                  r"GATConv: x has 2 rows but the graph has 3 nodes"),
    "gcn: integer x": (lambda: GCNConv(4, 2)(G.x.long(), G),
                       r"x must be floating point, got torch.int64 \(convert it with .float"),
    "gcn: 1-D x": (lambda: GCNConv(4, 2)(torch.randn(3), G), r"x must be 2-D \[num_nodes, 4\]"),
    "gat: edge_attr width": (lambda: GATConv(4, 2, edge_dim=3)(G.x, EA),
                             r"GATConv: g.edge_attr has 2 features per row, but the layer was "
                             r"built for 3"),
    "memory: width": (lambda: MemoryLayer(5, 2, 3)(torch.randn(2, 3, 4)),
                      r"MemoryLayer: q has 4 features per row, but the layer was built for 5"),
    "memory: packed rows to forward": (lambda: MemoryLayer(4, 2, 3)(torch.randn(3, 4)),
                                       r"q must be a padded batch \[B, N, 4\], got \[3, 4\] "
                                       r"\(packed rows .* go to forward_batch\)"),
    "memory: mask shape": (lambda: MemoryLayer(4, 2, 3)(torch.randn(2, 3, 4),
                                                        torch.ones(2, 4, dtype=torch.bool)),
                           r"mask must have shape \[B, N\] = \[2, 3\], got \[2, 4\]"),
    "memory: forward_batch rows": (lambda: MemoryLayer(4, 2, 3).forward_batch(
        torch.randn(2, 4), batch([G])), r"q has 2 rows but the graph has 3 nodes"),
    "decoder: ids out of range": (lambda: InnerProductDecoder()(torch.randn(3, 2),
                                                                torch.tensor([[0], [5]])),
                                  r"pairs hold node ids in \[0, 5\], but z has 3 rows"),
    "decoder: negative ids": (lambda: InnerProductDecoder()(torch.randn(3, 2),
                                                            torch.tensor([[-1], [1]])),
                              r"pairs hold node ids in \[-1, 1\]"),
    "decoder: float ids": (lambda: InnerProductDecoder()(torch.randn(3, 2),
                                                         torch.tensor([[0.0], [1.0]])),
                           r"pairs must hold integer node ids, got torch.float32"),
    "gmn: no x": (lambda: GMN(3, 2, 4)(batch([Graph(G.edge_index, 3)])),
                  r"GMN needs node features: g.x is None.*RWR embedding"),
    "gmn: width": (lambda: GMN(3, 2, 4)(batch([G])),
                   r"GMN: g.x \(topo_dim RWR columns, then the in_dim node features\) has 4 "
                   r"features per row, but the layer was built for 7"),
    "memgnn: no x": (lambda: MemGNN(4, 2)(batch([Graph(G.edge_index, 3)])),
                     r"MemGNN needs node features: g.x is None"),
    "memgnn: width": (lambda: MemGNN(5, 2)(batch([G])), r"GATConv: x has 4 features per row"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_wrong_input_is_a_clear_error(case):
    call, message = CASES[case]
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("build, message", [
    (lambda: GCNConv(0, 2), r"GCNConv: in_dim must be a positive int, got 0"),
    (lambda: GCNConv(2.0, 2), r"GCNConv: in_dim must be a positive int, got 2.0"),
    (lambda: SAGEConv(2, 2, "pool", pool_dim=0), r"SAGEConv: pool_dim must be a positive int"),
    (lambda: GATConv(2, 2, num_heads=0), r"GATConv: num_heads must be a positive int, got 0"),
    (lambda: GATConv(2, 2, edge_dim=0), r"GATConv: edge_dim must be a positive int"),
    (lambda: GATConv(2, 2, attn_dropout=1.5), r"attn_dropout must lie in \[0, 1\], got 1.5"),
    (lambda: MemoryLayer(2, 0, 3), r"MemoryLayer: out_dim must be a positive int, got 0"),
])
def test_wrong_sizes_fail_at_construction(build, message):
    # these built zero-size weights (or none) and failed, or silently did nothing, later
    with pytest.raises(ValueError, match=message):
        build()


def test_sizes_may_be_numpy_integers():
    import numpy as np

    assert GCNConv(np.int64(3), 2).in_dim == 3


def test_autoencoder_losses_check_their_inputs():
    from gnnkit.models.losses import full_recon_loss, kl_term, sampled_recon_loss

    z = torch.randn(4, 2)
    for loss in (full_recon_loss, sampled_recon_loss):
        with pytest.raises(ValueError, match=r"edge_index holds node ids in \[0, 7\], but z "
                                             r"has 4 rows"):
            loss(z, torch.tensor([[0], [7]]))
    with pytest.raises(ValueError, match=r"mu and logstd must both be \[N, D\], got \[4, 2\] "
                                         r"and \[3, 2\]"):
        kl_term(z, torch.randn(3, 2))
