"""Link-prediction trainer: overfit, determinism, run directory, CLI, predict, bad input."""

import csv
import json
from pathlib import Path

import pytest
import torch

from gnnkit.cli import main
from gnnkit.config import ConfigError
from gnnkit.datasets import DatasetError, LinkSplit, csbm, link_split, undirected_edges
from gnnkit.nn import InnerProductDecoder
from gnnkit.tasks import make_config
from gnnkit.tasks.link_prediction import (
    load_run_config,
    load_run_embedding,
    predict_link,
    read_pairs,
    run_seeds,
    train_seed,
)
from gnnkit.train import load_checkpoint, roc_auc


@pytest.fixture(scope="module")
def small():
    """A 100-node, 3-class contextual SBM (about 300 undirected edges)."""
    return csbm(num_nodes=100, num_classes=3, num_features=16, avg_degree=6, seed=1).graph


def cfg_for(model="gae", **kw):
    base = dict(model=model, dataset="synthetic", threads=1, quiet=True, save=False)
    base.update(kw)
    return make_config("link", **base)


def non_edges(g):
    n = g.num_nodes
    iu = torch.triu_indices(n, n, 1)
    e = undirected_edges(g)
    keep = ~torch.isin(iu[0] * n + iu[1], e[0] * n + e[1])
    return iu[:, keep]


# ----------------------------------------------------------------------------- presets
def test_presets_are_the_papers_settings():
    for model in ("gae", "vgae"):
        cfg = make_config("link", model=model)
        assert (cfg.epochs, cfg.lr, cfg.hidden_dim, cfg.latent_dim, cfg.dropout) == (
            200, 0.01, 32, 16, 0.0)
        assert (cfg.loss, cfg.selection, cfg.normalize_features, cfg.split) == (
            "full", "final", False, "fixed")
        assert (cfg.val_frac, cfg.test_frac) == (0.05, 0.10)


# ----------------------------------------------------------------------------- overfit
def test_gae_overfits_the_training_edges(small):
    split = link_split(small, seed=0)
    cfg = cfg_for("gae", featureless=True, epochs=400, lr=0.02)
    res = train_seed(cfg, 0, small, split)
    neg = non_edges(small)
    pairs = torch.cat([split.train_pos, neg], 1)
    labels = torch.cat([torch.ones(split.train_pos.shape[1]), torch.zeros(neg.shape[1])])
    assert roc_auc(InnerProductDecoder.logits(res.embedding, pairs), labels) > 0.99
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]


# ----------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("model,kw", [("vgae", {}), ("gae", {"loss": "sampled"}),
                                      ("deepwalk", {"walk_length": 10, "walks_per_node": 2,
                                                    "embedding_dim": 16}),
                                      ("spectral", {"embedding_dim": 8})])
def test_same_seed_same_numbers(small, model, kw):
    split = link_split(small, seed=0)
    cfg = cfg_for(model, epochs=15, **kw)
    a, b = train_seed(cfg, 3, small, split), train_seed(cfg, 3, small, split)
    drop = ("fit_time", "time_per_epoch")
    assert {k: v for k, v in a.metrics.items() if k not in drop} == {
        k: v for k, v in b.metrics.items() if k not in drop}
    assert torch.equal(a.embedding, b.embedding) and a.history == b.history
    if model in ("vgae", "gae", "deepwalk"):
        c = train_seed(cfg, 4, small, split)
        assert not torch.equal(a.embedding, c.embedding)


def test_best_val_selection_restores_that_epoch(small):
    split = link_split(small, seed=0)
    res = train_seed(cfg_for("gae", epochs=30, selection="best_val_auc"), 0, small, split)
    best = max(res.history, key=lambda r: r["val_auc"])
    assert res.metrics["best_epoch"] == best["epoch"]
    assert res.metrics["val_auc"] == pytest.approx(best["val_auc"])


