"""Benchmark helpers for cross-validations longer than a sitting: collect.py merges folds run
by separate processes on separate days; carry.py moves an unfinished run to the next sitting."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from gnnkit.tasks import make_config
from gnnkit.tasks.graph_prediction import run_folds


@pytest.fixture(scope="module")
def collect(benchmark_script):
    return benchmark_script("graph_prediction/collect.py")


@pytest.fixture(scope="module")
def carry(benchmark_script):
    return benchmark_script("graph_prediction/carry.py")


KW = dict(model="gmn", dataset="synthetic", folds=3, epochs=2, hidden_dim=8, num_heads=2,
          quiet=True)


def _run(tmp_path, name, **flags):
    return run_folds(make_config("graph", out_dir=str(tmp_path / "runs"), run_name=name,
                                 **{**KW, **flags}))


def test_parts_merge_into_the_single_run(tmp_path, collect, capsys):
    whole = _run(tmp_path, "whole")["runs"]
    for k in range(3):
        _run(tmp_path, f"f{k}", first_fold=k, max_folds=1)
    runs, res = tmp_path / "runs", tmp_path / "results"
    common = ["--name", "x", "--results", str(res)]

    assert collect.main(["--runs", str(runs / "f0"), "--partial", *common]) == 0
    part = json.loads((res / "partial" / "x.json").read_text())
    assert [f["fold"] for f in part["folds"]] == [0] and part["missing"] == [1, 2]
    assert part["folds"][0]["source"] == "f0"
    env = part["folds"][0]["environment"]          # the machine that ran the fold
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert env["torch"] == torch.__version__ and env["torch_threads"] >= 1
    assert "missing [1, 2]" in capsys.readouterr().out

    # the next day: the partial file and a new run directory
    assert collect.main(["--runs", str(res / "partial" / "x.json"), str(runs / "f2"),
                         "--partial", *common]) == 0
    assert json.loads((res / "partial" / "x.json").read_text())["missing"] == [1]
    with pytest.raises(SystemExit, match="missing"):      # not all folds: no result
        collect.main(["--runs", str(res / "partial" / "x.json"), *common])
    assert not (res / "metrics").exists()

    # fold 1 as if it ran on another kind of machine: merged, and the merge says so
    info = runs / "f1" / "checkpoints" / "fold1.json"
    meta = json.loads(info.read_text())
    meta["environment"]["cpu_capability"] = "OTHER"
    info.write_text(json.dumps(meta))
    capsys.readouterr()
    assert collect.main(["--runs", str(res / "partial" / "x.json"), str(runs / "f1"),
                         *common]) == 0
    assert "2 kinds of machine" in capsys.readouterr().out
    out = json.loads((res / "metrics" / "x.json").read_text())
    assert [f["fold"] for f in out["folds"]] == [0, 1, 2]
    for got, ref in zip(out["folds"], whole, strict=True):
        assert got["val_acc"] == ref["val_acc"] and got["epochs"] == ref["epochs"]
    mean = 100 * sum(r["val_acc"] for r in whole) / 3
    assert out["val_acc_mean"] == pytest.approx(mean)
    row = json.loads((res / "tu.jsonl").read_text().splitlines()[-1])
    assert row["folds"] == 3 and row["acc_mean"] == pytest.approx(mean)


def test_parts_that_disagree_are_refused(tmp_path, collect):
    _run(tmp_path, "f0", first_fold=0, max_folds=1)
    _run(tmp_path, "lr", first_fold=1, max_folds=1, lr=0.01)
    _run(tmp_path, "g1", first_fold=0, max_folds=1, seed=1)   # fold 0 again, other numbers
    runs, res = tmp_path / "runs", tmp_path / "results"
    common = ["--name", "x", "--results", str(res)]
    with pytest.raises(SystemExit, match=r"other than the fold range: \['lr'\]"):
        collect.main(["--runs", str(runs / "f0"), str(runs / "lr"), "--partial", *common])
    with pytest.raises(SystemExit, match="seed"):
        collect.main(["--runs", str(runs / "f0"), str(runs / "g1"), "--partial", *common])
    # the same fold twice (a process ran past its range) must agree, here it was altered
    twin = runs / "twin"
    shutil.copytree(runs / "f0", twin)
    m = json.loads((twin / "metrics.json").read_text())
    m["runs"][0]["val_acc"] += 0.1
    (twin / "metrics.json").write_text(json.dumps(m))
    with pytest.raises(SystemExit, match="fold 0 appears twice with different metrics"):
        collect.main(["--runs", str(runs / "f0"), str(twin), "--partial", *common])
    with pytest.raises(SystemExit, match="neither a run directory"):
        collect.main(["--runs", str(tmp_path), *common])
    bogus = tmp_path / "bogus.json"
    bogus.write_text("{}")
    with pytest.raises(SystemExit, match="not a file written by collect.py --partial"):
        collect.main(["--runs", str(bogus), *common])


def test_a_run_carried_to_another_machine_resumes_where_it_stopped(tmp_path, monkeypatch,
                                                                   patch_evaluate, carry,
                                                                   capsys):
    kw = dict(epochs=6, patience=100, batch_size=4, kl_every=2, dropout=0.3,
              checkpoint_interval=0.0)
    straight = _run(tmp_path, "straight", **kw)
    patch_evaluate(7 + 4)         # the machine goes away in the 4th epoch of fold 1
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(tmp_path, "long", **kw)
    monkeypatch.undo()

    inflight = tmp_path / "repo" / "inflight"
    assert carry.main(["save", str(tmp_path / "runs" / "long"), "--inflight", str(inflight)]) == 0
    assert "fold1.progress.pt at epoch 3" in capsys.readouterr().out
    kept = sorted(str(p.relative_to(inflight)) for p in inflight.rglob("*") if p.is_file())
    assert kept == ["long/checkpoints/fold0.json", "long/checkpoints/fold1.progress.pt",
                    "long/config.toml", "long/history.csv", "long/metrics.json"]

    there = tmp_path / "elsewhere"                # the next sitting: a fresh runs/ directory
    assert carry.main(["restore", "--inflight", str(inflight), "--runs-dir", str(there)]) == 0
    assert "--resume" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="exists"):   # never over a run directory
        carry.main(["restore", "long", "--inflight", str(inflight), "--runs-dir", str(there)])
    with pytest.raises(SystemExit, match="not carried"):
        carry.main(["restore", "other", "--inflight", str(inflight), "--runs-dir", str(there)])
    calls = patch_evaluate(None)
    resumed = run_folds(make_config("graph", preset=str(there / "long" / "config.toml"),
                                    resume=str(there / "long"), quiet=True))
    monkeypatch.undo()
    # fold 1 went on from its checkpoint (epochs 4-6 and the training-set pass), and fold 2
    # ran whole (6 + 1): a fold 1 started afresh would have needed 7 passes, not 4
    assert calls[0] == 4 + 7

    def strip(runs):
        return [{k: v for k, v in r.items() if k != "time_per_epoch"} for r in runs]

    assert strip(resumed["runs"]) == strip(straight["runs"])


def test_carry_records_the_code_a_run_goes_on_with(tmp_path, carry, capsys):
    _run(tmp_path, "pinned", max_folds=1)
    run, inflight = tmp_path / "runs" / "pinned", tmp_path / "inflight"
    with pytest.raises(SystemExit, match="hex digits"):
        carry.main(["save", str(run), "--code", "main", "--inflight", str(inflight)])
    assert not inflight.exists()
    assert carry.main(["save", str(run), "--code", "2ec2761", "--inflight", str(inflight)]) == 0
    assert (inflight / "pinned" / "code.txt").read_text() == "2ec2761\n"
    capsys.readouterr()
    there = tmp_path / "next"
    assert carry.main(["restore", "--inflight", str(inflight), "--runs-dir", str(there)]) == 0
    out = capsys.readouterr().out
    assert "the code of 2ec2761" in out and "git worktree add --detach ../wt-2ec2761 2ec2761" in out
    assert not (there / "pinned" / "code.txt").exists()     # a note for people, not for --resume
    assert (there / "pinned" / "config.toml").is_file()
