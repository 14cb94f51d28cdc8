"""Download the official archives: resumable transfer, SHA-256 check, safe extraction.

Why each step:

- **Transfer.** Google Drive URLs go through ``gdown``, which handles Drive's
  confirm-token page for large files and resumes its own partial file with a
  Range request. Every other URL (a mirror, the tests' local server) is
  streamed with ``requests`` into ``<root>/<name>/<filename>.part`` and resumed
  from there; a server that ignores Range restarts the transfer from byte 0.
  (gdown resumes plain URLs too, but names its partial file at random and
  refuses for good when a server ignores Range.)
- **Checksum.** The authors publish no digests, so a :class:`~mgbench.registry.DatasetSource` may lack
  one: the first download that unpacks into the expected files records its
  SHA-256 and size in ``<root>/checksums.json`` and every later download must
  match that record (trust on first use). A digest pinned in the source wins.
  A mismatching archive is deleted at once. Only an archive that unpacked
  completely is recorded, so a transfer cut short is never trusted: the
  archive must end the way its format says (see :mod:`.archive`).
- **Extraction** (:mod:`.archive`): plain files and folders only (links and
  special files refused), every path checked against the resolved target,
  member count and unpacked size capped, the format told by its first bytes.
  Everything is unpacked into a hidden temporary folder that is renamed into
  place only when complete; on any failure the archive is deleted too.
  Nothing downloaded is executed, and the ``.pt`` files are only ever read
  with ``torch.load(weights_only=True)`` (:mod:`.io`).

A finished download is ``<root>/<name>/<archive stem>/`` holding the ``.pt``
files, next to a ``DOWNLOAD_COMPLETE`` record; the archive itself is deleted
(MGTAB-large's is several GB), its digest stays in ``checksums.json``.
"""

from __future__ import annotations

import datetime
import glob
import hashlib
import json
import logging
import os
import re
import shutil
from pathlib import Path

import gdown
import requests
from filelock import FileLock, Timeout
from gdown.parse_url import is_google_drive_url
from tqdm.auto import tqdm

from mgbench.atomic import atomic_path, sweep_orphans, temp_name
from mgbench.registry import DatasetSource, registered_datasets

from .archive import unpack
from .errors import DatasetError
from .layout import find_folder

log = logging.getLogger(__name__)

COMPLETE = "DOWNLOAD_COMPLETE"
CHECKSUMS = "checksums.json"
LOCK = ".download.lock"
CHUNK = 1 << 18
TIMEOUT = (30, 120)  # seconds to connect, and to wait between bytes
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")


def download(name: str, root: str | os.PathLike | None = None, *, source: DatasetSource | None = None,
             progress: bool = True, force: bool = False) -> Path:
    """Download, verify and unpack dataset ``name`` under ``root``; return the folder of ``.pt`` files.

    A complete earlier download is returned at once; ``force=True`` deletes it
    (and any partial transfer) and downloads again, still checked against
    ``checksums.json``. ``source`` overrides the registered dataset's source (a mirror, or a
    test server). Every failure raises :class:`DatasetError` saying what to do.
    Two processes downloading into one root wait for each other (a lock file
    per dataset folder, and one for ``checksums.json``).
    """
    from . import default_root  # the package imports this module: resolve at call time

    if source is None:
        downloadable = {n: s.source for n, s in registered_datasets().items() if s.source and s.source.url}
        if name not in downloadable:
            raise ValueError(f"no download source for {name!r}; downloadable: {', '.join(downloadable)}")
        source = downloadable[name]
    base = Path(root).expanduser() if root else default_root()
    folder = base / name
    target = folder / _stem(source.filename)
    if not force and _complete(folder, target, source):
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(folder / LOCK)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.warning("%s: another process is downloading %s here; waiting for it", folder, name)
            lock.acquire()
    except OSError as err:
        raise DatasetError(f"{folder}: cannot be written ({err.strerror or err}); choose a writable --root "
                           f"(or $MGBENCH_ROOT)") from None
    try:
        return _download_locked(name, base, folder, target, source, progress, force)
    except OSError as err:  # a full disk, a folder that turned read-only: one line, not a traceback
        raise DatasetError(f"{folder}: download of {name} failed: {err.strerror or err}"
                           f"{f' ({err.filename})' if err.filename else ''}; free some space or choose another "
                           f"--root, then run again") from None
    finally:
        lock.release()


