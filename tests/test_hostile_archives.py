"""Hostile and broken archives: nothing escapes, nothing explodes, nothing cut short is trusted.

Each archive is crafted here and placed where ``download`` looks for a finished
transfer, so no test needs the network (the transfer itself is tested against
a 127.0.0.1 server in test_download.py).
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import io
import json
import os
import signal
import stat
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

import mgbench.datasets.archive as archive
import mgbench.datasets.download as dl
from mgbench.datasets import DatasetError, is_downloaded, load
from mgbench.registry import DatasetSource, registered_datasets
from mgbench.datasets.synthetic import SyntheticConfig, write


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, bytes]:
    folder = write(SyntheticConfig(num_nodes=60), tmp_path_factory.mktemp("files") / "MGTAB")
    return {f"MGTAB/{p.name}": p.read_bytes() for p in sorted(folder.glob("*.pt"))}


@pytest.fixture(autouse=True)
def no_transfer(monkeypatch):
    monkeypatch.setattr(dl, "_fetch", lambda *a: pytest.fail("the archive was placed: nothing to fetch"))


def _info(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    return info


def _tar(files: dict[str, bytes], extra: list[tarfile.TarInfo] = (), mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in files.items():
            tf.addfile(_info(name, size=len(data)), io.BytesIO(data))
        for info in extra:
            tf.addfile(info, io.BytesIO(b"x" * info.size) if info.size else None)
    return buf.getvalue()


def _zip(files: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _place(root: Path, filename: str, body: bytes, name: str = "mgtab") -> DatasetSource:
    """Put ``body`` where a finished transfer of ``filename`` would be; the source to download it with."""
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / filename).write_bytes(body)
    return dataclasses.replace(registered_datasets()["mgtab"].source, url="http://127.0.0.1:9/unused", filename=filename)


def _refused(root: Path, filename: str, body: bytes, match: str) -> None:
    """Downloading ``body`` fails with ``match``, leaving nothing that looks complete and nothing trusted."""
    source = _place(root, filename, body)
    with pytest.raises(DatasetError, match=match):
        dl.download("mgtab", root, source=source, progress=False)
    folder = root / "mgtab"
    assert not is_downloaded("mgtab", root)
    assert sorted(p.name for p in folder.iterdir()) == [dl.LOCK]  # no archive, no folder, no temporary
    assert not (root / dl.CHECKSUMS).exists()


# --------------------------------------------------------------------------- links and special files

def _symlink_chain(up: int) -> list[tarfile.TarInfo]:
    """CVE-2025-4517: nested symlinks whose resolved path exceeds PATH_MAX, where the ``data`` filter's
    realpath stops resolving, then a link through them ``up`` folders above the extraction folder and
    a file written through that link."""
    members, path, steps = [], "", "abcdefghijklmnop"
    for step in steps:
        members.append(_info(os.path.join(path, "d" * 247), tarfile.DIRTYPE))
        members.append(_info(os.path.join(path, step), tarfile.SYMTYPE, link="d" * 247))
        path = os.path.join(path, "d" * 247)
    deep = os.path.join("/".join(steps), "l" * 254)
    members.append(_info(deep, tarfile.SYMTYPE, link="../" * len(steps)))
    members.append(_info("escape", tarfile.SYMTYPE, link=deep + "/.." * up))
    members.append(_info("escape/pwned", size=5))
    return members


def test_cve_2025_4517_symlink_chain_writes_nothing_outside(tmp_path, files):
    root = tmp_path / "root"
    # the extraction folder is root/mgtab/<temporary>/files: four levels up is tmp_path
    _refused(root, "MGTAB.tar.gz", _tar(files, _symlink_chain(up=4), "w:gz"), r"refused to extract .*symbolic link")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]


def _zip_with_symlink(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        link = zipfile.ZipInfo("MGTAB/evil")
        link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "../../../..")
    return buf.getvalue()


@pytest.mark.parametrize("filename, build, kind", [
    ("MGTAB.tar", lambda f: _tar(f, [_info("MGTAB/inside", tarfile.SYMTYPE, link="features.pt")]),
     "symbolic link"),
    ("MGTAB.tar", lambda f: _tar(f, [_info("MGTAB/copy.pt", tarfile.LNKTYPE, link="MGTAB/features.pt")]),
     "hard link"),
    ("MGTAB.tar", lambda f: _tar(f, [_info("MGTAB/null", tarfile.CHRTYPE)]), "device"),
    ("MGTAB.tar", lambda f: _tar(f, [_info("MGTAB/pipe", tarfile.FIFOTYPE)]), "FIFO"),
    ("MGTAB.zip", _zip_with_symlink, "symbolic link"),
], ids=["tar-symlink-inside", "tar-hardlink", "tar-device", "tar-fifo", "zip-symlink"])
def test_links_and_special_files_are_refused_even_pointing_inside(tmp_path, files, filename, build, kind):
    _refused(tmp_path, filename, build(files), f"refused to extract .*it is an? {kind}")


def test_member_named_twice_is_refused(tmp_path, files):
    twice = _tar(files, [_info("MGTAB/features.pt", size=3)])
    _refused(tmp_path, "MGTAB.tar", twice, "holds it twice")


# --------------------------------------------------------------------------- caps

@pytest.mark.parametrize("filename", ["MGTAB.zip", "MGTAB.tar.gz"])
def test_archive_bomb_is_refused_before_it_is_written(tmp_path, files, monkeypatch, filename):
    """8 MiB of zeros in a few KB: beyond MAX_RATIO times the archive (the floor lowered to keep the test small)."""
    monkeypatch.setattr(archive, "RATIO_FLOOR", 1 << 20)
    written = []
    monkeypatch.setattr(archive, "_write", lambda src, path, *a: written.append(path.name))
    members = {"MGTAB/features.pt": files["MGTAB/features.pt"][:1000], "MGTAB/zeros.bin": bytes(8 << 20)}
    body = _zip(members, zipfile.ZIP_DEFLATED) if filename.endswith(".zip") else _tar(members, mode="w:gz")
    _refused(tmp_path, filename, body, rf"unpacks to more than .*MAX_RATIO = {archive.MAX_RATIO}.*archive bomb")
    assert "zeros.bin" not in written


def test_total_size_cap_is_named(tmp_path, files, monkeypatch):
    monkeypatch.setattr(archive, "MAX_UNPACKED_BYTES", 10_000)
    _refused(tmp_path, "MGTAB.zip", _zip(files), "unpacks to more than 10,000 bytes.*MAX_UNPACKED_BYTES = 10,000")


@pytest.mark.parametrize("filename", ["MGTAB.zip", "MGTAB.tar"])
def test_member_count_cap_is_named(tmp_path, files, monkeypatch, filename):
    monkeypatch.setattr(archive, "MAX_MEMBERS", 3)
    body = _zip(files) if filename.endswith(".zip") else _tar(files)
    _refused(tmp_path, filename, body, "more than MAX_MEMBERS = 3 members")


def test_full_disk_is_one_error_and_leaves_nothing(tmp_path, files, monkeypatch):
    def no_space(src, path, *args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(archive, "_write", no_space)
    _refused(tmp_path, "MGTAB.zip", _zip(files), "extraction failed: No space left on device")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_extraction_killed_midway_leaves_nothing_after_the_next_run(tmp_path, files, monkeypatch):
    source = _place(tmp_path, "MGTAB.zip", _zip(files))
    pid = os.fork()
    if pid == 0:  # the child is killed (kill -9) while it unpacks
        try:
            monkeypatch.setattr(archive, "_write", lambda *a: os.kill(os.getpid(), signal.SIGKILL))
            dl.download("mgtab", tmp_path, source=source, progress=False)
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert len(list((tmp_path / "mgtab").glob(".MGTAB.extract*"))) == 1
    folder = dl.download("mgtab", tmp_path, source=source, progress=False)
    assert sorted(p.name for p in (tmp_path / "mgtab").iterdir()) == sorted([dl.LOCK, dl.COMPLETE, folder.name])


# --------------------------------------------------------------------------- format by content

def test_plain_tar_of_pt_files_is_read_as_a_tar(tmp_path, files):
    """Each .pt is itself a zip: a lenient zip probe finds the last one's directory at the tar's end."""
    source = _place(tmp_path, "MGTAB.tar", _tar(files))
    dl.download("mgtab", tmp_path, source=source, progress=False)
    assert load("mgtab", root=tmp_path).num_nodes == 60


def test_zip64_archive_is_read(tmp_path, files, monkeypatch):
    """MGTAB-large's archive passes 4 GiB: its end records are zip64 ones (forced here by a low entry limit)."""
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)
    body = _zip(files)
    assert b"PK\x06\x06" in body[-200:]  # the zip64 end record
    dl.download("mgtab", tmp_path, source=_place(tmp_path, "MGTAB.zip", body), progress=False)
    assert load("mgtab", root=tmp_path).num_nodes == 60


