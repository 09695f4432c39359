"""Run directories and atomic file writes.

Every file a run leaves behind is written to a temporary file in the same directory and then
moved into place with ``os.replace`` (atomic on POSIX and Windows), so a crash or a reader never
sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["atomic_write_bytes", "atomic_write_text", "cpu_model", "environment", "make_run_dir",
           "write_csv", "write_json"]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same directory + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(obj: Any) -> Any:
    # JSON has no NaN/inf: write them as null rather than emitting invalid JSON.
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON (non-finite floats become null), atomically."""
    text = json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n"
    return atomic_write_text(path, text)


def write_csv(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]],
              fieldnames: Sequence[str]) -> Path:
    """Write dict rows as CSV with a header line, atomically."""
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(fieldnames), lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: row[k] for k in fieldnames})
    return atomic_write_text(path, buf.getvalue())


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    """What a run's numbers depend on besides its config and seed: the library versions, the
    CPU and the vector instructions torch's kernels use (an AVX2 and an AVX-512 machine sum
    in different orders, so the same seed gives slightly different floats, and after many
    epochs different metrics), the torch threads and the device type available."""
    import torch  # here, so that the file helpers above stay importable without torch

    return {"python": platform.python_version(), "torch": torch.__version__,
            "cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def make_run_dir(out_dir: str | os.PathLike, name: str | None = None, prefix: str = "run") -> Path:
    """Create and return a new run directory under ``out_dir``.

    ``name`` defaults to ``<prefix>-<YYYYmmdd-HHMMSS>``. An existing directory is never reused:
    a suffix ``-1``, ``-2``, ... is added until the name is free (creation is atomic, so two
    processes starting at once get different directories).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = name or f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    for k in range(10_000):
        cand = out / (base if k == 0 else f"{base}-{k}")
        try:
            cand.mkdir()
        except FileExistsError:
            continue
        return cand
    raise FileExistsError(f"could not find a free run directory name for {out / base}")
