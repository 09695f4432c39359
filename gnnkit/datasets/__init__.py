"""Data sets: a registry of named data sets, loaders, and the verified download cache.

Quick use::

    from gnnkit.datasets import load_node_dataset
    ds = load_node_dataset("cora")            # files under $GNNKIT_DATA or ~/.cache/gnnkit
    ds.graph.x, ds.graph.y, ds.train_idx      # [2708, 1433], [2708], [140]

Registered node data sets (names are case-insensitive): ``cora``, ``citeseer``, ``pubmed``
(Planetoid, public split) and ``synthetic`` (a contextual SBM, no files). Graph-level data
sets (:func:`load_graph_dataset`): the TU sets ``enzymes``, ``proteins``, ``proteins_full``,
``dd``, ``collab``, ``reddit-binary``, ``imdb-binary``, ``mutag``, ``nci1`` and the
MoleculeNet sets ``esol``, ``lipophilicity``, ``freesolv`` (RDKit). User graphs load
with :func:`load_edgelist`. Link prediction splits a graph's edges with :func:`link_split`
(saved and reloaded as a :class:`LinkSplit`). See :mod:`.download` for the data root, mirrors
and offline mode.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import NodeDataset
from .download import KNOWN_FILES, default_root, fetch, resolve_root, verify_file
from .edgelist import load_edgelist
from .errors import DatasetError
from .link_split import LinkSplit, graph_fingerprint, link_split, undirected_edges
from .planetoid import CITATION as _PLANETOID_CITATION
from .planetoid import load_planetoid, load_planetoid_structure, planetoid_files
from .splits import per_class_split, stratified_split
from .synthetic import csbm, edge_homophily, random_graph

__all__ = [
    "DatasetError",
    "DatasetSpec",
    "KNOWN_FILES",
    "LinkSplit",
    "NodeDataset",
    "csbm",
    "dataset_info",
    "default_root",
    "download_dataset",
    "edge_homophily",
    "fetch",
    "graph_fingerprint",
    "link_split",
    "list_datasets",
    "load_edgelist",
    "load_graph_dataset",
    "load_node_dataset",
    "load_planetoid",
    "load_planetoid_structure",
    "per_class_split",
    "random_graph",
    "register_dataset",
    "stratified_split",
    "undirected_edges",
    "verify_file",
]


@dataclass(frozen=True)
class DatasetSpec:
    """A registry entry.

    Fields:
        name: lower-case registry name.
        task: ``"node"`` (node classification) or ``"graph"`` (graph-level prediction).
        description: one line.
        files: relative paths under the data root that the loader reads.
        source, citation: provenance.
        stats: expected sizes: nodes, edges (directed, both directions counted), features,
            classes, split (train, val, test).
        loader: ``loader(root=, offline=, base_url=, **params) -> NodeDataset``.
        params: names of the keyword parameters the loader accepts besides root, offline,
            base_url.
    """

    name: str
    task: str
    description: str
    files: tuple[str, ...]
    source: str
    citation: str
    stats: dict = field(default_factory=dict)
    loader: Callable[..., NodeDataset] | None = None
    params: tuple[str, ...] = ()


_LOCATION_ARGS = ("root", "offline", "base_url")


def _param_names(fn: Callable) -> tuple[str, ...]:
    return tuple(p.name for p in inspect.signature(fn).parameters.values()
                 if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
                 and p.name not in _LOCATION_ARGS)


_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(
    name: str,
    *,
    task: str = "node",
    description: str,
    files: tuple[str, ...] | list[str] = (),
    source: str,
    citation: str,
    stats: dict | None = None,
    params: tuple[str, ...] | None = None,
) -> Callable[[Callable[..., NodeDataset]], Callable[..., NodeDataset]]:
    """Decorator registering ``loader(root=, offline=, base_url=, **params)`` under ``name``.

    ``params`` lists the loader's accepted keyword parameters; by default they are read from
    its signature. Raises :class:`DatasetError` if the (case-insensitive) name is taken.
    """
    key = name.lower()

    def deco(loader: Callable[..., NodeDataset]) -> Callable[..., NodeDataset]:
        if key in _REGISTRY:
            raise DatasetError(f"a data set named {key!r} is already registered")
        _REGISTRY[key] = DatasetSpec(key, task, description, tuple(files), source, citation,
                                     dict(stats or {}), loader,
                                     _param_names(loader) if params is None else tuple(params))
        return loader

    return deco


def _spec(name: str) -> DatasetSpec:
    key = str(name).lower()
    if key not in _REGISTRY:
        raise DatasetError(
            f"unknown data set {name!r}; known data sets: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[key]


# ---------------------------------------------------------------------------------- entries
def _planetoid_entry(name: str, title: str, stats: dict, note: str = "") -> None:
    @register_dataset(
        name,
        description=f"{title} citation graph, Planetoid public split (Yang et al. 2016){note}",
        files=tuple(planetoid_files(name)),
        source="https://github.com/kimiyoung/planetoid (data/ind.<name>.<ext>)",
        citation=_PLANETOID_CITATION,
        stats=stats,
    )
    def _load(root=None, offline=None, base_url=None, *, normalize_features: bool = True):
        return load_planetoid(name, root, offline, base_url,
                              normalize_features=normalize_features)


_planetoid_entry("cora", "Cora", {"nodes": 2708, "edges": 10556, "features": 1433,
                                  "classes": 7, "split": (140, 500, 1000)})
_planetoid_entry("citeseer", "CiteSeer", {"nodes": 3327, "edges": 9104, "features": 3703,
                                          "classes": 6, "split": (120, 500, 1000)})
_planetoid_entry("pubmed", "PubMed-Diabetes", {"nodes": 19717, "edges": 88648, "features": 500,
                                               "classes": 3, "split": (60, 500, 1000)},
                 note="; the shared mirror lacks ind.pubmed.allx, so this needs a download")


@register_dataset(
    "synthetic",
    description="contextual stochastic block model, 2000 nodes, 5 classes, homophily 0.8 "
                "(generated, no files; parameters of gnnkit.datasets.csbm accepted)",
    source="generated by gnnkit.datasets.csbm",
    citation="Deshpande et al., Contextual Stochastic Block Models, NeurIPS 2018",
    stats={"nodes": 2000, "edges": 16000, "features": 64, "classes": 5, "split": (100, 500, 1000)},
    params=_param_names(csbm),
)
def _synthetic(root=None, offline=None, base_url=None, **params: Any) -> NodeDataset:
    return csbm(**params)


_TU_CITATION = ("Morris et al., TUDataset: A collection of benchmark datasets for learning "
                "with graphs, ICML 2020 GRL+ workshop")
# name: (graphs, classes, node features with node_features="auto" and degree_cap=64, directed
# edges loaded with repeated_edges="merge", lines of NAME_A.txt)
_TU_STATS = {
    "ENZYMES": (600, 6, "18 attributes + 3 one-hot labels (21)", 74564, 74564),
    "PROTEINS": (1113, 2, "1 attribute + 3 one-hot labels (4)", 162088, 162088),
    "PROTEINS_full": (1113, 2, "29 attributes + 3 one-hot labels (32)", 162088, 162088),
    "DD": (1178, 2, "one-hot node labels (82)", 1686092, 1686092),
    "COLLAB": (5000, 3, "one-hot degree, capped at 64 (65)", 24574995, 49149990),
    "REDDIT-BINARY": (2000, 2, "one-hot degree, capped at 64 (65)", 1991016, 3982032),
    "IMDB-BINARY": (1000, 2, "one-hot degree, capped at 64 (65)", 193062, 386124),
    "MUTAG": (188, 2, "one-hot node labels (7)", 7442, 7442),
    "NCI1": (4110, 2, "one-hot node labels (37)", 265506, 265506),
}


def _tu_entry(canon: str) -> None:
    graphs, classes, features, edges, lines = _TU_STATS[canon]

    @register_dataset(
        canon.lower(), task="graph",
        description=f"TU graph classification, {graphs} graphs, {classes} classes",
        files=(f"tu/{canon}.zip",),
        source=KNOWN_FILES[f"tu/{canon}.zip"].url,
        citation=_TU_CITATION,
        stats={"graphs": graphs, "classes": classes, "node_features": features,
               "edges": edges, "edge_lines": lines},
    )
    def _load(root=None, offline=None, base_url=None, *, node_features: str = "auto",
              degree_cap: int = 64, cache_dir=None, use_cache: bool = True,
              repeated_edges: str = "merge"):
        from .tudataset import load_tu

        return load_tu(canon, root, offline, base_url, node_features=node_features,
                       degree_cap=degree_cap, cache_dir=cache_dir, use_cache=use_cache,
                       repeated_edges=repeated_edges)


for _canon in _TU_STATS:
    _tu_entry(_canon)

_MOLNET_STATS = {   # name: (title, molecules, target)
    "esol": ("ESOL water solubility (Delaney 2004)", 1128, "log solubility, mol/L"),
    "lipophilicity": ("Lipophilicity, octanol/water distribution (ChEMBL)", 4200, "logD"),
    "freesolv": ("FreeSolv hydration free energy (Mobley & Guthrie 2014)", 642,
                 "kcal/mol"),
}


def _molnet_entry(name: str) -> None:
    from .moleculenet import MOLECULENET

    title, molecules, target = _MOLNET_STATS[name]
    rel = MOLECULENET[name][0]

    @register_dataset(
        name, task="graph",
        description=f"MoleculeNet {title}, {molecules} molecules, regression (needs rdkit)",
        files=(rel,),
        source=KNOWN_FILES[rel].url,
        citation="Wu et al., MoleculeNet: a benchmark for molecular machine learning, "
                 "Chemical Science 2018",
        stats={"graphs": molecules, "classes": None, "target": target,
               "node_features": "38 atom features; 6 bond features"},
    )
    def _load(root=None, offline=None, base_url=None, *, cache_dir=None,
              use_cache: bool = True):
        from .moleculenet import load_moleculenet

        return load_moleculenet(name, root, offline, base_url, cache_dir=cache_dir,
                                use_cache=use_cache)


for _name in _MOLNET_STATS:
    _molnet_entry(_name)


# ---------------------------------------------------------------------------------- API
def _load_registered(name: str, task: str, root, offline, base_url,  # noqa: ANN001
                     params: dict) -> Any:
    spec = _spec(name)
    if spec.task != task:
        raise DatasetError(f"{spec.name!r} is a {spec.task} data set, not a {task} data set")
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        raise DatasetError(
            f"unknown parameter(s) {', '.join(unknown)} for data set {spec.name!r}; accepted: "
            f"{', '.join(spec.params) or 'none'}"
        )
    return spec.loader(root=root, offline=offline, base_url=base_url, **params)


def load_graph_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    offline: bool | None = None,
    base_url: str | None = None,
    **params: Any,
) -> Any:
    """Load a registered graph-level data set by name (case-insensitive): a TU set
    (``enzymes``, ``proteins``, ``dd``, ``collab``, ``reddit-binary``, ...; params
    ``node_features``, ``degree_cap``, ``repeated_edges``, ``cache_dir``, ``use_cache``) or a
    MoleculeNet set (``esol``, ``lipophilicity``, ``freesolv``; needs RDKit). Returns a
    :class:`~gnnkit.datasets.tudataset.GraphDataset`."""
    return _load_registered(name, "graph", root, offline, base_url, params)


def load_node_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    offline: bool | None = None,
    base_url: str | None = None,
    **params: Any,
) -> NodeDataset:
    """Load a registered node data set by name (case-insensitive).

    ``root``/``offline``/``base_url`` control where files are looked for and downloaded
    from (see :func:`fetch`); ``params`` go to the loader (e.g. ``normalize_features=False``
    for Planetoid, ``num_nodes=500, seed=1`` for ``synthetic``). Unknown names or parameters
    raise :class:`DatasetError` listing the valid ones.
    """
    return _load_registered(name, "node", root, offline, base_url, params)


def list_datasets() -> list[dict]:
    """One dict per registered data set: name, task, description, files, source, citation."""
    return [
        {"name": s.name, "task": s.task, "description": s.description, "files": list(s.files),
         "source": s.source, "citation": s.citation}
        for s in sorted(_REGISTRY.values(), key=lambda s: s.name)
    ]


def dataset_info(name: str, root: str | os.PathLike | None = None) -> dict:
    """Sizes and local file status of a data set, without loading it.

    Returns a dict with name, task, description, then for node data sets nodes, edges
    (directed, both directions), features, classes, split ``{"train", "val", "test"}``, and
    for graph data sets graphs, classes (None for regression; then ``target``),
    node_features (TU sets also: edges, the directed edges loaded with repeated pairs merged,
    and edge_lines, the lines of ``NAME_A.txt``); then root, ``files`` ({relative path:
    present under root}), ``complete`` (all files present), source and citation.
    """
    spec = _spec(name)
    root_path = resolve_root(root)
    files = {rel: (root_path / rel).is_file() for rel in spec.files}
    st = spec.stats
    out = {"name": spec.name, "task": spec.task, "description": spec.description}
    if spec.task == "graph":
        out.update({"graphs": st.get("graphs"), "classes": st.get("classes"),
                    **({"target": st["target"]} if "target" in st else {}),
                    "node_features": st.get("node_features")})
        if "edges" in st:
            out["edges"] = st["edges"]
            out["edge_lines"] = st["edge_lines"]
    else:
        split = st.get("split", (None, None, None))
        out.update({"nodes": st.get("nodes"), "edges": st.get("edges"),
                    "features": st.get("features"), "classes": st.get("classes"),
                    "split": {"train": split[0], "val": split[1], "test": split[2]}})
    return {**out, "root": str(root_path), "files": files, "complete": all(files.values()),
            "source": spec.source, "citation": spec.citation}


def download_dataset(
    name: str,
    root: str | os.PathLike | None = None,
    offline: bool | None = None,
    base_url: str | None = None,
    *,
    verify: bool = False,
    progress: bool | None = None,
) -> list[Path]:
    """Make sure every file of a data set is under ``root``; return their paths.

    Missing files are downloaded and verified; with ``verify=True`` files already present are
    checked against their checksums too (a mismatch raises :class:`DatasetError`). Generated
    data sets have no files and return ``[]``.
    """
    spec = _spec(name)
    return [fetch(rel, root, offline, base_url, progress, verify=verify) for rel in spec.files]
