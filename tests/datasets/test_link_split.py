"""Link-prediction edge splits: sizes, no leakage, valid negatives, reproducibility, files."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gnnkit import Graph
from gnnkit.datasets import (
    DatasetError,
    LinkSplit,
    graph_fingerprint,
    link_split,
    load_planetoid,
    undirected_edges,
)


def random_graph(n, m, seed):
    """m random (u, v) pairs: duplicates, self-loops and one-directional edges included."""
    rng = np.random.default_rng(seed)
    e = rng.integers(0, n, (2, m))
    return Graph(edge_index=torch.from_numpy(e), num_nodes=n)


def keyset(pairs, n):
    return set((pairs[0] * n + pairs[1]).tolist())


def check_split(g, s, val_frac=0.05, test_frac=0.10):
    n = g.num_nodes
    edges = keyset(undirected_edges(g), n)
    e = len(edges)
    sizes = s.sizes()
    assert sizes["test_pos"] == math.floor(test_frac * e) == sizes["test_neg"]
    assert sizes["val_pos"] == math.floor(val_frac * e) == sizes["val_neg"]
    assert sizes["train_pos"] == e - sizes["test_pos"] - sizes["val_pos"]
    parts = {p: getattr(s, p) for p in sizes}
    for p, pairs in parts.items():
        assert pairs.dtype == torch.long and pairs.shape[0] == 2
        assert bool((pairs[0] < pairs[1]).all()), f"{p}: not u < v (or a self-loop)"
        assert len(keyset(pairs, n)) == pairs.shape[1], f"{p}: duplicate pairs"
    tr, va, te = (keyset(parts[p], n) for p in ("train_pos", "val_pos", "test_pos"))
    assert tr | va | te == edges and not (tr & va or tr & te or va & te)
    vn, tn = keyset(parts["val_neg"], n), keyset(parts["test_neg"], n)
    assert not (vn & edges or tn & edges), "a negative is an edge of the full graph"
    assert not vn & tn, "validation and test negatives overlap"
    # the encoder's graph: training edges only, both directions
    gt = s.train_graph(g)
    assert gt.is_undirected() and not gt.has_self_loops()
    fwd = gt.edge_index[0] * n + gt.edge_index[1]
    assert set(fwd.tolist()) == tr | {(k % n) * n + k // n for k in tr}
    assert gt.num_edges == 2 * len(tr)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(8, 60), density=st.floats(0.05, 0.9), seed=st.integers(0, 2**31 - 1))
def test_split_properties_on_random_graphs(n, density, seed):
    g = random_graph(n, max(int(density * n * (n - 1) / 2), 25), seed)
    if undirected_edges(g).shape[1] < 20:
        return
    s = link_split(g, seed=seed)
    check_split(g, s)
    t = link_split(g, seed=seed)                       # same seed, same split
    assert all(torch.equal(getattr(s, p), getattr(t, p)) for p in s.sizes())


def test_large_sparse_graph_uses_rejection_sampling_and_stays_valid():
    g = random_graph(3000, 6000, 1)                    # 4.5M pairs: no enumeration
    s = link_split(g, val_frac=0.1, test_frac=0.2, seed=4)
    check_split(g, s, 0.1, 0.2)


def test_different_seeds_give_different_splits():
    g = random_graph(200, 1500, 0)
    a, b = link_split(g, seed=0), link_split(g, seed=1)
    assert not torch.equal(a.test_pos, b.test_pos)
    assert not torch.equal(a.val_neg, b.val_neg)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(link_split(g, seed=gen).test_pos, a.test_pos)   # Generator == int seed


def test_direction_and_duplicates_do_not_matter():
    g = random_graph(50, 400, 3)
    h = Graph(edge_index=torch.cat([g.edge_index.flip(0), g.edge_index], 1), num_nodes=50)
    assert graph_fingerprint(g) == graph_fingerprint(h)
    a, b = link_split(g, seed=2), link_split(h, seed=2)
    assert all(torch.equal(getattr(a, p), getattr(b, p)) for p in a.sizes())


def test_save_load_round_trip(tmp_path):
    g = random_graph(80, 500, 5)
    s = link_split(g, seed=7)
    path = s.save(tmp_path / "split.npz")
    t = LinkSplit.load(path, g)
    assert all(torch.equal(getattr(s, p), getattr(t, p)) for p in s.sizes())
    assert (t.num_nodes, t.fingerprint, t.seed) == (80, s.fingerprint, 7)
    with np.load(path, allow_pickle=False) as f:      # plain arrays, no pickles
        assert set(f.files) >= {"train_pos", "val_neg", "fingerprint", "num_nodes"}


def _edges_plus(g, extra):
    return Graph(edge_index=torch.cat([g.edge_index, torch.tensor(extra).t()], 1),
                 num_nodes=g.num_nodes)


def test_load_rejects_a_split_of_another_graph(tmp_path):
    g = random_graph(80, 500, 5)
    s = link_split(g, seed=7)
    path = s.save(tmp_path / "split.npz")
    with pytest.raises(DatasetError, match="80 nodes but this graph has 81"):
        LinkSplit.load(path, Graph(edge_index=g.edge_index, num_nodes=81))
    u, v = s.test_pos[:, 0].tolist()                   # drop one test edge from the graph
    ek = g.edge_index[0] * 80 + g.edge_index[1]
    keep = (ek != u * 80 + v) & (ek != v * 80 + u)
    with pytest.raises(DatasetError, match=rf"test_pos pair \({u}, {v}\) is not an edge"):
        LinkSplit.load(path, Graph(edge_index=g.edge_index[:, keep], num_nodes=80))
    a, b = s.val_neg[:, 0].tolist()                    # a validation negative became an edge
    with pytest.raises(DatasetError, match=rf"val_neg pair \({a}, {b}\) is an edge"):
        LinkSplit.load(path, _edges_plus(g, [[a, b]]))
    taken = keyset(s.val_neg, 80) | keyset(s.test_neg, 80) | keyset(undirected_edges(g), 80)
    new = next(k for k in range(80 * 80) if k // 80 < k % 80 and k not in taken)
    with pytest.raises(DatasetError, match="different graph"):
        LinkSplit.load(path, _edges_plus(g, [[new // 80, new % 80]]))


def test_load_rejects_bad_files(tmp_path):
    g = random_graph(30, 200, 0)
    with pytest.raises(DatasetError, match="does not exist"):
        LinkSplit.load(tmp_path / "missing.npz", g)
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(DatasetError, match="not a gnnkit split"):
        LinkSplit.load(tmp_path / "junk.npz", g)
    for name, data in (("text.csv", b"a,b\n1,2\n"), ("empty.npz", b"")):
        # numpy's own words here advise loading the file with pickles allowed: not passed on
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DatasetError, match="not a numpy .npz archive; a link run saves") as e:
            LinkSplit.load(tmp_path / name, g)
        assert "pickle" not in str(e.value)
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    with pytest.raises(DatasetError, match="not a gnnkit link split"):
        LinkSplit.load(tmp_path / "other.npz", g)
    s = link_split(g, seed=0)
    path = s.save(tmp_path / "s.npz")
    with np.load(path) as f:
        data = dict(f)
    data["val_pos"] = np.array([[5], [40]])            # node id out of range
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(DatasetError, match="outside"):
        LinkSplit.load(tmp_path / "bad.npz", g)


def test_graph_too_small_to_split():
    g = Graph.from_edge_list([[0, 1], [1, 2], [2, 3], [3, 0]], num_nodes=4)
    with pytest.raises(DatasetError, match="graph too small to split: 4 undirected edge"):
        link_split(g)
    with pytest.raises(DatasetError, match="too small"):
        link_split(Graph(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=3))
    complete = Graph(edge_index=torch.triu_indices(8, 8, 1), num_nodes=8)  # no non-edges
    with pytest.raises(DatasetError, match="non-edge"):
        link_split(complete, val_frac=0.1, test_frac=0.1)
    with pytest.raises(DatasetError, match="val_frac"):
        link_split(complete, val_frac=0.6, test_frac=0.5)


def test_cora_split_sizes_match_the_reference(shared_datasets):
    ds = load_planetoid("cora", shared_datasets, offline=True, normalize_features=False)
    s = link_split(ds.graph, seed=0)
    # tkipf/gae mask_test_edges on Cora's 5278 undirected edges: floor(E/10), floor(E/20)
    assert s.sizes() == {"train_pos": 4488, "val_pos": 263, "val_neg": 263, "test_pos": 527,
                         "test_neg": 527}
    check_split(ds.graph, s)
