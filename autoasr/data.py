"""Utterances, datasets, manifests, validation and the tuning split.

A dataset is a list of :class:`Utterance` plus the :class:`Problem` s met while reading it: bad rows
are skipped and counted, never raised, so one broken file does not stop a run.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from autoasr.audio import AudioError, audio_info
from autoasr.text import normalize_text

AUDIO_COLUMN_ALIASES = ("audio", "audio_filepath", "path", "file", "file_name", "filename", "wav")
TEXT_COLUMN_ALIASES = ("text", "transcript", "transcription", "sentence", "label")


class DataError(ValueError):
    """The data cannot be used at all (unknown layout, no usable rows); the message says why."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located by file and row (rows count from 1 after the header)."""

    source: str
    row: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}, row {self.row}" if self.row is not None else self.source
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Utterance:
    """One recording and its transcript."""

    audio: Path
    text: str
    speaker: str | None = None
    duration: float | None = None
    split: str | None = None
    utterance_id: str = ""
    source: str = ""
    row: int | None = None


@dataclass
class Dataset:
    """Utterances plus the problems found while reading them.

    >>> train, test = load_dataset("demo", split=("train", "test"))   # doctest: +SKIP
    >>> len(train), train.num_speakers, round(train.hours, 2)           # doctest: +SKIP
    """

    utterances: list[Utterance]
    name: str = "dataset"
    problems: list[Problem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.utterances)

    def __iter__(self) -> Iterator[Utterance]:
        return iter(self.utterances)

    def __getitem__(self, position: int) -> Utterance:
        return self.utterances[position]

    @property
    def texts(self) -> list[str]:
        return [utterance.text for utterance in self.utterances]

    @property
    def speakers(self) -> list[str]:
        return sorted({u.speaker for u in self.utterances if u.speaker})

    @property
    def num_speakers(self) -> int:
        return len(self.speakers)

    @property
    def hours(self) -> float:
        return sum(u.duration or 0.0 for u in self.utterances) / 3600

    def subset(self, utterances: Iterable[Utterance], name: str | None = None) -> "Dataset":
        return Dataset(list(utterances), name=name or self.name, problems=list(self.problems))

    def with_split(self, split: str) -> "Dataset":
        return self.subset((u for u in self.utterances if u.split == split), f"{self.name}:{split}")

    def fingerprint(self) -> str:
        """A digest of paths, sizes, modification times and texts: changes whenever the data does."""
        digest = hashlib.sha256()
        for utterance in self.utterances:
            stat = utterance.audio.stat()
            digest.update(f"{utterance.audio}|{stat.st_size}|{stat.st_mtime_ns}|{utterance.text}\n".encode())
        return digest.hexdigest()[:16]

    def summary(self) -> dict:
        durations = [u.duration or 0.0 for u in self.utterances]
        return {
            "name": self.name,
            "utterances": len(self),
            "hours": round(self.hours, 4),
            "speakers": self.num_speakers,
            "mean_duration_s": round(sum(durations) / max(len(durations), 1), 3),
            "characters": "".join(sorted({c for t in self.texts for c in t})),
            "problems": len(self.problems),
        }

    def to_frame(self):
        import pandas

        return pandas.DataFrame(
            [
                {
                    "utterance_id": u.utterance_id,
                    "audio": str(u.audio),
                    "text": u.text,
                    "speaker": u.speaker,
                    "duration": u.duration,
                    "split": u.split,
                }
                for u in self.utterances
            ]
        )


# ---------------------------------------------------------------------------------------------
# Manifests


def _decode_manifest(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # latin-1 never fails: a manifest saved by an old spreadsheet still reads
        return raw.decode("latin-1")


def _pick_column(columns: Sequence[str], aliases: Sequence[str]) -> str | None:
    lowered = {column.strip().lower(): column for column in columns}
    for alias in aliases:
        if alias in lowered:
            return lowered[alias]
    return None


def _closest(name: str, candidates: Sequence[str]) -> str:
    import difflib

    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.0)
    return match[0] if match else ""


def read_manifest_records(path: Path) -> list[tuple[int, dict]]:
    """Rows of a CSV/TSV (header) or JSON Lines manifest as (row number, record) pairs."""
    content = _decode_manifest(path)
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        records = []
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except json.JSONDecodeError as error:
                records.append((number, {"__error__": f"not valid JSON ({error.msg})"}))
        return records
    first_line = content.splitlines()[0] if content.strip() else ""
    delimiter = "\t" if path.suffix.lower() == ".tsv" or "\t" in first_line else ","
    if "|" in first_line and delimiter == "," and "," not in first_line:
        delimiter = "|"
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
    return [(number, dict(record)) for number, record in enumerate(reader, start=1)]


