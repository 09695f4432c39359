"""A reference model on gnnkit's MoleculeNet splits: is a miss the model's or the data's?

    python benchmarks/graph_prediction/molnet_reference.py --dataset esol --seeds 3

Trains PyG's ``AttentiveFP`` (Xiong et al., 2020; a strong published model on these sets,
a development-only dependency here) on exactly what gnnkit's MemGNN sees: the same molecules,
the same 38 atom and 6 bond features (``gnnkit.datasets.moleculenet``), the same random
80/10/10 splits (split k for seed k, as ``gnnkit train graph --seeds``), targets standardised
with the training mean and std, and the same selection rule (the epoch with the lowest
validation RMSE is tested). Settings are those of PyG's AttentiveFP example (hidden 200, two
layers, two readout steps, dropout 0.2, Adam lr 10^-2.5, weight decay 10^-5, batch 200),
not tuned here. Also printed: the RMSE of predicting the training mean (the scale of the
problem). One thread, CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

from gnnkit.tasks import make_config
from gnnkit.tasks.graph_prediction import fold_splits, load_graph_data
from gnnkit.train.rundir import atomic_write_text


def to_pyg(graphs, idx):  # noqa: ANN001, ANN201 - gnnkit Graphs -> PyG Data list
    from torch_geometric.data import Data

    return [Data(x=graphs[i].x, edge_index=graphs[i].edge_index, edge_attr=graphs[i].edge_attr,
                 y=graphs[i].y.view(1, 1).float()) for i in idx.tolist()]


def rmse(model, loader, mean: float, std: float) -> float:  # noqa: ANN001
    model.eval()
    se, n = 0.0, 0
    with torch.no_grad():
        for b in loader:
            pred = model(b.x, b.edge_index, b.edge_attr, b.batch).view(-1) * std + mean
            se += float(((pred - b.y.view(-1)) ** 2).sum())
            n += b.num_graphs
    return math.sqrt(se / n)


def run_seed(graphs, split, seed: int, epochs: int) -> dict:  # noqa: ANN001
    from torch_geometric.loader import DataLoader
    from torch_geometric.nn import AttentiveFP

    tr, va, te = split
    ytr = torch.cat([graphs[i].y.view(-1) for i in tr.tolist()]).double()
    mean, std = float(ytr.mean()), float(ytr.std())
    torch.manual_seed(seed)
    train = DataLoader(to_pyg(graphs, tr), batch_size=200, shuffle=True)
    val = DataLoader(to_pyg(graphs, va), batch_size=200)
    test = DataLoader(to_pyg(graphs, te), batch_size=200)
    g0 = graphs[0]
    model = AttentiveFP(g0.x.shape[1], 200, 1, g0.edge_attr.shape[1], num_layers=2,
                        num_timesteps=2, dropout=0.2)
    opt = torch.optim.Adam(model.parameters(), lr=10 ** -2.5, weight_decay=10 ** -5)
    best, best_state = (math.inf, math.nan, 0), None
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        for b in train:
            opt.zero_grad()
            out = model(b.x, b.edge_index, b.edge_attr, b.batch).view(-1)
            F.mse_loss(out, (b.y.view(-1) - mean) / std).backward()
            opt.step()
        v = rmse(model, val, mean, std)
        if v < best[0]:
            best = (v, rmse(model, test, mean, std), epoch)
            best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
    # the chosen epoch's training RMSE, after training (a DataLoader's iterator draws a seed
    # from torch's generator: evaluated during training it would change the later epochs)
    model.load_state_dict(best_state)
    train_rmse = rmse(model, DataLoader(train.dataset, batch_size=200), mean, std)
    ymean = torch.full((te.numel(),), mean)
    yte = torch.cat([graphs[i].y.view(-1) for i in te.tolist()]).double()
    return {"val": best[0], "test": best[1], "best_epoch": best[2], "train": train_rmse,
            "test_mean_predictor": float(((yte - ymean) ** 2).mean().sqrt()),
            "s_per_epoch": (time.perf_counter() - t0) / epochs}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="esol", choices=["esol", "lipophilicity"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--out", type=Path, default=None,
                   help="also write the per-split figures to this JSON file ({'folds': [...]},"
                        " for paired.py)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    cfg = make_config("graph", model="memgnn", dataset=a.dataset, seeds=a.seeds)
    graphs = load_graph_data(cfg).graphs
    y = torch.cat([g.y.view(-1) for g in graphs])
    rows = []
    for k, split in enumerate(fold_splits(cfg, y, regression=True)):
        r = run_seed(graphs, split, seed=k, epochs=a.epochs)
        rows.append(r)
        print(f"split {k}: train {r['train']:.3f}  val {r['val']:.3f}  test {r['test']:.3f}  "
              f"(epoch {r['best_epoch']}, "
              f"mean predictor {r['test_mean_predictor']:.3f}, {r['s_per_epoch']:.2f} s/epoch)",
              file=sys.stderr, flush=True)

    if a.out is not None:
        folds = [{"fold": k, "train_rmse": r["train"], "val_rmse": r["val"], "test_rmse": r["test"],
                  "best_epoch": r["best_epoch"], "s_per_epoch": r["s_per_epoch"]}
                 for k, r in enumerate(rows)]
        atomic_write_text(a.out, json.dumps({"model": "PyG AttentiveFP", "dataset": a.dataset,
                                             "epochs": a.epochs, "folds": folds}, indent=1))

    def ms(key: str) -> str:
        v = [r[key] for r in rows]
        return f"{statistics.fmean(v):.3f} ± {statistics.pstdev(v):.3f}"

    per = ", ".join(f"{r['test']:.3f}" for r in rows)
    print(f"| model | data set | splits | train RMSE | val RMSE | test RMSE | per split (test) | "
          f"mean predictor (test) |\n|---|---|---:|---:|---:|---:|---|---:|\n"
          f"| PyG AttentiveFP | {a.dataset} | {len(rows)} | {ms('train')} | {ms('val')} | "
          f"{ms('test')} | {per} | {ms('test_mean_predictor')} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
