"""Corpus layouts: recognise what a path holds and read it into a :class:`Dataset`.

Each layout is a (name, detect, read) triple; :func:`read_corpus` tries them in order and names
every known layout when none matches.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from autoasr.data import DataError, Dataset, read_manifest_records, records_to_dataset

MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".ndjson")
MANIFEST_NAMES = ("manifest.csv", "manifest.tsv", "manifest.jsonl")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
FSDD_NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[A-Za-z]+)_(?P<take>\d+)$")


@dataclass(frozen=True)
class Layout:
    name: str
    description: str
    detect: Callable[[Path], bool]
    read: Callable[..., Dataset]


def _read_manifest(path: Path, domain: str, validate_audio: bool) -> Dataset:
    if path.is_dir():
        path = next(path / name for name in MANIFEST_NAMES if (path / name).is_file())
    records = read_manifest_records(path)
    return records_to_dataset(records, path.parent, str(path), domain, name=path.parent.name or path.stem,
                              validate_audio=validate_audio)


def _is_manifest(path: Path) -> bool:
    if path.is_file():
        return path.suffix.lower() in MANIFEST_SUFFIXES
    return path.is_dir() and any((path / name).is_file() for name in MANIFEST_NAMES)


def _fsdd_files(path: Path) -> list[Path]:
    folder = path / "recordings" if (path / "recordings").is_dir() else path
    return sorted(p for p in folder.glob("*.wav") if FSDD_NAME.match(p.stem))


def _is_fsdd(path: Path) -> bool:
    return path.is_dir() and len(_fsdd_files(path)) > 0


def read_fsdd(path: Path, domain: str = "digits", validate_audio: bool = True) -> Dataset:
    """Free Spoken Digit Dataset: ``{digit}_{speaker}_{take}.wav``; takes 0-4 are the official test set."""
    records = []
    for row, file in enumerate(_fsdd_files(path), start=1):
        match = FSDD_NAME.match(file.stem)
        take = int(match["take"])
        records.append((row, {"audio": str(file), "text": DIGIT_WORDS[int(match["digit"])],
                              "speaker": match["speaker"], "split": "test" if take < 5 else "train"}))
    return records_to_dataset(records, path, str(path), domain, name="fsdd", validate_audio=validate_audio)


LAYOUTS: list[Layout] = [
    Layout("manifest", "CSV/TSV with audio,text columns, or JSON Lines with audio_filepath,text", _is_manifest,
           _read_manifest),
    Layout("fsdd", "Free Spoken Digit Dataset: recordings named {digit}_{speaker}_{take}.wav", _is_fsdd, read_fsdd),
]


def detect_layout(path: Path) -> Layout | None:
    for layout in LAYOUTS:
        if layout.detect(path):
            return layout
    return None


def read_corpus(path: str | Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """Read a manifest, a corpus folder in a known layout, or a named corpus (``"demo"``)."""
    if str(path) == "demo":
        from autoasr.demo_corpus import prepare_demo_corpus

        path = prepare_demo_corpus()
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    layout = detect_layout(path)
    if layout is None:
        known = "; ".join(f"{layout.name} ({layout.description})" for layout in LAYOUTS)
        raise DataError(f"{path}: layout not recognised. Known layouts: {known}")
    dataset = layout.read(path, domain=domain, validate_audio=validate_audio)
    if not dataset.utterances:
        details = "; ".join(str(problem) for problem in dataset.problems[:5])
        raise DataError(f"{path}: no usable utterances" + (f" ({details})" if details else ""))
    return dataset
