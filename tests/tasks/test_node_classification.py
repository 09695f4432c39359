"""Node classification trainer: overfit, determinism, protocols, run directory, real data."""

import csv
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from gnnkit.config import ConfigError
from gnnkit.datasets import csbm
from gnnkit.tasks import NodeConfig, make_config
from gnnkit.tasks.node_classification import (
    build_model,
    evaluate,
    l2_penalty,
    load_run_config,
    make_optimizer,
    prepare,
    run,
    run_seeds,
    train_seed,
)
from gnnkit.train import BestValAcc, GATStopping, KipfStopping, load_checkpoint


@pytest.fixture(scope="module")
def small():
    """A 150-node, 3-class contextual SBM: seconds for every model on one thread."""
    return prepare(csbm(num_nodes=150, num_classes=3, num_features=16, seed=3))


def cfg_for(model, **kw):
    base = dict(model=model, dataset="synthetic", threads=1, quiet=True, save=False)
    if model == "gat":  # keep GAT small for tests
        base.update(num_heads=2, epochs=200)
    base.update(kw)
    return make_config("node", **base)


# ----------------------------------------------------------------------------- overfit
@pytest.mark.parametrize("model", ["gcn", "gat", "sage"])
def test_overfit_small_graph(small, model):
    cfg = cfg_for(model, epochs=300, lr=0.02, dropout=0.0, attn_dropout=0.0, weight_decay=0.0,
                  hidden_dim=32, early_stopping="none")
    m = run(cfg, seed=0, data=small)
    assert m["train_acc"] == 1.0
    assert m["train_loss"] < 0.05
    assert m["epochs"] == 300 and m["best_epoch"] == 300


# ----------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("model", ["gcn", "gat"])
def test_same_seed_same_numbers_different_seed_different(small, model):
    cfg = cfg_for(model, epochs=30, early_stopping="none")
    a, b, c = (train_seed(cfg, s, small) for s in (5, 5, 6))
    strip = lambda m: {k: v for k, v in m.items() if k != "time_per_epoch"}  # noqa: E731
    assert strip(a.metrics) == strip(b.metrics)
    assert a.history == b.history
    assert a.state_dict.keys() == b.state_dict.keys()
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    assert not all(torch.equal(a.state_dict[k], c.state_dict[k]) for k in a.state_dict)
    assert a.history != c.history


# ----------------------------------------------------------------------------- protocols
def _replay(stopper, history):
    """Feed the recorded validation numbers to a fresh protocol: (stop epoch, last save)."""
    last = None
    for row in history:
        d = stopper.step(row["val_loss"], row["val_acc"])
        if d.save:
            last = row["epoch"]
        if d.stop:
            return row["epoch"], last
    return None, last


def test_gat_protocol_in_the_trainer(small):
    cfg = cfg_for("gcn", early_stopping="gat", patience=15, epochs=400, lr=0.05)
    res = train_seed(cfg, 0, small)
    m, h = res.metrics, res.history
    stop, saved = _replay(GATStopping(15), h)
    assert stop == m["epochs"] < 400  # stopped by the protocol, where the protocol says
    assert saved == m["best_epoch"] < m["epochs"]
    # the tested model is the restored one: its validation numbers are those of best_epoch
    assert m["val_acc"] == h[saved - 1]["val_acc"]
    assert m["val_loss"] == pytest.approx(h[saved - 1]["val_loss"], rel=1e-6)


def test_best_val_acc_protocol_in_the_trainer(small):
    cfg = cfg_for("sage", early_stopping="best_val_acc", patience=20, epochs=300)
    res = train_seed(cfg, 0, small)
    m, h = res.metrics, res.history
    stop, saved = _replay(BestValAcc(20), h)
    assert stop == m["epochs"] and saved == m["best_epoch"]
    assert m["val_acc"] == max(r["val_acc"] for r in h)
    assert m["val_loss"] == pytest.approx(h[saved - 1]["val_loss"], rel=1e-6)


def test_kipf_protocol_tests_the_final_model(small):
    # with weight_decay 0 the monitored loss is the recorded validation loss
    cfg = cfg_for("gcn", early_stopping="kipf", patience=5, weight_decay=0.0, lr=0.05,
                  epochs=400)
    res = train_seed(cfg, 0, small)
    m, h = res.metrics, res.history
    stop, _ = _replay(KipfStopping(5), h)
    assert stop == m["epochs"] == len(h) < 400
    assert m["best_epoch"] == m["epochs"]
    assert m["val_loss"] == pytest.approx(h[-1]["val_loss"], rel=1e-6)


