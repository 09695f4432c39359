"""Where a training step of GMN / MemGNN spends its time: a coarse split, then torch's
operator table.

    python benchmarks/graph_prediction/profile_step.py --model memgnn --dataset dd --steps 20
    python benchmarks/graph_prediction/profile_step.py --model gmn --dataset collab --by-shape

The data set is loaded as ``gnnkit train graph`` loads it (GMN: with the RWR embedding), the
preset's model is built, and ``--steps`` training steps run on shuffled batches of the
preset's batch size (cross-entropy, or MSE on the raw targets, plus the preset's KL term;
one Adam: the loss values do not matter here), one thread, after ``--warmup`` steps that
are not counted. The first table gives per-step medians of the phases: building the batch
(MemGNN: from each graph's GAT arrays, built before the timed steps, as in every epoch of
training after the first), the query network's forward (MemGNN: the e-GAT; GMN: the query
MLPs), the memory layers and losses, backward, the optimiser step. The second is
torch.profiler's operator table over the same steps, by self CPU time (``--by-shape``
splits it by input shapes). On a shared machine, read the shares, not the milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from gnnkit.tasks import graph_prediction as gp
from gnnkit.tasks import make_config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="memgnn", choices=("gmn", "memgnn"))
    p.add_argument("--dataset", default="proteins")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rows", type=int, default=20, help="operators in the profiler table")
    p.add_argument("--by-shape", action="store_true", help="group operators by input shapes")
    p.add_argument("--max-nodes", type=int, default=None,
                   help="the preset's cap on graph size (e.g. 100000: every REDDIT-BINARY graph)")
    a = p.parse_args(argv)
    if a.steps < 1 or a.warmup < 0:
        p.error("--steps must be >= 1 and --warmup >= 0")

    torch.set_num_threads(1)
    extra = {} if a.max_nodes is None else {"max_nodes": a.max_nodes}
    cfg = make_config("graph", model=a.model, dataset=a.dataset, save=False, quiet=True,
                      threads=1, **extra)
    data = gp.load_graph_data(cfg)
    graphs, topo = gp.model_inputs(cfg, data.graphs)
    torch.manual_seed(0)
    model = gp.model_for(cfg, graphs, data.num_classes, topo)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    need = (a.steps + a.warmup) * cfg.batch_size
    reps = -(-need // len(graphs))
    gen = torch.Generator().manual_seed(0)
    idx = torch.arange(len(graphs)).repeat(reps)[:need]
    gat = cfg.model == "memgnn"
    if gat:   # the steady state of training: every graph's GAT arrays built (in epoch 1)
        for _ in gp._batches(graphs, idx.unique(), cfg.batch_size, None, torch.device("cpu"),
                             gat=True):
            pass
    batches = gp._batches(graphs, idx, cfg.batch_size, gen, torch.device("cpu"),
                          gat=gat)   # as training builds them
    regression = data.num_classes is None

    def step(times: dict[str, list[float]] | None) -> None:
        t0 = time.perf_counter()
        b = next(batches)
        t1 = time.perf_counter()
        q = model.queries(b)
        t2 = time.perf_counter()
        out, assignments = model.run_memory(q, b)
        if regression:
            loss = F.mse_loss(out.view(-1), b.y.view(-1).to(out.dtype))
        else:
            loss = F.cross_entropy(out, b.y.view(-1))
        loss = loss + cfg.kl_weight * model.kl_loss(assignments, cfg.kl_reduction)
        t3 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t4 = time.perf_counter()
        opt.step()
        t5 = time.perf_counter()
        if times is not None:
            for k, v in zip(("batch", "queries", "memory + loss", "backward", "optimiser"),
                            (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
                times.setdefault(k, []).append(v)

    for _ in range(a.warmup):
        step(None)
    times: dict[str, list[float]] = {}
    from torch.profiler import profile

    with profile(record_shapes=a.by_shape) as prof:
        for _ in range(a.steps):
            step(times)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    total = sum(med.values())
    print(f"{cfg.model} on {cfg.dataset}: {a.steps} steps of {cfg.batch_size} graphs, "
          f"one thread (torch {torch.__version__})\n")
    print("| phase | median ms/step | share |")
    print("|---|---:|---:|")
    for k, v in med.items():
        print(f"| {k} | {v:.2f} | {v / total:.0%} |")
    print(f"| sum | {total:.2f} | |\n")
    table = prof.key_averages(group_by_input_shape=a.by_shape)
    print(table.table(sort_by="self_cpu_time_total", row_limit=a.rows,
                      max_name_column_width=40, max_shapes_column_width=60))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
