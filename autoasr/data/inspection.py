"""Look at a dataset before training on it: sizes, audio formats, text, duplicates, leakage, problems.

>>> report = inspect_dataset("data/manifest.csv", domain="digits")      # doctest: +SKIP
>>> print(report.to_text())                                               # doctest: +SKIP
>>> report.to_dict()["warnings"]                                          # doctest: +SKIP
['2 speakers appear in both train and test (anna, ben): ...']
"""
from __future__ import annotations

import hashlib
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from autoasr.core.text import DIGIT_WORDS, normalize_text
from autoasr.data.audio import AudioError, audio_info
from autoasr.data.dataset import Dataset, Problem, Utterance

LONG_AUDIO_SECONDS = 30.0
SHORT_AUDIO_SECONDS = 0.1
_DIGIT_VOCABULARY = (*DIGIT_WORDS, "oh")  # "oh" is how many people say 0 in strings
_SHOWN = 10  # items listed in the text report before "..."


@dataclass
class InspectionReport:
    """What :func:`inspect_dataset` found; ``to_text()`` for people, ``to_dict()`` for programs."""

    name: str
    layout: str | None
    num_utterances: int
    total_seconds: float
    speakers: list[str]
    splits: dict[str, dict]
    durations: dict[str, float]
    sample_rates: dict[int, int]
    channels: dict[int, int]
    characters: str
    vocabulary: dict[str, int]
    out_of_vocabulary: dict[str, int]
    vocabulary_source: str | None
    duplicates: list[dict]
    leakage: dict[str, list]
    warnings: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return self.total_seconds / 3600

    @property
    def num_speakers(self) -> int:
        return len(self.speakers)

    def to_dict(self) -> dict:
        """A JSON-ready dictionary (problems as ``{"file", "row", "message"}``)."""
        return {
            "name": self.name,
            "layout": self.layout,
            "utterances": self.num_utterances,
            "hours": round(self.hours, 4),
            "total_seconds": round(self.total_seconds, 3),
            "speakers": self.num_speakers,
            "speaker_names": self.speakers,
            "splits": self.splits,
            "durations": self.durations,
            "sample_rates": {str(rate): count for rate, count in self.sample_rates.items()},
            "channels": {str(channels): count for channels, count in self.channels.items()},
            "characters": self.characters,
            "vocabulary_size": len(self.vocabulary),
            "vocabulary": self.vocabulary,
            "vocabulary_source": self.vocabulary_source,
            "out_of_vocabulary": self.out_of_vocabulary,
            "duplicates": self.duplicates,
            "leakage": self.leakage,
            "warnings": self.warnings,
            "problems": [{"file": p.source, "row": p.row, "message": p.message} for p in self.problems],
        }

    def to_text(self) -> str:
        """A plain-text report: summary lines, then warnings, duplicates and every problem."""
        lines = [f"Dataset '{self.name}'" + (f" (layout: {self.layout})" if self.layout else "")]

        def add(label: str, value: str) -> None:
            lines.append(f"  {label:<18}{value}")

        add("utterances", f"{self.num_utterances} ({self.hours:.3f} h, {self.total_seconds:.1f} s)")
        add("speakers", f"{self.num_speakers}" + (f": {_listed(self.speakers)}" if self.speakers else ""))
        if self.splits:
            add("splits", "; ".join(f"{name} {info['utterances']} utterances, {info['speakers']} speakers, "
                                    f"{info['hours']:.3f} h" for name, info in self.splits.items()))
        if self.durations:
            d = self.durations
            add("durations", f"min {d['min']:.2f} s, median {d['median']:.2f} s, mean {d['mean']:.2f} s, "
                             f"95% {d['p95']:.2f} s, max {d['max']:.2f} s")
        add("sample rates", ", ".join(f"{rate} Hz x{count}" for rate, count in self.sample_rates.items()) or "-")
        add("channels", ", ".join(f"{channels} x{count}" for channels, count in self.channels.items()) or "-")
        add("characters", repr(self.characters))
        add("vocabulary", f"{len(self.vocabulary)} words"
            + (": " + _listed([f"{word} ({count})" for word, count in self.vocabulary.items()]) if self.vocabulary
               else ""))
        if self.vocabulary_source:
            add("out of vocabulary", (f"{len(self.out_of_vocabulary)} words outside {self.vocabulary_source}: "
                                      + _listed([f"{w} ({c})" for w, c in self.out_of_vocabulary.items()]))
                if self.out_of_vocabulary else f"none (checked against {self.vocabulary_source})")
        if self.warnings:
            lines.append("Warnings:")
            lines.extend(f"  - {warning}" for warning in self.warnings)
        if self.duplicates:
            lines.append(f"Duplicates ({len(self.duplicates)} groups):")
            for group in self.duplicates:
                where = "; ".join(item["location"] for item in group["utterances"])
                lines.append(f"  - {group['reason']}: {where}")
        if self.problems:
            lines.append(f"Problems ({len(self.problems)}; these rows are skipped):")
            lines.extend(f"  - {problem}" for problem in self.problems)
        else:
            lines.append("Problems: none")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def inspect_dataset(
    data: Dataset | str | Path,
    domain="general",
    against: Dataset | str | Path | Iterable[str] | None = None,
    long_audio_seconds: float = LONG_AUDIO_SECONDS,
) -> InspectionReport:
    """Inspect a dataset (or a path any layout reads) and report what a user should know before training.

    Args:
        data: a :class:`Dataset`, or a manifest, corpus folder or archive.
        domain: a :class:`autoasr.domains.presets.Domain` (or a normaliser name, "general" or "digits"); it
            picks the text normaliser, and its closed vocabulary when ``against`` is not given.
        against: the vocabulary to find out-of-vocabulary words against: a list of words, a text
            file of words or sentences (one per line), or a dataset or a manifest, folder or archive
            holding one (e.g. the training set, to find test words
            never heard in training).
        long_audio_seconds: utterances longer than this are flagged.

    >>> report = inspect_dataset("corpus.zip", domain="commands", against=["yes", "no", "stop"])  # doctest: +SKIP
    >>> report.out_of_vocabulary                                                                   # doctest: +SKIP
    {'maybe': 3}
    """
    normalizer = getattr(domain, "normalizer", domain)
    layout_name = None
    if isinstance(data, Dataset):
        dataset = data
    else:
        from autoasr.data.load import read_layout

        dataset, layout = read_layout(data, domain=normalizer)
        layout_name = layout.name
    utterances = list(dataset.utterances)
    problems = list(dataset.problems)

    sample_rates, channels, durations = Counter(), Counter(), []
    for utterance in utterances:
        try:
            rate, count, seconds = audio_info(utterance.audio)
        except AudioError as error:
            problems.append(Problem(utterance.source or str(utterance.audio), utterance.row, str(error)))
            continue
        sample_rates[rate] += 1
        channels[count] += 1
        durations.append(utterance.duration if utterance.duration is not None else seconds)

    words = Counter(word for utterance in utterances for word in utterance.text.split())
    vocabulary_words, vocabulary_source = _vocabulary(against, domain, normalizer)
    out_of_vocabulary = ({word: count for word, count in words.most_common() if word not in vocabulary_words}
                         if vocabulary_words is not None else {})
    content_keys = _content_keys(utterances)
    duplicates = _duplicates(utterances, content_keys)
    leakage = _leakage(utterances, content_keys)

    report = InspectionReport(
        name=dataset.name,
        layout=layout_name,
        num_utterances=len(utterances),
        total_seconds=float(sum(durations)),
        speakers=sorted({u.speaker for u in utterances if u.speaker}),
        splits=_splits(utterances),
        durations=_duration_stats(durations),
        sample_rates=dict(sorted(sample_rates.items())),
        channels=dict(sorted(channels.items())),
        characters="".join(sorted({character for u in utterances for character in u.text})),
        vocabulary=dict(words.most_common()),
        out_of_vocabulary=out_of_vocabulary,
        vocabulary_source=vocabulary_source,
        duplicates=duplicates,
        leakage=leakage,
        problems=problems,
    )
    report.warnings = _warnings(report, durations, long_audio_seconds)
    return report


