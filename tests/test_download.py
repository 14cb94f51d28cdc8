"""Download path against a local HTTP server: resume, checksums, safe extraction, no code execution."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import socket
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

import mgbench.datasets.download as dl
from mgbench.datasets import DatasetError, is_downloaded, load
from mgbench.registry import registered_datasets
from mgbench.datasets.synthetic import SyntheticConfig, generate, write

MAX_REQUESTS = 30  # every test makes a handful; more means a retry loop


def _files(seed: int = 0) -> dict[str, bytes]:
    out = {}
    for fname, tensor in generate(SyntheticConfig(num_nodes=200, seed=seed)).items():
        buf = io.BytesIO()
        torch.save(tensor, buf)
        out[fname] = buf.getvalue()
    return out


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar_gz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return buf.getvalue()


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return _files()


@pytest.fixture(scope="module")
def mgtab_zip(files) -> bytes:
    """The synthetic twin laid out like the authors' archive: ``MGTAB/<file>.pt``."""
    return _zip({f"MGTAB/{name}": data for name, data in files.items()})


class Server:
    """What the handler serves, how it misbehaves, and what it was asked."""

    def __init__(self, body: bytes):
        self.body = body
        self.truncate_after: int | None = None   # close the connection after N body bytes
        self.ignore_range = False
        self.omit_length = False                  # send no Content-Length: the end is when the connection closes
        self.ranges: list[str | None] = []        # the Range header of every request
        self.url = ""


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        state: Server = self.server.state
        state.ranges.append(self.headers.get("Range"))
        if len(state.ranges) > MAX_REQUESTS:
            self.send_error(503)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not state.ignore_range:
            start = int(match[1])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(state.body) - 1}/{len(state.body)}")
        else:
            self.send_response(200)
        body = state.body[start:]
        if not state.omit_length:
            self.send_header("Content-Length", str(len(body)))  # the full length, even when truncating
        self.end_headers()
        self.wfile.write(body if state.truncate_after is None else body[:state.truncate_after])
        self.close_connection = True


@pytest.fixture
def server(mgtab_zip):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.state = Server(mgtab_zip)
    httpd.state.url = f"http://127.0.0.1:{httpd.server_address[1]}/MGTAB.zip"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd.state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _source(server: Server, **changes):
    return dataclasses.replace(registered_datasets()["mgtab"].source, url=server.url, **changes)


def _assert_nothing_complete(root: Path) -> None:
    folder = root / "mgtab"
    assert not is_downloaded("mgtab", root)
    assert not (folder / "MGTAB.zip").exists()
    assert not (folder / dl.COMPLETE).exists()
    assert not (folder / "MGTAB").exists()
    assert not list(folder.glob(".*extract*"))


def test_download_then_load(server, tmp_path, mgtab_zip):
    folder = dl.download("mgtab", tmp_path, source=_source(server), progress=False)
    assert folder == tmp_path / "mgtab" / "MGTAB" and (folder / "features.pt").is_file()
    assert (tmp_path / "mgtab" / dl.COMPLETE).is_file()
    assert not list((tmp_path / "mgtab").glob("MGTAB.zip*"))  # archive and .part gone
    record = json.loads((tmp_path / dl.CHECKSUMS).read_text())["mgtab"]
    assert record["sha256"] == hashlib.sha256(mgtab_zip).hexdigest() and record["size"] == len(mgtab_zip)
    assert load("mgtab", root=tmp_path).num_nodes == 200

    requests_made = len(server.ranges)
    assert dl.download("mgtab", tmp_path, source=_source(server), progress=False) == folder
    assert len(server.ranges) == requests_made  # complete: no request at all
    checksums = (tmp_path / dl.CHECKSUMS).read_text()
    assert dl.download("mgtab", tmp_path, source=_source(server), progress=False, force=True) == folder
    assert len(server.ranges) == requests_made + 1
    assert (tmp_path / dl.CHECKSUMS).read_text() == checksums  # the first-use record stays as it was


def test_tar_gz_without_top_folder(server, tmp_path, files):
    server.body = _tar_gz(files)
    folder = dl.download("mgtab", tmp_path, source=_source(server, filename="MGTAB.tar.gz"), progress=False)
    assert folder == tmp_path / "mgtab" / "MGTAB"
    assert load("mgtab", root=tmp_path).num_nodes == 200


