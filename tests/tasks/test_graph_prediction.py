"""Graph prediction task: key schedule, folds, overfit, determinism, CLI."""

from __future__ import annotations

import json

import pytest
import torch

from gnnkit.cli import main
from gnnkit.config import ConfigError
from gnnkit.datasets.graph_synthetic import cycles_vs_cliques
from gnnkit.tasks import make_config
from gnnkit.tasks.graph_prediction import (
    add_rwr,
    build_model,
    run_folds,
    stratified_kfold,
    train_fold,
)
from gnnkit.train.seed import seed_everything


def _setup(**flags):
    cfg = make_config("graph", model="gmn", dataset="synthetic", save=False, quiet=True,
                      hidden_dim=8, num_heads=2, **flags)
    ds = cycles_vs_cliques(12)
    graphs = add_rwr(ds.graphs, 8, cfg.rwr_c)
    idx = torch.arange(12)
    return cfg, graphs, idx


def _initial(cfg, graphs, fold=0):
    seed_everything(cfg.seed * 1000 + fold)
    return build_model(cfg, graphs[0].x.shape[1] - 8, 2, 8).state_dict()


def _moved(before, after, keys: bool) -> bool:
    names = [k for k in before if k.endswith(".keys") == keys]
    return any(not torch.equal(before[k], after[k]) for k in names)


def test_supervised_steps_never_move_keys():
    cfg, graphs, idx = _setup(epochs=3, kl_weight=0.0, batch_size=4)
    before = _initial(cfg, graphs)
    after = train_fold(cfg, graphs, idx, idx, None, 2, 0, 8).state_dict
    assert not _moved(before, after, keys=True)
    assert _moved(before, after, keys=False)


@pytest.mark.parametrize("params", ["keys", "all"])
def test_kl_epoch_updates_keys_once(params):
    cfg, graphs, idx = _setup(epochs=1, kl_every=1, kl_params=params, kl_skips_supervised=True,
                              batch_size=4, lr=0.01)
    before = _initial(cfg, graphs)
    after = train_fold(cfg, graphs, idx, idx, None, 2, 0, 8).state_dict
    assert _moved(before, after, keys=True)
    assert _moved(before, after, keys=False) == (params == "all")
    # one Adam step: every key entry moves by at most lr (Adam's first step is ~lr * sign)
    k = "memory.0.keys"
    assert float((before[k] - after[k]).abs().max()) <= 0.01 + 1e-6


def test_kl_every_sets_the_cadence():
    cfg, graphs, idx = _setup(epochs=1, kl_every=3, batch_size=4)
    res = train_fold(cfg, graphs, idx, idx, None, 2, 0, 8)
    cfg2, *_ = _setup(epochs=4, kl_every=3, batch_size=4, patience=100)
    h = train_fold(cfg2, graphs, idx, idx, None, 2, 0, 8).history
    assert [r["kl_epoch"] for r in h] == [1, 0, 0, 1]
    assert res.history[0]["kl_epoch"] == 1


def test_stratified_kfold_partitions_and_balances():
    y = torch.tensor([0] * 30 + [1] * 20 + [2] * 7)
    folds = stratified_kfold(y, 5, seed=3)
    allidx = torch.cat(folds).sort().values
    assert torch.equal(allidx, torch.arange(57))
    for f in folds:
        counts = torch.bincount(y[f], minlength=3)
        assert counts[0] == 6 and counts[1] == 4 and counts[2] in (1, 2)
    assert [f.tolist() for f in stratified_kfold(y, 5, 3)] == [f.tolist() for f in folds]