def test_gzip_that_is_not_a_tar_is_corrupt(tmp_path):
    _refused(tmp_path, "MGTAB.tar.gz", gzip.compress(b"not a tar" * 100), "corrupt archive")


# --------------------------------------------------------------------------- truncated transfers

def _tar_without_end(files: dict[str, bytes]) -> bytes:
    """A tar cut at a member boundary: every member complete, the end-of-archive blocks missing."""
    buf = io.BytesIO()
    tf = tarfile.open(fileobj=buf, mode="w")
    for name, data in files.items():
        tf.addfile(_info(name, size=len(data)), io.BytesIO(data))
    return buf.getvalue()[:tf.offset]


def _zip_cut_before_directory(files: dict[str, bytes]) -> bytes:
    """A stored zip of .pt files cut after its last member: it ends with that .pt's own zip directory."""
    body = _zip(files)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return body[:zf.start_dir]


WHOLE = {"MGTAB.tar": _tar, "MGTAB.tar.gz": lambda f: _tar(f, mode="w:gz"), "MGTAB.zip": _zip}


@pytest.mark.parametrize("filename, cut, match", [
    ("MGTAB.tar", _tar_without_end, "truncated tar"),
    ("MGTAB.tar", lambda f: _tar_without_end(f)[:-100], "truncated|corrupt"),
    ("MGTAB.tar.gz", lambda f: _tar(f, mode="w:gz")[:-8], "corrupt archive"),  # the gzip trailer missing
    ("MGTAB.zip", _zip_cut_before_directory, "truncated zip"),
    ("MGTAB.zip", lambda f: _zip(f)[:-30], "truncated zip"),
], ids=["tar-at-member-boundary", "tar-inside-last-member", "gzip-without-trailer", "zip-before-directory",
        "zip-inside-directory"])
