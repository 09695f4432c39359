"""The gnnkit command line, in process through main([...])."""

import json
import re
from pathlib import Path

import pytest

from gnnkit.cli import main
from gnnkit.config import tomllib  # the stdlib module, or tomli on Python 3.10


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, out, err):
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gnnkit: error: ")
    assert "Traceback" not in err
    return lines[0]


FAST = ("--threads", "1", "--epochs", "8")


# ----------------------------------------------------------------------------- train
def test_train_without_arguments_is_gat_on_synthetic_one_seed(capsys):
    code, out, _ = run_cli(capsys, "train", "--print-config")
    assert code == 0
    cfg = tomllib.loads(out)
    assert (cfg["model"], cfg["dataset"], cfg["seeds"]) == ("gat", "synthetic", 1)
    assert (cfg["early_stopping"], cfg["lr"], cfg["epochs"]) == ("gat", 0.005, 100000)


def test_json_output_is_one_object(capsys, tmp_path):
    code, out, err = run_cli(capsys, "train", "node", "--model", "gcn", "--seeds", "2",
                             "--json", "--out-dir", str(tmp_path), *FAST)
    assert code == 0
    assert len(out.strip().splitlines()) == 1
    res = json.loads(out)
    assert 0.0 <= res["test_acc_mean"] <= 1.0 and res["test_acc_std"] >= 0.0
    assert res["num_seeds"] == 2
    assert Path(res["run_dir"]).parent == tmp_path
    for key in set(res) - {"num_seeds", "run_dir"}:
        assert key.endswith(("_mean", "_std")), key
    for split in ("train", "val", "test"):
        for metric in ("acc", "micro_f1", "macro_f1"):
            assert f"{split}_{metric}_mean" in res
    assert err.count("seed ") == 2  # per-seed lines go to stderr, never stdout
    saved = json.loads((Path(res["run_dir"]) / "metrics.json").read_text())
    assert saved["aggregate"]["test_acc_mean"] == pytest.approx(res["test_acc_mean"])


def test_human_output_table(capsys):
    code, out, _ = run_cli(capsys, "train", "--model", "sage", "--no-save", "--quiet", *FAST)
    assert code == 0
    assert out.startswith("sage on synthetic: 1 seed (mean ± std)")
    assert re.search(r"^accuracy\s+\d\.\d{4} ± \d\.\d{4}", out, re.M)
    m = re.search(r"^test accuracy: (\d\.\d{4}) ± 0\.0000$", out, re.M)
    assert m and 0.0 < float(m.group(1)) <= 1.0


