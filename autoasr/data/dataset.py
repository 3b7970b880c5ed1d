"""The types every layer above reads speech data as: utterances, datasets and the problems met reading them.

A dataset is a list of :class:`Utterance` plus the :class:`Problem` s met while reading it: bad rows
are skipped and counted, never raised, so one broken file does not stop a run.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator


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


# ---------------------------------------------------------------------------------------------
# Loading by path or name







