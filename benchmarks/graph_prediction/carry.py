"""Carry an unfinished ``gnnkit train graph`` run from one sitting to the next.

    python benchmarks/graph_prediction/carry.py save runs/memgnn-collab-f0 runs/memgnn-collab-f5
    python benchmarks/graph_prediction/carry.py restore          # every carried run, into runs/
    gnnkit train graph --resume runs/memgnn-collab-f0 --threads 1

A run directory lives on the machine that made it; a run that needs more hours than a
sitting on one machine (MemGNN on COLLAB: about 25 CPU-hours) is lost with the machine unless
what ``--resume`` needs travels with the repository. ``save`` copies exactly that into
``inflight/<run name>/``: ``config.toml``, ``metrics.json`` and ``history.csv`` (the folds
finished so far), each finished fold's ``checkpoints/fold<k>.json`` and the fold in
progress's ``checkpoints/fold<k>.progress.pt`` (model, both Adam optimisers, the generator
and RNG states, the best model so far: about 0.5-0.8 MB for GMN / MemGNN). The finished
folds' weights (``fold<k>.pt``, only for ``gnnkit predict``) are left behind. Commit
``inflight/`` at the end of a sitting; ``restore`` copies it back into ``runs/`` (never over
an existing directory) at the start of the next, and ``--resume`` goes on from the last
checkpoint (written every ``--checkpoint-interval`` seconds, 300 by default: at most that
much work is redone). Delete a run's ``inflight/`` directory once it has finished.

A fold continued on another kind of machine is still a run of its configuration, but not
bit for bit the numbers one machine would give (see the README, "Commands"). Nor is a fold
continued with code that changed its numbers (other dropout draws, sums in another order):
``save --code COMMIT`` records the commit a run must go on with (``code.txt``), and
``restore`` then prints how to resume it from a git worktree of that commit.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
INFLIGHT = HERE / "inflight"
TOP = ("config.toml", "metrics.json", "history.csv")


def _progress(run: Path) -> str:
    """Where the run's folds in progress are, e.g. ``fold1.progress.pt at epoch 3 (2.10
    s/epoch)``: the fold's seconds so far (over every sitting) per epoch."""
    at = []
    for p in sorted((run / "checkpoints").glob("fold*.progress.pt")):
        st = torch.load(p, map_location="cpu", weights_only=False)
        at.append(f"{p.name} at epoch {st['epoch']} ({st['seconds'] / st['epoch']:.2f} s/epoch)")
    return ", ".join(at) or "no fold in progress"


def save(runs: list[Path], dest: Path, code: str | None = None) -> None:
    if code is not None and not re.fullmatch(r"[0-9a-f]{7,40}", code):
        raise SystemExit(f"--code {code!r}: give the commit as 7-40 hex digits "
                         f"(git rev-parse --short <ref>)")
    for run in runs:
        if not (run / "config.toml").is_file():
            raise SystemExit(f"{run}: no config.toml, so not a gnnkit train graph run directory")
        files = [run / f for f in TOP if (run / f).is_file()]
        files += sorted((run / "checkpoints").glob("fold*.json"))
        files += sorted((run / "checkpoints").glob("fold*.progress.pt"))
        dest.mkdir(parents=True, exist_ok=True)
        tmp = dest / f".{run.name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for f in files:
            target = tmp / f.relative_to(run)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, target)
        if code is not None:
            (tmp / "code.txt").write_text(code + "\n")
        final = dest / run.name
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        size = sum(f.stat().st_size for f in final.rglob("*") if f.is_file())
        print(f"saved {run} -> {final} ({size / 1e6:.2f} MB; {_progress(final)})")


def restore(names: list[str], src_dir: Path, dest: Path) -> None:
    carried = sorted(p for p in src_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if src_dir.is_dir() else []
    if names:
        missing = [n for n in names if not (src_dir / n).is_dir()]
        if missing:
            raise SystemExit(f"not carried: {missing}; carried: {[p.name for p in carried]}")
        carried = [src_dir / n for n in names]
    if not carried:
        print("nothing carried")
        return
    for src in carried:
        target = dest / src.name
        if target.exists():
            raise SystemExit(f"{target} exists; move it away or resume it directly")
        shutil.copytree(src, target, ignore=shutil.ignore_patterns("code.txt"))
        resume = f"train graph --resume {target} --threads 1"
        code = src / "code.txt"
        if not code.is_file():
            print(f"restored {target} ({_progress(target)}); continue with: gnnkit {resume}")
            continue
        commit = code.read_text().strip()
        wt = f"../wt-{commit[:7]}"
        print(f"restored {target} ({_progress(target)}); it goes on with the code of {commit}: "
              f"git worktree add --detach {wt} {commit} && ln -s \"$PWD/{dest}\" {wt}/{dest.name}"
              f" (once), then from {wt}: PYTHONPATH=<site-packages of the venv> python -S -m "
              f"gnnkit {resume}   (-S: the editable install would import this checkout)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save", help="copy what --resume needs into inflight/")
    s.add_argument("runs", nargs="+", type=Path)
    s.add_argument("--code", metavar="COMMIT",
                   help="the commit the runs must continue with (restore prints how)")
    r = sub.add_parser("restore", help="copy carried runs back into runs/")
    r.add_argument("names", nargs="*", help="run names (default: every carried run)")
    r.add_argument("--runs-dir", type=Path, default=Path("runs"))
    for sp in (s, r):
        sp.add_argument("--inflight", type=Path, default=INFLIGHT,
                        help="where carried runs are kept (default: inflight/ beside this file)")
    a = p.parse_args(argv)
    if a.cmd == "save":
        save(a.runs, a.inflight, a.code)
    else:
        a.runs_dir.mkdir(parents=True, exist_ok=True)
        restore(a.names, a.inflight, a.runs_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