# ----------------------------------------------------------------------------- run directory
def test_run_directory_contents(small, tmp_path):
    cfg = cfg_for("vgae", epochs=5, seeds=2, save=True, out_dir=str(tmp_path), run_name="r",
                  split="per_seed")
    res = run_seeds(cfg, graph=small)
    d = Path(res["run_dir"])
    assert d == tmp_path / "r"
    assert load_run_config(d) == cfg
    metrics = json.loads((d / "metrics.json").read_text())
    assert metrics["aggregate"]["test_auc_mean"] == pytest.approx(res["test_auc_mean"])
    rows = list(csv.DictReader((d / "history.csv").open()))
    assert len(rows) == 10 and set(rows[0]) == {"seed", "epoch", "train_loss", "val_auc",
                                                "val_ap"}
    state = torch.load(d / "checkpoints" / "seed1.pt", weights_only=True)
    assert set(state) == {"conv1.weight", "conv_mu.weight", "conv_logstd.weight"}
    emb = load_checkpoint(d / "embeddings.pt")
    assert emb["seeds"].tolist() == [0, 1] and emb["embeddings"].shape == (2, 100, 16)
    assert torch.equal(emb["y"], small.y)
    for seed in (0, 1):                                   # per-seed splits, loadable
        s = LinkSplit.load(d / "splits" / f"seed{seed}.npz", small)
        assert s.seed == seed


def test_split_file_reuses_a_saved_split(small, tmp_path):
    path = link_split(small, seed=9).save(tmp_path / "s.npz")
    a = run_seeds(cfg_for("spectral", embedding_dim=8, split_file=str(path)), graph=small)
    b = run_seeds(cfg_for("spectral", embedding_dim=8, split_seed=9), graph=small)
    assert a["test_auc_mean"] == b["test_auc_mean"]
    other = csbm(num_nodes=100, num_classes=3, num_features=16, avg_degree=6, seed=2).graph
    with pytest.raises(DatasetError, match="does not match the graph|different graph"):
        run_seeds(cfg_for("spectral", embedding_dim=8, split_file=str(path)), graph=other)


@pytest.mark.slow
def test_figures(small, tmp_path):
    pytest.importorskip("matplotlib")
    res = run_seeds(cfg_for("gae", epochs=5, seeds=2, save=True, out_dir=str(tmp_path),
                            figures=True), graph=small)
    figs = {p.name for p in (Path(res["run_dir"]) / "figures").iterdir()}
    assert figs == {"roc_pr_test.png", "learning_curves.png", "tsne_seed0.png"}


# ----------------------------------------------------------------------------- config errors
def test_config_errors():
    with pytest.raises(ConfigError, match="unknown model 'gcn' for task link"):
        make_config("link", model="gcn")
    with pytest.raises(ConfigError, match="val_frac"):
        make_config("link", val_frac=0.6, test_frac=0.5)
    with pytest.raises(ConfigError, match="split_file"):
        make_config("link", split_file="x.npz", split="per_seed")


# ----------------------------------------------------------------------------- CLI
def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, out, err):
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gnnkit: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    code = main(["train", "link", "--model", "gae", "--dataset", "synthetic", "--epochs", "3",
                 "--threads", "1", "--quiet", "--json", "--out-dir", str(out), "--run-name",
                 "smoke"])
    assert code == 0
    return out / "smoke"


def test_cli_json_keys(capsys, tmp_path):
    code, out, err = run_cli(capsys, "train", "link", "--model", "vgae", "--dataset",
                             "synthetic", "--epochs", "3", "--seeds", "2", "--threads", "1",
                             "--json", "--out-dir", str(tmp_path))
    assert code == 0 and len(out.strip().splitlines()) == 1
    res = json.loads(out)
    for split in ("val", "test"):
        for metric in ("auc", "ap"):
            assert 0.0 <= res[f"{split}_{metric}_mean"] <= 1.0
            assert res[f"{split}_{metric}_std"] >= 0.0
    assert res["num_seeds"] == 2 and Path(res["run_dir"]).parent == tmp_path
    assert all(k.endswith(("_mean", "_std")) for k in set(res) - {"num_seeds", "run_dir"})
    assert err.count("seed ") == 2


