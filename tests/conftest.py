"""Shared test fixtures.

* ``shared_datasets``: the directory with the real data files (``planetoid/``, ``tu/``, ...):
  ``$GNNKIT_TEST_DATA``, else ``<repo>/../shared/datasets``; tests using it are skipped with a
  reason when it is absent. The data files are never copied into the repository.
* ``http_datasets``: base URL of an HTTP server on 127.0.0.1 (ephemeral port, in a thread)
  serving ``shared_datasets``, so download code can be tested without the internet.
* Processed-data caches (``$GNNKIT_CACHE``) go to a directory of the test session, never
  the user's ``~/.cache``.
* ``http_server``: a factory ``http_server(directory) -> base URL`` for serving any other
  directory (e.g. a tampered copy); every server it starts is stopped at teardown.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# MKL's default mode may sum a matrix product in an order that depends on how its operands
# happen to be aligned in memory (on Intel CPUs) and on the thread count, so two runs of one
# seeded training can differ in the last bits and, after a few epochs, in the numbers the
# determinism tests compare. Its CNR mode ("conditional numerical reproducibility") fixes the
# order; MKL reads the variable at its first call, so it is set before torch does any work.
os.environ.setdefault("MKL_CBWR", "AUTO")

import torch  # noqa: E402

# Test problems are tiny: one thread is faster than two (no OpenMP spin-waits) and gives the
# same numbers on every machine.
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_datasets_dir() -> Path:
    env = os.environ.get("GNNKIT_TEST_DATA")
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "datasets"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass


@contextlib.contextmanager
def serve_directory(directory: str | os.PathLike) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 in a daemon thread; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    old = os.environ.get("GNNKIT_CACHE")
    os.environ["GNNKIT_CACHE"] = str(tmp_path_factory.mktemp("gnnkit-cache"))
    yield
    if old is None:
        os.environ.pop("GNNKIT_CACHE", None)
    else:
        os.environ["GNNKIT_CACHE"] = old


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    path = _shared_datasets_dir()
    if not (path / "planetoid").is_dir():
        pytest.skip(
            f"shared data sets not found at {path}; set GNNKIT_TEST_DATA to the directory "
            f"holding planetoid/, tu/, moleculenet/ (see its MANIFEST.md)"
        )
    return path


@pytest.fixture(scope="session")
def http_datasets(shared_datasets: Path) -> Iterator[str]:
    with serve_directory(shared_datasets) as url:
        yield url


@pytest.fixture
def http_server() -> Iterator:
    with contextlib.ExitStack() as stack:
        yield lambda directory: stack.enter_context(serve_directory(directory))