def test_kipf_monitors_the_l2_term(small, monkeypatch):
    """tkipf/gcn stops on model.loss = CE + weight_decay * ||W0||^2 / 2."""
    import gnnkit.tasks.node_classification as nc

    calls = []

    def rising(params, weight_decay):  # a penalty that grows fast: stop at the first check
        calls.append((len(params), weight_decay))
        return 1000.0 * len(calls)

    monkeypatch.setattr(nc, "l2_penalty", rising)
    cfg = cfg_for("gcn", early_stopping="kipf", patience=5, epochs=400,
                  weight_decay_scope="first_layer", weight_decay=5e-4)
    m = run(cfg, 0, small)
    assert m["epochs"] == 7  # first check at 0-based epoch 6 > window 5
    model = build_model(cfg, small.x.shape[1], small.num_classes)
    assert calls == [(len(list(model.layers[0].parameters())), 5e-4)] * 7
    monkeypatch.undo()

    w0 = [torch.randn(4, 3), torch.randn(3)]
    expect = 0.05 * 0.5 * sum(float((p.double() ** 2).sum()) for p in w0)
    assert l2_penalty(w0, 0.05) == pytest.approx(expect, rel=1e-6)


def test_weight_decay_scope_groups(small):
    for scope, n_groups in (("all", 1), ("first_layer", 2)):
        cfg = cfg_for("gcn", weight_decay=0.1, weight_decay_scope=scope)
        model = build_model(cfg, small.x.shape[1], small.num_classes)
        opt = make_optimizer(model, cfg)
        assert len(opt.param_groups) == n_groups
        first = {id(p) for p in model.layers[0].parameters()}
        for group in opt.param_groups:
            ids = {id(p) for p in group["params"]}
            if group["weight_decay"] == 0.0:
                assert not ids & first
            else:
                assert group["weight_decay"] == 0.1
                assert ids == (first if scope == "first_layer" else
                               {id(p) for p in model.parameters()})


def test_graph_is_built_once_and_reused(small, monkeypatch):
    from gnnkit.nn import GCNConv

    seen = []
    orig = GCNConv.forward

    def spy(self, x, g):
        seen.append(id(g))
        return orig(self, x, g)

    monkeypatch.setattr(GCNConv, "forward", spy)
    run_seeds(cfg_for("gcn", epochs=5, seeds=2, early_stopping="none"), data=small)
    assert len(seen) > 20 and len(set(seen)) == 1


def test_dataset_loaded_once_for_all_seeds(monkeypatch):
    import gnnkit.datasets as datasets

    calls = []
    orig = datasets.load_node_dataset

    def counting(*args, **kwargs):
        calls.append(args)
        return orig(*args, **kwargs)

    monkeypatch.setattr(datasets, "load_node_dataset", counting)
    res = run_seeds(cfg_for("gcn", epochs=3, seeds=3, early_stopping="none"))
    assert len(calls) == 1
    assert [r["seed"] for r in res["runs"]] == [0, 1, 2]


# ----------------------------------------------------------------------------- run directory
def test_run_directory(small, tmp_path):
    cfg = cfg_for("gcn", epochs=40, seeds=2, seed=4, save=True, out_dir=str(tmp_path),
                  run_name="exp", save_embeddings=True, early_stopping="best_val_acc",
                  patience=10)
    res = run_seeds(cfg, data=small)
    rd = Path(res["run_dir"])
    assert rd == tmp_path / "exp"
    assert sorted(p.name for p in rd.iterdir()) == [
        "checkpoints", "config.toml", "embeddings.pt", "history.csv", "metrics.json"]

    # the resolved config is saved and is itself a valid preset
    assert load_run_config(rd) == cfg

    metrics = json.loads((rd / "metrics.json").read_text())
    runs = metrics["runs"]
    assert [r["seed"] for r in runs] == [4, 5]
    accs = [r["test_acc"] for r in runs]
    assert metrics["aggregate"]["test_acc_mean"] == pytest.approx(sum(accs) / 2)
    assert metrics["aggregate"]["test_acc_std"] == pytest.approx(abs(accs[0] - accs[1]) / 2)
    assert res["test_acc_mean"] == metrics["aggregate"]["test_acc_mean"]

    with open(rd / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["seed", "epoch", "train_loss", "val_loss", "val_acc"]
    assert len(rows) == sum(r["epochs"] for r in runs)

    # each checkpoint loads with weights_only=True and reproduces the reported metrics
    for r in runs:
        state = torch.load(rd / "checkpoints" / f"seed{r['seed']}.pt", weights_only=True)
        model = build_model(cfg, small.x.shape[1], small.num_classes)
        model.load_state_dict(state)
        again = evaluate(model, small)
        assert again["test_acc"] == r["test_acc"]
        assert again["val_loss"] == pytest.approx(r["val_loss"], rel=1e-6)

    emb = load_checkpoint(rd / "embeddings.pt")
    assert emb["seeds"].tolist() == [4, 5]
    assert emb["embeddings"].shape == (2, small.graph.num_nodes, cfg.hidden_dim)
    assert torch.equal(emb["y"], small.y)


def test_no_save_writes_nothing(small, tmp_path):
    res = run_seeds(cfg_for("gcn", epochs=3, out_dir=str(tmp_path)), data=small)
    assert res["run_dir"] is None and list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match="need save"):
        cfg_for("gcn", save_embeddings=True)