def test_cli_table_and_help(capsys):
    code, out, _ = run_cli(capsys, "train", "link", "--model", "spectral", "--dataset",
                           "synthetic", "--embedding-dim", "8", "--no-save", "--quiet")
    assert code == 0
    assert out.startswith("spectral on synthetic: 1 seed (mean ± std, percent)")
    assert "test AUC / AP:" in out
    code, out, _ = run_cli(capsys, "train", "link", "--model", "vgae", "--help")
    assert code == 0 and "--featureless" in out and "preset vgae" in out
    code, out, _ = run_cli(capsys, "train", "link", "--print-config")
    assert code == 0 and 'model = "gae"' in out and "epochs = 200" in out
    code, out, _ = run_cli(capsys, "train", "--print-config")   # no task: still node
    assert code == 0 and 'model = "gat"' in out


def test_cli_warns_about_flags_of_other_models(capsys):
    code, _, err = run_cli(capsys, "train", "link", "--model", "spectral", "--dataset",
                           "synthetic", "--embedding-dim", "4", "--epochs", "3", "--no-save",
                           "--quiet")
    assert code == 0 and "--epochs has no effect on model spectral" in err


def test_predict_link(capsys, trained_run, tmp_path):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("u,v\n0 1\n# a comment\n\n5,7\n")
    code, out, _ = run_cli(capsys, "predict", "link", "--run", str(trained_run), "--pairs",
                           str(pairs))
    assert code == 0
    rows = list(csv.DictReader(out.splitlines()))
    assert [(r["u"], r["v"]) for r in rows] == [("0", "1"), ("5", "7")]
    z, seed = load_run_embedding(trained_run)
    want = torch.sigmoid((z[0] * z[1]).sum()).item()
    assert float(rows[0]["probability"]) == pytest.approx(want, abs=1e-6)
    assert predict_link(trained_run, torch.tensor([[0], [1]]))[0].item() == pytest.approx(want)
    target = tmp_path / "p.csv"
    code, out, err = run_cli(capsys, "predict", "link", "--run", str(trained_run), "--pairs",
                             str(pairs), "--out", str(target), "--seed", "0")
    assert code == 0 and out == "" and "wrote 2 probabilities" in err
    assert target.read_text().splitlines()[0] == "u,v,probability"


def test_predict_bad_input(capsys, trained_run, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("0 1\n3 2000\n")
    line = one_line_error(*run_cli(capsys, "predict", "link", "--run", str(trained_run),
                                   "--pairs", str(bad)))
    assert "line 2: unknown node id 2000" in line and "2000 nodes" in line
    bad.write_text("0 1\n-1 3\n")
    assert "unknown node id -1" in one_line_error(*run_cli(
        capsys, "predict", "link", "--run", str(trained_run), "--pairs", str(bad)))
    bad.write_text("0 1\n1 2 3\n")
    assert "line 2: expected two integer node ids" in one_line_error(*run_cli(
        capsys, "predict", "link", "--run", str(trained_run), "--pairs", str(bad)))
    assert "does not exist" in one_line_error(*run_cli(
        capsys, "predict", "link", "--run", str(trained_run), "--pairs", str(tmp_path / "no")))
    assert "has no embeddings.pt" in one_line_error(*run_cli(
        capsys, "predict", "link", "--run", str(tmp_path), "--pairs", str(bad)))
    assert "has no seed 7" in one_line_error(*run_cli(
        capsys, "predict", "link", "--run", str(trained_run), "--pairs", str(bad), "--seed",
        "7"))
    assert "--pairs" in one_line_error(*run_cli(capsys, "predict", "link", "--run", "x"))
    with pytest.raises(DatasetError, match="no node pairs"):
        empty = tmp_path / "empty.txt"
        empty.write_text("# nothing\n")
        read_pairs(empty)


def test_cli_split_file_mismatch_is_one_line(capsys, tmp_path, small):
    path = link_split(small, seed=0).save(tmp_path / "s.npz")   # 100 nodes, synthetic has 2000
    line = one_line_error(*run_cli(capsys, "train", "link", "--model", "spectral",
                                   "--dataset", "synthetic", "--split-file", str(path),
                                   "--no-save", "--quiet"))
    assert "is for a graph with 100 nodes but this graph has 2000" in line


def test_graph_too_small_to_split(small):
    from gnnkit import Graph

    tiny = Graph(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), num_nodes=3,
                 x=torch.randn(3, 2))
    with pytest.raises(DatasetError, match="graph too small to split: 2 undirected edge"):
        run_seeds(cfg_for("gae", epochs=2), graph=tiny)


