"""Fixtures shared by the task tests."""

from __future__ import annotations

import pytest


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
