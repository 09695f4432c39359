"""Training-epoch time, inference time and peak memory, gnnkit against PyTorch Geometric.

Every (model, dataset, framework) measurement runs in its own process, so peak memory is
that case's alone. The frameworks alternate within each repeat (the order flips every
repeat), and the table reports medians over repeats and the median of the per-repeat paired
ratios gnnkit / PyG, which is robust to a machine whose load drifts during the run.

PyG runs in two input forms, ``edge_index`` and a ``torch.sparse`` CSR adjacency
(``adj_t``); the faster one (per case) is the PyG figure. Both models have the same
architecture and sizes (below) and use each framework's standard layers. A PyG form that
fails (an error, or more memory than ``--mem-limit-gb``: each CPU child runs under
``RLIMIT_AS``) is reported as "fails: <reason>" instead of stopping the run.

Models: ``gcn gat sage`` (mean) ``sage-pool`` (max-pooling) ``sage-lstm`` (node classification,
cross-entropy on the training nodes); ``gae vgae`` (link prediction: gnnkit with the paper's
full N^2 loss *and* with the sampled loss, PyG's ``GAE``/``VGAE`` with its sampled
``recon_loss``); ``memory`` (gnnkit MemoryLayer vs PyG MemPooling: runs
``benchmarks/graph_prediction/speed_memory_layer.py`` once and adds its rows to the table).

Usage:
    python benchmarks/speed/bench_epoch.py                       # the committed table
    python benchmarks/speed/bench_epoch.py --models gcn --datasets cora,pubmed --repeats 5
    python benchmarks/speed/bench_epoch.py --device cuda         # same table on a GPU

Writes a Markdown table to stdout (and to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATASETS = ("cora", "citeseer", "pubmed", "synthetic-100k", "synthetic-1m")
NODE_MODELS = ("gcn", "gat", "sage", "sage-pool", "sage-lstm")
LINK_MODELS = ("gae", "vgae")
MODELS = NODE_MODELS + LINK_MODELS + ("memory",)
FRAMEWORKS = ("gnnkit", "pyg", "pyg-sparse")
# gae/vgae also run gnnkit with the sampled loss (the same loss as PyG's recon_loss)
SAMPLED = "gnnkit-sampled"
# Architecture per model (identical in both frameworks): two layers.
HIDDEN = {"gcn": 64, "gat": 8, "sage": 64, "sage-pool": 64, "sage-lstm": 64}  # GAT: 8 heads x 8
SAGE_AGGR = {"sage": "mean", "sage-pool": "pool", "sage-lstm": "lstm"}
GAE_DIMS = (32, 16)  # hidden, latent (tkipf/gae)
MEMORY_SCRIPT = REPO / "benchmarks" / "graph_prediction" / "speed_memory_layer.py"
SYNTH = {"synthetic-100k": (100_000, 1_000_000), "synthetic-1m": (1_000_000, 10_000_000)}
SYNTH_FEATURES, SYNTH_CLASSES = 128, 16


# --------------------------------------------------------------------------- child side
def _load(dataset: str, root: str | None):
    sys.path.insert(0, str(REPO))
    from gnnkit.datasets import load_planetoid, load_planetoid_structure, random_graph

    if dataset in SYNTH:
        n, e = SYNTH[dataset]
        return random_graph(n, e, SYNTH_FEATURES, SYNTH_CLASSES, seed=0)
    if dataset == "pubmed":  # ind.pubmed.allx may be absent: real graph, right-shaped features
        return load_planetoid_structure("pubmed", root=root)
    return load_planetoid(dataset, root=root)


class _PeakRSS:
    """Peak resident memory of this process from now on (Linux: VmHWM after a reset;
    elsewhere a 2 ms sampling thread)."""

    def __init__(self) -> None:
        self.base = self._rss()
        self.peak = self.base
        self._reset_ok = False
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self._reset_ok = True
        except OSError:
            self._stop = False
            self._t = threading.Thread(target=self._sample, daemon=True)
            self._t.start()

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop:
            self.peak = max(self.peak, self._rss())
            time.sleep(0.002)

    def stop(self) -> int:
        if self._reset_ok:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024 - self.base
        self._stop = True
        self._t.join()
        return self.peak - self.base


def _build(framework: str, model: str, in_dim: int, out_dim: int):
    """A node-classification model (``NODE_MODELS``) of ``framework``."""
    import torch
    import torch.nn.functional as F

    if framework == "gnnkit":
        from gnnkit.models import GAT, GCN, GraphSAGE

        if model in SAGE_AGGR:
            return GraphSAGE(in_dim, HIDDEN[model], out_dim, aggregator=SAGE_AGGR[model])
        return {
            "gcn": lambda: GCN(in_dim, HIDDEN["gcn"], out_dim, dropout=0.5),
            "gat": lambda: GAT(in_dim, HIDDEN["gat"], out_dim, num_heads=8, out_heads=1),
        }[model]()
    import torch_geometric.nn as pyg

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            h = HIDDEN[model]
            if model == "gcn":
                self.c1 = pyg.GCNConv(in_dim, h, cached=True)
                self.c2 = pyg.GCNConv(h, out_dim, cached=True)
                self.p, self.act = 0.5, F.relu
            elif model == "gat":
                self.c1 = pyg.GATConv(in_dim, h, heads=8, dropout=0.6)
                self.c2 = pyg.GATConv(8 * h, out_dim, heads=1, concat=False, dropout=0.6)
                self.p, self.act = 0.6, F.elu
            else:
                # mean: SAGEConv's default; pool: max over ReLU(W_pool x_j + b) (project=True
                # is exactly the paper's pooling aggregator); lstm: LSTM(F_in, F_in) over the
                # neighbours in edge order, its last output
                kw = {"sage": {}, "sage-pool": {"aggr": "max", "project": True},
                      "sage-lstm": {"aggr": "lstm"}}[model]
                self.c1, self.c2 = pyg.SAGEConv(in_dim, h, **kw), pyg.SAGEConv(h, out_dim, **kw)
                self.p, self.act = 0.5, F.relu

        def forward(self, x, adj):
            x = F.dropout(x, self.p, self.training)
            x = self.act(self.c1(x, adj))
            x = F.dropout(x, self.p, self.training)
            return self.c2(x, adj)

    return Net()


def _build_link(framework: str, model: str, in_dim: int):
    """GAE / VGAE with two GCN layers (hidden 32, latent 16, no biases) in both frameworks."""
    import torch
    import torch.nn.functional as F

    hid, lat = GAE_DIMS
    if framework != "pyg" and framework != "pyg-sparse":
        from gnnkit.models import GAE, VGAE

        return (GAE if model == "gae" else VGAE)(in_dim, hid, lat)
    import torch_geometric.nn as pyg

    class Encoder(torch.nn.Module):  # PyG's examples/autoencoder.py encoders, our sizes
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = pyg.GCNConv(in_dim, hid, cached=True, bias=False)
            self.conv2 = pyg.GCNConv(hid, lat, cached=True, bias=False)
            if model == "vgae":
                self.conv3 = pyg.GCNConv(hid, lat, cached=True, bias=False)

        def forward(self, x, adj):
            h = F.relu(self.conv1(x, adj))
            if model == "gae":
                return self.conv2(h, adj)
            return self.conv2(h, adj), self.conv3(h, adj)   # mu, logstd

    return (pyg.GAE if model == "gae" else pyg.VGAE)(Encoder())


def _limit_memory(gb: float) -> None:
    """Cap this process's address space at what it maps now plus ``gb`` GB (RLIMIT_AS), so a
    case that asks for too much fails with an error instead of taking the machine down."""
    if gb <= 0:
        return
    import resource

    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    limit = vm + int(gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def child(args: argparse.Namespace) -> None:
    """Run one case and print ``RESULT {json}``: times and memory, or the error."""
    import torch

    torch.manual_seed(0)
    capped = torch.device(args.device).type == "cpu" and args.mem_limit_gb > 0
    if capped:  # not on CUDA, which maps far more address space than it uses
        _limit_memory(args.mem_limit_gb)
    try:
        res = _measure(args)
    except (RuntimeError, NotImplementedError, ValueError, TypeError, MemoryError) as exc:
        res = {"error": _reason(exc)}
        if res["error"].startswith("out of memory") and capped:
            res["error"] += f" over the {args.mem_limit_gb:g} GB cap"
    print("RESULT " + json.dumps(res), flush=True)


def _reason(exc: BaseException) -> str:
    """A short reason for the table: the size of a failed allocation, else the first line."""
    msg = str(exc).strip()
    big = re.search(r"tried to allocate (\d+) bytes", msg)
    if big:
        return f"out of memory (one allocation of {int(big.group(1)) / 2**30:.1f} GiB)"
    big = re.search(r"Tried to allocate ([\d.]+ [KMGT]iB)", msg)   # CUDA's wording
    if big:
        return f"out of memory (one allocation of {big.group(1)})"
    if isinstance(exc, MemoryError) or "out of memory" in msg.lower():
        return f"out of memory ({type(exc).__name__})"
    return f"{type(exc).__name__}: {(msg.splitlines() or [''])[0][:160]}"


def _measure(args: argparse.Namespace) -> dict:
    import torch

    dev = torch.device(args.device)
    ds = _load(args.dataset, args.root)
    g = ds.graph.to(dev)
    x, y = g.x, g.y
    n = g.num_nodes
    fw, model = args.framework, args.model
    if fw == "pyg-sparse":  # torch.sparse CSR adjacency, transposed (rows = destinations)
        rowptr, col, _ = g.csr
        adj = torch.sparse_csr_tensor(rowptr, col, torch.ones(col.numel(), device=dev), (n, n))
    elif fw == "pyg" and model == "sage-lstm":  # PyG's LSTM aggregation needs dst-sorted edges
        ei = g.edge_index
        adj = ei[:, torch.argsort(ei[1] * n + ei[0])]
    else:
        adj = g.edge_index
    if fw in ("gnnkit", SAMPLED):
        adj = g

    if model in LINK_MODELS:
        m = _build_link(fw, model, x.shape[1]).to(dev)
        ei = g.edge_index  # the training edges: both directions, no self-loops
        variational = model == "vgae"
        if fw in ("gnnkit", SAMPLED):
            from gnnkit.models.losses import full_recon_loss, sampled_recon_loss

            gen = torch.Generator(device=dev).manual_seed(0)  # negatives drawn on the device

            def loss_fn():
                if variational:
                    z, mu, logstd = m(x, g)
                    kl = m.kl_loss(mu, logstd)
                else:
                    z, kl = m(x, g), 0.0
                rec = full_recon_loss(z, ei) if fw == "gnnkit" else sampled_recon_loss(z, ei, gen)
                return rec + kl

            def infer():
                return m.embed(x, g)
        else:
            def loss_fn():
                z = m.encode(x, adj)
                loss = m.recon_loss(z, ei)
                return loss + m.kl_loss() / n if variational else loss

            def infer():
                return m.encode(x, adj)  # mu in eval mode
    else:
        m = _build(fw, model, x.shape[1], ds.num_classes).to(dev)
        train = ds.train_idx.to(dev) if args.dataset not in SYNTH else None

        def infer():
            return m(x, adj)

        def loss_fn():
            out = infer()
            return torch.nn.functional.cross_entropy(out if train is None else out[train],
                                                     y if train is None else y[train])
    opt = torch.optim.Adam(m.parameters(), lr=0.01)

    def epoch() -> None:
        m.train()
        opt.zero_grad()
        loss_fn().backward()
        opt.step()

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(args.warmup):  # caches (normalisation, CSR) are built here
        epoch()
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    peak = _PeakRSS()
    times = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        epoch()
        sync()
        times.append(time.perf_counter() - t0)
    mem = torch.cuda.max_memory_allocated() if dev.type == "cuda" else peak.stop()
    m.eval()
    with torch.no_grad():
        t0 = time.perf_counter()
        infer()
        sync()
        infer_s = time.perf_counter() - t0
    res = {"epoch_s": statistics.median(times), "infer_s": infer_s, "peak_bytes": mem}
    if args.profile:
        res["profile"] = _profile_epoch(epoch, sync, dev)
    return res


def _profile_epoch(epoch, sync, dev) -> dict:  # noqa: ANN001
    """One more training epoch under torch.profiler: how many operators it dispatches (the
    outermost aten calls, forward and backward), how many kernels it launches on CUDA, and the
    operators with the most self time. On a small
    graph, where an epoch is launch-bound, the counts say more than the times."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=acts) as prof:
        epoch()
        sync()
    events = prof.events()

    def outermost(e) -> bool:  # noqa: ANN001 - an aten op not called from inside another one
        p = e.cpu_parent
        while p is not None:
            if p.name.startswith("aten::"):
                return False
            p = p.cpu_parent
        return True

    aten = sum(1 for e in events if e.name.startswith("aten::") and outermost(e))
    kernels = sum(1 for e in events if e.device_type == torch.autograd.DeviceType.CUDA)
    key = "self_device_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    avg = sorted(prof.key_averages(), key=lambda e: getattr(e, key, 0.0), reverse=True)
    top = [(e.key, round(getattr(e, key, 0.0) / 1e3, 3), e.count) for e in avg[:6]]
    return {"top_level_aten_ops": aten, "cuda_kernels": kernels, "top_ms": top}


