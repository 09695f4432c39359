"""MoleculeNet regression sets (Wu et al., 2018) as molecular graphs, via RDKit (optional).

``pip install gnnkit[chem]`` installs RDKit. Files (in the data root):

* ESOL: ``moleculenet/delaney-processed.csv``, target "measured log solubility in mols per
  litre", id "Compound ID" (1128 molecules);
* Lipophilicity: ``moleculenet/Lipophilicity.csv``, target "exp", id "CMPD_CHEMBLID" (4200).

Atoms become nodes, bonds both directions of an edge. Atom features (38, one-hot unless
noted): element (C N O S F P Cl Br I B Si Se, other), degree (0..5, other), formal charge
(-2..2, other), hybridisation (SP SP2 SP3 SP3D SP3D2, other), aromatic (0/1), total Hs
(0..4). Bond features (6): type (single, double, triple, aromatic), conjugated, in a ring.

SMILES that RDKit cannot parse are skipped and reported: a warning, and
``info["invalid_smiles"]`` (count) with ``info["invalid_ids"]`` (row number and id).
"""

from __future__ import annotations

import csv
import os
import warnings

import torch

from ..graph import Graph
from .download import fetch
from .errors import DatasetError
from .tudataset import GraphDataset

__all__ = ["MOLECULENET", "atom_features", "bond_features", "load_moleculenet", "mol_to_graph"]

MOLECULENET = {
    "esol": ("moleculenet/delaney-processed.csv", "measured log solubility in mols per litre",
             "Compound ID", "smiles"),
    "lipophilicity": ("moleculenet/Lipophilicity.csv", "exp", "CMPD_CHEMBLID", "smiles"),
}
_ELEMENTS = ("C", "N", "O", "S", "F", "P", "Cl", "Br", "I", "B", "Si", "Se")
_HYB = ("SP", "SP2", "SP3", "SP3D", "SP3D2")
ATOM_DIM = len(_ELEMENTS) + 1 + 7 + 6 + len(_HYB) + 1 + 1 + 5
BOND_DIM = 6


def _rdkit():  # noqa: ANN202
    try:
        from rdkit import Chem, RDLogger
    except ImportError as exc:   # keep torch/numpy ABI or partial-install errors visible
        raise DatasetError(f"MoleculeNet data sets need RDKit ({exc}): pip install "
                           "gnnkit[chem] (or pip install rdkit)") from exc
    return Chem, RDLogger


def _onehot(value, choices) -> list[float]:  # noqa: ANN001 - any hashable
    out = [0.0] * (len(choices) + 1)
    out[choices.index(value) if value in choices else len(choices)] = 1.0
    return out


def atom_features(atom) -> list[float]:  # noqa: ANN001 - an rdkit Atom
    """The 38 features of an RDKit atom (see the module docstring)."""
    hs = [0.0] * 5
    hs[min(atom.GetTotalNumHs(), 4)] = 1.0
    return (_onehot(atom.GetSymbol(), _ELEMENTS) + _onehot(atom.GetDegree(), (0, 1, 2, 3, 4, 5))
            + _onehot(atom.GetFormalCharge(), (-2, -1, 0, 1, 2))
            + _onehot(str(atom.GetHybridization()), _HYB)
            + [float(atom.GetIsAromatic())] + hs)


def bond_features(bond) -> list[float]:  # noqa: ANN001 - an rdkit Bond
    """The 6 features of an RDKit bond: type one-hot (4), conjugated, in a ring."""
    kinds = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
    t = str(bond.GetBondType())
    return ([float(t == k) for k in kinds] + [float(bond.GetIsConjugated()),
                                              float(bond.IsInRing())])


def mol_to_graph(mol, y: float) -> Graph:  # noqa: ANN001 - an rdkit Mol
    x = torch.tensor([atom_features(a) for a in mol.GetAtoms()], dtype=torch.float32)
    src, dst, ea = [], [], []
    for b in mol.GetBonds():
        i, j, f = b.GetBeginAtomIdx(), b.GetEndAtomIdx(), bond_features(b)
        src += [i, j]
        dst += [j, i]
        ea += [f, f]
    ei = torch.tensor([src, dst], dtype=torch.long).view(2, -1)
    edge_attr = torch.tensor(ea, dtype=torch.float32).view(-1, BOND_DIM)
    return Graph(ei, x.shape[0], x=x, edge_attr=edge_attr,
                 y=torch.tensor([[y]], dtype=torch.float32))


def load_moleculenet(name: str, root: str | os.PathLike | None = None,
                     offline: bool | None = None, base_url: str | None = None) -> GraphDataset:
    """ESOL or Lipophilicity as a regression :class:`GraphDataset` (``num_classes=None``)."""
    key = name.lower()
    if key not in MOLECULENET:
        raise DatasetError(f"unknown MoleculeNet set {name!r}; known: {', '.join(MOLECULENET)}")
    rel, target, id_col, smiles_col = MOLECULENET[key]
    Chem, RDLogger = _rdkit()
    path = fetch(rel, root, offline, base_url)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or any(c not in rows[0] for c in (target, id_col, smiles_col)):
        raise DatasetError(f"{path} lacks the columns {target!r}, {id_col!r}, {smiles_col!r}")
    graphs, invalid = [], []
    RDLogger.DisableLog("rdApp.*")   # we report failures ourselves, once
    try:
        for i, r in enumerate(rows, 2):           # line 1 is the header
            mol = Chem.MolFromSmiles(r[smiles_col].strip())
            if mol is None or mol.GetNumAtoms() == 0:
                invalid.append(f"line {i}: {r[id_col]}")
                continue
            try:
                y = float(r[target])
            except ValueError:
                raise DatasetError(f"{path}, line {i}: target {r[target]!r} is not a number"
                                   ) from None
            graphs.append(mol_to_graph(mol, y))
    finally:
        RDLogger.EnableLog("rdApp.*")
    if invalid:
        warnings.warn(f"{name}: skipped {len(invalid)} molecule(s) whose SMILES RDKit cannot "
                      f"parse: {', '.join(invalid[:5])}{' ...' if len(invalid) > 5 else ''}",
                      stacklevel=2)
    if not graphs:
        raise DatasetError(f"{path}: no valid molecules")
    info = {"source": str(path), "target": target, "num_molecules": len(rows),
            "invalid_smiles": len(invalid), "invalid_ids": invalid,
            "node_features": f"atom features ({ATOM_DIM})", "edge_features": f"bond ({BOND_DIM})"}
    return GraphDataset(key, graphs, None, info)
