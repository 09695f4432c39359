"""MoleculeNet CSVs through RDKit: features, invalid SMILES reported, real counts."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.chem
pytest.importorskip("rdkit")

from gnnkit.datasets.moleculenet import (  # noqa: E402
    ATOM_DIM,
    BOND_DIM,
    load_molecule_csv,
    load_moleculenet,
)
from gnnkit.tasks import make_config  # noqa: E402
from gnnkit.tasks.graph_prediction import run_folds  # noqa: E402

HEADER = ("Compound ID,ESOL predicted log solubility in mols per litre,"
          "measured log solubility in mols per litre,smiles\n")


def _csv(tmp_path, rows):
    d = tmp_path / "moleculenet"
    d.mkdir(parents=True, exist_ok=True)
    (d / "delaney-processed.csv").write_text(HEADER + "".join(
        f"{i},0,{y},{s}\n" for i, y, s in rows))


def test_features_and_invalid_smiles_are_reported(tmp_path):
    _csv(tmp_path, [("ethanol", -0.5, "CCO"), ("broken", 1.0, "C1CC("),
                    ("benzene", -1.6, "c1ccccc1"), ("argon", 0.1, "[Ar]")])
    with pytest.warns(UserWarning, match="skipped 1 molecule"):
        ds = load_moleculenet("esol", root=tmp_path, offline=True)
    assert len(ds) == 3 and ds.task == "regression" and ds.num_classes is None
    assert ds.info["invalid_smiles"] == 1 and ds.info["invalid_ids"] == ["line 3: broken"]
    eth, benz, ar = ds.graphs
    assert eth.num_nodes == 3 and eth.num_edges == 4 and benz.num_edges == 12
    assert ar.num_nodes == 1 and ar.num_edges == 0 and ar.x[0, 12] == 1   # element "other"
    assert eth.x.shape == (3, ATOM_DIM) and benz.edge_attr.shape == (12, BOND_DIM)
    torch.testing.assert_close(eth.y, torch.tensor([[-0.5]]))
    # benzene carbon: C, degree 2, charge 0, SP2, aromatic, one H
    c = benz.x[0].tolist()
    assert c[0] == 1 and c[13 + 2] == 1 and c[20 + 2] == 1 and c[26 + 1] == 1
    assert c[32] == 1 and c[33 + 1] == 1 and sum(c) == 6
    # aromatic bond, conjugated, in a ring; ethanol C-C: single, not conjugated, no ring
    assert benz.edge_attr[0].tolist() == [0, 0, 0, 1, 1, 1]
    assert eth.edge_attr[0].tolist() == [1, 0, 0, 0, 0, 0]


def test_regression_task_runs_and_is_deterministic(tmp_path):
    smiles = ["C", "CC", "CCC", "CCCC", "CCO", "CCCO", "c1ccccc1", "Cc1ccccc1", "CC(=O)O",
              "CCN", "CCCN", "OCCO", "C=C", "C#N", "CCl", "CBr", "CCCl", "CCBr", "CO", "CN"]
    _csv(tmp_path, [(f"m{i}", 0.1 * len(s), s) for i, s in enumerate(smiles)])
    ds = load_moleculenet("esol", root=tmp_path, offline=True)
    for model in ("memgnn", "gmn"):
        cfg = make_config("graph", model=model, dataset="esol", save=False, quiet=True,
                          seeds=2, epochs=3, hidden_dim=8, num_heads=2)
        a, b = run_folds(cfg, data=ds), run_folds(cfg, data=ds)
        assert a["protocol"] == "random_80_10_10" and a["num_folds"] == 2
        assert a["test_rmse_mean"] > 0 and a["test_rmse_mean"] == b["test_rmse_mean"]


def test_real_esol_and_lipophilicity(shared_datasets):
    esol = load_moleculenet("ESOL", root=shared_datasets, offline=True)
    assert len(esol) + esol.info["invalid_smiles"] == 1128
    assert esol.info["invalid_smiles"] == 0


def _write(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n"
                                                       for r in rows))
    return path


MOLS = [("ethanol", "CCO", -0.77), ("benzene", "c1ccccc1", -1.64), ("bad", "C1CC(", 0.0),
        ("acetic", "CC(=O)O", 1.22), ("toluene", "Cc1ccccc1", -2.21)]


def test_any_csv_in_the_same_form_matches_the_moleculenet_loader(tmp_path):
    # other column names and order; the target found as the only numeric column
    own = _write(tmp_path / "own.csv", ["\ufeffname", "SMILES", "logS"],   # with a BOM
                 [(n, s, y) for n, s, y in MOLS])
    with pytest.warns(UserWarning, match=r"skipped 1 molecule.*line 4: bad"):
        ds = load_molecule_csv(own, smiles_column="SMILES", id_column="name",
                               cache_dir=tmp_path / "c")
    assert ds.name == "own" and ds.num_classes is None and len(ds) == 4
    assert ds.info["target"] == "logS" and ds.info["invalid_ids"] == ["line 4: bad"]
    _csv(tmp_path, [(n, y, s) for n, s, y in MOLS])
    with pytest.warns(UserWarning):
        ref = load_moleculenet("esol", root=tmp_path, offline=True, cache_dir=tmp_path / "c")
    for a, b in zip(ds.graphs, ref.graphs, strict=True):
        assert a.num_nodes == b.num_nodes
        for name in ("x", "edge_index", "edge_attr", "y"):
            torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=0, atol=0)
    torch.testing.assert_close(ds.graphs[3].y, torch.tensor([[-2.21]]))


def test_molecule_cache_is_used_rebuilt_when_damaged_and_still_reports_skips(tmp_path):
    own = _write(tmp_path / "own.csv", ["smiles", "y"], [(s, y) for _, s, y in MOLS])
    with pytest.warns(UserWarning, match="skipped 1"):
        first = load_molecule_csv(own, cache_dir=tmp_path / "c")
    files = list((tmp_path / "c" / "molecules").glob("*.pt"))
    assert len(files) == 1 and first.info["cache"] == str(files[0])
    assert first.info["invalid_ids"] == ["line 4: C1CC("]      # no id column: the SMILES
    stamp = files[0].stat().st_mtime_ns
    with pytest.warns(UserWarning, match="skipped 1"):     # reported again from the cache
        second = load_molecule_csv(own, cache_dir=tmp_path / "c")
    assert files[0].stat().st_mtime_ns == stamp            # read, not rewritten
    files[0].write_bytes(b"garbage")                       # damaged: rebuilt, not trusted
    with pytest.warns(UserWarning, match="skipped 1"):
        third = load_molecule_csv(own, cache_dir=tmp_path / "c")
    for ds in (second, third):
        for a, b in zip(first.graphs, ds.graphs, strict=True):
            torch.testing.assert_close(a.x, b.x)
            torch.testing.assert_close(a.y, b.y)
    # a different target column is another cache entry, not a stale read
    _write(tmp_path / "own.csv", ["smiles", "y", "z"], [(s, y, 2 * y) for _, s, y in MOLS])
    with pytest.warns(UserWarning):
        z = load_molecule_csv(own, target="z", cache_dir=tmp_path / "c")
    torch.testing.assert_close(z.graphs[0].y, torch.tensor([[-1.54]]))


@pytest.mark.parametrize("header, rows, kw, match", [
    (None, None, {}, "no such CSV file"),
    ([], [], {}, "is empty"),
    (["smiles", "y"], [], {}, "header but no molecules"),
    (["smi", "y"], [("CCO", 1)], {}, r"no SMILES column 'smiles' \(columns: 'smi', 'y'\)"),
    (["smiles", "a", "b"], [("CCO", 1, 2)], {}, r"2 columns \('a', 'b'\).*--target-column"),
    (["smiles", "y"], [("CCO", 1), ("CC", "")], {}, "no column other than the SMILES"),
    (["smiles", "y"], [("CCO", 1), ("CC", "")], {"target": "y"}, "line 3: target 'y' is ''"),
    (["smiles", "y"], [("CCO", "nan")], {"target": "y"}, "not a finite number"),
    (["smiles", "y"], [("CCO", 1)], {"target": "Y"}, "no target column 'Y'"),
    (["smiles", "y"], [("C1CC(", 1)], {}, "no valid molecules"),
    (["smiles", "y"], [("CCO", "1\xe9")], {}, "not UTF-8 text"),
])
def test_bad_csv_files_are_clear_errors(tmp_path, header, rows, kw, match):
    from gnnkit.datasets.errors import DatasetError

    path = tmp_path / "m.csv"
    if header == []:
        path.write_text("")
    elif header is not None:
        _write(path, header, rows)
        if "\xe9" in path.read_text():
            path.write_bytes(path.read_text().encode("latin-1"))
    with pytest.raises(DatasetError, match=match):
        load_molecule_csv(path, cache_dir=tmp_path / "c", **kw)


def test_graph_task_trains_on_a_csv_path(tmp_path):
    from gnnkit.config import ConfigError

    smiles = ["C", "CC", "CCC", "CCCC", "CCO", "CCCO", "c1ccccc1", "Cc1ccccc1", "CC(=O)O",
              "CCN", "CCCN", "OCCO", "C=C", "C#N", "CCl", "CBr", "CCCl", "CCBr", "CO", "CN"]
    path = _write(tmp_path / "my mols.csv", ["id", "Smiles", "target"],
                  [(i, s, 0.1 * len(s)) for i, s in enumerate(smiles)])
    cfg = make_config("graph", model="memgnn", dataset=str(path), smiles_column="Smiles",
                      target_column="target",
                      out_dir=str(tmp_path / "runs"), quiet=True, seeds=2, epochs=2,
                      hidden_dim=8, num_heads=2)
    res = run_folds(cfg)
    assert res["protocol"] == "random_80_10_10" and res["num_folds"] == 2
    assert res["test_rmse_mean"] > 0
    run_dir = tmp_path / "runs" / res["run_dir"].split("/")[-1]
    assert run_dir.parent == tmp_path / "runs" and run_dir.name.startswith("memgnn-my mols-")
    with pytest.raises(ConfigError, match="columns of a CSV data set"):
        make_config("graph", model="memgnn", dataset="esol", target_column="y")


def test_predict_graph_cli_scores_a_csv_of_smiles(tmp_path, capsys):
    """Train on a CSV, then 'gnnkit predict graph' on the same CSV: the predictions on the
    test split's lines give the test RMSE training reported; bad SMILES are skipped."""
    import csv as csvlib

    from gnnkit.cli import main
    from gnnkit.tasks.graph_prediction import fold_splits

    smiles = ["C", "CC", "CCC", "CCCC", "CCO", "CCCO", "c1ccccc1", "Cc1ccccc1", "CC(=O)O",
              "CCN", "CCCN", "OCCO", "C=C", "C#N", "CCl", "CBr", "CCCl", "CCBr", "CO", "CN"]
    train_csv = _write(tmp_path / "train.csv", ["smiles", "logS"],
                       [(s, round(0.3 * len(s) - 1, 2)) for s in smiles])
    cfg = make_config("graph", model="memgnn", dataset=str(train_csv), seeds=1, epochs=3,
                      hidden_dim=8, num_heads=2, quiet=True, out_dir=str(tmp_path),
                      run_name="run")
    res = run_folds(cfg)
    out = tmp_path / "pred.csv"
    assert main(["predict", "graph", "--run", str(tmp_path / "run"), "--input",
                 str(train_csv), "--out", str(out)]) == 0
    rows = list(csvlib.DictReader(out.open()))
    assert list(rows[0]) == ["line", "smiles", "logS"] and len(rows) == len(smiles)
    y = torch.tensor([0.3 * len(s) - 1 for s in smiles], dtype=torch.float64).round(decimals=2)
    (_, _, te), = fold_splits(cfg, y, True)
    pred = torch.tensor([float(rows[i]["logS"]) for i in te.tolist()], dtype=torch.float64)
    assert [rows[i]["smiles"] for i in te.tolist()] == [smiles[i] for i in te.tolist()]
    rmse = (pred - y[te]).pow(2).mean().sqrt().item()
    assert rmse == pytest.approx(res["runs"][0]["test_rmse"], rel=1e-4)   # 6-digit output

    new = _write(tmp_path / "new.csv", ["name", "smiles"], [("a", "CCCCC"), ("b", "C1CC("),
                                                           ("c", "c1ccncc1")])
    with pytest.warns(UserWarning, match=r"skipped 1 .*line 3: C1CC\("):
        assert main(["predict", "graph", "--run", str(tmp_path / "run"), "--input",
                     str(new)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "line,smiles,logS" and [s.split(",")[:2] for s in lines[1:]] == [
        ["2", "CCCCC"], ["4", "c1ccncc1"]]
    assert main(["predict", "graph", "--run", str(tmp_path / "run"), "--input", "esol"]) == 2
    assert "must be a CSV file with a SMILES column" in capsys.readouterr().err
    assert main(["predict", "graph", "--run", str(tmp_path / "run"), "--input", str(new),
                 "--smiles-column", "SMILES"]) == 2
    assert "no SMILES column 'SMILES'" in capsys.readouterr().err


def test_cluster_figure_labels_atoms_by_element(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from rdkit import Chem

    from gnnkit import viz
    from gnnkit.datasets.moleculenet import atom_features, element_symbols

    mol = Chem.MolFromSmiles("OC(=O)c1ccncc1[Si](C)(C)Cl.[Ar]")
    x = torch.tensor([atom_features(a) for a in mol.GetAtoms()])
    want = [a.GetSymbol() if a.GetSymbol() != "Ar" else "*" for a in mol.GetAtoms()]
    assert element_symbols(x) == want
    with pytest.raises(ValueError, match="expected atom features"):
        element_symbols(x[:, :10])

    drawn = []
    plot = viz.plot_memory_clusters
    monkeypatch.setattr(viz, "plot_memory_clusters",
                        lambda g, C, *a, **k: (drawn.append((g, k["labels"])),
                                               plot(g, C, *a, **k))[1])
    smiles = ["CCO", "CCCO", "c1ccccc1", "Cc1ccccc1", "CC(=O)O", "CCN", "CCCN", "OCCO",
              "C=C", "C#N", "CCl", "CBr", "CCCl", "CCBr", "CO", "CN", "CCS", "NCCO", "CCF", "CI"]
    path = _write(tmp_path / "m.csv", ["smiles", "y"], [(s, len(s)) for s in smiles])
    cfg = make_config("graph", model="memgnn", dataset=str(path), seeds=1, epochs=1,
                      hidden_dim=8, num_heads=2, quiet=True, out_dir=str(tmp_path),
                      run_name="fig", figures=True)
    run_folds(cfg)
    (g, labels), = drawn
    assert labels == element_symbols(g.x) and len(labels) == g.num_nodes
    assert set(labels) <= {"C", "N", "O", "S", "F", "Cl", "Br", "I"}
    assert (tmp_path / "fig" / "figures" / "memory_clusters.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="one per node"):
        viz.plot_memory_clusters(g, torch.ones(g.num_nodes, 2) / 2, tmp_path / "x.png",
                                 labels=["C"])
