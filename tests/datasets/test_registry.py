"""The data set registry (node and graph-level sets): names, info, downloads, and the sizes
it advertises."""

from __future__ import annotations

import pytest
import torch

from gnnkit.datasets import (
    DatasetError,
    dataset_info,
    download_dataset,
    list_datasets,
    load_graph_dataset,
    load_node_dataset,
    register_dataset,
)

NODE = ["citeseer", "cora", "pubmed", "synthetic"]
GRAPH = ["collab", "dd", "enzymes", "esol", "freesolv", "imdb-binary", "lipophilicity", "mutag",
         "nci1", "proteins", "proteins_full", "reddit-binary"]


def test_list_datasets():
    rows = list_datasets()
    assert [r["name"] for r in rows] == sorted(NODE + GRAPH)
    for r in rows:
        assert set(r) == {"name", "task", "description", "files", "source", "citation"}
        assert r["task"] == ("node" if r["name"] in NODE else "graph")
        assert r["description"] and r["citation"]
        assert r["name"] == "synthetic" or len(r["files"]) >= 1
    cora = next(r for r in rows if r["name"] == "cora")
    assert len(cora["files"]) == 8 and "planetoid/ind.cora.test.index" in cora["files"]


def test_unknown_name_lists_known_ones():
    with pytest.raises(DatasetError, match="unknown data set 'reddit'; known data sets: "
                                           "citeseer, collab, cora, dd, enzymes, "):
        load_node_dataset("reddit")
    with pytest.raises(DatasetError, match="'enzymes' is a graph data set, not a node"):
        load_node_dataset("enzymes")
    with pytest.raises(DatasetError, match="'cora' is a node data set, not a graph"):
        load_graph_dataset("cora")
    with pytest.raises(DatasetError, match="accepted: node_features, degree_cap, cache_dir"):
        load_graph_dataset("mutag", normalize_features=False)
    with pytest.raises(DatasetError, match="known data sets"):
        dataset_info("reddit")


def test_unknown_parameter_lists_accepted_ones():
    with pytest.raises(DatasetError, match="parameter.* foo .*accepted: normalize_features"):
        load_node_dataset("cora", foo=1)
    with pytest.raises(DatasetError, match="accepted: num_nodes, num_classes"):
        load_node_dataset("synthetic", bar=2)


def test_duplicate_registration_is_rejected():
    with pytest.raises(DatasetError, match="'cora' is already registered"):
        @register_dataset("CORA", description="x", source="x", citation="x")
        def _again(root=None, offline=None, base_url=None):  # pragma: no cover
            raise AssertionError


def test_names_are_case_insensitive_and_params_pass_through():
    ds = load_node_dataset("SyNtHeTiC", num_nodes=300, num_classes=3, avg_degree=4, seed=5)
    assert ds.graph.num_nodes == 300 and ds.num_classes == 3


@pytest.mark.parametrize("name", ["cora", "citeseer"])
def test_info_matches_the_loaded_data(shared_datasets, name):
    info = dataset_info(name, root=shared_datasets)
    ds = load_node_dataset(name, root=shared_datasets, offline=True)
    g = ds.graph
    assert (info["nodes"], info["edges"], info["features"], info["classes"]) == (
        g.num_nodes, g.num_edges, g.num_features, ds.num_classes)
    assert info["split"] == {"train": len(ds.train_idx), "val": len(ds.val_idx),
                             "test": len(ds.test_idx)}
    assert info["complete"] and all(info["files"].values())


def test_synthetic_info_matches_the_default_data():
    info = dataset_info("synthetic")
    ds = load_node_dataset("synthetic")
    assert (info["nodes"], info["edges"], info["features"], info["classes"]) == (
        ds.graph.num_nodes, ds.graph.num_edges, ds.num_features, ds.num_classes)
    assert info["split"] == {"train": 100, "val": 500, "test": 1000}
    assert info["files"] == {} and info["complete"]


def test_info_reports_missing_files(shared_datasets, tmp_path):
    info = dataset_info("pubmed", root=shared_datasets)
    assert info["complete"] is False
    assert [f for f, ok in info["files"].items() if not ok] == ["planetoid/ind.pubmed.allx"]
    assert not any(dataset_info("cora", root=tmp_path)["files"].values())
    assert dataset_info("cora", root=tmp_path)["root"] == str(tmp_path)


def test_download_then_load_offline(http_datasets, shared_datasets, tmp_path):
    paths = download_dataset("cora", root=tmp_path, base_url=http_datasets, progress=False)
    cora = next(r for r in list_datasets() if r["name"] == "cora")
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == cora["files"]
    assert all(p.read_bytes() == (shared_datasets / p.relative_to(tmp_path)).read_bytes()
               for p in paths)
    assert download_dataset("cora", root=tmp_path, offline=True, verify=True) == paths
    a = load_node_dataset("cora", root=tmp_path, offline=True)
    b = load_node_dataset("cora", root=shared_datasets, offline=True)
    assert torch.equal(a.graph.x, b.graph.x) and torch.equal(a.graph.edge_index, b.graph.edge_index)
    assert download_dataset("synthetic", root=tmp_path) == []


def test_default_root_from_environment(shared_datasets, monkeypatch):
    monkeypatch.setenv("GNNKIT_DATA", str(shared_datasets))
    ds = load_node_dataset("citeseer", offline=True)
    assert ds.graph.num_nodes == 3327
    assert dataset_info("citeseer")["root"] == str(shared_datasets)


@pytest.mark.parametrize("name", ["enzymes", "proteins", "mutag", "imdb-binary"])
def test_graph_info_matches_the_loaded_data(shared_datasets, tmp_path, name):
    info = dataset_info(name, root=shared_datasets)
    ds = load_graph_dataset(name, root=shared_datasets, offline=True, cache_dir=tmp_path)
    width = int(info["node_features"].rsplit("(", 1)[1].rstrip(")"))
    assert (info["graphs"], info["classes"], width) == (
        len(ds), ds.num_classes, ds.graphs[0].x.shape[1])
    assert info["task"] == "graph" and info["complete"] and "split" not in info
    assert (info["edges"], info["edge_lines"]) == (ds.info["num_edges"], ds.info["edge_lines"])
    assert info["edges"] == sum(g.num_edges for g in ds.graphs)


@pytest.mark.chem
def test_molecule_info_matches_the_loaded_data(shared_datasets, tmp_path):
    pytest.importorskip("rdkit")
    for name in ("esol", "freesolv"):
        info = dataset_info(name, root=shared_datasets)
        ds = load_graph_dataset(name, root=shared_datasets, offline=True, cache_dir=tmp_path)
        assert info["graphs"] == len(ds) + ds.info["invalid_smiles"]
        assert info["classes"] is None and ds.num_classes is None and info["target"]


def test_graph_download_from_a_mirror(http_datasets, shared_datasets, tmp_path):
    (path,) = download_dataset("mutag", root=tmp_path, base_url=http_datasets, progress=False)
    assert path.read_bytes() == (shared_datasets / "tu" / "MUTAG.zip").read_bytes()
