"""Tasks: one explicit trainer per task, and the registry the command line is built from.

A :class:`Task` ties a config dataclass to its ``run`` function and its model registry. The
CLI makes ``gnnkit train <task>`` from every registered task (node, graph, link: see the
``register_task`` calls below).

Config contract: the config dataclass has ``model`` and ``dataset`` fields. The preset of a run
is ``--preset`` when given, else the built-in ``gnnkit/presets/<preset_prefix><model>.toml``
(if it exists).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..config import ConfigError, builtin_presets, load_preset, resolve_config
from . import node_classification
from .node_classification import NodeConfig, run, run_seeds

__all__ = ["TASKS", "LinkConfig", "NodeConfig", "Task", "make_config", "register_task", "run",
           "run_seeds"]


@dataclass(frozen=True)
class Task:
    name: str
    config_cls: type
    run: Callable[..., dict]                     # run_seeds(cfg, log=...) -> aggregate dict
    models: Callable[[], Mapping[str, type]]     # the model registry (imported lazily)
    preset_prefix: str = ""
    help: str = ""
    table: Callable[[Any, dict], None] | None = None   # prints a result table (CLI)
    epilog: str | None = None    # notes after `gnnkit train <task> --help` ({label}: preset)
    # the CLI's check of the options given on the command line (config field names)
    check_given: Callable[[Any, frozenset[str]], None] | None = None

    def default(self, key: str) -> Any:
        return next(f.default for f in fields(self.config_cls) if f.name == key)

    def check_model(self, name: str) -> None:
        known = self.models()
        if name not in known:
            raise ConfigError(f"unknown model {name!r} for task {self.name}; known models: "
                              f"{', '.join(known)}")


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add a task to :data:`TASKS`; duplicate names are errors."""
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} is already registered")
    TASKS[task.name] = task
    return task


def _node_models() -> Mapping[str, type]:
    from ..models import NODE_MODELS

    return NODE_MODELS


register_task(Task(
    name="node",
    config_cls=NodeConfig,
    run=node_classification.run_seeds,
    models=_node_models,
    help="node classification (GCN, GAT, GraphSAGE on Planetoid and synthetic graphs)",
))


def _graph_models() -> Mapping[str, type]:
    from ..models.memory import GRAPH_MODELS

    return GRAPH_MODELS


def _graph_run(cfg: Any, log: Callable[[str], None] | None = None) -> dict:
    from .graph_prediction import run_folds

    return run_folds(cfg, log=log)


def _graph_check_given(cfg: Any, given: frozenset[str]) -> None:
    from .graph_prediction import check_given_options

    check_given_options(cfg, given)


def _graph_table(cfg: Any, res: dict) -> None:
    from .graph_prediction import print_table

    print_table(cfg, res)


from .graph_prediction import GraphConfig  # noqa: E402 - light import (no models)

register_task(Task(
    name="graph",
    config_cls=GraphConfig,
    run=_graph_run,
    models=_graph_models,
    preset_prefix="graph_",
    help=("graph classification and regression with memory layers (GMN, MemGNN; TU and "
          "MoleculeNet data sets)"),
    table=_graph_table,
    check_given=_graph_check_given,
))


def _link_models() -> Mapping[str, type]:
    from .link_prediction import LINK_MODELS

    return LINK_MODELS


def _link_run(cfg: Any, log: Callable[[str], None] | None = None) -> dict:
    from .link_prediction import run_seeds as link_run_seeds

    return link_run_seeds(cfg, log=log)


def _link_table(cfg: Any, res: dict) -> None:
    from .link_prediction import print_table

    print_table(cfg, res)


from .link_prediction import EPILOG as _LINK_EPILOG  # noqa: E402
from .link_prediction import LinkConfig  # noqa: E402

register_task(Task(
    name="link",
    config_cls=LinkConfig,
    run=_link_run,
    models=_link_models,
    help="link prediction (GAE, VGAE and the spectral / DeepWalk baselines on Planetoid and "
         "synthetic graphs)",
    table=_link_table,
    epilog=_LINK_EPILOG,
))


def select_preset(task: Task, flags: Mapping[str, Any],
                  preset: str | None = None) -> tuple[dict[str, Any], str]:
    """The preset table for a run and a label naming it: ``preset`` (a file or built-in name)
    when given, else the model's built-in preset, else no preset."""
    if preset is not None:
        return load_preset(preset)
    model = flags.get("model", task.default("model"))
    task.check_model(model)
    name = f"{task.preset_prefix}{model}"
    if name in builtin_presets():
        return load_preset(name)
    return {}, "defaults"


def make_config(task: str | Task = "node", preset: str | None = None, **flags: Any) -> Any:
    """A resolved config, as the CLI builds it: defaults < preset < [dataset.<name>] < flags.

    >>> cfg = make_config("node", model="gcn", dataset="cora")   # the gcn.toml preset
    """
    task = TASKS[task] if isinstance(task, str) else task
    table, label = select_preset(task, flags, preset)
    cfg = resolve_config(task.config_cls, table, flags, where=label)
    task.check_model(cfg.model)
    return cfg