# ----------------------------------------------------------------------------- real data
def test_spectral_on_cora(shared_datasets):
    res = run_seeds(cfg_for("spectral", dataset="cora", root=str(shared_datasets)))
    assert 0.83 < res["test_auc_mean"] < 0.90          # paper: 84.6 (Table 1)


@pytest.mark.slow
def test_gae_on_cora_reaches_the_paper(shared_datasets):
    res = run_seeds(cfg_for("gae", dataset="cora", root=str(shared_datasets), seeds=2))
    assert res["test_auc_mean"] > 0.90 and res["test_ap_mean"] > 0.91   # paper 91.0 / 92.0


def test_pool_script_blocks_and_paired_differences(tmp_path, monkeypatch, capsys,
                                                   benchmark_script):
    """benchmarks/link_prediction/pool.py: per-block means, the pooled mean with its standard
    error, and gnnkit - PyG paired by seed, on hand-made result files."""
    import json
    import sys

    pool = benchmark_script("link_prediction/pool.py")
    ours = {0: 0.80, 1: 0.90, 2: 0.70, 3: 0.60}
    pyg = {0: 0.81, 1: 0.88, 2: 0.70, 3: 0.57}        # differences (%): -1, 2, 0, 3
    for name, seeds in (("a", (0, 1)), ("b", (2, 3))):
        d = tmp_path / name
        d.mkdir()
        for fw, vals in (("gnnkit", ours), ("pyg", pyg)):
            runs = [{"seed": s, "test_auc": vals[s], "test_ap": vals[s] / 2} for s in seeds]
            (d / f"citeseer__gae__{fw}.json").write_text(json.dumps({"runs": runs}))
    monkeypatch.setattr(sys, "argv", ["pool.py", "--block", "1", str(tmp_path / "a"),
                                      str(tmp_path / "b")])
    pool.main()
    rows = [r.split(" | ") for r in capsys.readouterr().out.splitlines() if r.startswith("| ")]
    assert [r[0] for r in rows[1:]] == ["| 0-0", "| 1-1", "| 2-2", "| 3-3", "| all"]
    last = rows[-1]
    assert last[1] == "4" and last[2] == "75.00 ± 6.45"      # mean 75, sd 12.91 / sqrt(4)
    assert last[6] == "1.00 ± 0.91"                            # mean of -1, 2, 0, 3; sd 1.826 / 2
    assert last[7] == "0.50 ± 0.46 |"                         # AP = AUC / 2, so half of it
    monkeypatch.setattr(sys, "argv", ["pool.py", str(tmp_path / "missing")])
    with pytest.raises(SystemExit, match="not found; run run.py"):
        pool.main()


def test_full_loss_block_size_by_device():
    from gnnkit.tasks.link_prediction import block_mb

    assert block_mb(0.0, torch.device("cpu")) == 1.0
    assert block_mb(0.0, torch.device("cuda")) == 64.0      # no GPU needed to build the device
    assert block_mb(5.0, torch.device("cuda")) == 5.0
    with pytest.raises(ConfigError, match="block_mb must be a positive number"):
        make_config("link", block_mb=-1.0)
