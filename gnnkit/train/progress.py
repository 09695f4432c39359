"""A minimal progress line for long loops: shown on a terminal, silent in logs and CI."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

__all__ = ["Progress", "progress_enabled"]


def progress_enabled(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default stderr) is a terminal and no ``CI`` variable is set."""
    stream = sys.stderr if stream is None else stream
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """``[desc] 37/200 |#####-----| val_acc=0.81`` redrawn in place, at most ~10 times a second.

    Disabled (every method a no-op) unless ``enabled`` and :func:`progress_enabled`.
    ``total`` is the maximum number of steps (the loop may stop earlier).
    """

    def __init__(self, total: int, desc: str = "", enabled: bool = True,
                 stream: TextIO | None = None, width: int = 20) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled and progress_enabled(self.stream)
        self.total, self.desc, self.width = max(int(total), 1), desc, width
        self.n = 0
        self._last = 0.0
        self._shown = False

    def update(self, n: int = 1, **info: float) -> None:
        self.n += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and self.n < self.total:
            return
        self._last = now
        frac = min(self.n / self.total, 1.0)
        bar = "#" * int(frac * self.width)
        extra = " ".join(f"{k}={v:.4f}" for k, v in info.items())
        line = f"\r{self.desc} {self.n}/{self.total} |{bar:<{self.width}}| {extra}"
        self.stream.write(line + "\x1b[K")  # erase the rest of the old line
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self.enabled and self._shown:
            self.stream.write("\r\x1b[K")  # leave the terminal line clean
            self.stream.flush()
        self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
