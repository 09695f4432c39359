"""Typed dataclass configs <-> TOML presets and command-line flags.

A config is a plain ``@dataclass`` whose fields carry type hints from this small set:
``int``, ``float``, ``str``, ``bool``, ``Literal[...]``, ``tuple[int, ...]`` /
``tuple[float, ...]``, and ``X | None`` (``Optional[X]``) of those, which must default to
``None``. Help text lives in the field metadata: ``field(default=..., metadata={"help": ...})``,
or use :func:`option`.

Resolution order (later wins)::

    dataclass defaults < preset (TOML) < the preset's [dataset.<name>] table < flags

A preset is a flat TOML table of field names. It may hold per-dataset tables, applied only when
that dataset is selected (after the dataset itself is resolved from flags, else the preset, else
the default)::

    lr = 0.005
    [dataset.pubmed]
    lr = 0.01

(TOML cannot hold both ``dataset = "cora"`` and ``[dataset.pubmed]``: a preset either fixes the
dataset or carries per-dataset tables.) Unknown keys, in the preset or in a dataset table, are
errors that name the key and list the valid ones; so are values of the wrong type.

On the command line each field ``foo_bar`` is ``--foo-bar VALUE``; a bool is ``--foo-bar`` /
``--no-foo-bar``; a tuple is comma-separated (``--dims 64,32``); an optional non-string field
takes ``none``. :func:`save_toml` writes the resolved config as a TOML file that is itself a
valid preset (``None`` fields are written as comments, since TOML has no null).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib.resources
import json
import math
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "ConfigError",
    "FieldType",
    "add_arguments",
    "builtin_presets",
    "config_from_dict",
    "config_to_dict",
    "dumps_toml",
    "field_types",
    "load_preset",
    "load_toml",
    "option",
    "resolve_config",
    "save_toml",
]


class ConfigError(ValueError):
    """A config value, preset or flag is invalid. The message names the key and the fix."""


def option(default: Any, help: str, **metadata: Any) -> Any:
    """A dataclass field with help text (and optional extra metadata, e.g. ``models=("gat",)``)."""
    return dataclasses.field(default=default, metadata={"help": help, **metadata})


# --------------------------------------------------------------------------- field types
@dataclasses.dataclass(frozen=True)
class FieldType:
    """A field's type, reduced to what parsing needs."""

    base: type                      # int, float, str, bool or tuple
    optional: bool = False          # X | None
    choices: tuple | None = None    # Literal[...] values
    elem: type | None = None        # element type of tuple[elem, ...]

    def describe(self) -> str:
        if self.choices is not None:
            s = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.base is tuple:
            s = f"a list of {self.elem.__name__}"
        else:
            s = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[
                self.base]
        return s + (" (or none)" if self.optional else "")


def _field_type(tp: Any, where: str) -> FieldType:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1 or len(typing.get_args(tp)) != 2:
            raise TypeError(f"{where}: only `X | None` unions are supported, got {tp}")
        return dataclasses.replace(_field_type(args[0], where), optional=True)
    if origin is Literal:
        choices = typing.get_args(tp)
        kinds = {type(c) for c in choices}
        if len(kinds) != 1 or kinds.pop() not in (str, int):
            raise TypeError(f"{where}: Literal choices must be all str or all int, got {tp}")
        return FieldType(type(choices[0]), choices=choices)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) != 2 or args[1] is not Ellipsis or args[0] not in (int, float, str):
            raise TypeError(f"{where}: tuples must be tuple[int|float|str, ...], got {tp}")
        return FieldType(tuple, elem=args[0])
    if tp in (int, float, str, bool):
        return FieldType(tp)
    raise TypeError(f"{where}: unsupported config type {tp!r}")


