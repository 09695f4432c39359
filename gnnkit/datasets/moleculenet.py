"""MoleculeNet regression sets (Wu et al., 2018) as molecular graphs, via RDKit (optional).

``pip install gnnkit[chem]`` installs RDKit. Files (in the data root):

* ESOL: ``moleculenet/delaney-processed.csv``, target "measured log solubility in mols per
  litre", id "Compound ID" (1128 molecules);
* Lipophilicity: ``moleculenet/Lipophilicity.csv``, target "exp", id "CMPD_CHEMBLID" (4200);
* FreeSolv: ``moleculenet/SAMPL.csv``, target "expt" (hydration free energy, kcal/mol), id
  "iupac" (642).

Atoms become nodes, bonds both directions of an edge. Atom features (38, one-hot unless
noted): element (C N O S F P Cl Br I B Si Se, other), degree (0..5, other), formal charge
(-2..2, other), hybridisation (SP SP2 SP3 SP3D SP3D2, other), aromatic (0/1), total Hs
(0..4). Bond features (6): type (single, double, triple, aromatic), conjugated, in a ring.

SMILES that RDKit cannot parse are skipped and reported: a warning, and
``info["invalid_smiles"]`` (count) with ``info["invalid_ids"]`` (row number and id).

Any other CSV in the same form (a SMILES column and a numeric target column) loads with
:func:`load_molecule_csv`, or from the command line with ``--dataset FILE.csv`` (and
``--target-column`` / ``--smiles-column`` where the columns need naming). Processed graphs
are cached (:mod:`gnnkit.datasets.cache`).
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
import warnings
from pathlib import Path

import torch

from ..graph import Graph
from .cache import cache_file, load_or_build
from .download import fetch
from .errors import DatasetError
from .tudataset import GraphDataset, unpack_graphs

__all__ = ["MOLECULENET", "atom_features", "bond_features", "element_symbols", "load_molecule_csv",
           "load_moleculenet", "mol_to_graph", "read_molecules"]

MOLECULENET = {
    "esol": ("moleculenet/delaney-processed.csv", "measured log solubility in mols per litre",
             "Compound ID", "smiles"),
    "lipophilicity": ("moleculenet/Lipophilicity.csv", "exp", "CMPD_CHEMBLID", "smiles"),
    "freesolv": ("moleculenet/SAMPL.csv", "expt", "iupac", "smiles"),
}
_ELEMENTS = ("C", "N", "O", "S", "F", "P", "Cl", "Br", "I", "B", "Si", "Se")
_HYB = ("SP", "SP2", "SP3", "SP3D", "SP3D2")
ATOM_DIM = len(_ELEMENTS) + 1 + 7 + 6 + len(_HYB) + 1 + 1 + 5
BOND_DIM = 6
_CACHE_VERSION = 1


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


def element_symbols(x: torch.Tensor) -> list[str]:
    """Element symbol of each atom row of ``x`` [n, ATOM_DIM] (:func:`atom_features`), read
    from its element one-hot; ``"*"`` for an element outside the list."""
    if x.dim() != 2 or x.shape[1] != ATOM_DIM:
        raise ValueError(f"expected atom features [n, {ATOM_DIM}], got {list(x.shape)}")
    names = _ELEMENTS + ("*",)
    return [names[i] for i in x[:, :len(names)].argmax(1).tolist()]


def bond_features(bond) -> list[float]:  # noqa: ANN001 - an rdkit Bond
    """The 6 features of an RDKit bond: type one-hot (4), conjugated, in a ring."""
    kinds = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")
    t = str(bond.GetBondType())
    return ([float(t == k) for k in kinds] + [float(bond.GetIsConjugated()),
                                              float(bond.IsInRing())])


def mol_to_graph(mol, y: float | None) -> Graph:  # noqa: ANN001 - an rdkit Mol
    """Atoms as nodes (:func:`atom_features`), bonds as both directed edges
    (:func:`bond_features`), ``y`` [1, 1] (none when ``y`` is None)."""
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
                 y=None if y is None else torch.tensor([[y]], dtype=torch.float32))


def load_moleculenet(name: str, root: str | os.PathLike | None = None,
                     offline: bool | None = None, base_url: str | None = None,
                     cache_dir: str | os.PathLike | None = None,
                     use_cache: bool = True) -> GraphDataset:
    """ESOL, Lipophilicity or FreeSolv as a regression :class:`GraphDataset` (``num_classes=None``),
    fetched into the data root when missing; see :func:`load_molecule_csv`."""
    key = name.lower()
    if key not in MOLECULENET:
        raise DatasetError(f"unknown MoleculeNet set {name!r}; known: {', '.join(MOLECULENET)}")
    rel, target, id_col, smiles_col = MOLECULENET[key]
    _rdkit()   # a missing RDKit is reported before any download
    path = fetch(rel, root, offline, base_url)
    return load_molecule_csv(path, target, smiles_col, id_col, name=key, cache_dir=cache_dir,
                             use_cache=use_cache)


def load_molecule_csv(path: str | os.PathLike, target: str | None = None,
                      smiles_column: str = "smiles", id_column: str | None = None,
                      name: str | None = None, cache_dir: str | os.PathLike | None = None,
                      use_cache: bool = True) -> GraphDataset:
    """Any CSV with a SMILES column and a numeric target column, as a regression
    :class:`GraphDataset` (``num_classes=None``; ``y`` [1, 1] float32 per molecule).

    ``target``: the column to predict; when omitted, the CSV's only column (other than the
    SMILES and id columns) whose every value is a number. ``id_column`` names molecules in
    the report of skipped rows (default: the SMILES). A SMILES that RDKit cannot parse is
    skipped with a warning (on every load, cached or not) and listed in
    ``info["invalid_ids"]``; a missing or non-numeric target is an error naming the line.
    The processed graphs are cached (:mod:`gnnkit.datasets.cache`), keyed by the file's
    path, size and modification time, the columns and the RDKit version.
    """
    Chem, RDLogger = _rdkit()
    import rdkit

    path = Path(path)
    name = name or path.stem
    header = _csv_header(path, smiles_column, "a SMILES column and a numeric target column")
    columns = ", ".join(repr(c) for c in header)
    if id_column is not None and id_column not in header:
        raise DatasetError(f"{path} has no id column {id_column!r} (columns: {columns})")
    if target is not None and target not in header:
        raise DatasetError(f"{path} has no target column {target!r} (columns: {columns}); "
                           f"name it with target (--target-column)")
    st = path.stat()
    ident = repr((str(path.resolve()), st.st_size, st.st_mtime_ns, target, smiles_column,
                  id_column, rdkit.__version__, _CACHE_VERSION))
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)
    cfile = cache_file("molecules", f"{stem}-{hashlib.sha1(ident.encode()).hexdigest()[:16]}",
                       cache_dir)
    p = load_or_build(cfile, lambda: _parse_csv(path, header, target, smiles_column, id_column,
                                                Chem, RDLogger), use_cache)
    info = dict(p["info"])
    _warn_skipped(name, info["invalid_ids"])
    info["cache"] = str(cfile) if use_cache else None
    return GraphDataset(name, unpack_graphs(p), None, info)


def _csv_header(path: Path, smiles_column: str, holding: str) -> list[str]:
    """The header of the CSV at ``path``, checked: the file exists, is not empty and has
    ``smiles_column`` (``holding`` says what the file should hold, for the messages)."""
    if not path.is_file():
        raise DatasetError(f"no such CSV file: {path} (give the path of a CSV with {holding})")
    header = _read_csv(path, header_only=True)
    if not header:
        raise DatasetError(f"{path} is empty: expected a header line naming {holding}")
    if smiles_column not in header:
        raise DatasetError(f"{path} has no SMILES column {smiles_column!r} (columns: "
                           f"{', '.join(map(repr, header))}); name it with smiles_column "
                           f"(--smiles-column)")
    return header


def _warn_skipped(name: str, skipped: list[str]) -> None:
    """One warning listing (the first five of) the rows whose SMILES RDKit cannot parse."""
    if skipped:
        warnings.warn(f"{name}: skipped {len(skipped)} molecule(s) whose SMILES RDKit cannot "
                      f"parse: {', '.join(skipped[:5])}{' ...' if len(skipped) > 5 else ''}",
                      stacklevel=3)


def _read_csv(path: Path, header_only: bool = False) -> list:
    """The header (``header_only``) or the rows as dicts; UTF-8, a leading BOM ignored."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return next(csv.reader(f), []) if header_only else list(csv.DictReader(f))
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                           f"save it as UTF-8 CSV") from None
    except csv.Error as exc:
        raise DatasetError(f"{path} is not a readable CSV file: {exc}") from None


