"""The ``gnnkit`` command line.

::

    gnnkit train [TASK] [--preset FILE|NAME] [--json] [--print-config] [config flags]
    gnnkit predict link --run DIR --pairs FILE [--seed K] [--out FILE]
    gnnkit predict graph --run DIR --input FILE|NAME [--fold K] [--out FILE]
    gnnkit datasets list [--json]
    gnnkit datasets info NAME [--root DIR] [--json]
    gnnkit datasets download NAME [--root DIR]

``gnnkit train`` alone is ``gnnkit train node`` (GAT on the synthetic graph, one seed). The
``train`` subcommands are made from :data:`gnnkit.tasks.TASKS`, and their flags from each
task's config dataclass. Errors caused by the input print one line ``gnnkit: error: ...`` on
stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .config import ConfigError, add_arguments, config_to_dict, dumps_toml, resolve_config
from .graph import GraphError

__all__ = ["main"]

PROG = "gnnkit"


class UsageError(Exception):
    """Bad command-line usage (raised instead of argparse's print-usage-and-exit)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _user_errors() -> tuple[type[BaseException], ...]:
    # OSError: unwritable out_dir, unreadable preset, disk full: the message says it all.
    errs: list[type[BaseException]] = [UsageError, ConfigError, GraphError, OSError]
    try:
        from .datasets.errors import DatasetError

        errs.append(DatasetError)
    except ImportError:  # pragma: no cover - the datasets package is part of gnnkit
        pass
    from .viz import MissingDependencyError

    errs.append(MissingDependencyError)
    return tuple(errs)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("gnnkit")
    except Exception:  # not installed (run from a checkout)
        return "unknown (not installed)"


# --------------------------------------------------------------------------- train
def _shown_defaults(task, args: Sequence[str]) -> tuple[dict[str, Any], str]:
    """The values ``--help`` should show: the preset the given flags select, resolved."""
    from .tasks import select_preset

    pre = _Parser(add_help=False)
    pre.add_argument("--model")
    pre.add_argument("--dataset")
    pre.add_argument("--preset")
    try:
        ns, _ = pre.parse_known_args(list(args))
        flags = {k: v for k in ("model", "dataset") if (v := getattr(ns, k)) is not None}
        table, label = select_preset(task, flags, ns.preset)
        cfg = resolve_config(task.config_cls, table, flags, where=label)
        ds = cfg.dataset if hasattr(cfg, "dataset") else None
        return config_to_dict(cfg), label + (f", dataset {ds}" if ds else "")
    except Exception:  # the real parse reports the problem; help falls back to the defaults
        defaults = {f.name: f.default for f in dataclasses.fields(task.config_cls)}
        return defaults, "built-in defaults"


_TRAIN_EPILOG = """\
Values are resolved in this order, later wins: the config's built-in defaults < the preset
(--preset, else the model's built-in preset gnnkit/presets/<model>.toml) < the preset's
[dataset.<name>] table for the selected data set < command-line flags. The defaults shown
above are the resolved values for the {label}.

Early stopping: kipf (tkipf/gcn: stop when the validation loss exceeds the mean of the last
`patience` epochs; test the final model), gat (PetarV-/GAT: patience on "val acc up or val
loss down", restore the model saved when both held), best_val_acc (restore the model with the
best validation accuracy), none.

Output: a run directory <out-dir>/<run-name>/ with config.toml, metrics.json, history.csv,
checkpoints/seed<k>.pt (+ embeddings.pt, figures/ on request). With --json, stdout is one JSON
object of the aggregate metrics (<split>_<metric>_mean / _std, e.g. test_acc_mean), num_seeds
and run_dir; otherwise a table of mean ± std over seeds.

examples:
  gnnkit train node --model gcn --dataset cora
  gnnkit train node --model gat --dataset cora --seeds 10 --json
  gnnkit train node --preset my.toml --lr 0.01 --no-save
"""


def _add_train_task(sub, task, args: Sequence[str] | None) -> None:
    """``args``: the flags after ``train <task>`` when this task is the one selected, else None
    (its help cannot be shown, so its preset is not resolved and its models not imported)."""
    if args is None:
        shown = {f.name: f.default for f in dataclasses.fields(task.config_cls)}
        label = "built-in defaults"
    else:
        shown, label = _shown_defaults(task, args)
    p = sub.add_parser(
        task.name, help=task.help,
        description=f"Train and evaluate: {task.help}.\nSee the notes after the options "
                    "for how presets, dataset tables and flags combine.",
        epilog=(task.epilog or _TRAIN_EPILOG).format(label=label),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", metavar="FILE|NAME",
                   help="TOML preset file, or the name of a built-in preset "
                        "(default: the model's built-in preset)")
    p.add_argument("--json", action="store_true",
                   help="print only the aggregate metrics, as one JSON object, on stdout")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config as TOML and exit without training")
    add_arguments(p.add_argument_group(f"config ({task.config_cls.__name__})"),
                  task.config_cls, shown)
    p.set_defaults(func=_cmd_train, task=task.name, parser=p)


def _warn_unused_flags(cfg: Any, flags: dict[str, Any]) -> None:
    for f in dataclasses.fields(cfg):
        models = f.metadata.get("models")
        if f.name in flags and models and cfg.model not in models:
            print(f"{PROG}: warning: --{f.name.replace('_', '-')} has no effect on model "
                  f"{cfg.model} ({', '.join(models)} only)", file=sys.stderr)


def _fmt(res: dict, key: str, digits: int = 4) -> str:
    m, s = res.get(f"{key}_mean"), res.get(f"{key}_std")
    return "-" if m is None else f"{m:.{digits}f} ± {s:.{digits}f}"


def _print_table(cfg: Any, res: dict) -> None:
    n = res["num_seeds"]
    where = f", run dir {res['run_dir']}" if res.get("run_dir") else ""
    print(f"{cfg.model} on {cfg.dataset}: {n} seed{'s' if n != 1 else ''} "
          f"(mean ± std){where}")
    splits = ("train", "val", "test")
    print(f"{'':10}" + "".join(f"{s:>18}" for s in splits))
    for metric, label in (("acc", "accuracy"), ("micro_f1", "micro-F1"),
                          ("macro_f1", "macro-F1"), ("loss", "loss")):
        print(f"{label:10}" + "".join(f"{_fmt(res, f'{s}_{metric}'):>18}" for s in splits))
    print(f"epochs {_fmt(res, 'epochs', 1)} (tested model from epoch "
          f"{_fmt(res, 'best_epoch', 1)}), {res['time_per_epoch_mean'] * 1e3:.1f} ms/epoch")
    print(f"test accuracy: {_fmt(res, 'test_acc')}")


def _cmd_train(ns: argparse.Namespace) -> int:
    from .tasks import TASKS, make_config
    from .train.rundir import _jsonable

    task = TASKS[ns.task]
    names = {f.name for f in dataclasses.fields(task.config_cls)}
    flags = {k: v for k, v in vars(ns).items() if k in names}
    preset = ns.preset
    if flags.get("resume") is not None:   # a resumed run keeps the settings it saved
        if preset is not None:
            raise ConfigError("--resume continues a run with its own saved config.toml; "
                              "drop --preset")
        preset = str(Path(flags["resume"]) / "config.toml")
        if not Path(preset).is_file():
            raise ConfigError(f"--resume {flags['resume']}: no config.toml there, so it is "
                              f"not a run directory")
    cfg = make_config(task, preset=preset, **flags)
    _warn_unused_flags(cfg, flags)
    if task.check_given is not None:
        task.check_given(cfg, frozenset(k for k, v in flags.items() if v is not None))
    if ns.print_config:
        sys.stdout.write(dumps_toml(cfg))
        return 0
    res = task.run(cfg, log=lambda msg: print(msg, file=sys.stderr))
    if ns.json:
        out = {k: v for k, v in res.items() if k != "runs"}
        print(json.dumps(_jsonable(out), allow_nan=False))
    elif task.table is not None:
        task.table(cfg, res)
    else:
        _print_table(cfg, res)
    return 0


# --------------------------------------------------------------------------- datasets
def _cmd_datasets_list(ns: argparse.Namespace) -> int:
    from .datasets import list_datasets

    rows = list_datasets()
    if ns.json:
        print(json.dumps(rows, default=str))
        return 0
    width = max((len(str(r.get("name", ""))) for r in rows), default=0)
    for row in rows:
        task = f"[{row['task']}] " if row.get("task") else ""
        print(f"{row.get('name', '?'):<{width}}  {task}{row.get('description', '')}")
    return 0


def _cmd_datasets_info(ns: argparse.Namespace) -> int:
    from .datasets import dataset_info

    info = dataset_info(ns.name, root=ns.root)
    if ns.json:
        print(json.dumps(info, default=str))
        return 0
    width = max((len(str(k)) for k in info), default=0)
    for k, v in info.items():
        if isinstance(v, dict) and len(v) > 3:  # one entry per line
            items = [f"{a}: {b}" for a, b in v.items()] or [""]
            print(f"{k:<{width}}  {items[0]}")
            for item in items[1:]:
                print(f"{'':<{width}}  {item}")
            continue
        if isinstance(v, dict):
            v = ", ".join(f"{a}: {b}" for a, b in v.items())
        elif isinstance(v, (list, tuple)):
            v = ", ".join(str(x) for x in v)
        print(f"{k:<{width}}  {v}")
    return 0


def _cmd_datasets_download(ns: argparse.Namespace) -> int:
    from .datasets import download_dataset

    for path in download_dataset(ns.name, root=ns.root):
        print(path)
    return 0


# --------------------------------------------------------------------------- predict
def _cmd_predict_link(ns: argparse.Namespace) -> int:
    from .tasks.link_prediction import (
        load_run_embedding,
        read_pairs,
        score_pairs,
        write_predictions,
    )

    z, seed = load_run_embedding(ns.run, ns.seed)
    pairs = read_pairs(ns.pairs, num_nodes=z.shape[0])           # unknown ids: one-line error
    prob = score_pairs(z, pairs)
    text = write_predictions(ns.out, pairs, prob)
    if ns.out is None:
        sys.stdout.write(text)
    else:
        print(f"{PROG}: wrote {prob.numel()} probabilities (seed {seed}) to {ns.out}",
              file=sys.stderr)
    return 0


def _cmd_predict_graph(ns: argparse.Namespace) -> int:
    from .tasks.graph_prediction import is_csv, load_graph_run, predict_loaded
    from .train.rundir import atomic_write_text

    run = load_graph_run(ns.run, ns.fold)        # loaded once, used for the predictions
    cfg, _, info = run
    if info["input"] == "molecules":
        if not is_csv(ns.input):
            raise ConfigError(f"--run {ns.run} was trained on molecules: --input must be a CSV "
                              f"file with a SMILES column (a path ending in .csv), got "
                              f"{ns.input!r}")
        from .datasets.moleculenet import read_molecules

        graphs, lines, smiles, _ = read_molecules(ns.input, ns.smiles_column or
                                                  cfg.smiles_column)
        pred = predict_loaded(run, graphs)
        name = info.get("target") or "prediction"
        rows = [["line", "smiles", name]] + [[i, s, f"{p:.6g}"] for i, s, p in
                                             zip(lines, smiles, pred.tolist(), strict=True)]
    else:
        if is_csv(ns.input):
            raise ConfigError(f"--run {ns.run} was trained on {cfg.dataset!r} graphs, not "
                              f"molecules: --input names a data set of the same kind (e.g. "
                              f"{cfg.dataset!r}, or a TU archive path ending in .zip)")
        from .tasks.graph_prediction import load_graph_data

        ds = load_graph_data(dataclasses.replace(cfg, dataset=ns.input, root=ns.root or cfg.root,
                                                 max_nodes=None, resume=None))
        pred = predict_loaded(run, ds.graphs)
        labels = {v: k for k, v in (info.get("label_map") or {}).items()}
        names = [labels.get(c, str(c)) for c in range(pred.shape[1])]
        rows = [["graph", "label"] + [f"p_{n}" for n in names]]
        rows += [[i, names[int(p.argmax())]] + [f"{q:.6f}" for q in p.tolist()]
                 for i, p in enumerate(pred)]
    text = "".join(",".join(_csv_field(v) for v in r) + "\n" for r in rows)
    if ns.out is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(ns.out, text)
        print(f"{PROG}: wrote {len(rows) - 1} predictions (fold {info['fold']}) to {ns.out}",
              file=sys.stderr)
    return 0


def _csv_field(v: object) -> str:
    t = str(v)
    return '"' + t.replace('"', '""') + '"' if any(c in t for c in ',"\n') else t


# --------------------------------------------------------------------------- parser
def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The full parser. ``argv`` only selects the defaults shown by ``train <task> --help``."""
    from .tasks import TASKS

    parser = _Parser(prog=PROG, description="Graph neural networks from the papers: train "
                     "and evaluate them on their tasks (node classification, link prediction, "
                     "...: see 'gnnkit train --help'), score with trained runs, and manage "
                     "data sets.",
                     epilog="Run 'gnnkit COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    cmds = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = cmds.add_parser(
        "train", help="train a model and report metrics (default task: node)",
        description="Train and evaluate a model on a task. Without a TASK, 'node' is used: "
                    "'gnnkit train' alone trains GAT on the synthetic graph with one seed.",
        epilog="Run 'gnnkit train TASK --help' for a task's options.")
    tasks = train.add_subparsers(dest="task_name", metavar="TASK", required=True)
    task_args = list(argv[2:]) if len(argv) >= 2 and argv[0] == "train" else []
    for task in TASKS.values():
        _add_train_task(tasks, task, task_args if argv[1:2] == [task.name] else None)

    pred = cmds.add_parser("predict", help="score inputs with a trained run",
                           description="Score inputs with the model of a trained run.",
                           epilog="Run 'gnnkit predict TASK --help' for a task's options.")
    predc = pred.add_subparsers(dest="predict_task", metavar="TASK", required=True)
    p = predc.add_parser(
        "link", help="probabilities of node pairs from a link-prediction run",
        description="Print (or write) sigmoid(z_u . z_v) for every pair of a file, from the "
                    "embedding a 'gnnkit train link' run saved (embeddings.pt). The output is "
                    "CSV: u,v,probability.",
        epilog="The pairs file holds one pair per line, 'u v' or 'u,v' (node ids of the "
               "run's graph); blank lines, '#' comments and a header line are skipped.")
    p.add_argument("--run", required=True, metavar="DIR", help="run directory of 'gnnkit "
                   "train link'")
    p.add_argument("--pairs", required=True, metavar="FILE", help="node pairs to score")
    p.add_argument("--seed", type=int, metavar="K", help="use the model of seed K "
                   "(default: the run's first seed)")
    p.add_argument("--out", metavar="FILE", help="write the CSV here instead of stdout")
    p.set_defaults(func=_cmd_predict_link, parser=p)
    p = predc.add_parser(
        "graph", help="targets or class probabilities of graphs from a graph-level run",
        description="Print (or write) the predictions of a 'gnnkit train graph' run's model "
                    "(the best-on-validation weights of one fold) as CSV. A run trained on "
                    "molecules (esol, lipophilicity, a CSV) reads a CSV of SMILES and gives "
                    "line,smiles,<target> in the target's units; a run trained on graphs (TU) "
                    "reads a data set of the same kind and gives graph,label,p_<label>... "
                    "(the most probable label and every class probability).",
        epilog="Unparsable SMILES are skipped with a warning naming their lines. Graph "
               "inputs are built with the run's node-feature settings (--node-features, "
               "--degree-cap), and no graph is dropped for its size.")
    p.add_argument("--run", required=True, metavar="DIR", help="run directory of 'gnnkit "
                   "train graph'")
    p.add_argument("--input", required=True, metavar="FILE|NAME", help="a CSV of SMILES "
                   "(molecule runs), or a data set name or TU archive (.zip) (graph runs)")
    p.add_argument("--fold", type=int, metavar="K", help="use the model of fold (or split) K "
                   "(default: the run's first)")
    p.add_argument("--smiles-column", metavar="COL", help="the SMILES column of --input "
                   "(default: the run's, usually 'smiles')")
    p.add_argument("--root", metavar="DIR", help="data directory for a data set name "
                   "(default: $GNNKIT_DATA)")
    p.add_argument("--out", metavar="FILE", help="write the CSV here instead of stdout")
    p.set_defaults(func=_cmd_predict_graph, parser=p)

    ds = cmds.add_parser("datasets", help="list, describe and download data sets",
                         description="List, describe and download data sets. The data "
                         "directory is --root, else $GNNKIT_DATA, else the user cache directory.")
    dsc = ds.add_subparsers(dest="ds_command", metavar="ACTION", required=True)
    p = dsc.add_parser("list", help="list the known data sets",
                       description="List the known data sets.")
    p.add_argument("--json", action="store_true", help="print one JSON list")
    p.set_defaults(func=_cmd_datasets_list, parser=p)
    p = dsc.add_parser("info", help="describe one data set (size, splits, source, citation)",
                       description="Describe one data set.")
    p.add_argument("name", metavar="NAME", help="data set name (see 'gnnkit datasets list')")
    p.add_argument("--root", metavar="DIR", help="data directory")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_datasets_info, parser=p)
    p = dsc.add_parser("download", help="download (and verify) a data set's files",
                       description="Download a data set's files into the data directory, "
                       "verify them and print their paths.")
    p.add_argument("name", metavar="NAME", help="data set name (see 'gnnkit datasets list')")
    p.add_argument("--root", metavar="DIR", help="data directory")
    p.set_defaults(func=_cmd_datasets_download, parser=p)
    return parser


def _unrecognized(ns: argparse.Namespace, extra: list[str]) -> NoReturn:
    """Name the unknown arguments, suggest a close option, point at the right --help."""
    parser = getattr(ns, "parser", None)
    hint = ""
    if parser is not None:
        opts = [o for a in parser._actions for o in a.option_strings]
        near = difflib.get_close_matches(extra[0].split("=")[0], opts, n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
    prog = parser.prog if parser is not None else PROG
    raise UsageError(f"unrecognized arguments: {' '.join(extra)}{hint} (see '{prog} --help')")


def _with_default_task(argv: list[str]) -> list[str]:
    """``train [flags]`` -> ``train node [flags]`` (help for ``train`` itself stays)."""
    from .tasks import TASKS

    if argv[:1] == ["train"]:
        nxt = argv[1] if len(argv) > 1 else None
        if nxt not in TASKS and nxt not in ("-h", "--help"):
            return ["train", "node", *argv[1:]]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    errors = _user_errors()
    try:
        argv = _with_default_task(argv)
        ns, extra = build_parser(argv).parse_known_args(argv)
        if extra:
            _unrecognized(ns, extra)
        return ns.func(ns)
    except SystemExit as exc:  # --help / --version
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except errors as exc:
        msg = " ".join(str(exc).split())  # one line, whatever the message holds
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 2
