"""The RDKit import error of the MoleculeNet loader (runs without RDKit installed)."""

from __future__ import annotations

import pytest


def test_failed_rdkit_import_is_reported_with_its_cause(monkeypatch):
    # an RDKit that is installed but fails to import must not read as "not installed" only
    import builtins

    from gnnkit.datasets import moleculenet
    from gnnkit.datasets.errors import DatasetError

    real_import = builtins.__import__

    def broken(name, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if name.startswith("rdkit"):
            raise ImportError("libRDKitFoo.so: cannot open shared object file")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken)
    with pytest.raises(DatasetError, match="need RDKit.*libRDKitFoo.so.*pip install"):
        moleculenet._rdkit()
