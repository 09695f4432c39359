"""MoleculeNet CSVs through RDKit: features, invalid SMILES reported, real counts."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.chem
pytest.importorskip("rdkit")

from gnnkit.datasets.moleculenet import ATOM_DIM, BOND_DIM, load_moleculenet  # noqa: E402
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
