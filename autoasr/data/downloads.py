"""Downloaders for small public teaching corpora, with checksums and safe extraction.

Each corpus has a ``download_x(root)`` that fetches the archive (streamed, with a tqdm progress
bar), verifies its SHA-256, extracts it with :func:`autoasr.data.archives.safe_extract` and returns
``root``; and a ``prepare_x(root)`` that downloads when needed and returns the path to give to
:func:`autoasr.load_dataset`. A second call finds the marker of a finished download and returns
at once.

>>> from autoasr import load_dataset
>>> train, test = load_dataset(prepare_fsdd(), split=("train", "test"))     # doctest: +SKIP

Checksums: where a published SHA-256 is known it is a constant below and a mismatch is refused.
Where none is published (GitHub's generated tag archives), the constant is ``None`` and the hash
is *verified on first download*: it is recorded beside the archive (``<archive>.sha256``) and
every later download must match it. Pass ``sha256=`` to pin your own.
"""
from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from autoasr.data.archives import (
    DEFAULT_MAX_TOTAL_BYTES,
    default_cache_dir,
    safe_extract,
)
from autoasr.data.dataset import DataError

# Free Spoken Digit Dataset, tag v1.0.9 (the release TensorFlow Datasets uses; CC BY-SA 4.0). GitHub
# builds tag archives on demand and publishes no checksum, so the hash is verified on first download
# (see the module docstring).
FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz"
FSDD_SHA256: str | None = None

# Kaldi yes/no corpus, OpenSLR resource 1. The SHA-256 torchaudio's YESNO dataset verifies.
YESNO_URL = "https://www.openslr.org/resources/1/waves_yesno.tar.gz"
YESNO_SHA256: str | None = "c3f49e0cca421f96b75b41640749167b52118f232498667ca7a5f9416aef8e73"

# Mini LibriSpeech dev-clean-2, OpenSLR resource 31 (CC BY 4.0; 126,046,265 bytes; the MD5 OpenSLR
# publishes is 6d7ab67ac6a1d2c993d050e16d61080d).
MINI_LIBRISPEECH_URL = "https://www.openslr.org/resources/31/dev-clean-2.tar.gz"
MINI_LIBRISPEECH_SHA256: str | None = "176ec501490eced2d6c1f89f4f0ddc7dfe799e649e5322f8ba49fe3ff50c8012"

ALLOWED_SCHEMES = ("https", "http", "file")
_MARKER = ".autoasr-download.json"
_CHUNK = 1 << 20


class DownloadError(DataError):
    """A download failed or its content does not match the expected checksum."""


