"""Download cache: root resolution, the table of known files, verified atomic downloads
through a local HTTP server, offline mode, and clear errors."""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gnnkit.datasets import KNOWN_FILES, DatasetError, default_root, fetch, verify_file
from gnnkit.datasets import download as dl

CORA_X = "planetoid/ind.cora.x"


def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".") or "part" in p.name]


# ------------------------------------------------------------------------------- settings
def test_default_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("GNNKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_root() == tmp_path / "data"
    monkeypatch.delenv("GNNKIT_DATA")
    assert default_root() == tmp_path / "xdg" / "gnnkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_root() == tmp_path / "home" / ".cache" / "gnnkit"


def test_table_matches_the_shared_checksums(shared_datasets):
    """Every file of the mirror is known with the mirror's sha256, and nothing else is
    pinned except the missing PubMed allx (known by git blob SHA-1 only)."""
    sums = {}
    for line in (shared_datasets / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split(maxsplit=1)
        sums[rel] = digest
    pinned = {rel: e.sha256 for rel, e in KNOWN_FILES.items() if e.sha256 is not None}
    assert pinned == sums
    extra = {rel for rel, e in KNOWN_FILES.items() if e.sha256 is None}
    assert extra == {"planetoid/ind.pubmed.allx"}
    assert KNOWN_FILES["planetoid/ind.pubmed.allx"].git_sha1 == (
        "3b86bccf08111c37c632a9dd8ab63db25ea76361")
    assert {r for r, e in KNOWN_FILES.items() if e.rebuilt} == {
        "tu/DD.zip", "tu/REDDIT-BINARY.zip", "tu/COLLAB.zip"}
    assert KNOWN_FILES[CORA_X].url == (
        "https://github.com/kimiyoung/planetoid/raw/master/data/ind.cora.x")


def test_git_blob_sha1_matches_git(shared_datasets):
    # value of `git hash-object ind.cora.x` from MANIFEST.md
    assert dl.git_blob_sha1(shared_datasets / CORA_X) == "c4a91d008245403e7f26aa616b437191509793c0"


def test_file_url_base_override(monkeypatch):
    assert dl.file_url(CORA_X, "http://m/x/") == "http://m/x/planetoid/ind.cora.x"
    monkeypatch.setenv("GNNKIT_BASE_URL", "file:///srv/mirror")
    assert dl.file_url(CORA_X) == "file:///srv/mirror/planetoid/ind.cora.x"
    assert dl.file_url(CORA_X, "http://arg") == "http://arg/planetoid/ind.cora.x"  # arg wins


@pytest.mark.parametrize("bad", ["../etc/passwd", "/abs/path", "planetoid/../../x", ""])
def test_relpath_must_stay_under_root(bad, tmp_path):
    with pytest.raises(DatasetError, match="not a relative data file path"):
        fetch(bad, root=tmp_path, offline=True)


# ------------------------------------------------------------------------------- fetch
def test_existing_file_is_returned_without_network(shared_datasets):
    assert fetch(CORA_X, root=shared_datasets, offline=True) == shared_datasets / CORA_X


def test_download_through_http(http_datasets, shared_datasets, tmp_path, capsys):
    path = fetch(CORA_X, root=tmp_path, base_url=http_datasets, progress=False)
    assert path == tmp_path / CORA_X
    assert path.read_bytes() == (shared_datasets / CORA_X).read_bytes()
    assert _leftovers(path.parent) == []
    assert capsys.readouterr().err == ""  # no progress bar unless asked / on a terminal
    # second call: served from the cache even when offline
    assert fetch(CORA_X, root=tmp_path, offline=True) == path


def test_base_url_from_environment(http_datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("GNNKIT_BASE_URL", http_datasets)
    monkeypatch.setenv("GNNKIT_DATA", str(tmp_path))
    path = fetch("moleculenet/SAMPL.csv")
    assert path == tmp_path / "moleculenet/SAMPL.csv" and path.stat().st_size == 32060


def test_progress_bar_on_request(http_datasets, tmp_path, capsys):
    fetch(CORA_X, root=tmp_path, base_url=http_datasets, progress=True)
    err = capsys.readouterr().err
    assert CORA_X in err and "100%" in err and "MiB" in err


def test_tampered_mirror_is_refused_and_leaves_nothing(shared_datasets, tmp_path, http_server):
    mirror = tmp_path / "mirror"
    (mirror / "planetoid").mkdir(parents=True)
    data = bytearray((shared_datasets / CORA_X).read_bytes())
    data[100] ^= 0xFF
    (mirror / CORA_X).write_bytes(bytes(data))
    url = http_server(mirror)
    root = tmp_path / "root"
    with pytest.raises(DatasetError) as exc:
        fetch(CORA_X, root=root, base_url=url)
    msg = str(exc.value)
    assert "checksum mismatch" in msg and CORA_X in msg
    assert KNOWN_FILES[CORA_X].sha256 in msg
    assert hashlib.sha256(bytes(data)).hexdigest() in msg
    assert not (root / CORA_X).exists()
    assert _leftovers(root / "planetoid") == []


def test_offline_missing_file_message(tmp_path, monkeypatch):
    with pytest.raises(DatasetError) as exc:
        fetch(CORA_X, root=tmp_path, offline=True)
    msg = str(exc.value)
    assert CORA_X in msg and str(tmp_path) in msg and "GNNKIT_DATA" in msg and "offline" in msg
    monkeypatch.setenv("GNNKIT_OFFLINE", "1")
    with pytest.raises(DatasetError, match="GNNKIT_OFFLINE is set"):
        fetch(CORA_X, root=tmp_path)
    assert not (tmp_path / "planetoid").exists()  # nothing created


def test_http_404_is_a_clear_error(http_datasets, tmp_path):
    with pytest.raises(DatasetError, match=r"could not download tu/NOPE\.zip .*HTTP 404"):
        fetch("tu/NOPE.zip", root=tmp_path, base_url=http_datasets)
    assert _leftovers(tmp_path / "tu") == []


def test_connection_refused_is_a_clear_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DatasetError, match=r"could not download planetoid/ind\.cora\.x from "
                                           r"http://127\.0\.0\.1.*GNNKIT_BASE_URL"):
        fetch(CORA_X, root=tmp_path, base_url=f"http://127.0.0.1:{port}", timeout=5)
    assert not (tmp_path / CORA_X).exists()


def test_unknown_file_without_mirror(tmp_path):
    where = re.escape(str(tmp_path / "planetoid" / "ind.x.y"))
    with pytest.raises(DatasetError, match=f"missing data file planetoid/ind.x.y: looked for "
                                           f"{where} .*no download URL is known for "
                                           f"'planetoid/ind.x.y'"):
        fetch("planetoid/ind.x.y", root=tmp_path)


class _ShortBodyHandler(BaseHTTPRequestHandler):
    """Promises 1000 bytes and sends 10, then closes (a cut connection)."""

    def do_GET(self):  # noqa: N802 - stdlib name
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"x" * 10)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


def test_cut_connection_leaves_no_file(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ShortBodyHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(DatasetError, match=r"could not download|cut short"):
            fetch(CORA_X, root=tmp_path, base_url=url, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert not (tmp_path / CORA_X).exists()
    assert _leftovers(tmp_path / "planetoid") == []


def test_unwritable_root_is_a_clear_error(http_datasets, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(DatasetError, match="cannot write planetoid/ind.cora.x into"):
        fetch(CORA_X, root=blocker, base_url=http_datasets)


# ------------------------------------------------------------------------------- verification
def test_verify_existing_file(shared_datasets, tmp_path):
    assert verify_file(CORA_X, shared_datasets) == shared_datasets / CORA_X
    (tmp_path / "planetoid").mkdir()
    bad = tmp_path / CORA_X
    bad.write_bytes(b"not the file")
    assert fetch(CORA_X, root=tmp_path, offline=True) == bad  # trusted unless asked
    with pytest.raises(DatasetError, match="checksum mismatch for .*ind.cora.x: expected sha256"):
        fetch(CORA_X, root=tmp_path, offline=True, verify=True)
    assert bad.exists()  # the user's file is not deleted
    with pytest.raises(DatasetError, match="is missing"):
        verify_file("planetoid/ind.cora.y", tmp_path)


def test_git_sha1_pinned_download(tmp_path, http_server, monkeypatch):
    """ind.pubmed.allx is verified by git blob SHA-1 (its sha256 is unknown)."""
    mirror = tmp_path / "mirror" / "planetoid"
    mirror.mkdir(parents=True)
    (mirror / "ind.pubmed.allx").write_bytes(b"hello\n")
    url = http_server(mirror.parent)
    with pytest.raises(DatasetError, match="expected git blob SHA-1 3b86bccf"):
        fetch("planetoid/ind.pubmed.allx", root=tmp_path / "a", base_url=url)
    assert not (tmp_path / "a/planetoid/ind.pubmed.allx").exists()
    # `git hash-object` of "hello\n" is ce01362...; pin it and the same download passes
    monkeypatch.setitem(KNOWN_FILES, "planetoid/ind.pubmed.allx", dl.RemoteFile(
        "unused", None, git_sha1="ce013625030ba8dba906f756967f9e9ca394464a"))
    path = fetch("planetoid/ind.pubmed.allx", root=tmp_path / "b", base_url=url)
    assert path.read_bytes() == b"hello\n"


def test_rebuilt_archive_from_canonical_url_warns(tmp_path, http_server, monkeypatch,
                                                   shared_datasets):
    """A REBUILT mirror file's sha256 cannot match the official download: accepted with a
    warning from the canonical URL, but strictly refused from a mirror."""
    src = tmp_path / "official" / "tu"
    src.mkdir(parents=True)
    (src / "DD.zip").write_bytes(b"official bytes")
    url = http_server(src.parent)
    entry = KNOWN_FILES["tu/DD.zip"]
    monkeypatch.setitem(KNOWN_FILES, "tu/DD.zip", dl.RemoteFile(
        f"{url}/tu/DD.zip", entry.sha256, rebuilt=True))
    with pytest.warns(UserWarning, match="REBUILT mirror copy"):
        path = fetch("tu/DD.zip", root=tmp_path / "a")
    assert path.read_bytes() == b"official bytes"
    with pytest.raises(DatasetError, match="checksum mismatch for tu/DD.zip"):
        fetch("tu/DD.zip", root=tmp_path / "b", base_url=url)
    # a non-rebuilt file from its canonical URL is strict
    (src / "MUTAG.zip").write_bytes(b"x")
    monkeypatch.setitem(KNOWN_FILES, "tu/MUTAG.zip", dl.RemoteFile(
        f"{url}/tu/MUTAG.zip", KNOWN_FILES["tu/MUTAG.zip"].sha256))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DatasetError, match="checksum mismatch for tu/MUTAG.zip"):
            fetch("tu/MUTAG.zip", root=tmp_path / "c")


def test_file_url_scheme(shared_datasets, tmp_path):
    path = fetch("moleculenet/SAMPL.csv", root=tmp_path, base_url=shared_datasets.as_uri())
    assert path.read_bytes() == (shared_datasets / "moleculenet/SAMPL.csv").read_bytes()
    shutil.rmtree(tmp_path / "moleculenet")
