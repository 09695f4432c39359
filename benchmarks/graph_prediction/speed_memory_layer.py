"""MemoryLayer vs PyG's torch_geometric.nn.MemPooling: forward + backward time, same sizes.

    python benchmarks/graph_prediction/speed_memory_layer.py [--threads 1] [--repeats 30]
        [--device cuda] [--packed]

Both layers get the same padded dense batch x [B, N_max, F] with a node mask, H heads, K keys,
tau = 1, and the same loss (sum of the output plus the layer's KL loss, so the KL path is
timed too). Median of ``--repeats`` timed runs after warm-up. Prints a Markdown table.

``--packed`` adds a second table with ``MemoryLayer.forward_batch`` on the packed real rows
[N_total, F] of the same batch (what GMN and MemGNN call for their first memory layer): the
assignment is computed on real nodes only and padded afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout


def _time(fn, repeats: int, device: torch.device) -> float:
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(3):
        fn()
    sync()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--device", default="cpu")
    p.add_argument("--packed", action="store_true", help="also time forward_batch")
    a = p.parse_args(argv)
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    from torch_geometric.nn import MemPooling

    from gnnkit.graph import Graph, batch
    from gnnkit.nn.memory import MemoryLayer, memory_kl_loss

    print(f"torch {torch.__version__}, {a.threads} thread(s), device {dev}")
    print("| B | N_max | F | H | K | gnnkit MemoryLayer (ms) | PyG MemPooling (ms) | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    packed_rows = []
    for B, N, F, H, K in ((32, 40, 64, 5, 10), (32, 128, 64, 5, 10), (128, 128, 64, 5, 10),
                          (16, 620, 64, 5, 10)):
        gen = torch.Generator().manual_seed(0)
        sizes = torch.randint(max(1, N // 4), N + 1, (B,), generator=gen)
        sizes[0] = N
        mask = torch.arange(N)[None] < sizes[:, None]                     # [B, N]
        x = torch.randn(B, N, F, generator=gen) * mask[..., None]
        x, mask = x.to(dev).requires_grad_(True), mask.to(dev)
        ours = MemoryLayer(F, F, K, H, tau=1.0).to(dev)
        pyg = MemPooling(F, F, heads=H, num_clusters=K, tau=1.0).to(dev)

        def run_ours(ours=ours, x=x, mask=mask) -> None:
            out, C = ours(x, mask)
            (out.sum() + memory_kl_loss(C, mask)).backward()

        def run_pyg(pyg=pyg, x=x, mask=mask) -> None:
            out, S = pyg(x, mask=mask)
            (out.sum() + MemPooling.kl_loss(S)).backward()

        t_o, t_p = _time(run_ours, a.repeats, dev), _time(run_pyg, a.repeats, dev)
        print(f"| {B} | {N} | {F} | {H} | {K} | {t_o * 1e3:.2f} | {t_p * 1e3:.2f} | "
              f"{t_p / t_o:.2f}x |", flush=True)
        if a.packed:
            g = batch([Graph(torch.zeros(2, 0, dtype=torch.long), int(n)) for n in sizes])
            g = g.to(dev)
            q = x.detach()[mask].requires_grad_(True)                       # [N_total, F]

            def run_packed(ours=ours, q=q, g=g) -> None:
                out, C, m = ours.forward_batch(q, g)
                (out.sum() + memory_kl_loss(C, m)).backward()

            t_k = _time(run_packed, a.repeats, dev)
            packed_rows.append(f"| {B} | {N} | {int(sizes.sum())} | {t_o * 1e3:.2f} | "
                               f"{t_k * 1e3:.2f} | {t_p * 1e3:.2f} | {t_p / t_k:.2f}x |")
    if packed_rows:
        print("\n| B | N_max | N_total | gnnkit padded (ms) | gnnkit forward_batch (ms) | "
              "PyG MemPooling (ms) | ratio PyG / forward_batch |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(packed_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
