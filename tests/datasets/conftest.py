"""Fixtures for the data set tests: an isolated environment and a writer of Planetoid files in
the real format (Python-2 pickles, protocol 2, the same globals and opcodes as the originals)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """No test reads the user's data root, mirror or offline setting, or writes to ~/.cache."""
    for var in ("GNNKIT_OFFLINE", "GNNKIT_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GNNKIT_DATA", str(tmp_path_factory.mktemp("default_root")))


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


class Py2Pickle:
    """Emit protocol-2 pickles the way Python 2 / numpy 1.x / scipy 0.x wrote the Planetoid
    files: ``numpy.core.multiarray._reconstruct`` arrays with BINSTRING payloads, a
    ``scipy.sparse.csr.csr_matrix`` built by NEWOBJ + BUILD(dict), ``defaultdict(list)``."""

    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")  # PROTO 2

    def bytes(self) -> bytes:
        return bytes(self.out) + b"."  # STOP

    def glob(self, module: str, name: str) -> None:
        self.out += b"c" + f"{module}\n{name}\n".encode()

    def int(self, v: int) -> None:
        if 0 <= v < 256:
            self.out += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.out += b"M" + struct.pack("<H", v)
        else:
            self.out += b"J" + struct.pack("<i", v)

    def str(self, s: bytes) -> None:
        if len(s) < 256:
            self.out += b"U" + bytes([len(s)]) + s
        else:
            self.out += b"T" + struct.pack("<I", len(s)) + s

    def op(self, code: bytes) -> None:
        self.out += code

    def ndarray(self, a: np.ndarray) -> None:
        a = np.ascontiguousarray(a)
        self.glob("numpy.core.multiarray", "_reconstruct")
        self.glob("numpy", "ndarray")
        self.int(0)
        self.op(b"\x85")  # TUPLE1
        self.str(b"b")
        self.op(b"\x87R")  # TUPLE3, REDUCE
        self.op(b"(")  # MARK: state tuple
        self.int(1)
        self.op(b"(")
        for d in a.shape:
            self.int(d)
        self.op(b"t")  # shape tuple
        self.glob("numpy", "dtype")
        self.str(a.dtype.str[1:].encode())  # 'f4', 'i4', 'f8'
        self.int(0)
        self.int(1)
        self.op(b"\x87R(")  # TUPLE3, REDUCE, MARK
        self.int(3)
        self.str(b"<" if a.dtype.itemsize > 1 else b"|")
        self.op(b"NNN")
        self.int(-1)
        self.int(-1)
        self.int(0)
        self.op(b"tb")  # TUPLE, BUILD (dtype state)
        self.op(b"\x89")  # NEWFALSE (not Fortran order)
        self.str(a.astype(a.dtype.newbyteorder("<")).tobytes())
        self.op(b"tb")  # TUPLE, BUILD (array state)

    def csr(self, shape, indptr, indices, data) -> None:
        self.glob("scipy.sparse.csr", "csr_matrix")
        self.op(b")\x81}(")  # EMPTY_TUPLE, NEWOBJ, EMPTY_DICT, MARK
        self.str(b"format")
        self.str(b"csr")
        self.str(b"_shape")
        self.int(shape[0])
        self.int(shape[1])
        self.op(b"\x86")  # TUPLE2
        self.str(b"indptr")
        self.ndarray(np.asarray(indptr, dtype=np.int32))
        self.str(b"_cs_matrix__has_sorted_indices")
        self.op(b"\x88")  # NEWTRUE
        self.str(b"indices")
        self.ndarray(np.asarray(indices, dtype=np.int32))
        self.str(b"data")
        self.ndarray(np.asarray(data, dtype=np.float32))
        self.op(b"ub")  # SETITEMS, BUILD

    def adjacency(self, adj: dict[int, list[int]]) -> None:
        self.glob("collections", "defaultdict")
        self.glob("__builtin__", "list")
        self.op(b"\x85R(")  # TUPLE1, REDUCE, MARK
        for k, vs in adj.items():
            self.int(k)
            self.op(b"]")  # EMPTY_LIST
            if vs:
                self.op(b"(")
                for v in vs:
                    self.int(v)
                self.op(b"e")  # APPENDS
        self.op(b"u")  # SETITEMS


def py2_dense(a: np.ndarray) -> bytes:
    p = Py2Pickle()
    p.ndarray(a)
    return p.bytes()


def py2_csr(m) -> bytes:
    """``m``: a scipy sparse matrix (converted to CSR)."""
    m = m.tocsr()
    p = Py2Pickle()
    p.csr(m.shape, m.indptr, m.indices, m.data)
    return p.bytes()


def py2_adjacency(adj: dict[int, list[int]]) -> bytes:
    p = Py2Pickle()
    p.adjacency(adj)
    return p.bytes()


# A tiny Planetoid data set: 8 nodes, 4 features, 2 classes. Nodes 0-1 are the labelled
# training nodes (x, y), 0-4 the non-test nodes (allx, ally), and test.index lists 7 then 5, so
# tx row 0 belongs to node 7 and row 1 to node 5; node 6 is missing from test.index (like
# CiteSeer's 15 isolated test ids). The adjacency dict has a duplicate (0 -> 1 twice), one
# direction only (2 -> 3), and a self-loop (4 -> 4).
TINY = {
    "x": np.array([[1, 1, 0, 0], [0, 0, 2, 0]], dtype=np.float32),
    "y": np.array([[1, 0], [0, 1]], dtype=np.int32),
    "allx": np.array([[1, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 3], [1, 0, 0, 1], [0, 0, 0, 0]],
                     dtype=np.float32),
    "ally": np.array([[1, 0], [0, 1], [0, 1], [1, 0], [0, 1]], dtype=np.int32),
    "tx": np.array([[0, 4, 0, 4], [5, 0, 0, 0]], dtype=np.float32),
    "ty": np.array([[0, 1], [1, 0]], dtype=np.int32),
    "graph": {0: [1, 1, 2], 1: [0], 2: [0, 3], 3: [], 4: [4, 5], 5: [4], 6: [], 7: [0]},
    "test.index": [7, 5],
}


def write_planetoid(root: Path, name: str = "cora", **override) -> Path:
    """Write the tiny data set (fields overridable, raw bytes allowed) under
    ``root/planetoid/ind.<name>.*``; return the planetoid directory."""
    import scipy.sparse as sp

    d = Path(root) / "planetoid"
    d.mkdir(parents=True, exist_ok=True)
    parts = {**TINY, **override}
    for ext, value in parts.items():
        path = d / f"ind.{name}.{ext}"
        if isinstance(value, bytes):
            path.write_bytes(value)
        elif ext == "test.index":
            path.write_text("".join(f"{i}\n" for i in value))
        elif ext == "graph":
            path.write_bytes(py2_adjacency(value))
        elif ext in ("x", "tx", "allx"):
            path.write_bytes(py2_csr(sp.csr_matrix(value)))
        else:
            path.write_bytes(py2_dense(value))
    return d


@pytest.fixture
def py2():
    """The Python-2 pickle writers and the tiny data set, for tests to use."""
    from types import SimpleNamespace

    return SimpleNamespace(dense=py2_dense, csr=py2_csr, adjacency=py2_adjacency, tiny=TINY,
                           write_planetoid=write_planetoid, Pickle=Py2Pickle)
