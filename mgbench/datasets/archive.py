"""Unpack a downloaded zip, tar or tar.gz archive, refusing anything the official archives never hold.

Why we write every member ourselves instead of calling ``extractall``:

- **Links and special files are refused outright**, not sanitised. The
  official archives hold plain files and folders only, and a filter that
  follows links can be fooled: the CVE-2025-4517 symlink chain, whose
  resolved path exceeds PATH_MAX, gets a file written outside the target
  through tarfile's ``data`` filter on Python 3.11.7. With no link ever
  created, each member's path is its name's parts under the destination
  (absolute names, ``..`` parts, backslashes and drive colons refused),
  checked again after resolving, and opened with ``O_EXCL | O_NOFOLLOW``
  (a member named twice is refused too).
- **Caps.** At most :data:`MAX_MEMBERS` members, and at most
  ``min(MAX_UNPACKED_BYTES, max(MAX_RATIO x the archive's size, RATIO_FLOOR))``
  bytes unpacked, checked against the sizes the headers declare before a
  member is written (a zip's before anything is) and against the bytes read.
  Real data (float features, id tensors) compresses a few times at most; a
  2.6 MB archive of 2 GiB of zeros is refused without writing it.
- **Format by content**, not by the name or by ``zipfile.is_zipfile`` (which
  takes an uncompressed tar of ``.pt`` files for a zip, finding the last
  ``.pt``'s own zip directory): ``PK\\x03\\x04`` zip, ``\\x1f\\x8b`` gzip
  (a tar inside), ``ustar`` at offset 257 tar.
- **Completeness.** A transfer cut short can still parse: a tar cut at a
  member boundary is a shorter valid tar, a zip of ``.pt`` files cut after a
  member ends with that member's own directory. So a zip's end-of-central-
  directory record must end the file exactly, its directory lie right
  before it with the number of entries it announces, and each member's local
  header and data lie before the directory, from offset 0, none
  overlapping another; a tar must end with its zero end-of-archive blocks
  after complete member data; a gzip stream must end with its trailer (its
  CRC and length are checked).
"""

from __future__ import annotations

import gzip
import os
import stat
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .errors import DatasetError

MAX_MEMBERS = 10_000
MAX_UNPACKED_BYTES = 32 << 30
MAX_RATIO = 100
RATIO_FLOOR = 64 << 20   # a small archive may unpack to this much whatever its ratio
CHUNK = 1 << 20

_EOCD = struct.Struct("<4s4H2LH")          # signature, disk, directory's disk, entries here, entries, size, offset, comment length
_ZIP64_LOCATOR = struct.Struct("<4sLQL")   # signature, disk, offset of the zip64 record, disks
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # signature, record size, versions, disks, entries here, entries, size, offset
_LOCAL = struct.Struct("<4s5H3L2H")        # signature, version, flags, method, time, date, crc, sizes, name and extra lengths
_TAR_KINDS = {tarfile.SYMTYPE: "a symbolic link", tarfile.LNKTYPE: "a hard link", tarfile.CHRTYPE: "a device",
              tarfile.BLKTYPE: "a device", tarfile.FIFOTYPE: "a FIFO", tarfile.GNUTYPE_SPARSE: "a sparse file",
              tarfile.CONTTYPE: "a contiguous file"}


def archive_format(archive: Path) -> str:
    """``"zip"``, ``"tar.gz"`` or ``"tar"``, from the archive's first bytes."""
    with archive.open("rb") as f:
        head = f.read(512)
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "tar.gz"
    if head[257:262] == b"ustar":
        return "tar"
    raise DatasetError(f"{archive}: neither a zip nor a tar archive (it starts with {head[:24]!r})")