def _target_column(path: Path, header: list[str], rows: list[dict], skip: set[str]) -> str:
    """The only column outside ``skip`` whose every value parses as a finite number."""
    def numeric(col: str) -> bool:
        try:
            return all(math.isfinite(float(r[col])) for r in rows)
        except (TypeError, ValueError):
            return False

    found = [c for c in header if c not in skip and numeric(c)]
    if len(found) != 1:
        what = "no column" if not found else f"{len(found)} columns ({', '.join(map(repr, found))})"
        raise DatasetError(f"{path}: cannot tell which column is the target: {what} other than "
                           f"the SMILES hold(s) a number on every row (columns: "
                           f"{', '.join(map(repr, header))}); name it with target "
                           f"(--target-column)")
    return found[0]


def _molecules(rows: list[dict], smiles_col: str, Chem, RDLogger  # noqa: ANN001, N803
               ) -> list[tuple[int, dict, str, object]]:
    """(line, row, SMILES, RDKit molecule or None when it cannot be parsed or has no atoms)
    of every row; line 1 is the header."""
    out = []
    RDLogger.DisableLog("rdApp.*")   # we report failures ourselves, once
    try:
        for i, r in enumerate(rows, 2):
            smiles = (r[smiles_col] or "").strip()
            mol = Chem.MolFromSmiles(smiles)
            out.append((i, r, smiles,
                        mol if mol is not None and mol.GetNumAtoms() > 0 else None))
    finally:
        RDLogger.EnableLog("rdApp.*")
    return out


