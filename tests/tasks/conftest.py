"""Fixtures shared by the task tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_benchmark_script(relpath: str):  # noqa: ANN201 - a module
    """Import ``benchmarks/<relpath>`` (a script, not a package) as a module under test, its
    folder on ``sys.path`` meanwhile so that it can import its neighbours."""
    path = BENCHMARKS / relpath
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"{path.stem}_under_test", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(path.parent))
    return mod


@pytest.fixture(scope="module")
def benchmark_script():
    """``benchmark_script("graph_prediction/collect.py")``: :func:`load_benchmark_script`."""
    return load_benchmark_script


@pytest.fixture
def patch_evaluate(monkeypatch):
    """Wrap the graph task's evaluation pass (``_evaluate``). ``patch_evaluate(n)`` makes its
    n-th call from then on raise, as a killed process stops mid-fold (``None``: never), and
    returns a one-item list that counts the calls. ``monkeypatch.undo()`` restores it."""
    import gnnkit.tasks.graph_prediction as gp

    def patch(crash_at: int | None) -> list[int]:
        real, count = gp._evaluate, [0]

        def wrapped(*args, **kwargs):
            count[0] += 1
            if count[0] == crash_at:
                raise RuntimeError("simulated crash")
            return real(*args, **kwargs)

        monkeypatch.setattr(gp, "_evaluate", wrapped)
        return count

    return patch