@pytest.mark.slow
def test_train_with_no_arguments_at_all(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the run directory goes to ./runs
    code, out, _ = run_cli(capsys, "train")
    assert code == 0
    assert "gat on synthetic: 1 seed" in out and "test accuracy:" in out
    assert len(list((tmp_path / "runs").iterdir())) == 1


def test_preset_file_dataset_table_and_flags(capsys, tmp_path):
    preset = tmp_path / "p.toml"
    preset.write_text('model = "gcn"\nlr = 0.5\n[dataset.cora]\nlr = 0.3\n')

    def resolved(*flags):
        code, out, _ = run_cli(capsys, "train", "--preset", str(preset), "--print-config",
                               *flags)
        assert code == 0
        return tomllib.loads(out)

    assert resolved()["lr"] == 0.5 and resolved()["model"] == "gcn"
    assert resolved("--dataset", "cora")["lr"] == 0.3
    assert resolved("--dataset", "cora", "--lr", "0.1")["lr"] == 0.1
    # the model's preset is used without --preset: gcn.toml's values
    code, out, _ = run_cli(capsys, "train", "--model", "gcn", "--print-config")
    assert tomllib.loads(out)["weight_decay_scope"] == "first_layer"


def test_saved_config_reruns_as_a_preset(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "train", "--model", "gcn", "--json", "--out-dir",
                           str(tmp_path), "--lr", "0.02", *FAST)
    run_dir = Path(json.loads(out)["run_dir"])
    code, out, _ = run_cli(capsys, "train", "--preset", str(run_dir / "config.toml"),
                           "--print-config")
    again = tomllib.loads(out)
    assert (again["model"], again["lr"], again["epochs"]) == ("gcn", 0.02, 8)


def test_flag_for_another_model_warns(capsys):
    code, out, err = run_cli(capsys, "train", "--model", "gcn", "--num-heads", "4",
                             "--print-config")
    assert code == 0
    assert "gnnkit: warning: --num-heads has no effect on model gcn (gat only)" in err


# ----------------------------------------------------------------------------- errors
def test_unknown_model_lists_known_ones(capsys):
    line = one_line_error(*run_cli(capsys, "train", "node", "--model", "gin"))
    assert "unknown model 'gin'" in line
    for name in ("gcn", "gat", "sage"):
        assert name in line


@pytest.mark.parametrize("argv,expect", [
    (["train", "--dataset", "nope", "--no-save"], "unknown data set 'nope'"),
    (["train", "--lr", "fast"], "argument --lr: expected a number, got 'fast'"),
    (["train", "--early-stopping", "never"], "invalid choice 'never'"),
    (["train", "--lrate", "3"], "unrecognized arguments: --lrate 3; did you mean --lr?"),
    (["train", "--seeds", "0"], "seeds must be >= 1"),
    (["train", "--normalize=yes"], "ignored explicit argument 'yes'"),
    (["train", "--preset", "missing.toml"], "no preset file 'missing.toml'"),
    (["datasets", "info", "nope"], "unknown data set 'nope'"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, expect):
    line = one_line_error(*run_cli(capsys, *argv))
    assert expect in line


def test_unknown_preset_key_is_named(capsys, tmp_path):
    preset = tmp_path / "typo.toml"
    preset.write_text("weight_decy = 0.1\n")
    line = one_line_error(*run_cli(capsys, "train", "--preset", str(preset)))
    assert "unknown key 'weight_decy'" in line and "did you mean 'weight_decay'" in line
    assert "valid keys: model, dataset" in line


def test_graph_and_dataset_errors_are_one_line(capsys, monkeypatch):
    import gnnkit.datasets as datasets
    from gnnkit.graph import GraphError

    def broken(*args, **kwargs):
        raise GraphError("edge_index holds node id 9 but num_nodes = 5;\nfix the ids")

    monkeypatch.setattr(datasets, "load_node_dataset", broken)
    line = one_line_error(*run_cli(capsys, "train", "--no-save"))
    assert line == ("gnnkit: error: edge_index holds node id 9 but num_nodes = 5; fix the ids")


# ----------------------------------------------------------------------------- help
def test_help_everywhere(capsys):
    for argv in (["--help"], ["train", "--help"], ["datasets", "--help"],
                 ["datasets", "info", "--help"], ["datasets", "download", "--help"]):
        code, out, _ = run_cli(capsys, *argv)
        assert code == 0 and out.startswith("usage: gnnkit"), argv
    code, out, _ = run_cli(capsys, "train", "--help")
    assert "node" in out


def test_train_help_shows_the_resolved_preset_values(capsys):
    code, out, _ = run_cli(capsys, "train", "node", "--model", "gat", "--dataset", "pubmed",
                           "--help")
    text = " ".join(out.split())
    assert code == 0
    assert "--out-heads INT attention heads in the output layer (averaged) [gat only] " \
           "(default: 8)" in text
    assert "--lr FLOAT Adam learning rate (default: 0.01)" in text
    assert "--save, --no-save" in text
    assert "resolved values for the preset gat, dataset pubmed" in text
    code, out, _ = run_cli(capsys, "train", "node", "--model", "gcn", "--help")
    assert "--weight-decay-scope {all,first_layer} parameters that weight decay applies to: " \
           "all, or the first layer only (default: first_layer)" in " ".join(out.split())


# ----------------------------------------------------------------------------- datasets
def test_datasets_list(capsys):
    code, out, _ = run_cli(capsys, "datasets", "list")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert {"cora", "citeseer", "pubmed", "synthetic"} <= set(names)
    code, out, _ = run_cli(capsys, "datasets", "list", "--json")
    assert {"cora", "synthetic"} <= {d["name"] for d in json.loads(out)}


def test_datasets_info_and_download(capsys, shared_datasets):
    root = str(shared_datasets)
    code, out, _ = run_cli(capsys, "datasets", "info", "cora", "--root", root, "--json")
    assert code == 0 and json.loads(out)["name"] == "cora"
    code, out, _ = run_cli(capsys, "datasets", "info", "cora", "--root", root)
    assert code == 0 and re.search(r"^name\s+cora$", out, re.M)
    code, out, _ = run_cli(capsys, "datasets", "download", "cora", "--root", root)
    paths = out.split()
    assert code == 0 and len(paths) == 8 and all(Path(p).is_file() for p in paths)
    assert any(p.endswith("ind.cora.graph") for p in paths)