def test_figures(small, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    cfg = cfg_for("gcn", epochs=10, save=True, out_dir=str(tmp_path), figures=True,
                  early_stopping="none")
    rd = Path(run_seeds(cfg, data=small)["run_dir"])
    figs = sorted(p.name for p in (rd / "figures").iterdir())
    assert figs == ["learning_curves.png", "tsne_seed0.png"]
    for f in figs:
        assert (rd / "figures" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_viz_dependency_fails_before_training(small, tmp_path, monkeypatch):
    from gnnkit import viz

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    cfg = cfg_for("gcn", save=True, out_dir=str(tmp_path), figures=True)
    with pytest.raises(viz.MissingDependencyError, match=r"pip install gnnkit\[viz\]"):
        run_seeds(cfg, data=small)
    assert list(tmp_path.iterdir()) == []


def test_config_validation():
    with pytest.raises(ConfigError, match="dropout must lie in"):
        NodeConfig(dropout=1.0)
    with pytest.raises(ConfigError, match="epochs must be >= 1"):
        NodeConfig(epochs=0)
    with pytest.raises(ConfigError, match="not a torch device"):
        NodeConfig(device="tpu:x")
    with pytest.raises(ConfigError, match="unknown model 'mlp'"):
        run_seeds(replace(NodeConfig(), model="mlp"))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            prepare(csbm(num_nodes=30, num_classes=2), "cuda")


# ----------------------------------------------------------------------------- real data
def test_gcn_on_cora_matches_the_paper(shared_datasets):
    """Kipf & Welling report 81.5% on Cora; one seed of our GCN preset must reach > 78%."""
    cfg = make_config("node", model="gcn", dataset="cora", root=str(shared_datasets),
                      threads=1, quiet=True, save=False)
    m = run(cfg, seed=0)
    assert m["test_acc"] > 0.78
    assert m["epochs"] <= 200


@pytest.mark.parametrize("change, message", [
    (lambda ds: {"train_idx": torch.tensor([0, 99])},
     r"train_idx holds ids in \[0, 99\], but the graph has 60 nodes"),
    (lambda ds: {"val_idx": ds.train_idx}, r"train_idx and val_idx share \d+ node\(s\)"),
    (lambda ds: {"test_idx": torch.tensor([1, 1])}, r"test_idx repeats node ids"),
    (lambda ds: {"train_idx": torch.tensor([0.0, 1.0])}, r"train_idx must be a 1-D tensor"),
    (lambda ds: {"num_classes": 2}, r"labels in \[0, 2\], but num_classes = 2"),
])
def test_prepare_rejects_inconsistent_splits_and_labels(change, message):
    # out-of-range ids and labels failed inside the loss; overlapping parts ran silently
    ds = csbm(num_nodes=60, num_classes=3, num_features=8, seed=0)
    with pytest.raises(ConfigError, match=message):
        prepare(replace(ds, **change(ds)))


def test_prepare_accepts_any_label_outside_the_split():
    ds = csbm(num_nodes=60, num_classes=3, num_features=8, seed=0)
    y = ds.graph.y.clone()
    y[ds.test_idx] = -1                                     # unlabeled: not in any part now
    ds = replace(ds, graph=ds.graph._derive(y=y), test_idx=ds.val_idx[:2],
                 val_idx=ds.val_idx[2:])
    assert prepare(ds).splits["test"].numel() == 2