# ---------------------------------------------------------------------------------------------


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return shown + (f", ... ({len(items) - _SHOWN} more)" if len(items) > _SHOWN else "")


def _location(utterance: Utterance) -> str:
    where = utterance.source or str(utterance.audio)
    if utterance.row is not None:
        where += f", row {utterance.row}"
    if str(utterance.audio) != utterance.source:
        where += f" ({utterance.audio.name})"
    return where


def _described(utterance: Utterance) -> dict:
    return {"id": utterance.utterance_id, "audio": str(utterance.audio), "split": utterance.split,
            "location": _location(utterance)}


def _vocabulary(against, domain, normalizer: str) -> tuple[set[str] | None, str | None]:
    def words_of(texts: Iterable[str]) -> set[str]:
        return {word for text in texts for word in normalize_text(str(text), normalizer).split()}

    if against is None:
        domain_words = getattr(domain, "vocabulary", None)
        if domain_words:
            return words_of(domain_words), f"the {domain.name} domain vocabulary"
        if normalizer == "digits":
            return set(_DIGIT_VOCABULARY), "the digits domain vocabulary"
        return None, None
    if isinstance(against, Dataset):
        return words_of(against.texts), f"dataset '{against.name}'"
    if isinstance(against, (str, Path)):
        from autoasr.data.archives import is_archive
        from autoasr.data.layouts import MANIFEST_SUFFIXES

        path = Path(against)
        if not (path.is_dir() or path.suffix.lower() in MANIFEST_SUFFIXES or is_archive(path)):
            text = path.read_text(encoding="utf-8-sig", errors="replace")
            return words_of(text.splitlines()), f"word list {path}"
        from autoasr.data.load import read_corpus

        reference = read_corpus(path, domain=normalizer, validate_audio=False)
        return words_of(reference.texts), f"dataset {path}"
    words = list(against)
    return words_of(words), f"the given vocabulary ({len(words)} words)"


