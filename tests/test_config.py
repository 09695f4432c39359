"""Typed dataclass configs: TOML round trip, argparse flags, precedence, errors."""

import argparse
import math
from dataclasses import dataclass
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnnkit.config import (
    ConfigError,
    add_arguments,
    config_from_dict,
    config_to_dict,
    dumps_toml,
    field_types,
    load_preset,
    load_toml,
    option,
    resolve_config,
    save_toml,
    tomllib,
)


@dataclass(frozen=True)
class Demo:
    n: int = option(3, "an int")
    lr: float = option(0.1, "a float")
    name: str = option("a", "a string")
    flag: bool = option(False, "off by default")
    on: bool = option(True, "on by default")
    mode: Literal["x", "y"] = option("x", "a choice")
    dims: tuple[int, ...] = option((4, 2), "a tuple")
    cap: int | None = option(None, "an optional int")
    path: str | None = option(None, "an optional string")
    dataset: str = option("cora", "selects [dataset.<name>] tables")


def parse(argv, cls=Demo):
    p = argparse.ArgumentParser(exit_on_error=False)
    add_arguments(p, cls)
    return vars(p.parse_args(argv))


# ----------------------------------------------------------------------------- TOML round trip
def test_save_and_load_round_trip(tmp_path):
    cfg = Demo(n=-7, lr=1e-5, name='quote " back\\slash\nnewline é', flag=True, on=False,
               mode="y", dims=(), cap=12, path=None, dataset="pubmed")
    path = save_toml(cfg, tmp_path / "c.toml", header="resolved\nconfig")
    text = path.read_text()
    assert text.startswith("# resolved\n# config\n")
    assert "# path = (unset)" in text
    assert config_from_dict(Demo, load_toml(path)) == cfg


@settings(max_examples=80, deadline=None)
@given(
    n=st.integers(-2**62, 2**62),
    lr=st.floats(allow_nan=False),
    name=st.text(alphabet=st.characters(codec="utf-8")),
    dims=st.lists(st.integers(-1000, 1000), max_size=4).map(tuple),
    flag=st.booleans(),
)
def test_round_trip_property(n, lr, name, dims, flag):
    cfg = Demo(n=n, lr=lr, name=name, dims=dims, flag=flag)
    back = config_from_dict(Demo, tomllib.loads(dumps_toml(cfg)))
    assert back == cfg


def test_nan_round_trip():
    back = config_from_dict(Demo, tomllib.loads(dumps_toml(Demo(lr=math.nan))))
    assert math.isnan(back.lr)


# ----------------------------------------------------------------------------- flags
def test_only_given_flags_are_present():
    assert parse([]) == {}
    got = parse(["--n", "5", "--lr", "2e-3", "--mode", "y", "--dims", "8,4,2", "--cap", "none",
                 "--path", "none"])
    assert got == {"n": 5, "lr": 0.002, "mode": "y", "dims": (8, 4, 2), "cap": None,
                   "path": "none"}  # a string field keeps the literal text "none"


def test_bool_flags_are_really_parsed():
    assert parse(["--flag"]) == {"flag": True}
    assert parse(["--no-flag"]) == {"flag": False}
    assert parse(["--no-on"]) == {"on": False}
    assert parse(["--flag", "--no-flag"]) == {"flag": False}  # last wins
    with pytest.raises(argparse.ArgumentError, match="ignored explicit argument"):
        parse(["--flag=false"])  # never bool("false") == True


@pytest.mark.parametrize("argv,match", [
    (["--n", "3.5"], "expected an integer, got '3.5'"),
    (["--lr", "fast"], "expected a number, got 'fast'"),
    (["--mode", "z"], r"invalid choice 'z' \(choose from x, y\)"),
    (["--dims", "1,b"], "expected an integer, got 'b'"),
])
def test_flag_type_errors(argv, match):
    with pytest.raises(argparse.ArgumentError, match=match):
        parse(argv)


def test_help_shows_given_defaults():
    p = argparse.ArgumentParser()
    add_arguments(p, Demo, shown_defaults={"n": 99, "dims": (1, 2)})
    text = p.format_help()
    assert "an int (default: 99)" in text
    assert "(default: 1,2)" in text
    assert "--flag, --no-flag" in text


# ----------------------------------------------------------------------------- dicts / presets
def test_unknown_key_names_key_and_lists_valid_ones():
    with pytest.raises(ConfigError) as e:
        config_from_dict(Demo, {"n": 1, "nn": 2}, where="my.toml")
    msg = str(e.value)
    assert "my.toml" in msg and "'nn'" in msg and "did you mean 'n'" in msg
    assert "valid keys: n, lr, name, flag, on, mode, dims, cap, path, dataset" in msg


@pytest.mark.parametrize("key,value,match", [
    ("n", "3", "n must be an integer, got '3'"),
    ("n", True, "n must be an integer"),
    ("n", 2.0, "n must be an integer"),
    ("flag", 1, "flag must be true or false, got 1"),
    ("mode", "z", "mode must be one of 'x', 'y'"),
    ("dims", [1, "2"], r"dims\[1\] must be an integer"),
    ("lr", "0.1", "lr must be a number"),
    ("name", 5, "name must be a string"),
])
def test_type_errors(key, value, match):
    with pytest.raises(ConfigError, match=match):
        config_from_dict(Demo, {key: value})


