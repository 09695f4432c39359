"""The TU reader on tiny archives in the official layout, and on broken ones."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import torch

from gnnkit.datasets import DatasetError
from gnnkit.datasets.tudataset import load_tu, parse_tu_zip

# two graphs: a triangle (nodes 1-3, graph label 1) and a path 4-5 (graph label -1)
TINY = {
    "A": "1, 2\n2, 1\n2, 3\n3, 2\n1, 3\n3, 1\n4, 5\n5, 4\n",
    "graph_indicator": "1\n1\n1\n2\n2\n",
    "graph_labels": "1\n-1\n",
    "node_labels": "0\n2\n0\n2\n2\n",
    "node_attributes": "0.5, 1.0\n1.5, -2.0\n0.0, 0.0\n3.0, 1e-1\n-1.0, 2.0\n",
    "edge_labels": "1\n1\n2\n2\n1\n1\n1\n1\n",
}


def make_zip(directory: Path, name: str = "TINY", parts: dict | None = None,
             sep: str = "/") -> Path:
    parts = TINY if parts is None else parts
    root = directory / "tu"
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for part, text in parts.items():
            zf.writestr(f"{name}{sep}{name}_{part}.txt", text)
        zf.writestr(f"{name}{sep}README.txt", "tiny")
    return path


def load(tmp_path: Path, **kw):
    return load_tu("TINY", root=tmp_path, offline=True, cache_dir=tmp_path / "cache", **kw)


def test_tiny_archive(tmp_path):
    make_zip(tmp_path, sep="//")  # the official zips name members NAME//NAME_A.txt
    ds = load(tmp_path)
    assert len(ds) == 2 and ds.num_classes == 2 and ds.task == "classification"
    g0, g1 = ds[0], ds[1]
    assert g0.num_nodes == 3 and g1.num_nodes == 2
    assert sorted(map(tuple, g0.edge_index.t().tolist())) == [
        (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    assert g1.edge_index.t().tolist() == [[0, 1], [1, 0]]
    # labels sorted: -1 -> 0, 1 -> 1
    assert ds.y.tolist() == [1, 0] and ds.info["label_map"] == {"-1": 0, "1": 1}
    # auto features = attributes || one-hot(node label in {0, 2})
    torch.testing.assert_close(g0.x, torch.tensor(
        [[0.5, 1.0, 1, 0], [1.5, -2.0, 0, 1], [0.0, 0.0, 1, 0]]))
    torch.testing.assert_close(g1.x[:, 2:], torch.tensor([[0.0, 1], [0, 1]]))
    # one-hot edge labels follow their edges
    assert g0.edge_attr.shape == (6, 2) and g1.edge_attr.tolist() == [[1, 0], [1, 0]]
    assert ds.max_nodes == 3


def test_feature_choices_and_degree(tmp_path):
    make_zip(tmp_path)
    assert load(tmp_path, node_features="labels").num_features == 2
    assert load(tmp_path, node_features="attributes").num_features == 2
    deg = load(tmp_path, node_features="degree", degree_cap=1)
    assert deg.num_features == 2
    assert deg[0].x.tolist() == [[0, 1]] * 3          # degree 2 >= cap 1: last column
    bare = {k: v for k, v in TINY.items() if k not in ("node_labels", "node_attributes")}
    make_zip(tmp_path, "BARE", bare)
    ds = load_tu("BARE", root=tmp_path, offline=True, cache_dir=tmp_path / "c2", degree_cap=4)
    assert ds[1].x.tolist() == [[0, 1, 0, 0, 0]] * 2  # path: degree 1
    assert "degree" in ds.info["node_features"]
    with pytest.raises(DatasetError, match="no node labels"):
        load_tu("BARE", root=tmp_path, offline=True, cache_dir=tmp_path / "c3",
                node_features="labels")


def test_cache_is_used_and_matches(tmp_path):
    make_zip(tmp_path)
    a = load(tmp_path)
    files = list((tmp_path / "cache" / "tu").glob("*.pt"))
    assert len(files) == 1 and not list((tmp_path / "cache" / "tu").glob("*.tmp"))
    b = load(tmp_path)
    for g, h in zip(a.graphs, b.graphs, strict=True):
        assert torch.equal(g.edge_index, h.edge_index) and torch.equal(g.x, h.x)
    files[0].write_bytes(b"garbage")          # a damaged cache is rebuilt, not trusted
    c = load(tmp_path)
    assert torch.equal(c[0].x, a[0].x)


def test_repeated_edges_are_merged_by_default_or_kept(tmp_path):
    """An archive that lists pairs more than once (as COLLAB, REDDIT-BINARY and IMDB-BINARY
    list every edge twice): 'merge' gives the graph of the distinct pairs, with degrees and
    edge labels of that graph; 'keep' a multigraph with every line."""
    lines = TINY["A"].splitlines(keepends=True)
    labels = TINY["edge_labels"].splitlines(keepends=True)
    # every line twice, the second copy after all the first ones; one pair a third time
    parts = {**TINY, "A": "".join(lines + lines + lines[2:3]),
             "edge_labels": "".join(labels + labels + labels[2:3])}
    make_zip(tmp_path)
    make_zip(tmp_path, "TWICE", parts)
    bare = {k: v for k, v in parts.items() if k not in ("node_labels", "node_attributes")}
    make_zip(tmp_path, "BARE", bare)

    def get(name, **kw):
        return load_tu(name, root=tmp_path, offline=True, cache_dir=tmp_path / "c", **kw)

    once, merged, kept = get("TINY"), get("TWICE"), get("TWICE", repeated_edges="keep")
    for g, h in zip(once.graphs, merged.graphs, strict=True):
        assert torch.equal(g.edge_index, h.edge_index) and torch.equal(g.x, h.x)
        assert torch.equal(g.edge_attr, h.edge_attr)
    assert merged.info["repeated_edge_lines"] == kept.info["repeated_edge_lines"] == 9
    assert merged.info["num_edges"] == 8 and kept.info["num_edges"] == 17
    assert merged.info["edge_lines"] == 17 and merged.info["self_loop_lines"] == 0
    assert merged.info["max_lines_per_edge"] == 3 and once.info["max_lines_per_edge"] == 1
    assert kept[0].num_edges == 13 and kept[1].num_edges == 4
    pairs = sorted(map(tuple, kept[0].edge_index.t().tolist()))
    assert pairs.count((1, 2)) == 3 and pairs.count((0, 1)) == 2
    # one-hot degree counts neighbours once when merged, every line when kept
    deg_m = get("BARE", degree_cap=8)[0].x.argmax(1).tolist()
    deg_k = get("BARE", degree_cap=8, repeated_edges="keep")[0].x.argmax(1).tolist()
    assert deg_m == [2, 2, 2] and deg_k == [4, 4, 5]   # node 3 (id 2) is the third copy's target
    with pytest.raises(DatasetError, match="repeated_edges must be one of merge, keep"):
        get("TWICE", repeated_edges="drop")


def test_repeats_with_different_edge_labels_cannot_be_merged(tmp_path):
    parts = {**TINY, "A": TINY["A"] + "2, 3\n", "edge_labels": TINY["edge_labels"] + "1\n"}
    make_zip(tmp_path, parts=parts)          # line 3 says (2, 3) has label 2, line 9 label 1
    with pytest.raises(DatasetError, match=r"lines 3 and 9 list the same edge \(2, 3\) with "
                                           r"different edge labels.*--repeated-edges keep"):
        load(tmp_path, use_cache=False)
    assert load(tmp_path, use_cache=False, repeated_edges="keep").info["num_edges"] == 9


@pytest.mark.parametrize("part,text,match", [
    ("A", "1, 2\n2, 1\n2, 3\n3, 2\n1, 3\n3, 1\n4, 5\n5,", "different numbers of values"),
    ("A", "1, 2\n2, x\n", "not a row of numbers"),
    ("A", "1, 2\n2, 9\n", "out of range"),
    ("A", "0, 1\n", "out of range"),
    ("A", "1, 4\n", "different graphs"),
    ("graph_indicator", "1\n1\n1\n2\n", "out of range"),      # 4 nodes, A names node 5
    ("graph_indicator", "1\n2\n1\n2\n2\n", "non-decreasing"),
    ("graph_labels", "1\n-1\n1\n", "3 labels"),
    ("node_attributes", "0.5, 1.0\n", "rows but"),
    ("edge_labels", "1\n", "rows but"),
])
def test_broken_files_raise_clear_errors(tmp_path, part, text, match):
    make_zip(tmp_path, parts={**TINY, part: text})
    with pytest.raises(DatasetError, match=match):
        load(tmp_path, use_cache=False)


def test_count_disagreements_and_empty_graphs(tmp_path):
    short = {**TINY, "A": "1, 2\n2, 1\n", "graph_indicator": "1\n1\n1\n2\n"}
    make_zip(tmp_path, parts=short)   # node labels list 5 nodes, the indicator 4
    with pytest.raises(DatasetError, match="5 rows but .* lists 4 nodes"):
        load(tmp_path, use_cache=False)
    empty = {**TINY, "graph_indicator": "1\n1\n1\n3\n3\n", "graph_labels": "1\n-1\n1\n"}
    make_zip(tmp_path, "EMPTY", empty)
    with pytest.raises(DatasetError, match=r"graph\(s\) \[2\] have no nodes"):
        load_tu("EMPTY", root=tmp_path, offline=True, use_cache=False)


def test_missing_part_truncated_zip_and_missing_file(tmp_path):
    make_zip(tmp_path, parts={k: v for k, v in TINY.items() if k != "graph_labels"})
    with pytest.raises(DatasetError, match="graph_labels"):
        load(tmp_path)
    path = make_zip(tmp_path, "TRUNC")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DatasetError, match="zip"):
        parse_tu_zip(path, "TRUNC")
    with pytest.raises(DatasetError, match="missing data file"):
        load_tu("NOPE", root=tmp_path, offline=True)


def test_real_enzymes_and_proteins(shared_datasets, tmp_path):
    for name, graphs, classes, feats, nmax in (("ENZYMES", 600, 6, 21, 126),
                                               ("PROTEINS", 1113, 2, 4, 620)):
        ds = load_tu(name.lower(), root=shared_datasets, offline=True, cache_dir=tmp_path)
        assert (len(ds), ds.num_classes, ds.num_features, ds.max_nodes) == (
            graphs, classes, feats, nmax)
        assert sum(g.num_nodes for g in ds.graphs) == ds.info["num_nodes"]
        assert all(g.is_undirected() for g in ds.graphs[:50])


def test_imdb_binary_merged_matches_pyg(shared_datasets, tmp_path):
    """IMDB-BINARY lists every edge twice; merged, each graph's edges are PyG's TUDataset's
    (which coalesces), and its one-hot degree is PyG's degree; kept, every edge is there
    twice."""
    pyg_datasets = pytest.importorskip("torch_geometric.datasets")
    archive = shared_datasets / "tu" / "IMDB-BINARY.zip"
    if not archive.is_file():
        pytest.skip(f"{archive} is not there")
    raw = tmp_path / "pyg" / "IMDB-BINARY" / "raw"
    raw.mkdir(parents=True)
    with zipfile.ZipFile(archive) as zf:
        for member in zf.namelist():
            if member.endswith(".txt"):
                (raw / member.rsplit("/", 1)[-1]).write_bytes(zf.read(member))
    ref = pyg_datasets.TUDataset(str(tmp_path / "pyg"), "IMDB-BINARY")
    ours = load_tu("imdb-binary", root=shared_datasets, offline=True, cache_dir=tmp_path / "c",
                   degree_cap=1000)
    kept = load_tu("imdb-binary", root=shared_datasets, offline=True,
                   cache_dir=tmp_path / "c", repeated_edges="keep")
    assert len(ours) == len(ref) == 1000 and ours.info["max_lines_per_edge"] == 2
    for g, h, k in zip(ours.graphs, ref, kept.graphs, strict=True):
        assert g.num_nodes == h.num_nodes and int(g.y) == int(h.y)
        assert sorted(map(tuple, g.edge_index.t().tolist())) == sorted(
            map(tuple, h.edge_index.t().tolist()))
        deg = torch.bincount(h.edge_index[1], minlength=h.num_nodes)
        assert torch.equal(g.x.argmax(1), deg)
        assert k.num_edges == 2 * g.num_edges


def test_your_own_archive_by_path_trains_and_predicts(tmp_path, capsys):
    """A TU archive anywhere on disk: load_tu_zip reads it as load_tu reads the data root's;
    'gnnkit train graph --dataset PATH.zip' trains on it and 'predict graph --input PATH.zip'
    scores it."""
    import json
    import shutil

    from gnnkit.cli import main
    from gnnkit.datasets.tudataset import load_tu_zip

    mine = tmp_path / "elsewhere" / "MINE.zip"
    mine.parent.mkdir()
    # six copies of the two tiny graphs, so a 2-fold CV has a graph of each class per fold
    parts = dict(TINY)
    parts["A"] = "".join(
        "".join(f"{int(a) + 5 * k}, {int(b) + 5 * k}\n" for a, b in
                (line.split(",") for line in TINY["A"].splitlines())) for k in range(6))
    parts["graph_indicator"] = "".join(f"{int(i) + 2 * k}\n" for k in range(6)
                                       for i in TINY["graph_indicator"].split())
    for key in ("graph_labels", "node_labels", "node_attributes", "edge_labels"):
        parts[key] = TINY[key] * 6
    shutil.move(make_zip(tmp_path, "MINE", parts), mine)
    ds = load_tu_zip(mine, cache_dir=tmp_path / "c")
    make_zip(tmp_path / "ref", "MINE", parts)          # the same archive in a data root
    ref = load_tu("MINE", root=tmp_path / "ref", offline=True, cache_dir=tmp_path / "c2")
    assert ds.name == "MINE" and len(ds) == len(ref) == 12
    for a, b in zip(ds.graphs, ref.graphs, strict=True):
        assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
    with pytest.raises(DatasetError, match="no such TU archive"):
        load_tu_zip(tmp_path / "nope.zip")

    assert main(["train", "graph", "--model", "memgnn", "--dataset", str(mine), "--folds", "2",
                 "--epochs", "2", "--hidden-dim", "8", "--num-heads", "2", "--out-dir",
                 str(tmp_path / "runs"), "--quiet", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)["run_dir"]
    assert Path(run).name.startswith("memgnn-MINE-")
    assert main(["predict", "graph", "--run", run, "--input", str(mine)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "graph,label,p_-1,p_1" and len(lines) == 13
    assert all(row.split(",")[1] in ("-1", "1") for row in lines[1:])


def test_graph_task_dataset_names(tmp_path, capsys, monkeypatch):
    """`train graph --dataset NAME`: an unregistered TU set found under the data root loads like
    a registered one; a node data set, or a name with no zip anywhere, is a clear error that
    lists the graph data sets instead of a bare missing-file message."""
    from gnnkit.cli import main
    from gnnkit.tasks import make_config
    from gnnkit.tasks.graph_prediction import load_graph_data

    monkeypatch.setenv("GNNKIT_OFFLINE", "1")
    make_zip(tmp_path)
    ds = load_graph_data(make_config("graph", dataset="TINY", root=str(tmp_path)))
    assert ds.name == "TINY" and len(ds) == 2 and ds.num_classes == 2
    make_zip(tmp_path, "BROKEN", parts={**TINY, "graph_labels": "1\n-1\n1\n"})
    with pytest.raises(DatasetError, match="3 labels") as err:   # its own error, unwrapped
        load_graph_data(make_config("graph", dataset="BROKEN", root=str(tmp_path)))
    assert "unknown graph data set" not in str(err.value)
    for name, match in (("cora", "'cora' is a node data set; train it with `gnnkit train "
                                 "node`, or pick a graph data set: collab, dd, enzymes"),
                        ("nonsense", "unknown graph data set 'nonsense': known ones are "
                                     "collab, .*mutag.*, or 'synthetic'.*missing data file "
                                     "tu/nonsense.zip")):
        with pytest.raises(DatasetError, match=match):
            load_graph_data(make_config("graph", dataset=name, root=str(tmp_path)))
        assert main(["train", "graph", "--dataset", name, "--root", str(tmp_path),
                     "--no-save"]) == 2
        assert "gnnkit: error: " in capsys.readouterr().err