def field_types(cls: type) -> dict[str, FieldType]:
    """``{field name: FieldType}`` for a config dataclass, in declaration order."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        ft = _field_type(hints[f.name], f"{cls.__name__}.{f.name}")
        if ft.optional and f.default is not None:
            # TOML has no null: a non-None default could not be overridden back to None.
            raise TypeError(f"{cls.__name__}.{f.name}: optional fields must default to None")
        out[f.name] = ft
    return out


# --------------------------------------------------------------------------- coercion
def _coerce(ft: FieldType, value: Any, where: str) -> Any:
    """Check/convert a value from TOML or Python to the field's type; ConfigError if it can't."""
    def bad() -> ConfigError:
        return ConfigError(f"{where} must be {ft.describe()}, got {value!r}")

    if value is None:
        if ft.optional:
            return None
        raise bad()
    if ft.base is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad()
        return tuple(_coerce(FieldType(ft.elem), v, f"{where}[{i}]") for i, v in enumerate(value))
    if ft.base is bool:
        if not isinstance(value, bool):
            raise bad()
    elif ft.base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad()
    elif ft.base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        value = float(value)
    elif ft.base is str:
        if not isinstance(value, str):
            raise bad()
    if ft.choices is not None and value not in ft.choices:
        raise bad()
    return value


def _parse_scalar(base: type, text: str) -> Any:
    if base is int:
        try:
            return int(text.replace("_", ""))
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
    if base is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    return text


def parse_flag(ft: FieldType, text: str) -> Any:
    """Parse one command-line string into the field's type (bools are --x/--no-x flags)."""
    if ft.base is bool:
        raise TypeError("bool fields are flags (--x / --no-x), not values")
    if ft.optional and ft.base is not str and text.strip().lower() in ("none", "null"):
        return None
    if ft.base is tuple:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        return tuple(_parse_scalar(ft.elem, p) for p in parts)
    value = _parse_scalar(ft.base, text)
    if ft.choices is not None and value not in ft.choices:
        raise ValueError(f"invalid choice {text!r} (choose from "
                         f"{', '.join(str(c) for c in ft.choices)})")
    return value


# --------------------------------------------------------------------------- dicts
def _unknown(key: str, valid: list[str], where: str) -> ConfigError:
    near = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return ConfigError(f"{where}: unknown key {key!r}{hint}; valid keys: {', '.join(valid)}")


def _check_keys(cls: type, data: Mapping[str, Any], where: str) -> dict[str, Any]:
    fts = field_types(cls)
    out = {}
    for key, value in data.items():
        if key not in fts:
            raise _unknown(key, list(fts), where)
        out[key] = _coerce(fts[key], value, f"{where}: {key}")
    return out


def config_from_dict(cls: type, data: Mapping[str, Any], where: str = "config") -> Any:
    """Build ``cls`` from a flat mapping, rejecting unknown keys and mistyped values."""
    try:
        return cls(**_check_keys(cls, data, where))
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:  # from the dataclass's own __post_init__ checks
        raise ConfigError(f"{where}: {exc}") from None


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """The config's fields as a flat dict (tuples stay tuples)."""
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.init}


def resolve_config(cls: type, preset: Mapping[str, Any] | None = None,
                   flags: Mapping[str, Any] | None = None, where: str = "preset",
                   dataset_key: str = "dataset") -> Any:
    """Defaults < ``preset`` < the preset's ``[dataset.<name>]`` table < ``flags``.

    ``flags`` are already typed (from :func:`add_arguments`); ``preset`` is a parsed TOML table.
    Every dataset table is checked, selected or not, so a typo never hides.
    """
    preset = dict(preset or {})
    tables: dict[str, Any] = {}
    if isinstance(preset.get(dataset_key), dict):
        tables = preset.pop(dataset_key)
        for name, table in tables.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{where}: [{dataset_key}.{name}] must be a table of "
                                  f"overrides, got {table!r}")
            if dataset_key in table:
                raise ConfigError(f"{where}: [{dataset_key}.{name}] cannot set {dataset_key!r}")
    values = _check_keys(cls, preset, where)
    checked = {name.lower(): _check_keys(cls, t, f"{where} [{dataset_key}.{name}]")
               for name, t in tables.items()}
    flags = _check_keys(cls, flags or {}, "flags")
    if checked:
        if dataset_key not in field_types(cls):
            raise ConfigError(f"{where}: {cls.__name__} has no {dataset_key!r} field for "
                              f"[{dataset_key}.<name>] tables")
        default = next(f.default for f in dataclasses.fields(cls) if f.name == dataset_key)
        ds = flags.get(dataset_key, values.get(dataset_key, default))
        values.update(checked.get(str(ds).lower(), {}))
    values.update(flags)
    return config_from_dict(cls, values, where)


