"""Hostile archives are refused before anything is written; honest ones extract."""
from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from autoasr.cli import main
from autoasr.data.archives import UnsafeArchiveError, safe_extract
from autoasr.data.dataset import DataError
from autoasr.data.load import read_corpus


def make_zip(path: Path, entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)  # ZipInfo keeps the name as given, '..' and '/' included
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return path


def make_tar(path: Path, files: dict[str, bytes], links: dict[str, tuple[bytes, str]] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
        for name, (kind, target) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            bundle.addfile(info)
    return path


def test_honest_zip_and_tar_extract_with_their_folders(tmp_path):
    make_zip(tmp_path / "ok.zip", {"corpus/a.txt": b"alpha", "corpus/sub/b.txt": b"beta"})
    make_tar(tmp_path / "ok.tar.gz", {"corpus/c.txt": b"gamma"})
    target = safe_extract(tmp_path / "ok.zip", tmp_path / "out")
    safe_extract(tmp_path / "ok.tar.gz", target)
    assert (target / "corpus" / "sub" / "b.txt").read_bytes() == b"beta"
    assert (target / "corpus" / "c.txt").read_bytes() == b"gamma"
    assert not [p for p in target.iterdir() if p.name.startswith(".extracting")]


@pytest.mark.parametrize("name, expected", [("/tmp/evil.txt", "absolute path"),
                                            ("../evil.txt", "escape"),
                                            ("corpus/../../evil.txt", "escape"),
                                            ("C:/evil.txt", "absolute path"),
                                            ("..\\evil.txt", "escape")])
def test_zip_entries_escaping_the_target_are_refused_and_nothing_is_written(tmp_path, name, expected):
    archive = make_zip(tmp_path / "evil.zip", {"corpus/fine.txt": b"ok", name: b"pwned"})
    target = tmp_path / "deep" / "out"
    with pytest.raises(UnsafeArchiveError, match=expected) as error:
        safe_extract(archive, target)
    assert name in str(error.value)
    assert list(target.iterdir()) == []
    assert not (tmp_path / "deep" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()


def test_zip_symlink_entry_is_refused(tmp_path):
    archive = make_zip(tmp_path / "link.zip", {"a.txt": b"x"}, symlinks={"passwd": "/etc/passwd"})
    with pytest.raises(UnsafeArchiveError, match="'passwd' is a symbolic link"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "passwd").exists()


@pytest.mark.parametrize("kind, word", [(tarfile.SYMTYPE, "symbolic"), (tarfile.LNKTYPE, "hard")])
def test_tar_links_are_refused(tmp_path, kind, word):
    archive = make_tar(tmp_path / "link.tar.gz", {"a.txt": b"x"}, links={"shadow": (kind, "/etc/shadow")})
    with pytest.raises(UnsafeArchiveError, match=f"'shadow' is a {word} link"):
        safe_extract(archive, tmp_path / "out")


def test_tar_absolute_and_dotdot_entries_are_refused(tmp_path):
    with pytest.raises(UnsafeArchiveError, match="absolute"):
        safe_extract(make_tar(tmp_path / "abs.tar.gz", {"/etc/cron.d/x": b"x"}), tmp_path / "out")
    with pytest.raises(UnsafeArchiveError, match="escape"):
        safe_extract(make_tar(tmp_path / "up.tar.gz", {"a/../../x": b"x"}), tmp_path / "out")


def test_size_bomb_is_refused_naming_the_entry(tmp_path):
    zeros = bytes(3 * 1024 * 1024)  # deflates to a few KiB
    archive = make_zip(tmp_path / "bomb.zip", {"small.txt": b"hi", "zeros.bin": zeros})
    assert archive.stat().st_size < 50_000
    with pytest.raises(UnsafeArchiveError, match="'zeros.bin'.*refused"):
        safe_extract(archive, tmp_path / "out", max_total_bytes=1024 * 1024)
    assert list((tmp_path / "out").iterdir()) == []
    tar_bomb = make_tar(tmp_path / "bomb.tar.gz", {"zeros.bin": zeros})
    with pytest.raises(UnsafeArchiveError, match="cap"):
        safe_extract(tar_bomb, tmp_path / "out2", max_total_bytes=1024 * 1024)


def test_corrupt_archive_is_a_clear_data_error(tmp_path):
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(DataError, match="broken.zip"):
        safe_extract(broken, tmp_path / "out")


def test_hostile_corpus_zip_gives_one_line_in_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUTOASR_CACHE", str(tmp_path / "cache"))
    archive = make_zip(tmp_path / "corpus.zip", {"manifest.csv": b"audio,text\n", "../../escape.txt": b"x"})
    with pytest.raises(UnsafeArchiveError):
        read_corpus(archive)
    assert main(["inspect", str(archive)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "../../escape.txt" in error and "Traceback" not in error
