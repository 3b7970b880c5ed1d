"""Downloaders, exercised offline: tiny archives built by the test, served from file:// or 127.0.0.1."""
from __future__ import annotations

import hashlib
import http.server
import io
import re
import tarfile
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile

from autoasr import load_dataset
from autoasr.data import downloads
from autoasr.data.archives import UnsafeArchiveError
from autoasr.data.downloads import (
    DownloadError,
    download_file,
    download_yesno,
    prepare_fsdd,
    prepare_mini_librispeech,
    prepare_yesno,
)


def clip_bytes(name: str, suffix: str = "WAV", rate: int = 8000) -> bytes:
    samples = 0.1 * np.random.default_rng(zlib.crc32(name.encode())).standard_normal(int(0.3 * rate))
    buffer = io.BytesIO()
    soundfile.write(buffer, samples.astype(np.float32), rate, format=suffix)
    return buffer.getvalue()


def make_tar(path: Path, files: dict[str, bytes]) -> tuple[Path, str]:
    with tarfile.open(path, "w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def yesno_archive(tmp_path):
    files = {f"waves_yesno/{name}.wav": clip_bytes(name) for name in ("0_1_1_0", "1_0_0_1", "1_1_1_1")}
    return make_tar(tmp_path / "waves_yesno.tar.gz", files)


def test_published_checksums_are_sha256_or_verified_on_first_download():
    for constant in (downloads.FSDD_SHA256, downloads.YESNO_SHA256, downloads.MINI_LIBRISPEECH_SHA256):
        assert constant is None or re.fullmatch(r"[0-9a-f]{64}", constant)
    assert downloads.YESNO_URL.endswith("/resources/1/waves_yesno.tar.gz")
    assert downloads.MINI_LIBRISPEECH_URL.endswith("/resources/31/dev-clean-2.tar.gz")


def test_yesno_from_a_file_url_is_verified_extracted_and_loadable(tmp_path, yesno_archive):
    archive, digest = yesno_archive
    root = tmp_path / "corpora" / "yesno"
    path = prepare_yesno(root, url=archive.as_uri(), sha256=digest, progress=False)
    assert path == root / "waves_yesno"
    assert sorted(load_dataset(path).texts) == ["no yes yes no", "yes no no yes", "yes yes yes yes"]
    assert not (root / "waves_yesno.tar.gz").exists()  # archive removed after extraction
    archive.unlink()  # a second call must not download again
    assert prepare_yesno(root, url=archive.as_uri(), sha256=digest, progress=False) == path


def test_wrong_checksum_is_refused_and_leaves_nothing(tmp_path, yesno_archive):
    archive, _ = yesno_archive
    root = tmp_path / "yesno"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download_yesno(root, url=archive.as_uri(), sha256="0" * 64, progress=False)
    assert sorted(p.name for p in root.iterdir()) == []


def test_mini_librispeech_over_local_http_with_progress(tmp_path, capsys):
    files = {"LibriSpeech/dev-clean-2/84/121/84-121.trans.txt": b"84-121-0000 HELLO\n84-121-0001 GOOD BYE\n"}
    for utterance in ("84-121-0000", "84-121-0001"):
        files[f"LibriSpeech/dev-clean-2/84/121/{utterance}.flac"] = clip_bytes(utterance, "FLAC", 16000)
    served = tmp_path / "served"
    served.mkdir()
    _, digest = make_tar(served / "dev-clean-2.tar.gz", files)
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            requests.append(args)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/dev-clean-2.tar.gz"
        path = prepare_mini_librispeech(tmp_path / "mini", url=url, sha256=digest, progress=True)
        again = prepare_mini_librispeech(tmp_path / "mini", url=url, sha256=digest, progress=True)
    finally:
        server.shutdown()
        server.server_close()
    assert path == again and path.parts[-2:] == ("LibriSpeech", "dev-clean-2")
    assert len(requests) == 1
    dataset = load_dataset(path)
    assert sorted(dataset.texts) == ["good bye", "hello"] and dataset.speakers == ["84"]
    assert "dev-clean-2.tar.gz" in capsys.readouterr().err  # the tqdm bar


def test_fsdd_checksum_is_recorded_on_first_download_and_enforced_later(tmp_path):
    served = tmp_path / "v1.0.9.tar.gz"
    make_tar(served, {"free-spoken-digit-dataset-1.0.9/recordings/3_anna_7.wav": clip_bytes("3_anna_7")})
    root = tmp_path / "fsdd"
    path = prepare_fsdd(root, url=served.as_uri(), progress=False)
    assert path.name == "free-spoken-digit-dataset-1.0.9"
    assert load_dataset(path, domain="digits").texts == ["three"]
    recorded = root / "v1.0.9.tar.gz.sha256"
    assert recorded.read_text().strip() == hashlib.sha256(served.read_bytes()).hexdigest()
    make_tar(served, {"free-spoken-digit-dataset-1.0.9/recordings/4_anna_7.wav": clip_bytes("4_anna_7")})
    with pytest.raises(DownloadError, match="checksum mismatch"):
        prepare_fsdd(root, url=served.as_uri(), progress=False, force=True)


def test_hostile_download_is_refused_by_safe_extraction(tmp_path):
    archive, digest = make_tar(tmp_path / "waves_yesno.tar.gz", {"../outside.wav": b"x"})
    with pytest.raises(UnsafeArchiveError, match="outside.wav"):
        download_yesno(tmp_path / "root", url=archive.as_uri(), sha256=digest, progress=False)
    assert not (tmp_path / "outside.wav").exists()


def test_only_http_https_and_file_urls_are_fetched(tmp_path):
    with pytest.raises(DownloadError, match="only https, http, file"):
        download_file("ftp://example.org/x.tar.gz", tmp_path / "x.tar.gz", progress=False)
    with pytest.raises(DownloadError, match="download failed"):
        download_file((tmp_path / "absent.tar.gz").as_uri(), tmp_path / "x.tar.gz", progress=False)
    assert not (tmp_path / "x.tar.gz.partial").exists()


def test_named_corpora_are_prepared_on_first_use(tmp_path, yesno_archive, monkeypatch):
    archive, digest = yesno_archive
    monkeypatch.chdir(tmp_path)  # no local folder called "yesno" to shadow the name
    monkeypatch.setattr(downloads, "prepare_yesno",
                        lambda: prepare_yesno(tmp_path / "cache", url=archive.as_uri(), sha256=digest, progress=False))
    assert len(load_dataset("yesno")) == 3