def sha256_of(path: str | Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(url: str, destination: str | Path, sha256: str | None = None, progress: bool = True,
                  timeout: float = 60) -> Path:
    """Stream ``url`` to ``destination``, checking its SHA-256 before the file takes its final name.

    A mismatch deletes the partial file and raises :class:`DownloadError`.

    >>> download_file("https://example.org/a.zip", "a.zip", sha256="...")    # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    destination = Path(destination)
    scheme = urllib.parse.urlparse(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise DownloadError(f"{url}: only {', '.join(ALLOWED_SCHEMES)} URLs are downloaded")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # scheme checked above
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with open(partial, "wb") as sink, tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                                                    desc=destination.name, disable=not progress) as bar:
                while chunk := response.read(_CHUNK):
                    sink.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as error:
        partial.unlink(missing_ok=True)
        reason = getattr(error, "reason", error)
        raise DownloadError(f"{url}: download failed ({reason})") from None
    actual = digest.hexdigest()
    if sha256 is not None and actual != sha256.lower():
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{url}: checksum mismatch (expected sha256 {sha256}, got {actual}); "
                            "the file was deleted")
    os.replace(partial, destination)
    return destination


def download_and_extract(url: str, root: str | Path, sha256: str | None = None, progress: bool = True,
                         force: bool = False, keep_archive: bool = False,
                         max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES) -> Path:
    """Download an archive into ``root``, verify it, extract it safely there; once only.

    With ``sha256=None`` the hash is verified on first download: recorded in ``<archive>.sha256``
    and required of every later download into the same ``root``.
    """
    root = Path(root)
    marker = root / _MARKER
    if marker.is_file() and not force:
        return root
    root.mkdir(parents=True, exist_ok=True)
    archive = root / Path(urllib.parse.urlparse(url).path).name
    recorded = archive.with_name(archive.name + ".sha256")
    expected = sha256 or (recorded.read_text().strip() if recorded.is_file() else None)
    reusable = archive.is_file() and expected is not None and sha256_of(archive) == expected
    if not reusable:  # else: an earlier download, interrupted before extraction
        download_file(url, archive, sha256=expected, progress=progress)
    if expected is None:  # first download of an unpublished checksum: record it for the next ones
        expected = sha256_of(archive)
        recorded.write_text(expected + "\n")
    safe_extract(archive, root, max_total_bytes=max_total_bytes)
    marker.write_text(json.dumps({"url": url, "sha256": expected}, indent=2))
    if not keep_archive:
        archive.unlink(missing_ok=True)
    return root


def _corpus_root(root: str | Path | None, name: str) -> Path:
    return Path(root).expanduser() if root is not None else default_cache_dir() / "datasets" / name


def download_fsdd(root: str | Path | None = None, url: str = FSDD_URL, sha256: str | None = FSDD_SHA256,
                  progress: bool = True, force: bool = False) -> Path:
    """Download the Free Spoken Digit Dataset into ``root`` (default ``$AUTOASR_CACHE/datasets/fsdd``)."""
    return download_and_extract(url, _corpus_root(root, "fsdd"), sha256, progress=progress, force=force)


def prepare_fsdd(root: str | Path | None = None, **download_options) -> Path:
    """The FSDD folder (holding ``recordings/``), downloaded when needed; read it with ``load_dataset``.

    >>> prepare_fsdd()                      # doctest: +SKIP
    PosixPath('/home/me/.cache/autoasr/datasets/fsdd/free-spoken-digit-dataset-1.0.9')
    """
    root = download_fsdd(root, **download_options)
    return _find_folder(root, lambda folder: (folder / "recordings").is_dir(), "a recordings/ folder")


def download_yesno(root: str | Path | None = None, url: str = YESNO_URL, sha256: str | None = YESNO_SHA256,
                   progress: bool = True, force: bool = False) -> Path:
    """Download the Kaldi yes/no corpus (OpenSLR 1, 60 recordings of 8 Hebrew yes/no words each)."""
    return download_and_extract(url, _corpus_root(root, "yesno"), sha256, progress=progress, force=force)


def prepare_yesno(root: str | Path | None = None, **download_options) -> Path:
    """The ``waves_yesno`` folder, downloaded when needed."""
    root = download_yesno(root, **download_options)
    return _find_folder(root, lambda folder: folder.name == "waves_yesno", "waves_yesno/")


def download_mini_librispeech(root: str | Path | None = None, url: str = MINI_LIBRISPEECH_URL,
                              sha256: str | None = MINI_LIBRISPEECH_SHA256, progress: bool = True,
                              force: bool = False) -> Path:
    """Download Mini LibriSpeech dev-clean-2 (OpenSLR 31: about 2 hours, 40 speakers, 126 MB)."""
    return download_and_extract(url, _corpus_root(root, "mini_librispeech"), sha256, progress=progress,
                                force=force)


def prepare_mini_librispeech(root: str | Path | None = None, **download_options) -> Path:
    """The ``LibriSpeech/dev-clean-2`` folder, downloaded when needed."""
    root = download_mini_librispeech(root, **download_options)
    return _find_folder(root, lambda folder: folder.name == "dev-clean-2", "LibriSpeech/dev-clean-2/")


def _find_folder(root: Path, wanted, description: str) -> Path:
    for folder in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        if wanted(folder):
            return folder
    raise DownloadError(f"{root}: the download holds no {description}; delete the folder and try again")


__all__ = [
    "DownloadError", "download_and_extract", "download_file", "download_fsdd", "download_mini_librispeech",
    "download_yesno", "prepare_fsdd", "prepare_mini_librispeech", "prepare_yesno", "sha256_of",
]