def records_to_dataset(
    records: Iterable[tuple[int, dict]],
    base: Path,
    source: str,
    domain: str = "general",
    name: str = "dataset",
    validate_audio: bool = True,
) -> Dataset:
    """Turn manifest records into a validated :class:`Dataset`; bad rows become problems."""
    utterances: list[Utterance] = []
    problems: list[Problem] = []
    records = list(records)
    columns = sorted({key for _, record in records for key in record if key != "__error__"})
    audio_column = _pick_column(columns, AUDIO_COLUMN_ALIASES)
    text_column = _pick_column(columns, TEXT_COLUMN_ALIASES)
    if records and (audio_column is None or text_column is None):
        missing = "audio" if audio_column is None else "text"
        hint = _closest(missing, columns)
        raise DataError(
            f"{source}: no '{missing}' column (found: {', '.join(columns) or 'none'})"
            + (f"; did you mean '{hint}'?" if hint else "")
        )
    seen_ids: set[str] = set()
    for row, record in records:
        if "__error__" in record:
            problems.append(Problem(source, row, record["__error__"]))
            continue
        audio_value = str(record.get(audio_column) or "").strip()
        if not audio_value:
            problems.append(Problem(source, row, "no audio path"))
            continue
        audio_path = Path(audio_value)
        if not audio_path.is_absolute():
            audio_path = (base / audio_path).resolve()
        text = normalize_text(str(record.get(text_column) or ""), domain)
        if not text:
            problems.append(Problem(source, row, f"empty transcript for {audio_value}"))
            continue
        utterance_id = str(record.get("id") or record.get("utterance_id") or audio_path.stem)
        if utterance_id in seen_ids:
            utterance_id = f"{utterance_id}#{row}"
        seen_ids.add(utterance_id)
        duration = record.get("duration")
        try:
            duration = float(duration) if duration not in (None, "") else None
        except (TypeError, ValueError):
            problems.append(Problem(source, row, f"duration '{duration}' is not a number"))
            continue
        if validate_audio:
            try:
                _, _, duration = audio_info(audio_path)
            except AudioError as error:
                problems.append(Problem(source, row, str(error)))
                continue
            if duration <= 0:
                problems.append(Problem(source, row, f"audio file is empty: {audio_path}"))
                continue
        utterances.append(
            Utterance(
                audio=audio_path,
                text=text,
                speaker=(str(record["speaker"]) if record.get("speaker") not in (None, "") else None),
                duration=duration,
                split=(str(record["split"]).strip().lower() if record.get("split") else None),
                utterance_id=utterance_id,
                source=source,
                row=row,
            )
        )
    return Dataset(utterances, name=name, problems=problems)


# ---------------------------------------------------------------------------------------------
# Loading by path or name


def load_dataset(
    path: str | Path,
    split: str | Sequence[str] | None = None,
    domain: str = "general",
    validate_audio: bool = True,
):
    """Load a manifest file, a corpus folder (see :mod:`autoasr.layouts`) or the name ``"demo"``.

    ``split`` picks rows by their split (a name, or a sequence of names giving a tuple of datasets).

    >>> train, test = load_dataset("demo", split=("train", "test"))     # doctest: +SKIP
    """
    from autoasr.layouts import read_corpus

    dataset = read_corpus(path, domain=domain, validate_audio=validate_audio)
    if split is None:
        return dataset
    if isinstance(split, str):
        return _select_split(dataset, split)
    return tuple(_select_split(dataset, name) for name in split)


def _select_split(dataset: Dataset, split: str) -> Dataset:
    selected = dataset.with_split(split)
    if not selected.utterances:
        available = sorted({u.split for u in dataset.utterances if u.split})
        raise DataError(
            f"{dataset.name}: no utterances in split '{split}' (splits present: {', '.join(available) or 'none'})"
        )
    return selected


def split_tuning(dataset: Dataset, fraction: float = 0.15, seed: int = 0, min_speakers_for_holdout: int = 8):
    """Hold out a tuning set: whole speakers when there are many, else utterances within each speaker.

    Holding out whole speakers measures generalisation to new voices; with few speakers that would
    waste too large a share of the voices, so utterances are held out per speaker instead.
    """
    generator = random.Random(seed)
    speakers = dataset.speakers
    if len(speakers) >= min_speakers_for_holdout:
        shuffled = speakers[:]
        generator.shuffle(shuffled)
        count = max(1, round(len(shuffled) * fraction))
        held = set(shuffled[:count])
        tuning = [u for u in dataset if u.speaker in held]
        training = [u for u in dataset if u.speaker not in held]
    else:
        groups: dict[str | None, list[Utterance]] = defaultdict(list)
        for utterance in dataset:
            groups[utterance.speaker].append(utterance)
        tuning, training = [], []
        for group in groups.values():
            group = group[:]
            generator.shuffle(group)
            count = max(1, round(len(group) * fraction)) if len(group) > 1 else 0
            tuning.extend(group[:count])
            training.extend(group[count:])
    if not tuning or not training:
        raise DataError(f"{dataset.name}: too little data to hold out a tuning set ({len(dataset)} utterances)")
    return dataset.subset(training, f"{dataset.name}:train"), dataset.subset(tuning, f"{dataset.name}:tuning")