def _complete(folder: Path, target: Path, source: DatasetSource) -> bool:
    return (folder / COMPLETE).is_file() and (target / source.marker).is_file()


def _download_locked(name: str, base: Path, folder: Path, target: Path, source: DatasetSource, progress: bool,
                     force: bool) -> Path:
    archive = folder / source.filename
    if force:
        shutil.rmtree(target, ignore_errors=True)
        (folder / COMPLETE).unlink(missing_ok=True)
        _remove_transfer_files(archive)
    elif _complete(folder, target, source):  # another process finished it while we waited for the lock
        return target
    if not archive.is_file():
        _fetch(source.url, archive, progress)
    checksums = base / CHECKSUMS
    record = {"filename": source.filename, "url": source.url, **_verify(archive, name, source, checksums)}
    try:
        _extract(archive, target, source.marker, name)
    except DatasetError:
        archive.unlink(missing_ok=True)
        raise
    if source.sha256 is None:  # first use: from now on this is the archive to expect
        _record_first_use(checksums, name, record)
    _write_json(folder / COMPLETE, {**record, "folder": target.name})
    _remove_transfer_files(archive)
    return target


def _stem(filename: str) -> str:
    for suffix in ARCHIVE_SUFFIXES:
        if filename.endswith(suffix):
            return filename[: -len(suffix)]
    raise ValueError(f"{filename}: not an archive name ({', '.join(ARCHIVE_SUFFIXES)})")


def _remove_transfer_files(archive: Path) -> None:
    """Delete the archive and every partial transfer of it (ours: ``.part``; gdown's: ``<name>XXXXXXXX.part``)."""
    archive.unlink(missing_ok=True)
    for part in archive.parent.glob(glob.escape(archive.name) + "*.part"):
        part.unlink(missing_ok=True)


# --- transfer -------------------------------------------------------------------------------------------

def _fetch(url: str, archive: Path, progress: bool) -> None:
    """Transfer ``url`` to ``archive``; ``archive`` appears only once every announced byte arrived."""
    if is_google_drive_url(url):
        _fetch_gdrive(url, archive, progress)
    else:
        _fetch_http(url, archive, progress)


def _fetch_gdrive(url: str, archive: Path, progress: bool) -> None:
    try:
        gdown.download(url, str(archive), quiet=not progress, resume=True, timeout=TIMEOUT)
    except (gdown.exceptions.DownloadError, requests.RequestException) as err:  # incl. FileURLRetrievalError
        parts = sorted(archive.parent.glob(glob.escape(archive.name) + "*.part"))
        got = sum(p.stat().st_size for p in parts)
        kept = (f"The {got:,} bytes received so far are kept in {parts[0]} and the next run resumes them; if "
                f"the error repeats, delete that file to start over" if got else "Nothing was received")
        raise DatasetError(f"{url}: download of {archive.name} failed: {err}. {kept}, or fetch the file in a "
                           f"browser and unpack it into {archive.parent}.") from None


def _fetch_http(url: str, archive: Path, progress: bool) -> None:
    """Stream ``url`` into ``<archive>.part``, resuming it with ``Range``; rename it when complete.

    ``Accept-Encoding: identity`` keeps the offsets those of the bytes on disk.
    A 200 answer to a Range request means the server ignored it: start over.
    A file that changed between two attempts is caught by the checksum, or on
    first use by the archive's own CRCs when it is unpacked.
    """
    part = archive.with_name(archive.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}
    total = None
    try:
        with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as res:
            if not res.ok:
                hint = f"; if it repeats, delete {part} to start over" if have else ""
                raise DatasetError(f"{url}: server answered HTTP {res.status_code} {res.reason}: check the "
                                   f"address or try again later{hint}")
            if res.status_code != 206:
                have = 0
            elif not res.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
                raise DatasetError(f"{url}: server resumed at the wrong offset (asked for byte {have}, got "
                                   f"{res.headers.get('Content-Range')!r}); delete {part} and run again")
            length = res.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            with part.open("ab" if have else "wb") as f, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True, desc=archive.name,
                    disable=not progress) as bar:
                for chunk in res.iter_content(CHUNK):
                    f.write(chunk)
                    bar.update(len(chunk))
    except requests.RequestException as err:
        raise _truncated(url, part, total, str(err)) from None
    if total is not None and part.stat().st_size != total:
        raise _truncated(url, part, total, "connection closed early")
    os.replace(part, archive)