def test_pinned_checksum_mismatch(server, tmp_path):
    with pytest.raises(DatasetError, match=r"checksum mismatch: expected sha256 0{64} .* got sha256 [0-9a-f]{64}"):
        dl.download("mgtab", tmp_path, source=_source(server, sha256="0" * 64), progress=False)
    _assert_nothing_complete(tmp_path)
    assert not list((tmp_path / "mgtab").glob("*.part"))
    assert not (tmp_path / dl.CHECKSUMS).exists()


def test_pinned_checksum_wins_over_record(server, tmp_path, mgtab_zip):
    (tmp_path / dl.CHECKSUMS).write_text(json.dumps({"mgtab": {"sha256": "0" * 64, "size": 1}}))
    digest = hashlib.sha256(mgtab_zip).hexdigest()
    dl.download("mgtab", tmp_path, source=_source(server, sha256=digest), progress=False)
    assert is_downloaded("mgtab", tmp_path)


def test_trust_on_first_use(server, tmp_path, mgtab_zip):
    dl.download("mgtab", tmp_path, source=_source(server), progress=False)
    server.body = _zip({f"MGTAB/{name}": data for name, data in _files(seed=1).items()})  # a valid, different archive
    expected, actual = (hashlib.sha256(b).hexdigest() for b in (mgtab_zip, server.body))
    with pytest.raises(DatasetError, match=f"expected sha256 {expected}.*got sha256 {actual}"):
        dl.download("mgtab", tmp_path, source=_source(server), progress=False, force=True)
    _assert_nothing_complete(tmp_path)
    assert json.loads((tmp_path / dl.CHECKSUMS).read_text())["mgtab"]["sha256"] == expected  # record unchanged


def test_truncated_transfer_keeps_part(server, tmp_path, mgtab_zip):
    server.truncate_after = 700_000
    with pytest.raises(DatasetError, match=rf"(?s)truncated transfer: got \d+ of {len(mgtab_zip)} bytes.*run again to resume"):
        dl.download("mgtab", tmp_path, source=_source(server), progress=False)
    part = tmp_path / "mgtab" / "MGTAB.zip.part"
    assert 0 < part.stat().st_size <= 700_000
    _assert_nothing_complete(tmp_path)


def test_an_unreachable_server_says_nothing_was_received(tmp_path):
    import socket

    with socket.socket() as probe:  # a port on this machine that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = dataclasses.replace(registered_datasets()["mgtab"].source, url=f"http://127.0.0.1:{port}/MGTAB.zip")
    with pytest.raises(DatasetError, match="nothing was received") as err:
        dl.download("mgtab", tmp_path, source=source, progress=False)
    assert "kept" not in str(err.value) and "force" not in str(err.value)
    _assert_nothing_complete(tmp_path)


def _tar(members: dict[str, bytes]) -> tarfile.TarFile:
    buf = io.BytesIO()
    tf = tarfile.open(fileobj=buf, mode="w")
    for name, data in members.items():
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return tf


def test_transfer_cut_at_a_member_boundary_is_never_trusted(server, tmp_path, files):
    """With no Content-Length, a plain tar cut after a member looks complete; its digest must not be recorded."""
    tf = _tar({f"MGTAB/{name}": data for name, data in files.items()})
    server.body, server.omit_length = tf.fileobj.getvalue()[:tf.offset], True  # the end-of-archive blocks missing
    source = _source(server, filename="MGTAB.tar")
    with pytest.raises(DatasetError, match="truncated tar"):
        dl.download("mgtab", tmp_path, source=source, progress=False)
    _assert_nothing_complete(tmp_path)
    assert not (tmp_path / dl.CHECKSUMS).exists()
    tf.close()
    server.body = tf.fileobj.getvalue()
    dl.download("mgtab", tmp_path, source=source, progress=False)  # the whole archive is then accepted
    assert json.loads((tmp_path / dl.CHECKSUMS).read_text())["mgtab"]["size"] == len(server.body)


@pytest.mark.parametrize("ignore_range", [False, True], ids=["resumed", "server-ignores-range"])
def test_interrupted_then_resumed(server, tmp_path, mgtab_zip, ignore_range):
    server.truncate_after = 700_000
    with pytest.raises(DatasetError, match="truncated"):
        dl.download("mgtab", tmp_path, source=_source(server), progress=False)
    have = (tmp_path / "mgtab" / "MGTAB.zip.part").stat().st_size
    server.truncate_after, server.ignore_range = None, ignore_range
    digest = hashlib.sha256(mgtab_zip).hexdigest()
    folder = dl.download("mgtab", tmp_path, source=_source(server, sha256=digest), progress=False)
    assert server.ranges == [None, f"bytes={have}-"]
    assert (folder / "features.pt").is_file() and not (tmp_path / "mgtab" / "MGTAB.zip.part").exists()