def profile_rows(runs: dict[str, list[dict]], dataset: str, model: str) -> list[str]:
    """``--profile``: one row per framework, from its first repeat that has a profile."""
    rows = []
    for fw, rs in runs.items():
        p = next((r["profile"] for r in rs if "profile" in r), None)
        if p is not None:
            top = ", ".join(f"{name} {ms} ms x{n}" for name, ms, n in p["top_ms"][:4])
            rows.append(f"| {dataset} | {model} | {fw} | {p['top_level_aten_ops']} | "
                        f"{p['cuda_kernels']} | {top} |")
    return rows


# --------------------------------------------------------------------------- parent side
def run_case(fw: str, model: str, dataset: str, a: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", "--framework", fw, "--model", model,
           "--dataset", dataset, "--epochs", str(a.epochs), "--warmup", str(a.warmup),
           "--device", a.device, "--mem-limit-gb", str(a.mem_limit_gb)]
    cmd += ["--root", a.root] if a.root else []
    cmd += ["--profile"] if a.profile else []
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {a.timeout:.0f} s"}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
    if p.returncode < 0 or p.returncode == 137:
        tail = f"killed by signal {-p.returncode if p.returncode < 0 else 9} (out of memory?)"
    return {"error": tail[:160]}


def memory_layer_rows(a: argparse.Namespace, threads: int) -> list[str]:
    """Rows of ``speed_memory_layer.py`` (run once, in its own process) in this table's format.

    That script times forward + backward (with the KL loss) of both layers on the same padded
    batch; it measures no inference pass and no memory."""
    cmd = [sys.executable, str(MEMORY_SCRIPT), "--threads", str(threads),
           "--repeats", str(a.memory_repeats), "--device", a.device]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
    except subprocess.TimeoutExpired:
        return [f"| memory layer | MemoryLayer vs MemPooling | timeout after {a.timeout:.0f} s "
                "| | | | | | | |"]
    print(p.stdout, p.stderr, file=sys.stderr, flush=True)
    rows = []
    for line in p.stdout.splitlines():  # | B | N_max | F | H | K | ours ms | PyG ms | PyG/ours |
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 8 or not re.fullmatch(r"\d+", cells[0]):
            continue
        b, nmax, f, h, k = cells[:5]
        ours, pyg = float(cells[5]) / 1e3, float(cells[6]) / 1e3
        rows.append(f"| B={b} N_max={nmax} F={f} H={h} K={k} | memory (fwd+bwd) | "
                    f"{fmt_ms(ours)} | {fmt_ms(pyg)} (MemPooling) | **{ours / pyg:.2f}** | "
                    "n/a | n/a | n/a | n/a | n/a |")
    if not rows:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        rows.append(f"| memory layer | MemoryLayer vs MemPooling | failed: {tail[:120]} "
                    "| | | | | | | |")
    return rows