# --------------------------------------------------------------------------- TOML
def load_toml(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a TOML file; a missing or malformed file is a ConfigError naming it."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"preset file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def builtin_presets() -> list[str]:
    """Names of the presets shipped in ``gnnkit/presets/`` (file stems)."""
    root = importlib.resources.files("gnnkit").joinpath("presets")
    if not root.is_dir():
        return []
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def load_preset(name_or_path: str) -> tuple[dict[str, Any], str]:
    """Load a preset by file path or by built-in name; returns (table, label for messages).

    An existing file wins; otherwise ``name_or_path`` must name a built-in preset.
    """
    p = Path(name_or_path)
    if p.is_file():
        return load_toml(p), str(p)
    res = importlib.resources.files("gnnkit").joinpath("presets", f"{name_or_path}.toml")
    if res.is_file():
        try:
            return tomllib.loads(res.read_text(encoding="utf-8")), f"preset {name_or_path}"
        except tomllib.TOMLDecodeError as exc:  # pragma: no cover - shipped presets are tested
            raise ConfigError(f"built-in preset {name_or_path}: invalid TOML: {exc}") from None
    known = ", ".join(builtin_presets()) or "none"
    raise ConfigError(f"no preset file {name_or_path!r} and no built-in preset of that name "
                      f"(built-in: {known})")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)  # shortest round-tripping repr; valid TOML (e.g. 0.0005, 1e-05)
    if isinstance(v, str):
        # JSON string escapes are a subset of TOML basic-string escapes; DEL must be escaped too.
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dumps_toml(cfg: Any, header: str | None = None) -> str:
    """The config as TOML text, one ``key = value`` line per field in declaration order."""
    lines = [f"# {h}" if h else "#" for h in header.splitlines()] if header else []
    for key, value in config_to_dict(cfg).items():
        if value is None:
            lines.append(f"# {key} = (unset)")
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def save_toml(cfg: Any, path: str | os.PathLike, header: str | None = None) -> Path:
    """Write the resolved config to ``path`` atomically; the file is a valid preset."""
    from .train.rundir import atomic_write_text

    return atomic_write_text(path, dumps_toml(cfg, header))


# --------------------------------------------------------------------------- argparse
def _flag_type(ft: FieldType):
    def convert(text: str) -> Any:
        try:
            return parse_flag(ft, text)
        except ValueError as exc:  # argparse prints this message as is
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def add_arguments(parser: argparse.ArgumentParser, cls: type,
                  shown_defaults: Mapping[str, Any] | None = None,
                  skip: tuple[str, ...] = ()) -> None:
    """Add one option per field of ``cls`` to ``parser``.

    Options default to ``argparse.SUPPRESS``, so the parsed namespace holds only the flags that
    were given (they then override the preset). ``shown_defaults`` are the values printed in
    ``--help`` (the resolved preset values, so the help tells the truth); they default to the
    dataclass defaults.
    """
    fts = field_types(cls)
    shown = dict(shown_defaults) if shown_defaults is not None else {}
    for f in dataclasses.fields(cls):
        if f.name not in fts or f.name in skip:
            continue
        ft = fts[f.name]
        flag = "--" + f.name.replace("_", "-")
        default = shown.get(f.name, f.default)
        help_ = f.metadata.get("help", "")
        models = f.metadata.get("models")
        if models:
            help_ += f" [{', '.join(models)} only]"
        if ft.base is bool:
            help_ += f" (default: {'on' if default else 'off'})"
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=help_)
            continue
        if ft.base is tuple:
            metavar = f"{ft.elem.__name__.upper()},..."
            shown_default = ",".join(str(x) for x in default) if default is not None else None
        elif ft.choices is not None:
            metavar = "{" + ",".join(str(c) for c in ft.choices) + "}"
            shown_default = default
        else:
            metavar = {int: "INT", float: "FLOAT", str: "STR"}[ft.base]
            shown_default = default
        if shown_default is not None or "default:" not in help_:  # else the help explains it
            help_ += f" (default: {'none' if shown_default is None else shown_default})"
        parser.add_argument(flag, dest=f.name, type=_flag_type(ft), metavar=metavar,
                            default=argparse.SUPPRESS, help=help_.replace("%", "%%"))