@pytest.mark.parametrize("archive", [
    ("MGTAB.zip", lambda files: _zip({"MGTAB/features.pt": files["features.pt"], "../evil": b"x"})),
    ("MGTAB.zip", lambda files: _zip({"MGTAB/features.pt": files["features.pt"], "MGTAB/../../evil": b"x"})),
    ("MGTAB.zip", lambda files: _zip({"MGTAB/features.pt": files["features.pt"], "/tmp/mgbench-evil": b"x"})),
    ("MGTAB.tar.gz", lambda files: _tar_gz({"MGTAB/features.pt": files["features.pt"], "../evil": b"x"})),
    ("MGTAB.tar.gz", lambda files: _tar_gz({"MGTAB/features.pt": files["features.pt"]}, {"MGTAB/evil": "../../.."})),
], ids=["zip-dotdot", "zip-nested-dotdot", "zip-absolute", "tar-dotdot", "tar-symlink-outside"])
def test_unsafe_archive_refused(server, tmp_path, files, archive):
    filename, build = archive
    server.body = build(files)
    root = tmp_path / "root"
    with pytest.raises(DatasetError, match="refused to extract"):
        dl.download("mgtab", root, source=_source(server, filename=filename), progress=False)
    assert not (tmp_path / "evil").exists() and not Path("/tmp/mgbench-evil").exists()
    _assert_nothing_complete(root)
    assert not (root / "mgtab" / filename).exists()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.name != dl.LOCK) == ["mgtab", "root"]


def test_archive_without_marker_refused(server, tmp_path):
    server.body = b"<html>quota exceeded</html>"
    with pytest.raises(DatasetError, match="neither a zip nor a tar"):
        dl.download("mgtab", tmp_path, source=_source(server), progress=False)
    server.body = _zip({"MGTAB/readme.txt": b"no tensors here"})
    with pytest.raises(DatasetError, match="no features.pt"):
        dl.download("mgtab", tmp_path, source=_source(server), progress=False)
    _assert_nothing_complete(tmp_path)
    assert not (tmp_path / dl.CHECKSUMS).exists()  # nothing trusted


def _plant(path: str) -> None:
    Path(path).write_text("code ran")


class Payload:
    """Unpickling this object would call ``_plant`` (what a malicious ``.pt`` file does)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return _plant, (str(self.marker),)


def test_pickled_object_never_runs(server, tmp_path, files):
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    torch.save(Payload(marker), buf)
    server.body = _zip({f"MGTAB/{name}": data for name, data in {**files, "labels_bot.pt": buf.getvalue()}.items()})
    root = tmp_path / "root"
    folder = dl.download("mgtab", root, source=_source(server), progress=False)
    with pytest.raises(DatasetError, match=r"labels_bot\.pt: refused to load.*weights_only=True"):
        load("mgtab", root=root)
    assert not marker.exists()
    torch.load(folder / "labels_bot.pt", weights_only=False)  # the payload is live: only weights_only stops it
    assert marker.read_text() == "code ran"


def test_google_drive_urls_go_through_gdown(tmp_path, monkeypatch, mgtab_zip):
    calls = []

    def fake_gdown(url, output, **kwargs):
        calls.append((url, kwargs))
        Path(output).write_bytes(mgtab_zip)
        return output

    monkeypatch.setattr(dl.gdown, "download", fake_gdown)
    dl.download("mgtab", tmp_path, progress=False)
    assert calls == [(registered_datasets()["mgtab"].source.url, {"quiet": True, "resume": True, "timeout": dl.TIMEOUT})]
    assert load("mgtab", root=tmp_path).num_nodes == 200

    def failing_gdown(url, output, **kwargs):
        raise dl.gdown.exceptions.FileURLRetrievalError("Too many users have viewed or downloaded this file")

    monkeypatch.setattr(dl.gdown, "download", failing_gdown)
    with pytest.raises(DatasetError, match="(?s)Too many users.*Nothing was received"):
        dl.download("mgtab", tmp_path / "other", progress=False)


@pytest.mark.parametrize("subfolder", ["", "MGTAB", "mgtab", "mgtab/MGTAB"])
def test_manual_download(tmp_path, monkeypatch, subfolder):
    """Files placed by hand load without any network access."""
    monkeypatch.setattr(socket.socket, "connect", lambda *args: pytest.fail("no network access expected"))
    write(SyntheticConfig(num_nodes=200), tmp_path / subfolder)
    assert is_downloaded("mgtab", tmp_path)
    assert load("mgtab", root=tmp_path).num_nodes == 200