def fmt_ms(s: float | None) -> str:
    if s is None:
        return "n/a"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="gcn,gat,sage")
    ap.add_argument("--datasets", default="cora,pubmed,synthetic-1m")
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                    help="of gnnkit,gnnkit-sampled,pyg,pyg-sparse (gnnkit-sampled: gae/vgae "
                    "only, added when gnnkit is listed)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs per process (median)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--root", default=os.environ.get("GNNKIT_DATA"), help="data directory")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--mem-limit-gb", type=float, default=16.0,
                    help="address space a CPU case may add (RLIMIT_AS); 0 = no limit")
    ap.add_argument("--memory-repeats", type=int, default=20,
                    help="timed runs per size of the memory-layer comparison")
    ap.add_argument("--out", help="also write the Markdown table here")
    ap.add_argument("--profile", action="store_true",
                    help="also profile one extra epoch per case: operators dispatched, CUDA "
                    "kernels launched and the costliest operators (a second table)")
    ap.add_argument("--from-log", metavar="LOG",
                    help="rebuild the table from the stderr of an earlier run (e.g. one cut off "
                    "by a time limit): the repeats that every framework of a case completed")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--framework", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--dataset", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a)
        return
    if a.from_log:
        table = "\n".join(table_from_log(Path(a.from_log).read_text()))
        print(table)
        if a.out:
            Path(a.out).write_text(table + "\n")
        return
    import torch

    models = a.models.split(",")
    unknown = [m for m in models if m not in MODELS] + [
        d for d in a.datasets.split(",") if d not in DATASETS]
    if unknown:
        ap.error(f"unknown {unknown}; models: {', '.join(MODELS)}; datasets: {', '.join(DATASETS)}")
    rows, prof_rows = [], []
    for dataset in a.datasets.split(","):
        for model in (m for m in models if m != "memory"):
            fws = a.frameworks.split(",")
            if model not in LINK_MODELS:
                fws = [fw for fw in fws if fw != SAMPLED]
            elif "gnnkit" in fws and SAMPLED not in fws:
                fws.insert(fws.index("gnnkit") + 1, SAMPLED)
            runs: dict[str, list[dict]] = {fw: [] for fw in fws}
            for r in range(a.repeats):
                order = fws if r % 2 == 0 else fws[::-1]
                for fw in order:
                    res = run_case(fw, model, dataset, a)
                    runs[fw].append(res)
                    print(f"# {dataset} {model} {fw} rep{r}: {res}", file=sys.stderr, flush=True)
            prof_rows += profile_rows(runs, dataset, model)
            rows += case_rows(dataset, model, runs)
    if "memory" in models:
        rows += memory_layer_rows(a, torch.get_num_threads())
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()}; "
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {a.device}; "
        f"repeats {a.repeats}, {a.epochs} timed epochs per process (median).",
        "",
        "| dataset | model | gnnkit epoch | PyG epoch (form) | epoch ratio gnnkit/PyG | "
        "gnnkit inference | PyG inference | gnnkit peak mem | PyG peak mem | mem ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += rows
    if prof_rows:
        lines += ["", "One profiled training epoch per case (`--profile`): operators dispatched "
                  "(outermost aten calls, forward and backward), CUDA kernels launched, and "
                  "the operators with the most self time (device time on CUDA).", "",
                  "| dataset | model | framework | operators | CUDA kernels | costliest |",
                  "|---|---|---|---:|---:|---|"] + prof_rows
    table = "\n".join(lines)
    print(table)
    if a.out:
        Path(a.out).write_text(table + "\n")


