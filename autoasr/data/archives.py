"""Safe extraction of zip and tar archives.

An archive from the internet may try to write outside the folder it is extracted into (absolute
paths, ``..`` components, symbolic or hard links) or to fill the disk (a "zip bomb").
:func:`safe_extract` checks every entry before writing anything, refuses the whole archive with a
message naming the offending entry, counts the bytes it really writes, and extracts into a
staging folder that is moved into place only when everything succeeded.

>>> safe_extract("corpus.zip", "data/corpus")            # doctest: +SKIP
PosixPath('data/corpus')
"""
from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator

from autoasr.core.paths import cache_dir
from autoasr.data.dataset import DataError

DEFAULT_MAX_TOTAL_BYTES = 8 * 1024**3  # 8 GiB: LibriSpeech train-clean-100 fits, a zip bomb does not
DEFAULT_MAX_ENTRIES = 500_000
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_CHUNK = 1 << 20
_COMPLETE_MARKER = ".autoasr-extracted"
# what a damaged archive raises while being read (a full disk raises other OSErrors, which propagate)
_CORRUPT_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError,
                   NotImplementedError)


class UnsafeArchiveError(DataError):
    """The archive is refused: an entry would escape the target, is a link, or the archive is too big."""


@dataclass(frozen=True)
class _Entry:
    name: str  # as written in the archive
    relative: PurePosixPath | None  # where it goes under the target; None for the root entry itself
    is_dir: bool
    size: int
    open: Callable[[], BinaryIO] | None


def is_archive(path: str | Path) -> bool:
    """True for a zip or tar file (judged by its name, then by its content)."""
    path = Path(path)
    if not path.is_file():
        return False
    name = path.name.lower()
    if name.endswith(ARCHIVE_SUFFIXES):
        return True
    return zipfile.is_zipfile(path)


