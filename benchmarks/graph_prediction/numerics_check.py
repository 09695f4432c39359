"""Does a short seeded training repeat bit for bit? The README's numerics check, repeated.

    python benchmarks/graph_prediction/numerics_check.py --repeats 10
    python benchmarks/graph_prediction/numerics_check.py --cbwr default AUTO --threads 1 2
    python benchmarks/graph_prediction/numerics_check.py --repeats 1 --poison nan 1e30 0

Each repeat is a fresh process running ``gnnkit train graph --model memgnn --dataset enzymes
--protocol holdout --max-folds 1 --epochs 6 --no-save --json`` (``--model``, ``--dataset``
and ``--epochs`` change it) with MKL's mode ``MKL_CBWR`` (``default`` = unset: MKL's fast
mode, whose sums may depend on thread count and memory alignment; ``AUTO`` = its
reproducible mode) and ``--threads``. ``--poison X`` first makes ``torch.empty``,
``torch.empty_like`` and ``Tensor.new_empty`` fill what they return with X (integers with
-2**30), so a result that moves with X reads memory before writing it. The table has one row
per distinct result of each setting, with how many repeats printed it: a setting with two
rows did not repeat. Run it from the checkout whose code is to be checked (it runs
``python -m gnnkit`` with this interpreter and the current directory first on the path).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import Counter

# Run in the child: optionally poison the allocators, then gnnkit's CLI.
CHILD = """
import sys, torch
fill = sys.argv.pop(1)
if fill != "none":
    value = float(fill)
    def _fill(t):
        if t.is_floating_point():
            t.fill_(value)
        elif t.dtype in (torch.int64, torch.int32):
            t.fill_(-(2 ** 30))
        return t
    _e, _el, _ne = torch.empty, torch.empty_like, torch.Tensor.new_empty
    torch.empty = lambda *a, **k: _fill(_e(*a, **k))
    torch.empty_like = lambda *a, **k: _fill(_el(*a, **k))
    torch.Tensor.new_empty = lambda self, *a, **k: _fill(_ne(self, *a, **k))
from gnnkit.cli import main
sys.exit(main())
"""


def run_once(args: argparse.Namespace, cbwr: str, threads: int, poison: str) -> tuple:
    env = dict(os.environ)
    env.pop("MKL_CBWR", None)
    if cbwr != "default":
        env["MKL_CBWR"] = cbwr
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, "-c", CHILD, poison, "train", "graph", "--model", args.model,
           "--dataset", args.dataset, "--protocol", "holdout", "--max-folds", "1",
           "--epochs", str(args.epochs), "--no-save", "--json", "--threads", str(threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[3:])} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    text = out.stdout
    res = json.loads(text[text.index("{"):text.rindex("}") + 1])
    return (repr(res["val_loss_mean"]), repr(res["test_loss_mean"]),
            f"{res['test_acc_mean']:.5f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="memgnn")
    ap.add_argument("--dataset", default="enzymes")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cbwr", nargs="+", default=["default", "AUTO"],
                    help="MKL_CBWR values; 'default' leaves it unset")
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--poison", nargs="+", default=["none"],
                    help="fill values for torch.empty & co. ('none' = torch's own)")
    args = ap.parse_args()
    if args.repeats < 1:
        raise SystemExit("--repeats must be >= 1")
    print("| MKL_CBWR | threads | poison | repeats | val_loss | test_loss | test_acc |")
    print("|---|---:|---|---:|---|---|---:|")
    for cbwr in args.cbwr:
        for threads in args.threads:
            for poison in args.poison:
                seen = Counter(run_once(args, cbwr, threads, poison)
                               for _ in range(args.repeats))
                for (val, test, acc), n in seen.most_common():
                    print(f"| {cbwr} | {threads} | {poison} | {n} | {val} | {test} | {acc} |",
                          flush=True)


if __name__ == "__main__":
    main()
