"""Random walks, skip-gram pairs and negative pairs: validity, corner cases, seeding."""

import pytest
import torch

from gnnkit import Graph
from gnnkit.sampling import negative_pairs, random_walk, skipgram_pairs


def cycle_plus_isolated():
    """A directed 5-cycle 0->1->...->4->0, a dead end 5->6, and node 7 with no edges."""
    src = [0, 1, 2, 3, 4, 5]
    dst = [1, 2, 3, 4, 0, 6]
    return Graph(edge_index=torch.tensor([src, dst]), num_nodes=8)


def test_walks_follow_out_edges_and_stop_at_dead_ends():
    g = cycle_plus_isolated()
    w = random_walk(g, torch.tensor([0, 3, 5, 7]), 6, torch.Generator().manual_seed(0))
    assert w.shape == (4, 7)
    assert w[0].tolist() == [0, 1, 2, 3, 4, 0, 1]          # one out-edge: deterministic
    assert w[1].tolist() == [3, 4, 0, 1, 2, 3, 4]
    assert w[2].tolist() == [5, 6, -1, -1, -1, -1, -1]     # 6 has no out-edge
    assert w[3].tolist() == [7, -1, -1, -1, -1, -1, -1]


def test_walk_steps_are_edges_uniform_and_seeded():
    g = Graph(edge_index=torch.tensor([[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]]), num_nodes=4)
    start = torch.zeros(30000, dtype=torch.long)
    w = random_walk(g, start, 2, torch.Generator().manual_seed(1))
    edges = set(map(tuple, g.edge_index.t().tolist()))
    for t in range(2):
        assert set(zip(w[:, t].tolist(), w[:, t + 1].tolist(), strict=True)) <= edges
    freq = torch.bincount(w[:, 1], minlength=4)[1:].double() / 30000
    third = torch.full((3,), 1 / 3, dtype=torch.float64)
    assert torch.allclose(freq, third, atol=0.015)             # a uniform neighbour
    again = random_walk(g, start, 2, torch.Generator().manual_seed(1))
    assert torch.equal(w, again)
    with pytest.raises(ValueError, match="start nodes"):
        random_walk(g, torch.tensor([4]), 2)


def test_walks_on_an_edgeless_graph():
    g = Graph(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=3)
    w = random_walk(g, torch.arange(3), 3)
    assert w[:, 0].tolist() == [0, 1, 2] and bool((w[:, 1:] == -1).all())
    assert random_walk(g, torch.arange(3), 0).shape == (3, 1)


def test_skipgram_pairs_full_window_by_hand():
    walks = torch.tensor([[10, 11, 12, -1]])
    p = skipgram_pairs(walks, 2, shrink=False)
    got = sorted(map(tuple, p.t().tolist()))
    want = sorted([(10, 11), (11, 10), (11, 12), (12, 11), (10, 12), (12, 10)])
    assert got == want


def test_skipgram_shrinking_window_is_a_subset_with_near_offsets_favoured():
    g = torch.Generator().manual_seed(0)
    walks = torch.arange(2000 * 12).view(2000, 12)            # distinct ids: offset = |a - b|
    p = skipgram_pairs(walks, 5, g)
    off = (p[0] - p[1]).abs()
    assert int(off.min()) >= 1 and int(off.max()) <= 5
    counts = torch.bincount(off, minlength=6)[1:].double()
    # P(offset d kept) = P(b >= d) = (6 - d) / 5, on (12 - d) positions per side
    expect = torch.tensor([(6 - d) / 5 * (12 - d) * 2 * 2000 for d in range(1, 6)],
                          dtype=torch.float64)
    assert torch.allclose(counts, expect, rtol=0.05)


def test_negative_pairs_are_non_edges():
    n = 20
    ei = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    ei = torch.cat([ei, ei.flip(0)], 1)
    neg = negative_pairs(n, 5000, ei, torch.Generator().manual_seed(0))
    assert neg.shape == (2, 5000)
    assert bool((neg[0] != neg[1]).all())
    keys = set((ei[0] * n + ei[1]).tolist())
    assert not set((neg[0] * n + neg[1]).tolist()) & keys
    same = negative_pairs(n, 5000, ei, torch.Generator().manual_seed(0))
    assert torch.equal(neg, same)
    full = torch.stack(torch.meshgrid(torch.arange(3), torch.arange(3), indexing="ij")).view(2, -1)
    with pytest.raises(ValueError, match="nearly complete"):
        negative_pairs(3, 4, full, max_rounds=5)