def unpack(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` into the new folder ``dest``; any failure is a :class:`DatasetError`.

    ``dest`` may hold part of the archive after a failure: the caller
    unpacks into a temporary folder and deletes it.
    """
    kind = archive_format(archive)
    dest.mkdir()
    budget = _Budget(archive)
    try:
        if kind == "zip":
            _unpack_zip(archive, dest, budget)
        else:
            _unpack_tar(archive, dest, budget, compressed=kind == "tar.gz")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile,
            NotImplementedError, struct.error) as err:
        lines = str(err).strip().splitlines()
        raise DatasetError(f"{archive}: corrupt archive ({lines[0] if lines else type(err).__name__})") from None
    except OSError as err:
        raise DatasetError(f"{archive}: extraction failed: {err.strerror or err} ({err.filename or dest}); "
                           f"free some disk space or choose another --root") from None


class _Budget:
    """The unpacked bytes allowed for one archive, and those spent."""

    def __init__(self, archive: Path):
        self.archive = archive
        self.size = archive.stat().st_size
        self.cap = min(MAX_UNPACKED_BYTES, max(MAX_RATIO * self.size, RATIO_FLOOR))
        self.spent = 0

    def spend(self, nbytes: int) -> None:
        self.spent += nbytes
        if self.spent > self.cap:
            raise DatasetError(
                f"{self.archive}: unpacks to more than {self.cap:,} bytes, the cap for a {self.size:,}-byte archive "
                f"(MAX_RATIO = {MAX_RATIO} times its size, at least RATIO_FLOOR = {RATIO_FLOOR:,} and at most "
                f"MAX_UNPACKED_BYTES = {MAX_UNPACKED_BYTES:,} bytes): refused as an archive bomb")


def _count(archive: Path, members: int) -> None:
    if members > MAX_MEMBERS:
        raise DatasetError(f"{archive}: more than MAX_MEMBERS = {MAX_MEMBERS:,} members ({members:,}): refused")


def _member_path(dest: Path, name: str, archive: Path, folder: bool = False) -> Path:
    """Where member ``name`` goes under ``dest``; refuse any name that could leave it.

    Only a folder may be ``dest`` itself (a tar's ``./``).
    """
    parts = PurePosixPath(name).parts
    if (not (parts or folder) or name.startswith("/") or "\\" in name or "\0" in name or ".." in parts
            or any(":" in part for part in parts)):
        raise DatasetError(f"{archive}: refused to extract {name!r}: its path leaves the target folder "
                           f"or is not a plain relative path")
    path = dest.joinpath(*parts)
    root = dest.resolve()
    if not path.resolve().is_relative_to(root):
        raise DatasetError(f"{archive}: refused to extract {name!r}: its path leaves the target folder")
    return path


def _write(src: BinaryIO, path: Path, size: int, name: str, archive: Path) -> None:
    """Copy exactly ``size`` bytes of member ``name`` from ``src`` into the new file ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except FileExistsError:
        raise DatasetError(f"{archive}: refused to extract {name!r}: the archive holds it twice") from None
    written = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > size:
                raise DatasetError(f"{archive}: member {name!r} holds more than the {size} bytes its header declares")
            out.write(chunk)
    if written != size:
        raise DatasetError(f"{archive}: member {name!r} ends after {written} of its {size} bytes: the archive "
                           f"is truncated")


# --- zip -------------------------------------------------------------------------------------------------

def _unpack_zip(archive: Path, dest: Path, budget: _Budget) -> None:
    with archive.open("rb") as f:
        entries, directory = _zip_directory(f, budget.size, archive)
        _count(archive, entries)
        with zipfile.ZipFile(f) as zf:
            infos = zf.infolist()
            if len(infos) != entries or zf.start_dir != directory:
                raise DatasetError(f"{archive}: truncated or inconsistent zip: its central directory lists "
                                   f"{len(infos)} of the {entries} entries its end record announces")
            _check_zip_layout(f, infos, directory, archive)
            for info in infos:
                _check_zip_member(info, archive)
                budget.spend(info.file_size)  # all declared sizes first: a bomb is refused before any write
            for info in infos:
                path = _member_path(dest, info.filename, archive, folder=info.is_dir())
                if info.is_dir():
                    path.mkdir(parents=True, exist_ok=True)
                else:
                    with zf.open(info) as src:  # stops at file_size and checks the CRC at the end
                        _write(src, path, info.file_size, info.filename, archive)


def _zip_directory(f: BinaryIO, size: int, archive: Path) -> tuple[int, int]:
    """(entries, offset of the central directory), from an end record that ends the file exactly."""
    tail_len = min(size, _EOCD.size + 0xFFFF)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    while pos >= 0 and not (pos + _EOCD.size <= len(tail)
                            and pos + _EOCD.size + _EOCD.unpack_from(tail, pos)[7] == len(tail)):
        pos = tail.rfind(b"PK\x05\x06", 0, pos)
    truncated = f"{archive}: truncated zip (the transfer was probably cut short): "
    if pos < 0:
        raise DatasetError(truncated + "no end-of-central-directory record at its end")
    _, disk, disk_cd, _, entries, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, pos)
    cd_end = size - tail_len + pos
    locator = b""
    if cd_end >= _ZIP64_LOCATOR.size:
        f.seek(cd_end - _ZIP64_LOCATOR.size)
        locator = f.read(_ZIP64_LOCATOR.size)
    if locator[:4] == b"PK\x06\x07":  # zip64 (as zipfile, told by the locator, not by 0xFFFF fields)
        _, disk_cd, record_at, _ = _ZIP64_LOCATOR.unpack(locator)
        f.seek(record_at)
        raw = f.read(_ZIP64_EOCD.size)
        if len(raw) < _ZIP64_EOCD.size:
            raise DatasetError(truncated + "its zip64 end record is missing")
        sig, record_size, _, _, disk, _, _, entries, cd_size, cd_offset = _ZIP64_EOCD.unpack(raw)
        if sig != b"PK\x06\x06" or record_at + 12 + record_size != cd_end - _ZIP64_LOCATOR.size:
            raise DatasetError(truncated + "its zip64 end record is not where its locator says")
        cd_end = record_at
    if disk or disk_cd:
        raise DatasetError(f"{archive}: a multi-part zip; download the single-file archive")
    if cd_offset + cd_size != cd_end:
        raise DatasetError(truncated + f"its central directory should span bytes {cd_offset}..{cd_offset + cd_size} "
                           f"right before its end record at byte {cd_end}")
    return entries, cd_offset


def _check_zip_layout(f: BinaryIO, infos: list[zipfile.ZipInfo], directory: int, archive: Path) -> None:
    """Every member's local header and data lie before the directory, from offset 0, none overlapping."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    if ordered and ordered[0].header_offset != 0:
        raise DatasetError(f"{archive}: inconsistent zip: {ordered[0].header_offset} unexplained bytes before "
                           f"its first member")
    for info, limit in zip(ordered, [i.header_offset for i in ordered[1:]] + [directory]):
        f.seek(info.header_offset)
        raw = f.read(_LOCAL.size)
        if len(raw) < _LOCAL.size or raw[:4] != b"PK\x03\x04":
            raise DatasetError(f"{archive}: inconsistent zip: no local header for {info.filename!r} at byte "
                               f"{info.header_offset}")
        name_len, extra_len = _LOCAL.unpack(raw)[-2:]
        end = info.header_offset + _LOCAL.size + name_len + extra_len + info.compress_size
        if end > limit:
            raise DatasetError(f"{archive}: inconsistent zip: member {info.filename!r} (bytes "
                               f"{info.header_offset}..{end}) overlaps what follows it at byte {limit}")


def _check_zip_member(info: zipfile.ZipInfo, archive: Path) -> None:
    """Plain files and folders only: no links, devices or FIFOs (Unix mode bits), nothing encrypted."""
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode) if info.create_system == 3 else 0
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        what = "a symbolic link" if kind == stat.S_IFLNK else "a special file"
        raise DatasetError(f"{archive}: refused to extract {info.filename!r}: it is {what}, which the dataset "
                           f"archives never hold")
    if info.flag_bits & 0x1:
        raise DatasetError(f"{archive}: refused to extract {info.filename!r}: it is encrypted")


# --- tar -------------------------------------------------------------------------------------------------

def _unpack_tar(archive: Path, dest: Path, budget: _Budget, compressed: bool) -> None:
    with tarfile.open(archive, "r:gz" if compressed else "r:") as tf:
        members = 0
        while (member := tf.next()) is not None:
            members += 1
            _count(archive, members)
            path = _member_path(dest, member.name, archive, folder=member.isdir())
            if member.isdir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
                what = _TAR_KINDS.get(member.type, "a special member")
                raise DatasetError(f"{archive}: refused to extract {member.name!r}: it is {what}, which the "
                                   f"dataset archives never hold")
            budget.spend(member.size)
            _write(tf.extractfile(member), path, member.size, member.name, archive)
        _check_tar_end(tf, budget, compressed, archive)


def _check_tar_end(tf: tarfile.TarFile, budget: _Budget, compressed: bool, archive: Path) -> None:
    """Two zero blocks where the next header would be, and for a gzip stream, its proper end."""
    tf.fileobj.seek(tf.offset)
    end = tf.fileobj.read(2 * tarfile.BLOCKSIZE)
    if len(end) < 2 * tarfile.BLOCKSIZE or end.count(0) != len(end):
        raise DatasetError(f"{archive}: truncated tar (the transfer was probably cut short): no end-of-archive "
                           f"blocks after its last complete member, at byte {tf.offset}")
    if compressed:  # read to the gzip trailer: a stream cut short raises EOFError, a bad CRC BadGzipFile
        while chunk := tf.fileobj.read(CHUNK):
            budget.spend(len(chunk))
