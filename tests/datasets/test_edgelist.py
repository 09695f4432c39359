"""User edge lists: parsing, node count, splits, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gnnkit.datasets import DatasetError, load_edgelist


@pytest.fixture
def el(fixtures_dir):
    return fixtures_dir / "edgelist"


def _edge_dict(g):
    s, d = g.edge_index.tolist()
    w = g.edge_weight.tolist() if g.edge_weight is not None else [None] * len(s)
    return {(a, b): c for a, b, c in zip(s, d, w, strict=True)}


def test_weighted_csv_with_header_features_and_labels(el):
    ds = load_edgelist(el / "edges.csv", el / "features.csv", el / "labels.txt")
    g = ds.graph
    assert ds.name == "edges" and g.num_nodes == 6 and ds.num_classes == 3
    assert g.x.shape == (6, 3) and g.x.dtype == torch.float32
    assert g.x[4].tolist() == [0.5, 0.5, 0.5]
    assert g.y.tolist() == [0, 1, 1, 0, 2, 2] and g.y.dtype == torch.int64
    e = _edge_dict(g)
    # (0,1) listed both ways with 2.0 -> 2.0, not 4.0; reverse edges added; self-loop kept
    assert e == {(0, 1): 2.0, (1, 0): 2.0, (1, 2): 1.0, (2, 1): 1.0, (2, 2): 0.5,
                 (3, 4): 4.0, (4, 3): 4.0, (4, 5): 1.5, (5, 4): 1.5}
    assert g.edge_weight.dtype == torch.float32


def test_directed_and_self_loop_removal(el):
    g = load_edgelist(el / "edges.csv", undirected=False, remove_self_loops=True).graph
    assert set(_edge_dict(g)) == {(0, 1), (1, 0), (1, 2), (3, 4), (4, 5)}


def test_plain_whitespace_edges_without_node_files(el):
    ds = load_edgelist(el / "edges_plain.txt")
    g = ds.graph
    assert g.num_nodes == 6 and g.x is None and g.y is None and ds.num_classes == 0
    assert g.num_edges == 10 and g.edge_weight is None
    assert ds.info["num_nodes_from"] == "the largest node id + 1"
    parts = torch.cat([ds.train_idx, ds.val_idx, ds.test_idx])
    assert sorted(parts.tolist()) == list(range(6))  # (0.6, 0.2, 0.2) covers every node
    big = load_edgelist(el / "edges_plain.txt", num_nodes=10).graph
    assert big.num_nodes == 10 and int(big.in_degree[6:].sum()) == 0  # isolated nodes kept


def test_node_label_pairs_leave_others_unlabelled(el):
    ds = load_edgelist(el / "edges.csv", el / "features.csv", el / "labels_pairs.csv",
                       split=(0.5, 0.0, 0.5))
    assert ds.graph.y.tolist() == [1, -1, 0, -1, -1, 1]
    assert ds.num_classes == 2
    used = set(torch.cat([ds.train_idx, ds.val_idx, ds.test_idx]).tolist())
    assert used == {0, 2, 5}


def test_npy_inputs(el, tmp_path):
    x = np.arange(18, dtype=np.float64).reshape(6, 3)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.array([0, 1, 0, 1, 0, 1], dtype=np.int32))
    ds = load_edgelist(el / "edges.csv", tmp_path / "x.npy", tmp_path / "y.npy")
    assert np.array_equal(ds.graph.x.numpy(), x.astype(np.float32))
    assert ds.graph.y.tolist() == [0, 1, 0, 1, 0, 1]
    np.save(tmp_path / "yf.npy", np.array([0.0, 1.0, 2.0, 1.0, 0.0, 1.0]))  # integral floats
    assert load_edgelist(el / "edges.csv", labels=tmp_path / "yf.npy").num_classes == 3


def _graph_files(tmp_path, sizes=(40, 30, 20, 10)):
    y = np.concatenate([np.full(s, c) for c, s in enumerate(sizes)])
    n = len(y)
    (tmp_path / "e.csv").write_text("".join(f"{i},{(i + 1) % n}\n" for i in range(n)))
    (tmp_path / "y.txt").write_text("".join(f"{v}\n" for v in y))
    return tmp_path / "e.csv", tmp_path / "y.txt", y


def test_stratified_split_and_seed(tmp_path):
    e, yfile, y = _graph_files(tmp_path)
    ds = load_edgelist(e, labels=yfile, split=(0.5, 0.25, 0.25), seed=3)
    assert np.bincount(y[ds.train_idx.numpy()]).tolist() == [20, 15, 10, 5]  # half of each
    for idx in (ds.val_idx, ds.test_idx):
        counts = np.bincount(y[idx.numpy()], minlength=4)
        assert abs(len(idx) - 25) <= 2
        assert all(abs(c - s / 4) <= 1 for c, s in zip(counts, (40, 30, 20, 10), strict=True))
    parts = torch.cat([ds.train_idx, ds.val_idx, ds.test_idx])
    assert torch.unique(parts).numel() == parts.numel() == 100
    same = load_edgelist(e, labels=yfile, split=(0.5, 0.25, 0.25), seed=3)
    other = load_edgelist(e, labels=yfile, split=(0.5, 0.25, 0.25), seed=4)
    assert torch.equal(ds.train_idx, same.train_idx)
    assert not torch.equal(ds.train_idx, other.train_idx)
    counts = load_edgelist(e, labels=yfile, split=(10, 10, 20), seed=0)
    assert (len(counts.train_idx), len(counts.val_idx), len(counts.test_idx)) == (10, 10, 20)


# ------------------------------------------------------------------------------- bad files
def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("edges, msg", [
    ("0,1\n1,7\n", r"line 2: node id 7 is out of range: N = 6 \(.*features.csv has 6 feature"),
    ("0,1\n-1,2\n", r"line 2: node id -1 is negative"),
    ("0,1\n1.5,2\n", r"line 2: node id '1.5' is not an integer"),
    ("0,1\nx,2\n", r"line 2: node id 'x' is not an integer"),
    ("0,1\n1,2,3,4\n", r"line 2: expected 2 fields like the first edge, got 4"),
    ("0,1,1.0\n1,2,heavy\n", r"line 2: edge weight 'heavy' is not a number"),
    ("0,1,1.0\n1,2,nan\n", r"line 2: edge weight 'nan' is not finite"),
    ("0\n", r"line 1: expected 'src,dst' or 'src,dst,weight', got 1 fields"),
])
def test_bad_edge_files(tmp_path, el, edges, msg):
    with pytest.raises(DatasetError, match=msg):
        load_edgelist(_write(tmp_path, "e.csv", edges), el / "features.csv")


def test_row_count_mismatch(tmp_path, el):
    labels = _write(tmp_path, "y.txt", "0\n1\n0\n1\n0\n")
    with pytest.raises(DatasetError, match=r"node counts disagree: .*6 feature rows; .*5 labels"):
        load_edgelist(el / "edges.csv", el / "features.csv", labels)
    with pytest.raises(DatasetError, match=r"node counts disagree: .*num_nodes=9"):
        load_edgelist(el / "edges.csv", el / "features.csv", num_nodes=9)


@pytest.mark.parametrize("text, msg", [
    ("0\n1\n1.5\n0\n1\n0\n", r"line 3: label '1.5' is not an integer"),
    ("0\n1\n-2\n0\n1\n0\n", r"line 3: label -2 is negative"),
    ("0\n1\ncat\n0\n1\n0\n", r"line 3: label 'cat' is not an integer"),
    ("0,1\n0,2\n", r"line 2: node 0 is labelled twice"),
    ("0,1\n9,0\n", r"node id 9 is out of range \[0, 6\)"),
    ("0\n1,1\n", r"line 2: expected 1 field\(s\) like the first line, got 2"),
])
def test_bad_label_files(tmp_path, el, text, msg):
    with pytest.raises(DatasetError, match=msg):
        load_edgelist(el / "edges.csv", el / "features.csv", _write(tmp_path, "y.txt", text))


def test_bad_npy_labels(tmp_path, el):
    np.save(tmp_path / "y.npy", np.array([0, 1, 0.5, 1, 0, 1]))
    with pytest.raises(DatasetError, match="labels must be integers; entry 2 is 0.5"):
        load_edgelist(el / "edges.csv", labels=tmp_path / "y.npy")
    np.save(tmp_path / "y2.npy", np.array(["a", "b"]))
    with pytest.raises(DatasetError, match="1-D integer array"):
        load_edgelist(el / "edges.csv", labels=tmp_path / "y2.npy")


@pytest.mark.parametrize("text, msg", [
    ("1,2\n3\n", r"line 2: 1 feature values, but the first row has 2"),
    ("1,2\n3,x\n", r"line 2: a feature value is not a number"),
    ("1,2\n3,nan\n", r"features hold NaN or inf \(first in row 1\)"),
])
def test_bad_feature_files(tmp_path, text, msg):
    edges = _write(tmp_path, "e.csv", "0,1\n")
    with pytest.raises(DatasetError, match=msg):
        load_edgelist(edges, _write(tmp_path, "x.csv", text))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="cannot read .*nope.csv"):
        load_edgelist(tmp_path / "nope.csv")