def summarise(dataset: str, label: str, runs: dict[str, list[dict]], ours_fw: str) -> str:
    def med(fw: str, key: str) -> float | None:
        vals = [r[key] for r in runs.get(fw, []) if key in r]
        return statistics.median(vals) if vals else None

    def mb(b: float | None) -> str:
        return "n/a" if b is None else f"{b / 2**20:.0f} MB"

    ours = med(ours_fw, "epoch_s")
    pyg_forms = [fw for fw in ("pyg", "pyg-sparse") if med(fw, "epoch_s") is not None]
    best = min(pyg_forms, key=lambda fw: med(fw, "epoch_s")) if pyg_forms else None
    errs: dict[str, str] = {}
    for fw, rs in runs.items():
        for r in rs:
            if "error" in r:
                errs.setdefault(fw, r["error"])
    pyg_errs = "; ".join(f"{_form(fw)}: {e}" for fw, e in errs.items() if fw != ours_fw
                         and fw.startswith("pyg"))
    if best is None or ours is None:
        ours_cell = fmt_ms(ours) if ours is not None else f"fails: {errs.get(ours_fw, 'n/a')}"
        pyg_cell = (f"{fmt_ms(med(best, 'epoch_s'))} ({_form(best)})" if best
                    else f"fails: {pyg_errs or 'n/a'}")
        return (f"| {dataset} | {label} | {ours_cell} | {pyg_cell} | n/a | "
                f"{fmt_ms(med(ours_fw, 'infer_s'))} | "
                f"{fmt_ms(med(best, 'infer_s')) if best else 'n/a'} | "
                f"{mb(med(ours_fw, 'peak_bytes'))} | "
                f"{mb(med(best, 'peak_bytes')) if best else 'n/a'} | n/a |")
    ratios = [o["epoch_s"] / p["epoch_s"] for o, p in zip(runs[ours_fw], runs[best], strict=True)
              if "epoch_s" in o and "epoch_s" in p]
    mo, mp = med(ours_fw, "peak_bytes"), med(best, "peak_bytes")
    mem_ratio = f"{mo / mp:.2f}" if mo and mp else "n/a"
    other = [fw for fw in ("pyg", "pyg-sparse") if fw in errs and fw not in pyg_forms]
    note = "".join(f"; {_form(fw)} fails: {errs[fw]}" for fw in other)
    return (f"| {dataset} | {label} | {fmt_ms(ours)} | {fmt_ms(med(best, 'epoch_s'))} "
            f"({_form(best)}{note}) | **{statistics.median(ratios):.2f}** | "
            f"{fmt_ms(med(ours_fw, 'infer_s'))} | {fmt_ms(med(best, 'infer_s'))} | "
            f"{mb(mo)} | {mb(mp)} | {mem_ratio} |")