def read_molecules(path: str | os.PathLike, smiles_column: str = "smiles"
                   ) -> tuple[list[Graph], list[int], list[str], list[str]]:
    """The molecules of a CSV to predict (no target needed): ``(graphs, lines, smiles,
    skipped)``, one graph (no ``y``) per parsable SMILES with its line number and text;
    ``skipped`` lists the lines RDKit could not parse (also reported as a warning)."""
    Chem, RDLogger = _rdkit()
    path = Path(path)
    _csv_header(path, smiles_column, "a SMILES column")
    graphs, lines, smiles, skipped = [], [], [], []
    for i, _, smi, mol in _molecules(_read_csv(path), smiles_column, Chem, RDLogger):
        if mol is None:
            skipped.append(f"line {i}: {smi[:60]}")
        else:
            graphs.append(mol_to_graph(mol, None))
            lines.append(i)
            smiles.append(smi)
    _warn_skipped(path.name, skipped)
    if not graphs:
        raise DatasetError(f"{path}: no molecule to predict (no row, or no SMILES RDKit can "
                           f"parse)")
    return graphs, lines, smiles, skipped


def _parse_csv(path: Path, header: list[str], target: str | None, smiles_col: str,
               id_col: str | None, Chem, RDLogger) -> dict:  # noqa: ANN001, N803 - rdkit modules
    rows = _read_csv(path)
    if not rows:
        raise DatasetError(f"{path} has a header but no molecules")
    if target is None:
        target = _target_column(path, header, rows, {smiles_col, id_col})
    graphs, invalid = [], []
    for i, row, smiles, mol in _molecules(rows, smiles_col, Chem, RDLogger):
        if mol is None:
            invalid.append(f"line {i}: {row[id_col] if id_col else smiles[:60]}")
            continue
        try:
            y = float(row[target])
        except (TypeError, ValueError):
            y = math.nan
        if not math.isfinite(y):
            raise DatasetError(f"{path}, line {i}: target {target!r} is {row[target]!r}, "
                               f"not a finite number (remove the row or fill in the value)")
        graphs.append(mol_to_graph(mol, y))
    if not graphs:
        raise DatasetError(f"{path}: no valid molecules (all {len(rows)} SMILES failed to "
                           f"parse)")
    info = {"source": str(path), "target": target, "num_molecules": len(rows),
            "invalid_smiles": len(invalid), "invalid_ids": invalid,
            "node_features": f"atom features ({ATOM_DIM})", "edge_features": f"bond ({BOND_DIM})"}
    nodes = torch.tensor([0] + [g.num_nodes for g in graphs]).cumsum(0)
    edges = torch.tensor([0] + [g.num_edges for g in graphs]).cumsum(0)
    return {"x": torch.cat([g.x for g in graphs]), "ptr": nodes, "eptr": edges,
            "edge_index": torch.cat([g.edge_index for g in graphs], 1),
            "edge_attr": torch.cat([g.edge_attr for g in graphs]),
            "y": torch.cat([g.y for g in graphs]), "info": info}