def _truncated(url: str, part: Path, total: int | None, reason: str) -> DatasetError:
    got = part.stat().st_size if part.is_file() else 0
    if not got:
        return DatasetError(f"{url}: nothing was received ({reason}); check the network and the address, "
                            "then run again")
    return DatasetError(f"{url}: truncated transfer: got {got} of {total if total is not None else 'unknown'} "
                        f"bytes ({reason}); {part} is kept, run again to resume")


# --- verification ---------------------------------------------------------------------------------------

def _verify(archive: Path, name: str, source: DatasetSource, checksums: Path) -> dict:
    """Check ``archive`` against the pinned digest, else the recorded one; delete it on mismatch.

    Returns ``{"sha256": ..., "size": ...}`` of the archive.
    """
    if source.sha256 is not None:
        expected, origin = {"sha256": source.sha256, "size": source.size}, "the digest pinned in the dataset's registration"
    else:
        expected = _read_checksums(checksums).get(name, {"sha256": None, "size": source.size})
        origin = f"the digest recorded at the first download ({checksums})"
    actual = {"sha256": _sha256(archive), "size": archive.stat().st_size}
    if any(expected.get(k) is not None and expected[k] != actual[k] for k in ("sha256", "size")):
        archive.unlink()
        fix = (f"If the publisher replaced the archive on purpose, delete the {name!r} entry of {checksums} "
               f"and run again." if source.sha256 is None else "Run again; if it fails again, report it.")
        size = "" if expected.get("size") is None else f"{expected['size']} bytes, "
        raise DatasetError(
            f"{archive}: checksum mismatch: expected sha256 {expected['sha256']} ({size}{origin}), "
            f"got sha256 {actual['sha256']} ({actual['size']} bytes). The file was deleted. {fix}")
    return actual


def _record_first_use(checksums: Path, name: str, record: dict) -> None:
    """Add ``name``'s record to ``checksums`` unless one exists; under a lock, so no concurrent entry is lost."""
    with FileLock(checksums.with_name(checksums.name + ".lock")):
        known = _read_checksums(checksums)
        if name not in known:
            record = {**record, "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
            _write_json(checksums, {**known, name: record})


def _read_checksums(path: Path) -> dict[str, dict]:
    """``checksums.json`` as ``{dataset: {"sha256": hex, "size": bytes, ...}}``, or a DatasetError naming it."""
    known = _read_json(path)
    fix = "repair or delete it (a deleted record is made again by the next download, trusted on first use)"
    if not isinstance(known, dict):
        raise DatasetError(f"{path}: expected a JSON object of dataset names, found {type(known).__name__}; {fix}")
    for name, entry in known.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
                and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
                and (entry.get("size") is None or type(entry["size"]) is int)):
            raise DatasetError(f"{path}: the {name!r} entry is not {{\"sha256\": <64 hex digits>, \"size\": "
                               f"<bytes>, ...}}; {fix}")
    return known


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: unreadable ({err}); repair or delete it") from None


def _write_json(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


# --- extraction -----------------------------------------------------------------------------------------

def _extract(archive: Path, target: Path, marker: str, name: str) -> None:
    """Unpack ``archive`` so that ``target`` holds ``marker`` and the files beside it, or nothing at all.

    :func:`.archive.unpack` writes into a hidden temporary folder beside
    ``target``, two levels below ``target.parent``, where :func:`find_folder`
    never takes a half-unpacked archive for a dataset; only the finished
    content is renamed into place. A temporary folder left by a killed run
    is swept away by the next one.
    """
    sweep_orphans(target.parent)
    tmp = target.parent / temp_name(f"{target.name}.extract")
    try:
        tmp.mkdir()
        out = tmp / "files"
        try:
            unpack(archive, out)
        except DatasetError as err:
            raise DatasetError(f"{err}; the archive was deleted and nothing was extracted") from None
        try:
            content = find_folder(out, marker, name)
        except DatasetError:
            raise DatasetError(f"{archive}: no {marker} at the top of the archive or one folder down, so it "
                               f"is not the {name} dataset; the file was deleted, run again to retry") from None
        shutil.rmtree(target, ignore_errors=True)  # left by a run stopped before DOWNLOAD_COMPLETE
        content.rename(target)
    except OSError as err:
        raise DatasetError(f"{archive}: extraction failed: {err.strerror or err}; the archive was deleted and "
                           f"nothing was extracted") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