def test_int_is_accepted_for_float():
    cfg = config_from_dict(Demo, {"lr": 1})
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)


def test_precedence_defaults_preset_dataset_table_flags():
    preset = {"n": 10, "lr": 0.5, "name": "preset",
              "dataset": {"pubmed": {"lr": 0.01, "name": "pubmed-table"},
                          "cora": {"n": 11}}}
    # defaults < preset
    cfg = resolve_config(Demo, {"n": 10}, {})
    assert (cfg.n, cfg.lr, cfg.name) == (10, 0.1, "a")
    # default dataset cora selects [dataset.cora]
    cfg = resolve_config(Demo, preset, {})
    assert (cfg.n, cfg.lr, cfg.name, cfg.dataset) == (11, 0.5, "preset", "cora")
    # the dataset flag selects [dataset.pubmed], which overrides the preset ...
    cfg = resolve_config(Demo, preset, {"dataset": "pubmed"})
    assert (cfg.n, cfg.lr, cfg.name) == (10, 0.01, "pubmed-table")
    # ... and flags override the table
    cfg = resolve_config(Demo, preset, {"dataset": "PubMed", "lr": 0.2})
    assert (cfg.n, cfg.lr, cfg.name, cfg.dataset) == (10, 0.2, "pubmed-table", "PubMed")
    # a dataset with no table: preset values only
    cfg = resolve_config(Demo, preset, {"dataset": "citeseer"})
    assert (cfg.n, cfg.lr, cfg.name) == (10, 0.5, "preset")


def test_dataset_tables_are_checked_even_when_not_selected():
    with pytest.raises(ConfigError, match=r"\[dataset.pubmed\]: unknown key 'lrr'"):
        resolve_config(Demo, {"dataset": {"pubmed": {"lrr": 0.01}}}, {})
    with pytest.raises(ConfigError, match="cannot set 'dataset'"):
        resolve_config(Demo, {"dataset": {"pubmed": {"dataset": "cora"}}}, {})
    with pytest.raises(ConfigError, match="must be a table"):
        resolve_config(Demo, {"dataset": {"pubmed": 3}}, {})


def test_dataclass_checks_become_config_errors():
    @dataclass(frozen=True)
    class Checked:
        k: int = option(1, "positive")

        def __post_init__(self):
            if self.k < 1:
                raise ValueError(f"k must be >= 1, got {self.k}")

    with pytest.raises(ConfigError, match="preset: k must be >= 1, got 0"):
        resolve_config(Checked, {"k": 0}, {})


def test_optional_fields_must_default_to_none():
    @dataclass
    class Bad:
        x: int | None = 3

    with pytest.raises(TypeError, match="default to None"):
        field_types(Bad)


def test_to_dict_and_toml_errors(tmp_path):
    assert config_to_dict(Demo())["dims"] == (4, 2)
    bad = tmp_path / "bad.toml"
    bad.write_text("n = = 3\n")
    with pytest.raises(ConfigError, match="bad.toml: invalid TOML"):
        load_toml(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_toml(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="built-in: .*gcn"):
        load_preset("no-such-preset")


# ----------------------------------------------------------------------------- shipped presets
@pytest.mark.parametrize("name", ["gcn", "gat", "sage"])
def test_builtin_presets_cite_sources_and_resolve(name):
    from importlib.resources import files

    from gnnkit.tasks import NodeConfig

    text = files("gnnkit").joinpath("presets", f"{name}.toml").read_text()
    assert text.startswith("#")
    table, _ = load_preset(name)
    for ds in ("cora", "citeseer", "pubmed", "synthetic"):
        cfg = resolve_config(NodeConfig, table, {"dataset": ds})
        assert cfg.model == name


def test_gat_preset_matches_the_paper():
    from gnnkit.tasks import make_config

    cora = make_config("node", model="gat", dataset="cora")
    assert (cora.lr, cora.weight_decay, cora.num_heads, cora.hidden_dim, cora.out_heads) == (
        0.005, 5e-4, 8, 8, 1)
    assert (cora.dropout, cora.attn_dropout, cora.patience, cora.epochs) == (0.6, 0.6, 100, 100000)
    assert (cora.early_stopping, cora.weight_decay_scope) == ("gat", "all")
    pubmed = make_config("node", model="gat", dataset="pubmed")
    assert (pubmed.lr, pubmed.weight_decay, pubmed.out_heads) == (0.01, 0.001, 8)
    # flags still win over the per-dataset table
    assert make_config("node", model="gat", dataset="pubmed", out_heads=2).out_heads == 2


def test_gcn_preset_matches_the_paper():
    from gnnkit.tasks import make_config

    cfg = make_config("node", model="gcn", dataset="cora")
    assert (cfg.epochs, cfg.lr, cfg.weight_decay, cfg.hidden_dim, cfg.dropout) == (
        200, 0.01, 5e-4, 16, 0.5)
    assert (cfg.early_stopping, cfg.patience, cfg.weight_decay_scope) == (
        "kipf", 10, "first_layer")


def test_make_config_rejects_unknown_model():
    from gnnkit.tasks import make_config

    with pytest.raises(ConfigError, match="unknown model 'gin'.*gcn, gat, sage"):
        make_config("node", model="gin")
