"""PubMed-sized VGAE: epoch time and peak memory of the paper's full loss computed blockwise
(gnnkit) vs densely (N x N tensors), and vs PyG's GAE/VGAE, in one run.

Data: PubMed's real graph (19717 nodes, 44324 undirected edges) with RANDOM features of the
real width (500), from ``gnnkit.datasets.load_planetoid_structure``: the shared mirror lacks
ind.pubmed.allx, and timing and memory do not depend on feature values. One 85/5/10 edge split;
the encoder sees the 37676 training edges.

Every configuration runs in its own subprocess, so its peak memory is its own: after loading
the data and building the model the process resets its resident-set high-water mark
(``/proc/self/clear_refs``), trains ``--warmup`` + ``--epochs`` epochs (forward, loss,
backward, Adam step; no evaluation), and reports the mean time of the timed epochs and the
peak RSS above the post-load baseline (VmHWM - VmRSS). One thread (``--threads``).
With ``--device cuda`` the data and models live on the GPU, each epoch is timed between
synchronisations, and the peak is ``torch.cuda.max_memory_allocated`` above what was allocated
after loading; results then go to ``results/memory_speed_cuda.json``.

    python benchmarks/link_prediction/memory_speed.py            # all configurations
    python benchmarks/link_prediction/memory_speed.py --configs gnnkit-vgae-full,pyg-vgae-sampled
    python benchmarks/link_prediction/memory_speed.py --repeats 3 \
        --configs gnnkit-vgae-full,gnnkit-vgae-sampled,pyg-gae-sampled,pyg-vgae-sampled
    python benchmarks/link_prediction/memory_speed.py --device cuda --repeats 3 --epochs 20

Results merge into ``results/memory_speed.json`` by configuration (a rerun replaces only its
own configurations), so the slow dense rows can be measured once and the others repeated.

Configurations:
  gnnkit-vgae-full        gnnkit VGAE, the paper's loss over all N^2 pairs, 1 MB tiles
  gnnkit-vgae-full-64mb   the same with 64 MB tiles (whole rows)
  gnnkit-vgae-dense       gnnkit VGAE, the same loss with dense [N, N] logits and target
                          (gnnkit.models.losses.dense_recon_loss, the tkipf/gae formulation)
  gnnkit-vgae-sampled     gnnkit VGAE, positives + as many random non-edges (PyG's loss)
  pyg-gae-sampled         torch_geometric.nn.GAE with its own recon_loss (sampled negatives)
  pyg-vgae-sampled        torch_geometric.nn.VGAE, recon_loss + kl_loss / N
  pyg-vgae-dense          torch_geometric.nn.VGAE, the paper's loss computed densely
A configuration whose process dies (out of memory) is reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

CONFIGS = ("gnnkit-vgae-full", "gnnkit-vgae-full-64mb", "gnnkit-vgae-sampled", "pyg-gae-sampled",
           "pyg-vgae-sampled", "gnnkit-vgae-dense", "pyg-vgae-dense")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(name: str, a: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(a.threads)
    from gnnkit.datasets import link_split, load_planetoid_structure
    from gnnkit.models import GAE, VGAE
    from gnnkit.models.losses import dense_recon_loss, full_recon_loss, sampled_recon_loss

    ds = load_planetoid_structure("pubmed", a.root, offline=True)
    split = link_split(ds.graph, seed=0)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    g = split.train_graph(ds.graph).to(dev)
    x, ei, n = g.x, g.edge_index, g.num_nodes
    torch.manual_seed(0)
    gen = torch.Generator(device=dev).manual_seed(0)
    framework, model_name, loss_name = name.split("-")[:3]
    block_mb = 64.0 if name.endswith("64mb") else 1.0

    if framework == "gnnkit":
        model = (VGAE if model_name == "vgae" else GAE)(x.shape[1], 32, 16)

        def step() -> float:
            z, mu, logstd = model(x, g, gen)
            if loss_name == "full":
                loss = full_recon_loss(z, ei, block_mb=block_mb)
            elif loss_name == "dense":
                loss = dense_recon_loss(z, ei)
            else:
                loss = sampled_recon_loss(z, ei, gen)
            return loss + model.kl_loss(mu, logstd)
    else:
        from torch_geometric.nn import GAE as PGAE
        from torch_geometric.nn import VGAE as PVGAE
        from torch_geometric.nn import GCNConv

        class Encoder(torch.nn.Module):
            def __init__(self, variational: bool) -> None:
                super().__init__()
                self.conv1 = GCNConv(x.shape[1], 32, bias=False, cached=True)
                self.conv_mu = GCNConv(32, 16, bias=False, cached=True)
                self.conv_logstd = GCNConv(32, 16, bias=False, cached=True) if variational else None

            def forward(self, x, edge_index):
                h = self.conv1(x, edge_index).relu()
                mu = self.conv_mu(h, edge_index)
                return mu if self.conv_logstd is None else (mu, self.conv_logstd(h, edge_index))

        model = PVGAE(Encoder(True)) if model_name == "vgae" else PGAE(Encoder(False))

        def step() -> float:
            z = model.encode(x, ei)
            if loss_name == "dense":
                loss = dense_recon_loss(z, ei)
            else:
                loss = model.recon_loss(z, ei)        # PyG: positives + sampled negatives
            if model_name == "vgae":
                loss = loss + model.kl_loss() / n
            return loss

    model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    import gc

    gc.collect()
    if cuda:
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base_bytes = torch.cuda.memory_allocated(dev)
    base = _status_kb("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")   # reset the RSS high-water mark
        reset = True
    except OSError:
        reset = False
    times = []
    for epoch in range(a.warmup + a.epochs):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = step()
        loss.backward()
        opt.step()
        if cuda:
            torch.cuda.synchronize(dev)
        if epoch >= a.warmup:
            times.append(time.perf_counter() - t0)
    if cuda:
        peak_mb = (torch.cuda.max_memory_allocated(dev) - base_bytes) / 2**20
        base_mb = base_bytes / 2**20
    else:
        peak_mb, base_mb = (_status_kb("VmHWM") - base) / 1024, base / 1024
    return {"config": name, "epoch_s": sum(times) / len(times), "epochs_timed": len(times),
            "peak_mb_above_baseline": peak_mb, "baseline_mb": base_mb,
            "hwm_reset": reset, "loss": float(loss), "num_nodes": n, "device": str(dev),
            "train_edges": int(ei.shape[1]) // 2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1,
                    help="runs of every configuration, alternating (order flips each repeat)")
    ap.add_argument("--root", default=os.environ.get("GNNKIT_DATA"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (memory: CUDA allocator peak)")
    ap.add_argument("--out", help="results file (default: results/memory_speed.json, "
                    "results/memory_speed_cuda.json on CUDA)")
    a = ap.parse_args()
    if a.out is None:
        cuda = a.device.startswith("cuda")
        a.out = str(HERE / "results" / ("memory_speed_cuda.json" if cuda else "memory_speed.json"))
    if a.child:
        print(json.dumps(child(a.child, a)))
        return
    import torch

    n = 19717
    dense_gb = n * n * 4 / 1e9
    names = a.configs.split(",")
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for rep in range(a.repeats):                    # configurations alternate within a repeat
        for name in (names if rep % 2 == 0 else names[::-1]):
            cmd = [sys.executable, __file__, "--child", name, "--epochs", str(a.epochs),
                   "--warmup", str(a.warmup), "--threads", str(a.threads), "--device", a.device]
            if a.root:
                cmd += ["--root", a.root]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode == 0:
                row = json.loads(proc.stdout.strip().splitlines()[-1])
            else:
                tail = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
                row = {"config": name, "failed": f"exit {proc.returncode}: {tail}"}
            row["wall_s"] = time.perf_counter() - t0
            row["load_avg_1min"] = os.getloadavg()[0]
            runs[name].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    rows = [_summary(name, runs[name]) for name in names]
    out = Path(a.out)
    old = json.loads(out.read_text()).get("rows", []) if out.is_file() else []
    merged = {r["config"]: r for r in old if "config" in r}   # keep configurations not rerun
    merged.update({r["config"]: r for r in rows})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"rows": list(merged.values()), "dense_tensor_gb": dense_gb,
                               "torch": torch.__version__, "machine": platform.machine(),
                               "threads": a.threads, "device": a.device}, indent=1) + "\n")
    os.replace(tmp, out)
    where = (torch.cuda.get_device_name(a.device) if a.device.startswith("cuda")
             else f"{a.threads} thread(s)")
    print(f"PubMed structure (N = {n}, random features), VGAE/GAE 500-32-16, "
          f"{where}, torch {torch.__version__}. One N x N float32 tensor = "
          f"{dense_gb:.2f} GB. Median over repeats of the mean timed epoch; peak = max.\n")
    print("| configuration | repeats | epoch time (s) | peak memory above baseline (MB) |")
    print("|---|---:|---:|---:|")
    for r in merged.values():
        if "failed" in r:
            print(f"| {r['config']} | | failed: {r['failed']} | |")
        else:
            print(f"| {r['config']} | {r.get('repeats', 1)} | {r['epoch_s']:.3f} "
                  f"| {r['peak_mb_above_baseline']:.0f} |")


def _summary(name: str, rows: list[dict]) -> dict:
    ok = [r for r in rows if "failed" not in r]
    if not ok:
        return rows[-1]
    times = sorted(r["epoch_s"] for r in ok)
    return {"config": name, "repeats": len(ok), "epoch_s": times[len(times) // 2],
            "epoch_s_all": [r["epoch_s"] for r in ok],
            "peak_mb_above_baseline": max(r["peak_mb_above_baseline"] for r in ok),
            "load_avg_1min": [r["load_avg_1min"] for r in ok]}


if __name__ == "__main__":
    main()