def _content_keys(utterances: list[Utterance]) -> dict[Path, str]:
    """A content hash for every file that shares its size with another one (others cannot be duplicates)."""
    by_size: dict[int, set[Path]] = defaultdict(set)
    for utterance in utterances:
        try:
            by_size[utterance.audio.stat().st_size].add(utterance.audio)
        except OSError:
            continue
    keys = {}
    for paths in by_size.values():
        if len(paths) < 2:
            continue
        for path in paths:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
            keys[path] = digest.hexdigest()
    return keys


def _duplicates(utterances: list[Utterance], content_keys: dict[Path, str]) -> list[dict]:
    groups = []
    by_path: dict[Path, list[Utterance]] = defaultdict(list)
    for utterance in utterances:
        by_path[utterance.audio].append(utterance)
    for same in by_path.values():
        if len(same) > 1:
            groups.append({"reason": "same audio file listed more than once",
                           "utterances": [_described(u) for u in same]})
    by_content: dict[str, list[Utterance]] = defaultdict(list)
    for path, same in by_path.items():
        if path in content_keys:
            by_content[content_keys[path]].append(same[0])
    for same in by_content.values():
        if len(same) > 1:
            groups.append({"reason": "identical audio content in different files",
                           "utterances": [_described(u) for u in same]})
    return groups


def _leakage(utterances: list[Utterance], content_keys: dict[Path, str]) -> dict[str, list]:
    train = [u for u in utterances if u.split == "train"]
    test = [u for u in utterances if u.split == "test"]
    if not train or not test:
        return {"speakers": [], "utterances": []}
    shared_speakers = sorted({u.speaker for u in train if u.speaker} & {u.speaker for u in test if u.speaker})

    def key(utterance: Utterance) -> str:
        return content_keys.get(utterance.audio, str(utterance.audio))

    train_by_key = {key(u): u for u in train}
    shared = [{"train": _described(train_by_key[key(u)]), "test": _described(u)}
              for u in test if key(u) in train_by_key]
    return {"speakers": shared_speakers, "utterances": shared}


def _splits(utterances: list[Utterance]) -> dict[str, dict]:
    grouped: dict[str, list[Utterance]] = defaultdict(list)
    for utterance in utterances:
        if utterance.split:
            grouped[utterance.split].append(utterance)
    order = {"train": 0, "dev": 1, "test": 2}
    return {name: {"utterances": len(group),
                   "speakers": len({u.speaker for u in group if u.speaker}),
                   "hours": round(sum(u.duration or 0.0 for u in group) / 3600, 4)}
            for name, group in sorted(grouped.items(), key=lambda item: (order.get(item[0], 9), item[0]))}


def _duration_stats(durations: list[float]) -> dict[str, float]:
    if not durations:
        return {}
    ordered = sorted(durations)
    return {"min": round(ordered[0], 3), "median": round(statistics.median(ordered), 3),
            "mean": round(statistics.fmean(ordered), 3), "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
            "max": round(ordered[-1], 3)}


def _warnings(report: InspectionReport, durations: list[float], long_audio_seconds: float) -> list[str]:
    warnings = []
    if report.num_utterances == 0:
        warnings.append("no usable utterances: see the problems below")
    leaked_speakers = report.leakage["speakers"]
    if leaked_speakers:
        warnings.append(f"leakage: {len(leaked_speakers)} speakers appear in both train and test "
                        f"({_listed(leaked_speakers)}): test scores measure voices heard in training")
    leaked_utterances = report.leakage["utterances"]
    if leaked_utterances:
        warnings.append(f"leakage: {len(leaked_utterances)} test utterances are also in train (same audio): "
                        "test scores will be too good")
    if report.duplicates:
        count = sum(len(group["utterances"]) for group in report.duplicates)
        warnings.append(f"{len(report.duplicates)} groups of duplicate audio ({count} utterances)")
    long = sum(1 for seconds in durations if seconds > long_audio_seconds)
    if long:
        warnings.append(f"{long} utterances are longer than {long_audio_seconds:.0f} s: slow to train on, "
                        "consider segmenting them")
    short = sum(1 for seconds in durations if seconds < SHORT_AUDIO_SECONDS)
    if short:
        warnings.append(f"{short} utterances are shorter than {SHORT_AUDIO_SECONDS} s")
    if len(report.sample_rates) > 1:
        warnings.append(f"mixed sample rates ({', '.join(map(str, report.sample_rates))} Hz): all are resampled "
                        "to the model rate")
    if report.out_of_vocabulary:
        warnings.append(f"{len(report.out_of_vocabulary)} words outside {report.vocabulary_source}: "
                        f"{_listed(list(report.out_of_vocabulary))}")
    if report.problems:
        files = len({problem.source for problem in report.problems})
        warnings.append(f"{len(report.problems)} problems in {files} files: those rows are skipped")
    return warnings