@pytest.mark.parametrize("model", ["gmn", "memgnn"])
def test_overfit_and_determinism(model):
    # val_fraction 0.3: 9 validation graphs. With the default 0.1 (3 graphs) a near-chance
    # model can score 3/3 at epoch 1 and be kept (seen for MemGNN on an AVX-512 Intel CPU,
    # seed 0: train accuracy 0.48); with 9, seeds 0-2 all fit on that machine.
    cfg = make_config("graph", model=model, dataset="synthetic", save=False, quiet=True,
                      folds=4, max_folds=1, epochs=40, hidden_dim=16, num_heads=2,
                      protocol="holdout", key_init="kmeans", lr=0.01, val_fraction=0.3)
    a = run_folds(cfg)
    assert a["train_acc_mean"] == 1.0 and a["test_acc_mean"] == 1.0
    b = run_folds(cfg)
    assert a["val_loss_mean"] == b["val_loss_mean"]


def test_cli_json_and_run_dir(tmp_path, capsys):
    rc = main(["train", "graph", "--model", "gmn", "--dataset", "synthetic", "--folds", "3",
               "--epochs", "3", "--json", "--out-dir", str(tmp_path), "--run-name", "r",
               "--quiet"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["num_folds"] == 3 and "val_acc_mean" in res and "val_acc_std" in res
    run = tmp_path / "r"
    assert (run / "config.toml").is_file() and (run / "history.csv").is_file()
    assert (run / "checkpoints" / "fold2.pt").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["runs"]) == 3
    assert main(["train", "graph", "--model", "nope"]) == 2


def test_figures(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from gnnkit import viz

    drawn = []
    plot = viz.plot_memory_clusters
    monkeypatch.setattr(viz, "plot_memory_clusters",
                        lambda g, C, *a, **k: (drawn.append((g, C)), plot(g, C, *a, **k))[1])
    cfg = make_config("graph", model="gmn", dataset="synthetic", out_dir=str(tmp_path),
                      run_name="f", quiet=True, folds=4, max_folds=1, epochs=2, figures=True)
    run_folds(cfg)
    for name in ("memory_clusters.png", "assignment_matrix.png"):
        assert (tmp_path / "f" / "figures" / name).stat().st_size > 1000
    (g, C), = drawn
    # GMN reads edge-less RWR graphs; the figure must still draw the graph's own edges
    assert g.num_edges > 0 and C.shape == (g.num_nodes, cfg.num_keys[0])


def test_add_rwr_keeps_nodes_and_drops_edges():
    from gnnkit.models.memory import rwr_features

    ds = cycles_vs_cliques(6)
    graphs = add_rwr(ds.graphs, 10, 0.1)
    for g, h in zip(ds.graphs, graphs, strict=True):
        assert g.num_edges > 0 and h.num_edges == 0 and h.num_nodes == g.num_nodes
        assert torch.equal(h.x, torch.cat([rwr_features(g, 10, 0.1), g.x], 1))
        assert torch.equal(h.y, g.y)


def test_paper_schedule_supervised_and_kl_in_one_epoch():
    cfg, graphs, idx = _setup(epochs=1, kl_every=1, kl_params="keys", kl_skips_supervised=False,
                              batch_size=4, kl_weight=1.0, kl_reduction="mean")
    before = _initial(cfg, graphs)
    res = train_fold(cfg, graphs, idx, idx, None, 2, 0, 8)
    assert _moved(before, res.state_dict, keys=True)      # the one KL step
    assert _moved(before, res.state_dict, keys=False)     # the supervised steps
    h = res.history[0]
    assert h["kl_epoch"] == 1 and h["train_loss"] == h["train_loss"]   # not NaN


def test_cli_help_lists_graph_options(capsys):
    try:
        rc = main(["train", "graph", "--help"])
    except SystemExit as e:  # argparse's help exits; gnnkit.cli may turn that into 0
        rc = e.code
    assert rc in (0, None)
    out = capsys.readouterr().out
    for flag in ("--protocol", "--kl-every", "--kl-weight", "--key-init", "--num-keys"):
        assert flag in out


def test_first_fold_runs_the_same_fold_in_another_process():
    kw = dict(model="gmn", dataset="synthetic", save=False, quiet=True, folds=4, epochs=3,
              hidden_dim=8, num_heads=2)
    both = run_folds(make_config("graph", max_folds=2, **kw))["runs"]
    second = run_folds(make_config("graph", first_fold=1, max_folds=1, **kw))["runs"]
    assert [r["fold"] for r in second] == [1]
    assert second[0]["val_acc"] == both[1]["val_acc"]
    assert second[0]["val_loss"] == pytest.approx(both[1]["val_loss"], abs=1e-6)
    with pytest.raises(ConfigError, match="first_fold"):
        make_config("graph", first_fold=4, **kw)


# --------------------------------------------------------------------------- resume
def _resume_kw(tmp_path, model):
    # dropout, a KL epoch every 2nd epoch and the lr halved every 2nd: every piece of state
    # (global RNG, batch generator, both Adams, learning rates) matters for the result
    return dict(model=model, dataset="synthetic", folds=3, max_folds=2, epochs=6,
                patience=100, hidden_dim=8, num_heads=2, batch_size=4, kl_every=2,
                lr_decay_step=2, dropout=0.3, quiet=True, out_dir=str(tmp_path),
                checkpoint_interval=0.0)


def _without_time(runs):
    return [{k: v for k, v in r.items() if k != "time_per_epoch"} for r in runs]


@pytest.mark.parametrize("model", ["gmn", "memgnn"])
def test_resume_after_a_crash_equals_the_uninterrupted_run(tmp_path, monkeypatch,
                                                           patch_evaluate, model):
    kw = _resume_kw(tmp_path, model)
    straight = run_folds(make_config("graph", run_name="straight", **kw))
    # fold 0: 6 validation passes + 1 on the training set; fold 1 crashes in epoch 4
    patch_evaluate(7 + 4)
    with pytest.raises(RuntimeError, match="simulated"):
        run_folds(make_config("graph", run_name="crashed", **kw))
    monkeypatch.undo()
    run = tmp_path / "crashed"
    assert [r["fold"] for r in json.loads((run / "metrics.json").read_text())["runs"]] == [0]
    progress = run / "checkpoints" / "fold1.progress.pt"
    assert torch.load(progress, weights_only=True)["epoch"] == 3

    resumed = run_folds(make_config("graph", preset=str(run / "config.toml"), resume=str(run),
                                    quiet=True))
    assert _without_time(resumed["runs"]) == _without_time(straight["runs"])
    assert (run / "history.csv").read_text() == (tmp_path / "straight" / "history.csv").read_text()
    a = torch.load(tmp_path / "straight" / "checkpoints" / "fold1.pt", weights_only=True)
    b = torch.load(run / "checkpoints" / "fold1.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not progress.exists()          # removed once the fold's results are written


def test_resume_from_the_cli_and_its_errors(tmp_path, capsys):
    base = ["train", "graph", "--model", "gmn", "--dataset", "synthetic", "--folds", "3",
            "--max-folds", "1", "--epochs", "2", "--hidden-dim", "8", "--num-heads", "2",
            "--out-dir", str(tmp_path), "--run-name", "r", "--quiet", "--json"]
    assert main(base) == 0
    first = json.loads(capsys.readouterr().out)
    run = tmp_path / "r"
    # a finished run resumes to the same result, training nothing
    assert main(["train", "graph", "--resume", str(run), "--quiet", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["val_acc_mean"] == first["val_acc_mean"] and again["run_dir"] == str(run)
    # a setting that would change the result is refused, naming it
    assert main(["train", "graph", "--resume", str(run), "--lr", "0.5", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "lr (0.5 here, 0.002 in the run)" in err
    assert main(["train", "graph", "--resume", str(run), "--preset", "graph_gmn"]) == 2
    assert "drop --preset" in capsys.readouterr().err
    assert main(["train", "graph", "--resume", str(tmp_path / "nope")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    # the same refusal from the Python API, and resume without a run directory
    cfg = make_config("graph", preset=str(run / "config.toml"), resume=str(run), quiet=True,
                      max_folds=2)
    with pytest.raises(ConfigError, match="max_folds"):
        run_folds(cfg)
    with pytest.raises(ConfigError, match="resume continues a run directory"):
        make_config("graph", resume=str(run), save=False)


def test_a_log_file_shows_each_checkpoint(tmp_path, capsys):
    # stderr is not a terminal here, as in a log file: no bar, one line per checkpoint
    argv = ["train", "graph", "--model", "gmn", "--dataset", "synthetic", "--folds", "3",
            "--max-folds", "1", "--epochs", "3", "--patience", "100", "--hidden-dim", "8",
            "--num-heads", "2", "--out-dir", str(tmp_path), "--checkpoint-interval", "0"]
    assert main(argv) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "checkpoint written" in ln]
    assert [ln.split(",")[0] for ln in lines] == [f"fold 0: epoch {e}" for e in (1, 2, 3)]
    history = (next(tmp_path.iterdir()) / "history.csv").read_text().splitlines()
    val1 = float(history[1].split(",")[-1])
    assert f"val_acc {val1:.4f}" in lines[0]
    assert main([*argv, "--quiet"]) == 0                    # --quiet: nothing
    assert "checkpoint written" not in capsys.readouterr().err


def test_runs_saved_before_repeated_edges_existed(tmp_path, capsys):
    """A config.toml without repeated_edges was written by a gnnkit that kept repeated TU
    edges: resuming it is refused (it would go on with other graphs) until the file says
    which, and predicting with it reads its input the way it was trained."""
    import zipfile

    from gnnkit.tasks.graph_prediction import load_graph_run

    path = tmp_path / "TWICE.zip"           # 8 triangles and 8 paths, every edge listed twice
    tri, pth = ["1, 2", "2, 1", "2, 3", "3, 2", "1, 3", "3, 1"], ["1, 2", "2, 1"]
    lines, ind, labels, base = [], [], [], 0
    for k in range(16):
        edges, n = (tri, 3) if k % 2 == 0 else (pth, 2)
        lines += [f"{int(a) + base}, {int(b) + base}" for a, b in
                  (e.split(",") for e in edges)] * 2
        ind += [str(k + 1)] * n
        labels.append(str(k % 2))
        base += n
    with zipfile.ZipFile(path, "w") as zf:
        for part, rows in (("A", lines), ("graph_indicator", ind), ("graph_labels", labels)):
            zf.writestr(f"TWICE/TWICE_{part}.txt", "\n".join(rows) + "\n")
    assert main(["train", "graph", "--model", "gmn", "--dataset", str(path), "--folds", "2",
                 "--max-folds", "1", "--epochs", "2", "--hidden-dim", "8", "--num-heads", "2",
                 "--repeated-edges", "keep", "--out-dir", str(tmp_path), "--run-name", "old",
                 "--quiet", "--json"]) == 0
    data = json.loads((tmp_path / "old" / "metrics.json").read_text())["data"]
    assert data["repeated_edges"] == "keep" and data["repeated_edge_lines"] == 64
    capsys.readouterr()
    toml = tmp_path / "old" / "config.toml"
    text = toml.read_text()
    assert 'repeated_edges = "keep"' in text
    toml.write_text(text.replace('repeated_edges = "keep"\n', ""))   # as an old run wrote it
    assert load_graph_run(tmp_path / "old")[0].repeated_edges == "keep"
    assert main(["train", "graph", "--resume", str(tmp_path / "old"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "predates the repeated_edges setting" in err and 'repeated_edges = "keep"' in err
    toml.write_text(text)
    assert main(["train", "graph", "--resume", str(tmp_path / "old"), "--quiet"]) == 0


def test_graph_source_names_the_reader_load_graph_data_uses():
    """One dispatch for loading and for the resume guard: the TU reader (and so the
    repeated_edges setting) applies to TU names and archives only."""
    from gnnkit.tasks.graph_prediction import _graph_source, _reads_tu

    cases = {"synthetic": "synthetic", "mols.CSV": "csv", "data/X.zip": "tu_zip",
             "PROTEINS": "tu", "reddit-binary": "tu", "esol": "registered",
             "MY_OWN_TU_SET": "tu_name"}
    for name, source in cases.items():
        assert _graph_source(name)[0] == source, name
        assert _reads_tu(name) == source.startswith("tu"), name
    assert _graph_source("cora") == ("other_task", "node")


def test_resume_refuses_a_broken_checkpoint(tmp_path):
    kw = _resume_kw(tmp_path, "gmn")
    run_folds(make_config("graph", run_name="r", **{**kw, "max_folds": 1}))
    run = tmp_path / "r"
    (run / "config.toml").write_text((run / "config.toml").read_text().replace(
        "max_folds = 1", "max_folds = 2"))        # the run now has an unfinished fold 1
    (run / "checkpoints" / "fold1.progress.pt").write_bytes(b"not a checkpoint")
    cfg = make_config("graph", preset=str(run / "config.toml"), resume=str(run), quiet=True)
    with pytest.raises(ConfigError, match="fold1.progress.pt.*delete it to restart fold 1"):
        run_folds(cfg)


def _toy_regression(n: int):
    """The synthetic graphs with their class as a float target: a regression data set."""
    from gnnkit.datasets.tudataset import GraphDataset

    return GraphDataset("toy", [g.replace(y=g.y.float().view(1, 1))
                                for g in cycles_vs_cliques(n).graphs], None, {})


@pytest.mark.parametrize("flags", [dict(protocol="holdout"), dict(first_fold=2),
                                   dict(max_folds=1), dict(folds=5)])
def test_regression_refuses_cross_validation_options(flags):
    reg = _toy_regression(6)
    cfg = make_config("graph", model="gmn", dataset="toy", save=False, quiet=True, seeds=1,
                      epochs=1, hidden_dim=8, num_heads=2, **flags)
    with pytest.raises(ConfigError, match="regression data set.*--seeds"):
        run_folds(cfg, data=reg)
    ok = make_config("graph", model="gmn", dataset="toy", save=False, quiet=True, seeds=1,
                     epochs=1, hidden_dim=8, num_heads=2)
    assert run_folds(ok, data=reg)["protocol"] == "random_80_10_10"


@pytest.mark.parametrize("given", [["--folds", "10"], ["--protocol", "paper"]])
def test_cli_refuses_default_valued_cv_options_on_regression_sets(given, capsys):
    # equal to the defaults, so only the command line can tell them from unset ones
    assert main(["train", "graph", "--model", "memgnn", "--dataset", "esol", *given,
                 "--print-config"]) == 2
    assert f"{' '.join(given)} would be ignored" in capsys.readouterr().err
    assert main(["train", "graph", "--model", "memgnn", "--dataset", "mols.csv", *given,
                 "--print-config"]) == 2
    assert "'mols.csv' is a regression data set" in capsys.readouterr().err
    # the same options on a classification set, and no option on a regression set, pass
    assert main(["train", "graph", "--model", "gmn", "--dataset", "proteins", *given,
                 "--print-config"]) == 0
    assert main(["train", "graph", "--model", "memgnn", "--dataset", "esol",
                 "--print-config"]) == 0


def test_too_few_graphs_is_a_clear_error():
    # the synthetic set is 40 graphs of 4-8 nodes; --max-nodes 4 keeps only a few
    cfg = make_config("graph", model="gmn", dataset="synthetic", save=False, quiet=True,
                      epochs=1, max_nodes=4)
    with pytest.raises(ConfigError, match=r"has \d graphs after --max-nodes 4 dropped \d+: "
                                          r"too few for 10-fold.*one graph per fold"):
        run_folds(cfg)
    # regression: 5 graphs leave the 80/10/10 validation part empty
    reg = _toy_regression(5)
    cfg = make_config("graph", model="gmn", dataset="toy", save=False, quiet=True, seeds=1,
                      epochs=1)
    with pytest.raises(ConfigError, match="has 5 graphs: too few for random 80/10/10 splits, "
                                          "which needs a non-empty validation part in every "
                                          "split. Use a larger data set.$"):
        run_folds(cfg, data=reg)
    for bad in (dict(max_nodes=0), dict(max_folds=0), dict(rwr_dim=0)):
        with pytest.raises(ConfigError, match=">= 1 \\(or unset\\)"):
            make_config("graph", **bad)


@pytest.mark.parametrize("model", ["gmn", "memgnn"])
def test_predict_reproduces_each_folds_test_metrics(tmp_path, model):
    """The saved model of every fold, re-loaded and run on that fold's test graphs in their
    own order, gives the test accuracy / RMSE training reported (weights, RWR width, target
    scaling and output order all have to be right for that)."""
    from gnnkit.tasks.graph_prediction import fold_splits, load_graph_run, predict_graphs

    common = dict(model=model, save=True, quiet=True, epochs=4, hidden_dim=8, num_heads=2,
                  out_dir=str(tmp_path))
    cfg = make_config("graph", dataset="synthetic", folds=3, protocol="holdout",
                      run_name="cls", **common)
    res = run_folds(cfg)
    graphs = cycles_vs_cliques(40, seed=cfg.seed).graphs
    y = torch.cat([g.y.view(-1) for g in graphs])
    for k, (_, _, te) in enumerate(fold_splits(cfg, y, False)):
        prob, info = predict_graphs(tmp_path / "cls", [graphs[i] for i in te.tolist()], k)
        assert info["fold"] == k and prob.shape == (te.numel(), 2)
        torch.testing.assert_close(prob.sum(1), torch.ones(te.numel(), dtype=prob.dtype))
        acc = (prob.argmax(1) == y[te]).double().mean().item()
        nll = -prob[torch.arange(te.numel()), y[te]].log().mean().item()
        assert acc == pytest.approx(res["runs"][k]["test_acc"])
        assert nll == pytest.approx(res["runs"][k]["test_loss"], rel=1e-5)

    reg = _toy_regression(30)
    cfg = make_config("graph", dataset="toy", seeds=2, run_name="reg", **common)
    res = run_folds(cfg, data=reg)
    t = torch.cat([g.y.view(-1) for g in reg.graphs]).double()
    for k, (_, _, te) in enumerate(fold_splits(cfg, t, True)):
        pred, _ = predict_graphs(tmp_path / "reg", [reg.graphs[i] for i in te.tolist()], k)
        rmse = (pred - t[te]).pow(2).mean().sqrt().item()
        assert rmse == pytest.approx(res["runs"][k]["test_rmse"], rel=1e-5)
    _, _, info = load_graph_run(tmp_path / "reg")            # default: the first fold
    assert info["fold"] == 0 and info["num_classes"] is None and info["target_std"] > 0


def test_predict_errors_are_clear(tmp_path, capsys):
    from gnnkit.tasks.graph_prediction import predict_graphs

    cfg = make_config("graph", model="memgnn", dataset="synthetic", folds=2, max_folds=1,
                      epochs=1, quiet=True, hidden_dim=8, num_heads=2, out_dir=str(tmp_path),
                      run_name="r")
    run_folds(cfg)
    graphs = cycles_vs_cliques(4).graphs
    with pytest.raises(ConfigError, match=r"no saved model for fold 1; folds with one: 0"):
        predict_graphs(tmp_path / "r", graphs, 1)
    wide = [g.replace(x=torch.ones(g.num_nodes, 3)) for g in graphs]
    with pytest.raises(ConfigError, match=r"have \[3\] node feature.*trained on 9 and None"):
        predict_graphs(tmp_path / "r", wide)
    with pytest.raises(ConfigError, match="no config.toml"):
        predict_graphs(tmp_path, graphs)
    (tmp_path / "r" / "checkpoints" / "fold0.json").unlink()   # e.g. an older run
    with pytest.raises(ConfigError, match="no finished fold with a saved model"):
        predict_graphs(tmp_path / "r", graphs)
    assert main(["predict", "graph", "--run", str(tmp_path / "r"), "--input", "x.csv"]) == 2
    assert "no finished fold" in capsys.readouterr().err


def test_device_errors_are_clear_and_come_before_loading(monkeypatch):
    with pytest.raises(ConfigError, match="'tpu:x' is not a torch device"):
        make_config("graph", device="tpu:x")
    import gnnkit.tasks.graph_prediction as gp

    def no_load(cfg):  # noqa: ANN001
        raise AssertionError("the data set was loaded before the device was checked")
    monkeypatch.setattr(gp, "load_graph_data", no_load)
    if not torch.cuda.is_available():
        cfg = make_config("graph", model="gmn", dataset="synthetic", device="cuda", save=False,
                          quiet=True)
        with pytest.raises(ConfigError, match="CUDA is not available here"):
            run_folds(cfg)
    cfg = make_config("graph", model="gmn", dataset="synthetic", device="auto", save=False,
                      quiet=True, epochs=1, folds=2, max_folds=1)
    monkeypatch.undo()
    assert run_folds(cfg)["num_folds"] == 1        # auto: cuda where there is one, else cpu


@pytest.mark.parametrize("flag, value, message", [
    ("threads", 0, "threads must be >= 1"),
    ("weight_decay", -1.0, "weight_decay must be a number >= 0"),
    ("weight_decay", float("nan"), "weight_decay must be a number >= 0"),
    ("tau", 0.0, "tau must be a positive number"),
    ("kl_weight", -1.0, "kl_weight must be a number >= 0"),
    ("kl_weight", float("inf"), "kl_weight must be a number >= 0"),
])
def test_numeric_options_are_checked_in_the_config(flag, value, message):
    # threads 0 and a negative weight decay used to fail inside torch, after loading
    with pytest.raises(ConfigError, match=message):
        make_config("graph", **{flag: value})


def test_max_nodes_that_drops_every_graph_is_an_error():
    cfg = make_config("graph", model="gmn", dataset="synthetic", max_nodes=2, save=False,
                      quiet=True)
    with pytest.raises(ConfigError, match="--max-nodes 2 drops every graph of 'synthetic' "
                                          r"\(the smallest has \d+ nodes\)"):
        run_folds(cfg)


def test_molnet_errors_shares_of_the_worst_molecules(benchmark_script):
    shares = benchmark_script("graph_prediction/molnet_errors.py").error_shares
    # squared errors 9, 4, 1, 1, 1: the worst carries 9/16, the worst three 14/16
    out = shares([1.0, 9.0, 1.0, 4.0, 1.0], ks=(1, 3, 5))
    assert [k for k, _, _ in out] == [1, 3]                       # k >= count: left out
    assert out[0][1] == pytest.approx(9 / 16) and out[0][2] == pytest.approx((7 / 4) ** 0.5)
    assert out[1][1] == pytest.approx(14 / 16) and out[1][2] == pytest.approx(1.0)


@pytest.mark.parametrize("y, message", [
    (torch.tensor([5]), r"graph 3 has label 5, but labels must be class ids in \[0, "
                        r"num_classes = 2\)"),
    (torch.tensor([-1]), r"graph 3 has label -1"),
    (torch.tensor([0.0]), r"graph 3 has label 0.0"),
    (torch.tensor([0, 1]), r"graph 3 has a target of shape \[2\]; graph-level tasks need one"),
])
def test_graph_targets_are_checked_before_training(y, message):
    from dataclasses import replace

    ds = cycles_vs_cliques(20)
    graphs = list(ds.graphs)
    graphs[3] = graphs[3]._derive(y=y)
    cfg = make_config("graph", model="gmn", dataset="synthetic", epochs=1, folds=2,
                      save=False, quiet=True)
    with pytest.raises(ConfigError, match=message):
        run_folds(cfg, data=replace(ds, graphs=graphs))


def test_on_epoch_sees_every_epochs_model_and_changes_nothing():
    """``on_epoch`` gets each epoch's model after validation: the validation RMSE computed
    from it there, at the best epoch, is the one the run reports, and a run with the hook
    gives the same numbers as one without."""
    from gnnkit.graph import batch
    from gnnkit.tasks.graph_prediction import fold_splits

    reg = _toy_regression(30)
    cfg = make_config("graph", model="memgnn", dataset="toy", seeds=2, save=False, quiet=True,
                      epochs=5, hidden_dim=8, num_heads=2)
    t = torch.cat([g.y.view(-1) for g in reg.graphs]).double()
    vals = [va for _, va, _ in fold_splits(cfg, t, True)]
    seen: dict[tuple[int, int], float] = {}

    def on_epoch(fold, epoch, model, scale):  # noqa: ANN001, ANN202
        assert not model.training
        with torch.no_grad():
            out, _ = model(batch([reg.graphs[i] for i in vals[fold].tolist()]))
        pred = out.view(-1).double() * scale[1] + scale[0]
        seen[fold, epoch] = (pred - t[vals[fold]]).pow(2).mean().sqrt().item()

    hooked = run_folds(cfg, data=reg, on_epoch=on_epoch)
    assert sorted(seen) == [(f, e) for f in range(2) for e in range(1, 6)]
    for run in hooked["runs"]:
        best = seen[run["fold"], run["best_epoch"]]
        assert best == pytest.approx(run["val_rmse"], rel=1e-5)
        assert best == pytest.approx(min(v for (f, _), v in seen.items() if f == run["fold"]),
                                     rel=1e-5)
    plain = run_folds(cfg, data=reg)
    assert [r["val_loss"] for r in plain["runs"]] == [r["val_loss"] for r in hooked["runs"]]


def test_paired_fold_differences(benchmark_script, tmp_path, capsys):
    """paired.py: a collect.py file's key per fold, a history's best val_metric within the
    first N epochs per fold, and the fold-by-fold difference over the folds both have."""
    paired = benchmark_script("graph_prediction/paired.py")
    metrics = tmp_path / "m.json"
    metrics.write_text(json.dumps({"folds": [{"fold": 0, "val_acc": 0.90},
                                             {"fold": 1, "val_acc": 0.72},
                                             {"fold": 2, "val_acc": 0.70}]}))
    history = tmp_path / "history.csv"
    history.write_text("fold,epoch,kl_epoch,train_loss,kl_loss,val_loss,val_metric\n"
                       "0,1,1,nan,0.1,0.5,0.85\n0,2,0,0.4,nan,0.4,0.95\n0,3,0,0.3,nan,0.3,0.99\n"
                       "1,1,1,nan,0.1,0.5,0.75\n1,2,0,0.4,nan,0.4,0.70\n")
    assert paired.per_fold(f"{history}:2") == {0: 0.95, 1: 0.75}
    assert paired.per_fold(f"{history}:3")[0] == 0.99
    assert paired.main([f"{history}:2", f"{metrics}:val_acc"]) == 0
    out = capsys.readouterr().out
    assert "| 0 | 95.00 | 90.00 | +5.00 |" in out and "| 1 | 75.00 | 72.00 | +3.00 |" in out
    assert ("2 folds: A - B = +4.00 points on average (standard error 1.00), from +3.00 to "
            "+5.00") in out
    with pytest.raises(SystemExit, match="existing FILE"):
        paired.per_fold(str(tmp_path / "nope.json:val_acc"))