def test_truncated_archive_is_never_trusted(tmp_path, files, filename, cut, match):
    _refused(tmp_path, filename, cut(files), match)
    source = _place(tmp_path, filename, WHOLE[filename](files))
    dl.download("mgtab", tmp_path, source=source, progress=False)  # the whole archive is not refused afterwards
    assert is_downloaded("mgtab", tmp_path)


def test_zip_members_overlapping_are_refused(tmp_path, files):
    """Two directory entries pointing at one member's data (the overlapping-file zip bomb)."""
    body = bytearray(_zip(files))
    with zipfile.ZipFile(io.BytesIO(bytes(body))) as zf:
        infos = zf.infolist()
        directory = zf.start_dir
    first = body.index(b"PK\x01\x02", directory)
    second = body.index(b"PK\x01\x02", first + 4)
    body[second + 42:second + 46] = infos[0].header_offset.to_bytes(4, "little")  # second entry -> first member
    _refused(tmp_path, "MGTAB.zip", bytes(body), "inconsistent zip")


# --------------------------------------------------------------------------- checksums.json

@pytest.mark.parametrize("content", ["[]", '{"mgtab": "abc"}', '{"mgtab": {"sha256": 5}}', '"x"'],
                         ids=["list", "string-entry", "number-digest", "string"])
def test_checksums_of_the_wrong_shape_are_named(tmp_path, files, content):
    (tmp_path / dl.CHECKSUMS).write_text(content)
    source = _place(tmp_path, "MGTAB.zip", _zip(files))
    with pytest.raises(DatasetError, match=rf"{dl.CHECKSUMS}: .*repair or delete it"):
        dl.download("mgtab", tmp_path, source=source, progress=False)


def test_two_first_downloads_at_once_keep_both_records(tmp_path, files, monkeypatch):
    """Both read checksums.json before either writes it: without a lock, one record is lost."""
    read_json, barrier, reads = dl._read_json, threading.Barrier(2, timeout=2), threading.local()

    def interleaved(path):
        known = read_json(path)
        reads.n = getattr(reads, "n", 0) + 1
        if path.name == dl.CHECKSUMS and reads.n == 2:  # the read before recording (the first is the check)
            try:
                barrier.wait()  # returns once both threads have read
            except threading.BrokenBarrierError:  # the other thread waits for the lock: go on alone
                pass
        return known

    monkeypatch.setattr(dl, "_read_json", interleaved)
    sources = {name: _place(tmp_path, "MGTAB.zip", _zip(files), name) for name in ("mgtab", "mgtab-copy")}
    errors = []

    def run(name):
        try:
            dl.download(name, tmp_path, source=sources[name], progress=False)
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(name,)) for name in sources]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sorted(json.loads((tmp_path / dl.CHECKSUMS).read_text())) == ["mgtab", "mgtab-copy"]


# --------------------------------------------------------------------------- what we write

def test_written_files_are_readable_as_the_umask_allows(tmp_path, files):
    source = _place(tmp_path, "MGTAB.zip", _zip(files))
    old = os.umask(0o022)
    try:
        folder = dl.download("mgtab", tmp_path, source=source, progress=False)
        load("mgtab", root=tmp_path)
    finally:
        os.umask(old)
    written = [tmp_path / dl.CHECKSUMS, tmp_path / "mgtab" / dl.COMPLETE, folder / "features.pt",
               *(folder / "processed").glob("*.pt")]
    assert len(written) == 4
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {p.name: "0o644" for p in written}
