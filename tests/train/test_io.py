"""Checkpoints, run directories and atomic writes, seeding, progress display."""

import csv
import io
import json
import os
import random

import numpy as np
import pytest
import torch

from gnnkit.train import (
    Progress,
    atomic_write_text,
    load_checkpoint,
    make_run_dir,
    save_checkpoint,
    seed_everything,
    write_csv,
    write_json,
)


def test_checkpoint_round_trip_weights_only(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    path = save_checkpoint(model.state_dict(), tmp_path / "ck" / "m.pt")
    raw = torch.load(path, weights_only=True)  # plain tensors, no pickled code
    fresh = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    fresh.load_state_dict(load_checkpoint(path))
    for k, v in model.state_dict().items():
        assert torch.equal(raw[k], v)
        assert torch.equal(fresh.state_dict()[k], v)
    assert [p.name for p in path.parent.iterdir()] == ["m.pt"]  # no temp files left


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    write_json(path, {"a": 1})

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(path, "garbage")
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_json_and_csv(tmp_path):
    write_json(tmp_path / "m.json", {"x": float("nan"), "y": [1.5, float("inf")], "z": "s"})
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": None, "y": [1.5, None],
                                                             "z": "s"}
    rows = [{"seed": 0, "epoch": 1, "v": 0.5, "extra": 1}, {"seed": 0, "epoch": 2, "v": 0.25}]
    write_csv(tmp_path / "h.csv", rows, ["seed", "epoch", "v"])
    with open(tmp_path / "h.csv", newline="") as f:
        got = list(csv.DictReader(f))
    assert got == [{"seed": "0", "epoch": "1", "v": "0.5"},
                   {"seed": "0", "epoch": "2", "v": "0.25"}]


def test_run_dirs_are_never_reused(tmp_path):
    a = make_run_dir(tmp_path, "exp")
    b = make_run_dir(tmp_path, "exp")
    c = make_run_dir(tmp_path / "new", None, prefix="gcn")
    assert a.name == "exp" and b.name == "exp-1" and a.is_dir() and b.is_dir()
    assert c.parent == tmp_path / "new" and c.name.startswith("gcn-")


def test_seed_everything_is_reproducible():
    def draw():
        return random.random(), float(np.random.rand()), torch.rand(3)

    seed_everything(7)
    a = draw()
    seed_everything(7)
    b = draw()
    seed_everything(8)
    c = draw()
    assert a[:2] == b[:2] and torch.equal(a[2], b[2])
    assert a[0] != c[0] and not torch.equal(a[2], c[2])
    with pytest.raises(ValueError):
        seed_everything(-1)


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_only_on_a_terminal_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    plain = io.StringIO()
    with Progress(10, "x", stream=plain) as bar:
        for _ in range(10):
            bar.update(val_acc=0.5)
    assert plain.getvalue() == ""

    tty = _TTY()
    with Progress(10, "seed 0", stream=tty) as bar:
        for _ in range(10):
            bar.update(val_acc=0.5)
    out = tty.getvalue()
    assert "seed 0 10/10" in out and "val_acc=0.5000" in out

    monkeypatch.setenv("CI", "true")
    tty = _TTY()
    with Progress(10, "x", stream=tty) as bar:
        bar.update()
    assert tty.getvalue() == ""

    tty = _TTY()
    monkeypatch.delenv("CI")
    with Progress(10, "x", enabled=False, stream=tty) as bar:
        bar.update()
    assert tty.getvalue() == ""
