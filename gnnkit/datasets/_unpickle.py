"""A restricted unpickler for the Planetoid ``ind.*`` files (Python-2 pickles, protocol 2).

``pickle.load`` runs whatever callables a file names, so loading a downloaded pickle with it
is running downloaded code. This unpickler admits only the globals the real files reference,
found with ``pickletools.genops`` over all 23 files of the mirror:

=====================================  =============================================
global in the file                     used for
=====================================  =============================================
``numpy.core.multiarray._reconstruct`` every ndarray (with ``numpy.ndarray``)
``numpy.ndarray``                      the array subtype passed to ``_reconstruct``
``numpy.dtype``                        array dtypes (``'i4'``, ``'f4'``)
``scipy.sparse.csr.csr_matrix``        ``x``, ``tx``, ``allx`` (NEWOBJ + BUILD of a dict)
``collections.defaultdict``            ``graph`` (``defaultdict(list)``)
``__builtin__.list``                   the defaultdict's factory
=====================================  =============================================

Equivalent names under newer module paths (``numpy._core.multiarray``, ``builtins``,
``scipy.sparse._csr``, ``scipy.sparse``) are admitted too. Anything else raises
:class:`DatasetError` before it is looked up, so it is never imported or called.

The ``csr_matrix`` global does not resolve to scipy's class: it resolves to a small stand-in
that only records the pickled state (``_shape``, ``indptr``, ``indices``, ``data``). The real
matrix is then built from those arrays with ``scipy.sparse.csr_matrix((data, indices, indptr),
shape)`` and checked with ``check_format(full_check=True)``. This does not depend on the private
attributes of whatever scipy version is installed, and a corrupted matrix fails here, with the
file name, instead of deep inside a model.
"""

from __future__ import annotations

import collections
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DatasetError

try:  # numpy >= 2 moved the module; the old path still exists but warns
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct


class _CSRState:
    """Stand-in for ``scipy.sparse.csr_matrix`` while unpickling: keeps the state dict only."""

    __slots__ = ("state",)

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("csr_matrix state is not a dict")
        self.state = state


_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("scipy.sparse.csr", "csr_matrix"): _CSRState,
    ("scipy.sparse._csr", "csr_matrix"): _CSRState,
    ("scipy.sparse", "csr_matrix"): _CSRState,
    ("collections", "defaultdict"): collections.defaultdict,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, path: Path) -> None:
        super().__init__(file, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise DatasetError(
                f"refusing to unpickle {module}.{name} from {self._path}: Planetoid files only "
                f"hold numpy arrays, scipy CSR matrices and a dict of lists, so this file is "
                f"not a genuine one (corrupted or malicious); delete it and download again"
            ) from None


def restricted_load(path: Path) -> Any:
    """Unpickle ``path`` admitting only the globals listed in the module docstring.

    CSR matrices come back as ``_CSRState``; pass them to :func:`as_csr`. Raises
    :class:`DatasetError` naming the file for a forbidden global or a truncated/corrupted file.
    """
    try:
        with open(path, "rb") as f:
            return _RestrictedUnpickler(f, path).load()
    except DatasetError:
        raise
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, OverflowError, MemoryError) as exc:
        raise DatasetError(
            f"{path} is truncated or corrupted ({type(exc).__name__}: {exc}); delete it and "
            f"download again"
        ) from exc


def _corrupt(path: Path, what: str) -> DatasetError:
    return DatasetError(f"{path} is corrupted: {what}; delete it and download again")


def as_dense(obj: Any, path: Path) -> np.ndarray:
    """Check that ``obj`` is a numeric 2-D ndarray (``y``, ``ty``, ``ally``)."""
    if not isinstance(obj, np.ndarray) or obj.ndim != 2:
        raise _corrupt(path, f"expected a 2-D numpy array, found {_describe(obj)}")
    if obj.dtype.kind not in "biuf":
        raise _corrupt(path, f"expected a numeric array, found dtype {obj.dtype}")
    return obj


def as_csr(obj: Any, path: Path) -> Any:
    """Build and fully check a ``scipy.sparse.csr_matrix`` from an unpickled ``_CSRState``."""
    import scipy.sparse as sp

    if not isinstance(obj, _CSRState) or not hasattr(obj, "state"):
        raise _corrupt(path, f"expected a scipy CSR matrix, found {_describe(obj)}")
    st = obj.state
    shape = st.get("_shape", st.get("shape"))
    if (not isinstance(shape, tuple) or len(shape) != 2
            or not all(isinstance(s, int) and s >= 0 for s in shape)):
        raise _corrupt(path, f"the CSR matrix has an invalid shape {shape!r}")
    arrays = {}
    for key, kinds in (("data", "biuf"), ("indices", "iu"), ("indptr", "iu")):
        a = st.get(key)
        if not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype.kind not in kinds:
            raise _corrupt(path, f"the CSR matrix's {key!r} is {_describe(a)}")
        arrays[key] = a
    data, indices, indptr = arrays["data"], arrays["indices"], arrays["indptr"]
    if indptr.shape[0] != shape[0] + 1 or data.shape != indices.shape:
        raise _corrupt(
            path, f"CSR arrays disagree with shape {shape}: indptr {indptr.shape[0]}, "
                  f"indices {indices.shape[0]}, data {data.shape[0]}")
    try:
        m = sp.csr_matrix((data, indices, indptr), shape=shape)
        m.check_format(full_check=True)
    except ValueError as exc:
        raise _corrupt(path, f"invalid CSR matrix ({exc})") from exc
    if not np.isfinite(m.data).all():
        raise _corrupt(path, "the matrix holds NaN or inf")
    return m


def as_adjacency_dict(obj: Any, path: Path) -> dict[int, list[int]]:
    """Check that ``obj`` is a dict {int: [int, ...]} and return it as a plain dict."""
    if not isinstance(obj, dict):
        raise _corrupt(path, f"expected a dict of neighbour lists, found {_describe(obj)}")
    out = {}
    for k, v in obj.items():
        if not isinstance(k, int) or not isinstance(v, list) or not all(
                isinstance(u, int) for u in v):
            raise _corrupt(path, f"entry {k!r} is not an int key with a list of int neighbours")
        out[k] = v
    return out


def _describe(obj: Any) -> str:
    if isinstance(obj, np.ndarray):
        return f"an array of shape {obj.shape} and dtype {obj.dtype}"
    return f"a {type(obj).__module__}.{type(obj).__qualname__}"