def safe_extract(
    archive: str | Path,
    target: str | Path,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_entries: int = DEFAULT_MAX_ENTRIES,
) -> Path:
    """Extract a zip or tar archive into ``target``, refusing anything that could escape or flood it.

    Refused (with :class:`UnsafeArchiveError` naming the entry): absolute paths, drive letters,
    ``..`` components, symbolic and hard links, device files and FIFOs, more than ``max_entries``
    entries, and a total uncompressed size above ``max_total_bytes``. Nothing is written to
    ``target`` unless the whole archive extracts; folders merge with existing ones and files
    replace existing files of the same name.

    >>> safe_extract("waves_yesno.tar.gz", "corpora/")      # doctest: +SKIP
    PosixPath('corpora')
    """
    archive = Path(archive)
    target = Path(target)
    if not archive.is_file():
        raise DataError(f"{archive}: no such archive")
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extracting-", dir=target))
    try:
        with _open_entries(archive) as entries:
            entries = list(entries)
            _check_entries(archive, entries, max_total_bytes, max_entries)
            _write_entries(archive, entries, staging, max_total_bytes)
        _merge_into(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def default_cache_dir() -> Path:
    """``$AUTOASR_CACHE`` or ``~/.cache/autoasr``."""
    return cache_dir()


def extract_to_cache(archive: str | Path, cache_dir: str | Path | None = None,
                     max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES) -> Path:
    """Extract ``archive`` once into a cache folder keyed by its path, size and modification time.

    A second call with an unchanged archive returns the same folder without extracting again.

    >>> folder = extract_to_cache("my_corpus.zip")          # doctest: +SKIP
    """
    archive = Path(archive).resolve()
    status = archive.stat()
    key = hashlib.sha256(f"{archive}|{status.st_size}|{status.st_mtime_ns}".encode()).hexdigest()[:12]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", _archive_stem(archive.name))
    folder = Path(cache_dir or default_cache_dir() / "archives") / f"{stem}-{key}"
    if (folder / _COMPLETE_MARKER).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{stem}-", dir=folder.parent))
    try:
        safe_extract(archive, staging, max_total_bytes=max_total_bytes)
        (staging / _COMPLETE_MARKER).write_text(str(archive), encoding="utf-8")
        if folder.exists():  # an earlier, interrupted extraction
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(staging, folder)
        except OSError:
            if not (folder / _COMPLETE_MARKER).is_file():  # not another process winning the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _archive_stem(name: str) -> str:
    lowered = name.lower()
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


class _open_entries:
    """Context manager yielding the entries of a zip or tar archive."""

    def __init__(self, archive: Path):
        self.archive = archive
        self.handle = None

    def __enter__(self) -> Iterator[_Entry]:
        archive = self.archive
        name = archive.name.lower()
        looks_like_tar = name.endswith(tuple(s for s in ARCHIVE_SUFFIXES if s != ".zip"))
        try:
            if not looks_like_tar and zipfile.is_zipfile(archive):
                self.handle = zipfile.ZipFile(archive)
                return self._zip_entries(self.handle)
            self.handle = tarfile.open(archive, "r:*")
            return self._tar_entries(self.handle)
        except _CORRUPT_ERRORS as error:
            raise DataError(f"{archive}: not a readable zip or tar archive ({error})") from None

    def __exit__(self, *exc_info) -> None:
        if self.handle is not None:
            self.handle.close()

    def _zip_entries(self, handle: zipfile.ZipFile) -> Iterator[_Entry]:
        for info in handle.infolist():
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if kind == stat.S_IFLNK:
                raise UnsafeArchiveError(f"{self.archive}: entry '{info.filename}' is a symbolic link; refused")
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise UnsafeArchiveError(f"{self.archive}: entry '{info.filename}' is not a regular file; refused")
            if info.flag_bits & 0x1:
                raise DataError(f"{self.archive}: entry '{info.filename}' is encrypted; extract it yourself")
            relative = _checked_name(self.archive, info.filename)
            yield _Entry(info.filename, relative, info.is_dir(), info.file_size,
                         (lambda info=info: handle.open(info)))

    def _tar_entries(self, handle: tarfile.TarFile) -> Iterator[_Entry]:
        try:
            members = handle.getmembers()
        except _CORRUPT_ERRORS as error:
            raise DataError(f"{self.archive}: corrupt tar archive ({error})") from None
        for member in members:
            if member.issym() or member.islnk():
                kind = "symbolic" if member.issym() else "hard"
                raise UnsafeArchiveError(
                    f"{self.archive}: entry '{member.name}' is a {kind} link (to '{member.linkname}'); refused")
            if not (member.isfile() or member.isdir()):
                raise UnsafeArchiveError(f"{self.archive}: entry '{member.name}' is a device or FIFO; refused")
            relative = _checked_name(self.archive, member.name)
            yield _Entry(member.name, relative, member.isdir(), member.size if member.isfile() else 0,
                         (lambda member=member: handle.extractfile(member)))


def _checked_name(archive: Path, name: str) -> PurePosixPath | None:
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or re.match(r"^[A-Za-z]:", normalized):
        raise UnsafeArchiveError(f"{archive}: entry '{name}' has an absolute path; refused")
    parts = [part for part in normalized.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"{archive}: entry '{name}' would escape the target folder ('..'); refused")
    if any("\x00" in part for part in parts):
        raise UnsafeArchiveError(f"{archive}: entry '{name}' has a NUL character in its name; refused")
    return PurePosixPath(*parts) if parts else None


def _check_entries(archive: Path, entries: list[_Entry], max_total_bytes: int, max_entries: int) -> None:
    if len(entries) > max_entries:
        raise UnsafeArchiveError(f"{archive}: {len(entries)} entries, more than the cap of {max_entries}; refused")
    total = 0
    for entry in entries:
        total += entry.size
        if total > max_total_bytes:
            raise UnsafeArchiveError(
                f"{archive}: uncompressed size passes the cap of {_human(max_total_bytes)} at entry "
                f"'{entry.name}' ({_human(entry.size)}); refused")


def _write_entries(archive: Path, entries: list[_Entry], staging: Path, max_total_bytes: int) -> None:
    root = staging.resolve()
    written = 0
    for entry in entries:
        if entry.relative is None:
            continue
        destination = staging.joinpath(*entry.relative.parts)
        resolved = destination.resolve()
        if resolved != root and root not in resolved.parents:
            raise UnsafeArchiveError(f"{archive}: entry '{entry.name}' would escape the target folder; refused")
        if entry.is_dir:
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with entry.open() as source, open(destination, "wb") as sink:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    if written > max_total_bytes:
                        raise UnsafeArchiveError(
                            f"{archive}: entry '{entry.name}' inflates past the cap of {_human(max_total_bytes)}; "
                            "refused")
                    sink.write(chunk)
        except _CORRUPT_ERRORS as error:
            raise DataError(f"{archive}: entry '{entry.name}' is corrupt ({error})") from None


def _merge_into(source: Path, target: Path) -> None:
    """Move the tree ``source`` into ``target``: folders merge, files replace files of the same name."""
    for child in source.iterdir():
        destination = target / child.name
        if child.is_dir():
            if destination.is_symlink() or (destination.exists() and not destination.is_dir()):
                destination.unlink()
            if destination.is_dir():
                _merge_into(child, destination)
                continue
            os.replace(child, destination)
        else:
            if destination.is_dir() and not destination.is_symlink():
                shutil.rmtree(destination)
            elif destination.is_symlink():
                destination.unlink()
            os.replace(child, destination)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
