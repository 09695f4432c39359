"""Synthetic graphs: sizes, determinism, homophily, feature signal, splits, speed."""

from __future__ import annotations

import time

import pytest
import torch

from gnnkit.datasets import DatasetError, csbm, edge_homophily, random_graph


def _pairs(g) -> torch.Tensor:
    n = g.num_nodes
    s, d = g.edge_index
    return torch.minimum(s, d) * n + torch.maximum(s, d)


def test_default_sizes_and_structure():
    ds = csbm()
    g = ds.graph
    assert ds.name == "synthetic" and ds.num_classes == 5
    assert g.num_nodes == 2000 and g.x.shape == (2000, 64) and g.x.dtype == torch.float32
    assert g.y.dtype == torch.int64 and g.y.bincount().tolist() == [400] * 5
    assert g.num_edges == 16000  # round(2000 * 8 / 2) pairs, both directions
    assert g.is_undirected() and not g.has_self_loops()
    key = g.edge_index[0] * 2000 + g.edge_index[1]
    assert torch.unique(key).numel() == g.num_edges  # no duplicates
    assert torch.equal(key, key.sort().values)  # sorted by (source, destination)
    assert (len(ds.train_idx), len(ds.val_idx), len(ds.test_idx)) == (100, 500, 1000)
    assert g.y[ds.train_idx].bincount().tolist() == [20] * 5
    parts = torch.cat([ds.train_idx, ds.val_idx, ds.test_idx])
    assert torch.unique(parts).numel() == 1600


def test_deterministic_by_seed_and_generator():
    a, b, c = csbm(num_nodes=500, seed=7), csbm(num_nodes=500, seed=7), csbm(num_nodes=500, seed=8)
    for f in ("edge_index", "x", "y"):
        assert torch.equal(getattr(a.graph, f), getattr(b.graph, f))
    assert torch.equal(a.train_idx, b.train_idx) and torch.equal(a.test_idx, b.test_idx)
    assert not torch.equal(a.graph.x, c.graph.x)
    assert not torch.equal(a.graph.edge_index, c.graph.edge_index)
    g = csbm(num_nodes=500, seed=torch.Generator().manual_seed(7))
    assert torch.equal(g.graph.edge_index, a.graph.edge_index)


@pytest.mark.parametrize("h", [0.0, 0.1, 0.5, 0.8, 1.0])
def test_homophily_as_requested(h):
    ds = csbm(num_nodes=3000, num_classes=4, avg_degree=10, homophily=h, seed=1)
    got = edge_homophily(ds.graph.edge_index, ds.graph.y)
    assert got == pytest.approx(ds.info["edge_homophily"])
    # 15000 pairs: binomial sd <= 0.0041; 0.02 is ~5 sd
    assert abs(got - h) < 0.02


def test_avg_degree():
    for deg in (2.0, 5.0, 12.0):
        g = csbm(num_nodes=1000, avg_degree=deg, seed=2).graph
        assert g.num_edges / g.num_nodes == pytest.approx(deg, abs=0.002)


def _nearest_mean_accuracy(ds, x):
    y, tr, te = ds.graph.y, ds.train_idx, ds.test_idx
    means = torch.stack([x[tr][y[tr] == c].mean(0) for c in range(ds.num_classes)])
    return (torch.cdist(x[te], means).argmin(1) == y[te]).float().mean().item()


def test_feature_signal_controls_class_information():
    """Nearest class mean on x alone: ~chance without signal, near perfect with a strong one."""
    def accuracy(signal):
        ds = csbm(num_nodes=2000, num_features=64, feature_signal=signal, seed=3)
        return _nearest_mean_accuracy(ds, ds.graph.x)

    assert accuracy(0.0) < 0.3
    assert accuracy(8.0) > 0.95


def test_default_graph_rewards_message_passing():
    """The default data set is learnable and better with the graph than without: nearest
    class mean on 2-hop mean-aggregated features beats it on raw features, by far."""
    ds = csbm()
    g = ds.graph
    deg = g.in_degree.float().unsqueeze(1) + 1  # [N, 1] with a self-loop
    h = g.x
    for _ in range(2):
        agg = torch.zeros_like(h).index_add_(0, g.edge_index[1], h[g.edge_index[0]])
        h = (agg + h) / deg  # [N, F]
    raw, smoothed = _nearest_mean_accuracy(ds, g.x), _nearest_mean_accuracy(ds, h)
    assert 0.27 < raw < 0.6  # above chance (0.2) from the features alone, far from solved
    assert smoothed > 0.85 and smoothed > raw + 0.4


def test_small_graph_split_is_clipped():
    ds = csbm(num_nodes=60, num_classes=3, avg_degree=4, seed=0)
    # train: a fifth of a 20-node class = 4 per class; rest 48 split 1:2
    assert (len(ds.train_idx), len(ds.val_idx), len(ds.test_idx)) == (12, 16, 32)
    parts = torch.cat([ds.train_idx, ds.val_idx, ds.test_idx])
    assert torch.unique(parts).numel() == 60


@pytest.mark.parametrize("kwargs, msg", [
    ({"num_classes": 1}, "num_classes >= 2"),
    ({"num_nodes": 5, "num_classes": 3}, "at least 2 nodes per class"),
    ({"homophily": 1.5}, r"homophily must lie in \[0, 1\]"),
    ({"avg_degree": -1.0}, "avg_degree must be"),
    ({"num_nodes": 20, "num_classes": 2, "avg_degree": 15.0}, "too dense"),
])
def test_bad_parameters(kwargs, msg):
    with pytest.raises(DatasetError, match=msg):
        csbm(**kwargs)


def test_random_graph_small():
    ds = random_graph(1000, 6001, 16, 4, seed=0)
    g = ds.graph
    assert g.num_nodes == 1000 and g.num_edges == 6000 and g.x.shape == (1000, 16)
    assert not g.has_self_loops() and g.is_undirected()
    assert int(g.y.max()) < 4 and ds.num_classes == 4
    again = random_graph(1000, 6001, 16, 4, seed=0)
    assert torch.equal(g.edge_index, again.graph.edge_index) and torch.equal(g.x, again.graph.x)
    assert not torch.equal(g.edge_index, random_graph(1000, 6001, 16, 4, seed=1).graph.edge_index)


@pytest.mark.slow
def test_random_graph_benchmark_scale():
    t = time.perf_counter()
    ds = random_graph(1_000_000, 10_000_000, 64, 10, seed=0)
    assert time.perf_counter() - t < 10.0
    assert ds.graph.num_edges == 10_000_000 and ds.graph.num_nodes == 1_000_000
