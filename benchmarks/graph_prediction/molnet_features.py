"""Does a richer featuriser close MemGNN's MoleculeNet gap? Same model, same splits, more features.

    python benchmarks/graph_prediction/molnet_features.py --dataset esol --seeds 3

The issue fixes gnnkit's featuriser (``gnnkit.datasets.moleculenet``: 38 atom features from
element, degree, formal charge, hybridisation, aromaticity and hydrogens; 6 bond features from
type, conjugation and ring). The paper does not give its own. This script trains the
``graph_memgnn`` preset (as ``gnnkit train graph --model memgnn --dataset esol --seeds 3``:
splits 0..seeds-1, up to 2000 epochs, patience 200, the best-validation epoch tested) on three
featurisations of the same molecules:

- ``base``: the loader's 38 + 6 features, unchanged;
- ``rings``: base plus, per atom, in-a-ring and in-a-ring-of-size-k for k = 3..8, the chirality
  tag, the radical-electron count and the mass / 100 (53 atom features); per bond, the stereo
  label (13 bond features), close to the featurisers of the MoleculeNet and AttentiveFP papers;
- ``crippen``: rings plus each atom's Wildman-Crippen logP and molar-refractivity contributions
  (RDKit), the per-atom terms of a classic solubility descriptor (55 atom features).

Every variant is fed to ``run_folds(data=...)``, so training, splits and selection are the task's
own. Prints a Markdown table (mean ± population std over the splits, and the test RMSE per split).
One thread, CPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

from gnnkit.datasets.moleculenet import _onehot, read_molecules
from gnnkit.datasets.tudataset import GraphDataset
from gnnkit.tasks import make_config
from gnnkit.tasks.graph_prediction import load_graph_data, run_folds

VARIANTS = ("base", "rings", "crippen")
_CHIRAL = ("CHI_UNSPECIFIED", "CHI_TETRAHEDRAL_CW", "CHI_TETRAHEDRAL_CCW")
_STEREO = ("STEREONONE", "STEREOANY", "STEREOZ", "STEREOE", "STEREOCIS", "STEREOTRANS")


def extra_features(mol, crippen: bool) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: ANN001
    """The columns ``rings`` (and ``crippen``) add to the loader's: per atom [n, 15 or 17],
    per bond [b, 7] in RDKit's bond order (the loader lists bond k as edges 2k and 2k + 1)."""
    from rdkit.Chem import rdMolDescriptors

    contrib = rdMolDescriptors._CalcCrippenContribs(mol) if crippen else None
    rows = []
    for a in mol.GetAtoms():
        f = [float(a.IsInRing())] + [float(a.IsInRingSize(k)) for k in range(3, 9)]
        f += _onehot(str(a.GetChiralTag()), _CHIRAL)
        f += [float(min(a.GetNumRadicalElectrons(), 2) == k) for k in range(3)]
        f.append(a.GetMass() / 100.0)
        if contrib is not None:
            logp, mr = contrib[a.GetIdx()]
            f += [logp, mr / 10.0]
        rows.append(f)
    bonds = [_onehot(str(b.GetStereo()), _STEREO) for b in mol.GetBonds()]
    return (torch.tensor(rows, dtype=torch.float32),
            torch.tensor(bonds, dtype=torch.float32).view(-1, len(_STEREO) + 1))


def variant_data(base: GraphDataset, variant: str) -> GraphDataset:
    """``base`` (the loader's data set) with its molecules featurised as ``variant``: the
    loader's graphs with the extra columns appended."""
    if variant == "base":
        return base
    from rdkit import Chem

    _, _, smiles, skipped = read_molecules(base.info["source"])
    if skipped or len(smiles) != len(base.graphs):
        raise SystemExit(f"{base.info['source']}: {len(smiles)} parsable molecules against "
                         f"{len(base.graphs)} loaded; cannot align the featurisations")
    graphs = []
    for smi, g in zip(smiles, base.graphs, strict=True):
        xa, ea = extra_features(Chem.MolFromSmiles(smi), crippen=variant == "crippen")
        if xa.shape[0] != g.num_nodes or 2 * ea.shape[0] != g.num_edges:
            raise SystemExit(f"{smi}: {xa.shape[0]} atoms and {ea.shape[0]} bonds here, "
                             f"{g.num_nodes} atoms and {g.num_edges} directed edges in the loader")
        graphs.append(g.replace(x=torch.cat([g.x, xa], 1),
                                edge_attr=torch.cat([g.edge_attr, ea.repeat_interleave(2, 0)], 1)))
    return GraphDataset(base.name, graphs, None, {**base.info, "node_features": variant})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="esol", choices=["esol", "lipophilicity"])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2000)
    p.add_argument("--patience", type=int, default=200)
    a = p.parse_args(argv)
    torch.set_num_threads(1)

    def cfg_for(variant: str):  # noqa: ANN202
        return make_config("graph", model="memgnn", dataset=a.dataset, seeds=a.seeds,
                           epochs=a.epochs, patience=a.patience, threads=1, quiet=True,
                           out_dir="runs/molnet_features",
                           run_name=f"{a.dataset}-{variant}-{time.strftime('%Y%m%d-%H%M%S')}")

    base = load_graph_data(cfg_for("base"))
    rows = []
    for variant in a.variants:
        ds = variant_data(base, variant)
        t0 = time.perf_counter()
        res = run_folds(cfg_for(variant), data=ds)
        runs = res["runs"]
        rows.append((variant, ds.graphs[0].x.shape[1], ds.graphs[0].edge_attr.shape[1], res,
                     ", ".join(f"{r['test_rmse']:.3f}" for r in runs)))
        print(f"{variant}: val {res['val_rmse_mean']:.3f}  test {res['test_rmse_mean']:.3f}  "
              f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    def ms(res: dict, key: str) -> str:
        v = [r[key] for r in res["runs"]]
        return f"{statistics.fmean(v):.3f} ± {statistics.pstdev(v):.3f}"

    print(f"\nMemGNN (graph_memgnn preset) on {a.dataset}, splits 0-{a.seeds - 1}\n")
    print("| features | atom / bond dims | val RMSE | test RMSE | per split (test) | "
          "train RMSE | epochs |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for variant, fx, fe, res, per in rows:
        print(f"| {variant} | {fx} / {fe} | {ms(res, 'val_rmse')} | {ms(res, 'test_rmse')} | "
              f"{per} | {res['train_rmse_mean']:.3f} | {res['epochs_mean']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
