"""Planetoid loader: real statistics, agreement with the reference assembly, tiny fixtures in
the real pickle format, and refusal of corrupted or malicious files."""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from gnnkit.datasets import DatasetError, load_planetoid, load_planetoid_structure


def _undirected_pairs(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    s, d = edge_index.tolist()
    return {(min(a, b), max(a, b)) for a, b in zip(s, d, strict=True)}


def _check_common(ds, n, e, f, c, split):
    g = ds.graph
    assert g.num_nodes == n
    assert g.num_edges == e
    assert len(_undirected_pairs(g.edge_index)) == e // 2
    assert g.x.shape == (n, f) and g.x.dtype == torch.float32
    assert g.y.shape == (n,) and g.y.dtype == torch.int64
    assert ds.num_classes == c and int(g.y.max()) == c - 1
    assert (len(ds.train_idx), len(ds.val_idx), len(ds.test_idx)) == split
    assert g.is_undirected() and not g.has_self_loops()
    # no duplicate edges
    key = g.edge_index[0] * n + g.edge_index[1]
    assert torch.unique(key).numel() == e
    parts = torch.cat([ds.train_idx, ds.val_idx, ds.test_idx])
    assert torch.unique(parts).numel() == parts.numel()  # disjoint
    rs = g.x.sum(1)
    assert bool((((rs - 1).abs() < 1e-5) | (rs == 0)).all())  # rows sum to 1 or 0


# ------------------------------------------------------------------------------- real data
def test_cora_statistics(shared_datasets):
    ds = load_planetoid("cora", root=shared_datasets, offline=True)
    _check_common(ds, 2708, 10556, 1433, 7, (140, 500, 1000))
    assert ds.graph.y.bincount().tolist() == [351, 217, 418, 818, 426, 298, 180]
    assert torch.equal(ds.train_idx, torch.arange(140))
    assert torch.equal(ds.val_idx, torch.arange(140, 640))
    assert torch.equal(ds.test_idx, torch.arange(1708, 2708))
    assert bool(((ds.graph.x.sum(1) - 1).abs() < 1e-5).all())  # Cora has no empty rows
    assert ds.info["num_unlabelled_nodes"] == 0


def test_citeseer_statistics_and_isolated_test_ids(shared_datasets):
    ds = load_planetoid("CiteSeer", root=shared_datasets, offline=True)
    _check_common(ds, 3327, 9104, 3703, 6, (120, 500, 1000))
    g = ds.graph
    test_ids = {int(i) for i in (shared_datasets / "planetoid/ind.citeseer.test.index")
                .read_text().split()}
    missing = sorted(set(range(2312, 3327)) - test_ids)
    assert len(missing) == 15 and ds.info["num_unlabelled_nodes"] == 15
    assert set(np.nonzero(g.x.sum(1).numpy() == 0)[0].tolist()) == set(missing)
    assert g.y[missing].eq(0).all()  # zero label rows -> class 0, as PyG
    in_split = set(torch.cat([ds.train_idx, ds.val_idx, ds.test_idx]).tolist())
    assert not in_split & set(missing)
    assert ds.info["nodes_with_self_loop_removed"] == 124


@pytest.mark.parametrize("name", ["cora", "citeseer"])
def test_agrees_with_pyg_reference(shared_datasets, name):
    """Same features, labels, edges and split as torch_geometric's Planetoid reader."""
    pyg_io = pytest.importorskip("torch_geometric.io")
    ref = pyg_io.read_planetoid_data(str(shared_datasets / "planetoid"), name)
    ds = load_planetoid(name, root=shared_datasets, offline=True, normalize_features=False)
    assert torch.equal(ds.graph.x, ref.x)
    assert torch.equal(ds.graph.y, ref.y)
    assert _undirected_pairs(ds.graph.edge_index) == _undirected_pairs(ref.edge_index)
    assert ds.graph.num_edges == ref.edge_index.shape[1]
    assert torch.equal(ds.train_idx, ref.train_mask.nonzero().view(-1))
    assert torch.equal(ds.val_idx, ref.val_mask.nonzero().view(-1))
    assert torch.equal(ds.test_idx, ref.test_mask.nonzero().view(-1))


def test_normalize_features_is_row_division(shared_datasets):
    raw = load_planetoid("cora", root=shared_datasets, offline=True, normalize_features=False)
    norm = load_planetoid("cora", root=shared_datasets, offline=True)
    expect = raw.graph.x / raw.graph.x.sum(1, keepdim=True)
    torch.testing.assert_close(norm.graph.x, expect)
    assert set(raw.graph.x.unique().tolist()) == {0.0, 1.0}  # binary bag of words


def test_pubmed_missing_allx_offline(shared_datasets):
    with pytest.raises(DatasetError, match=r"ind\.pubmed\.allx") as exc:
        load_planetoid("pubmed", root=shared_datasets, offline=True)
    assert "GNNKIT_DATA" in str(exc.value) and str(shared_datasets) in str(exc.value)


def test_pubmed_missing_allx_on_the_mirror(http_datasets, tmp_path):
    with pytest.raises(DatasetError, match=r"ind\.pubmed\.allx.*HTTP 404"):
        load_planetoid("pubmed", root=tmp_path, base_url=http_datasets)
    assert not (tmp_path / "planetoid/ind.pubmed.allx").exists()
    assert not [p for p in (tmp_path / "planetoid").iterdir() if p.name.startswith(".")]


def test_pubmed_structure_has_real_graph_and_random_features(shared_datasets):
    ds = load_planetoid_structure("pubmed", root=shared_datasets, offline=True, seed=3)
    _check_common(ds, 19717, 88648, 500, 3, (60, 500, 1000))
    assert ds.name == "pubmed-structure" and "RANDOM" in ds.info["features"]
    # the real labels of the 60 training nodes (ind.pubmed.y, one-hot)
    with open(shared_datasets / "planetoid/ind.pubmed.y", "rb") as f:
        y = pickle.load(f, encoding="latin1")
    assert ds.graph.y[:60].tolist() == y.argmax(1).tolist()


def test_structure_variant_is_seeded_and_ignores_allx(tmp_path, py2):
    py2.write_planetoid(tmp_path, allx=b"never read")
    a = load_planetoid_structure("cora", root=tmp_path, offline=True, seed=3)
    b = load_planetoid_structure("cora", root=tmp_path, offline=True, seed=3)
    c = load_planetoid_structure("cora", root=tmp_path, offline=True, seed=4)
    assert torch.equal(a.graph.x, b.graph.x) and not torch.equal(a.graph.x, c.graph.x)
    assert torch.equal(a.graph.edge_index, c.graph.edge_index)
    assert a.graph.y.tolist() == [0, 1, 1, 0, 1, 0, 0, 1]  # the real labels
    assert a.graph.x.shape == (8, 4)


# ------------------------------------------------------------------------------- tiny fixture
def test_tiny_fixture_is_in_the_real_format(shared_datasets, py2):
    """The writer emits the globals of the real files and stdlib pickle reads it back."""
    real = (shared_datasets / "planetoid/ind.cora.x").read_bytes()
    with warnings.catch_warnings():  # scipy.sparse.csr is a deprecated module path
        warnings.simplefilter("ignore", DeprecationWarning)
        ref = pickle.load(io.BytesIO(real), encoding="latin1")
        ours = py2.csr(ref)
        back = pickle.load(io.BytesIO(ours), encoding="latin1")

    def globals_of(data):
        return {a for op, a, _ in pickletools.genops(data) if op.name == "GLOBAL"}

    assert globals_of(ours) == globals_of(real) == {
        "scipy.sparse.csr csr_matrix", "numpy.core.multiarray _reconstruct", "numpy ndarray",
        "numpy dtype"}
    assert (back != ref).nnz == 0


def test_tiny_planetoid_assembly(tmp_path, py2):
    py2.write_planetoid(tmp_path)
    ds = load_planetoid("cora", root=tmp_path, offline=True, normalize_features=False)
    g = ds.graph
    assert g.num_nodes == 8
    expect_x = np.zeros((8, 4), dtype=np.float32)
    expect_x[:5] = py2.tiny["allx"]
    expect_x[7] = py2.tiny["tx"][0]  # test.index lists 7 first
    expect_x[5] = py2.tiny["tx"][1]
    assert np.array_equal(g.x.numpy(), expect_x)  # node 6: zero row
    assert g.y.tolist() == [0, 1, 1, 0, 1, 0, 0, 1]  # node 5: ty[1], node 7: ty[0], 6: zeros->0
    assert ds.info["num_unlabelled_nodes"] == 1
    assert ds.train_idx.tolist() == [0, 1]
    assert ds.val_idx.tolist() == [2, 3, 4]  # 500 clipped to the 5 non-test nodes
    assert ds.test_idx.tolist() == [5, 7]
    pairs = _undirected_pairs(g.edge_index)
    assert pairs == {(0, 1), (0, 2), (2, 3), (4, 5), (0, 7)}  # no (4, 4), no duplicate
    assert g.num_edges == 10 and g.is_undirected()
    normed = load_planetoid("cora", root=tmp_path, offline=True).graph.x
    assert normed[7].tolist() == [0, 0.5, 0, 0.5] and normed[4].tolist() == [0, 0, 0, 0]


def test_tiny_planetoid_inconsistent_rows(tmp_path, py2):
    py2.write_planetoid(tmp_path, ty=np.array([[0, 1]], dtype=np.int32))
    with pytest.raises(DatasetError, match="cora files are inconsistent: tx has 2 rows but ty "
                                           "has 1; delete them"):
        load_planetoid("cora", root=tmp_path, offline=True)
    py2.write_planetoid(tmp_path, **{"test.index": [7]})
    with pytest.raises(DatasetError, match="test.index has 1 ids but ty has 2 rows"):
        load_planetoid_structure("cora", root=tmp_path, offline=True)


def test_wrong_object_type_is_refused(tmp_path, py2):
    import scipy.sparse as sp

    py2.write_planetoid(tmp_path, y=py2.csr(sp.csr_matrix(py2.tiny["y"])))
    with pytest.raises(DatasetError, match=r"ind\.cora\.y is corrupted: expected a 2-D numpy"):
        load_planetoid("cora", root=tmp_path, offline=True)


@pytest.mark.parametrize("indptr, indices, what", [
    ([0, 1, 2], [0, 9], "invalid CSR matrix"),  # column 9 in a matrix with 4 columns
    ([0, 1, 3], [0, 1], "invalid CSR matrix"),  # indptr promises 3 entries, 2 stored
    ([0, 1], [0, 1], "CSR arrays disagree"),  # indptr too short for 2 rows
])
def test_invalid_csr_is_refused(tmp_path, py2, indptr, indices, what):
    p = py2.Pickle()
    p.csr((2, 4), indptr, indices, np.ones(len(indices)))
    py2.write_planetoid(tmp_path, x=p.bytes())
    with pytest.raises(DatasetError, match=rf"ind\.cora\.x is corrupted: {what}"):
        load_planetoid("cora", root=tmp_path, offline=True)


def test_graph_ids_out_of_range(tmp_path, py2):
    py2.write_planetoid(tmp_path, graph={0: [1], 1: [0, 99]})
    with pytest.raises(DatasetError, match="node id 99, outside"):
        load_planetoid("cora", root=tmp_path, offline=True)


# ------------------------------------------------------------------------------- safety
class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("ext", ["x", "y", "graph"])
def test_code_execution_pickle_is_refused(tmp_path, py2, ext):
    marker = tmp_path / "pwned"
    py2.write_planetoid(tmp_path, **{ext: pickle.dumps(_Evil(marker), protocol=2)})
    with pytest.raises(DatasetError, match=r"refusing to unpickle (posix|os|nt)\.system from .*"
                                           rf"ind\.cora\.{ext}"):
        load_planetoid("cora", root=tmp_path, offline=True)
    assert not marker.exists()  # the command never ran
    # sanity: plain pickle.load would have run it
    pickle.loads(pickle.dumps(_Evil(marker), protocol=2))
    assert marker.exists()


def test_builtins_eval_and_other_numpy_names_are_refused(tmp_path, py2):
    py2.write_planetoid(tmp_path, x=pickle.dumps(_EvalEvil(), protocol=2))
    with pytest.raises(DatasetError, match=r"refusing to unpickle (__builtin__|builtins)\.eval"):
        load_planetoid("cora", root=tmp_path, offline=True)
    p = py2.tiny["y"]
    data = py2.dense(p).replace(b"cnumpy\ndtype\n", b"cnumpy\nload\n")
    py2.write_planetoid(tmp_path, y=data)
    with pytest.raises(DatasetError, match=r"refusing to unpickle numpy\.load"):
        load_planetoid("cora", root=tmp_path, offline=True)


def test_truncated_real_file(shared_datasets, tmp_path):
    d = tmp_path / "planetoid"
    d.mkdir()
    for src in (shared_datasets / "planetoid").glob("ind.cora.*"):
        shutil.copyfile(src, d / src.name)
    data = (d / "ind.cora.allx").read_bytes()
    (d / "ind.cora.allx").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"ind\.cora\.allx is truncated or corrupted.*delete "
                                           r"it and download again"):
        load_planetoid("cora", root=tmp_path, offline=True)


def test_unknown_name():
    with pytest.raises(DatasetError, match="known: cora, citeseer, pubmed"):
        load_planetoid("reddit", offline=True)