LOG_LINE = re.compile(r"^# (\S+) (\S+) (\S+) rep(\d+): (\{.*\})$")


def table_from_log(text: str) -> list[str]:
    """Table rows from the ``# dataset model framework repN: {...}`` lines a run prints on
    stderr; per case, only the repeats that every framework completed are paired."""
    import ast

    cases: dict[tuple[str, str], dict[str, dict[int, dict]]] = {}
    for line in text.splitlines():
        m = LOG_LINE.match(line.strip())
        if m:
            dataset, model, fw, rep, res = m.groups()
            cases.setdefault((dataset, model), {}).setdefault(fw, {})[int(rep)] = (
                ast.literal_eval(res))
    rows = ["| dataset | model | gnnkit epoch | PyG epoch (form) | epoch ratio gnnkit/PyG | "
            "gnnkit inference | PyG inference | gnnkit peak mem | PyG peak mem | mem ratio | "
            "repeats |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (dataset, model), by_fw in cases.items():
        reps = sorted(set.intersection(*(set(r) for r in by_fw.values())))
        runs = {fw: [r[i] for i in reps] for fw, r in by_fw.items()}
        rows += [row + f" {len(reps)} |" for row in case_rows(dataset, model, runs)]
    return rows


def case_rows(dataset: str, model: str, runs: dict[str, list[dict]]) -> list[str]:
    """The table rows of one (dataset, model) case: one row, or for gae/vgae one per loss
    (gnnkit's full loss and its sampled loss, each against PyG)."""
    if model not in LINK_MODELS:
        return [summarise(dataset, model, runs, "gnnkit")]
    return [summarise(dataset, f"{model} ({loss} loss)", runs, ours)
            for ours, loss in (("gnnkit", "full"), (SAMPLED, "sampled")) if ours in runs]


def _form(fw: str) -> str:
    return "edge_index" if fw == "pyg" else "torch.sparse"


if __name__ == "__main__":
    main()
