"""Isolated words into connected strings: splice single-word takes into sequences with varied gaps.

A digits model trained only on isolated digits has never heard one digit run into the next, yet
users read PINs and phone numbers in one breath. Splicing a speaker's isolated takes into strings
(trimmed of their silences, joined with short and varied gaps and a light crossfade, over a
continuous room tone) gives training and test material for connected reading.

>>> clips = [np.ones(8000, np.float32) * 0.1, np.ones(4000, np.float32) * 0.2]
>>> pairs = splice_sequences(clips, ["one", "two"], count=3, seed=0)
>>> len(pairs), pairs[0][1].split()[0] in ("one", "two")
(3, True)
"""
from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile

from autoasr.data.audio import MODEL_SAMPLE_RATE, read_audio
from autoasr.data.dataset import Dataset, Utterance

_FRAME_SECONDS = 0.01


def trim_silence(samples: np.ndarray, sample_rate: int, threshold_db: float = -35.0,
                 margin_seconds: float = 0.03) -> np.ndarray:
    """Cut leading and trailing stretches quieter than ``threshold_db`` below the loudest 10 ms frame.

    >>> quiet, loud = np.zeros(1600, np.float32), np.ones(1600, np.float32)
    >>> len(trim_silence(np.concatenate([quiet, loud, quiet]), 16000, margin_seconds=0.0))
    1600
    """
    frame = max(int(_FRAME_SECONDS * sample_rate), 1)
    levels = _frame_levels(samples, frame)
    if levels.size == 0 or levels.max() <= 0:
        return samples
    loud = np.flatnonzero(levels >= levels.max() * 10 ** (threshold_db / 20))
    margin = int(margin_seconds * sample_rate)
    start = max(loud[0] * frame - margin, 0)
    end = min((loud[-1] + 1) * frame + margin, len(samples))
    return samples[start:end]


def _frame_levels(samples: np.ndarray, frame: int) -> np.ndarray:
    usable = len(samples) // frame * frame
    if usable == 0:
        return np.sqrt(np.mean(samples.astype(np.float64) ** 2, keepdims=True)) if len(samples) else np.zeros(0)
    return np.sqrt(np.mean(samples[:usable].astype(np.float64).reshape(-1, frame) ** 2, axis=1))


def _background_level(samples: np.ndarray, sample_rate: int) -> float:
    """The take's noise floor: the RMS of its quietest frames (10th percentile)."""
    levels = _frame_levels(samples, max(int(_FRAME_SECONDS * sample_rate), 1))
    return float(np.percentile(levels, 10)) if levels.size else 0.0


def _speech_level(samples: np.ndarray, sample_rate: int) -> float:
    levels = _frame_levels(samples, max(int(_FRAME_SECONDS * sample_rate), 1))
    return float(np.percentile(levels, 90)) if levels.size else 0.0


def splice_sequences(
    utterances_or_samples: Sequence,
    texts: Sequence[str] | None = None,
    count: int = 100,
    words_per_sequence: tuple[int, int] = (2, 6),
    gap_seconds: tuple[float, float] = (0.05, 0.4),
    seed: int = 0,
    sample_rate: int = MODEL_SAMPLE_RATE,
    speakers: Sequence[str | None] | None = None,
    crossfade_seconds: float = 0.01,
    edge_seconds: tuple[float, float] = (0.1, 0.3),
) -> list[tuple[np.ndarray, str]]:
    """``count`` connected sequences of ``words_per_sequence`` (inclusive range) takes each.

    ``utterances_or_samples``: :class:`~autoasr.data.dataset.Utterance` s (texts and speakers come from
    them), audio paths, or float arrays at ``sample_rate``. Each sequence uses the takes of one
    speaker (when speakers are known), no take twice where the speaker has enough, each take's
    loudness matched within ±3 dB. Gaps are drawn from ``gap_seconds``; a gap shorter than the
    crossfade (even negative) overlaps the takes. Returns (float32 samples, text) pairs.
    """
    items = list(utterances_or_samples)
    if texts is None:
        if not all(isinstance(item, Utterance) for item in items):
            raise ValueError("splice_sequences needs texts unless it is given Utterance objects")
        texts = [item.text for item in items]
    if speakers is None:
        speakers = [item.speaker if isinstance(item, Utterance) else None for item in items]
    spliced = _splice(items, list(texts), list(speakers), count, words_per_sequence, gap_seconds, seed, sample_rate,
                      crossfade_seconds, edge_seconds)
    return [(samples, text) for samples, text, _ in spliced]


def _splice(items, texts, speakers, count, words_per_sequence, gap_seconds, seed, sample_rate,
            crossfade_seconds=0.01, edge_seconds=(0.1, 0.3)) -> list[tuple[np.ndarray, str, str | None]]:
    if len(texts) != len(items) or len(speakers) != len(items):
        raise ValueError(f"{len(items)} recordings but {len(texts)} texts and {len(speakers)} speakers")
    if not items:
        raise ValueError("splicing needs at least one recording")
    low, high = words_per_sequence
    if not 1 <= low <= high:
        raise ValueError(f"words_per_sequence must be (low, high) with 1 <= low <= high, got {words_per_sequence}")

    rng = np.random.default_rng(seed)
    by_speaker: dict = defaultdict(list)
    for position, speaker in enumerate(speakers):
        by_speaker[speaker].append(position)
    names, groups = list(by_speaker), list(by_speaker.values())
    weights = np.array([len(group) for group in groups], dtype=float)
    loaded: dict[int, tuple[np.ndarray, float, float]] = {}

    def take(position: int) -> tuple[np.ndarray, float, float]:
        if position not in loaded:
            item = items[position]
            if isinstance(item, np.ndarray):
                samples = item.astype(np.float32, copy=False)
            else:
                samples = read_audio(item.audio if isinstance(item, Utterance) else item, sample_rate)
            trimmed = trim_silence(samples, sample_rate)
            loaded[position] = (trimmed, _speech_level(trimmed, sample_rate), _background_level(samples, sample_rate))
        return loaded[position]

    sequences = []
    for _ in range(count):
        choice = int(rng.choice(len(groups), p=weights / weights.sum()))
        length = int(rng.integers(low, high + 1))
        chosen = rng.choice(groups[choice], size=length, replace=len(groups[choice]) < length).tolist()
        samples, text = _assemble([take(p) for p in chosen], [texts[p] for p in chosen], rng, sample_rate,
                                  gap_seconds, crossfade_seconds, edge_seconds)
        sequences.append((samples, text, names[choice]))
    return sequences


def _assemble(takes, words, rng, sample_rate, gap_seconds, crossfade_seconds, edge_seconds):
    fade = max(int(crossfade_seconds * sample_rate), 0)
    target_level = takes[0][1]
    pieces, starts = [], []
    position = int(rng.uniform(*edge_seconds) * sample_rate)
    for index, (samples, level, _) in enumerate(takes):
        gain = (target_level / level if level > 0 else 1.0) * 10 ** (rng.uniform(-3, 3) / 20)
        piece = samples.astype(np.float64) * gain
        if fade and len(piece) > 2 * fade:  # raised-cosine ramps: no clicks where takes meet
            ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, fade))
            piece[:fade] *= ramp
            piece[-fade:] *= ramp[::-1]
        if index:
            position += int(rng.uniform(*gap_seconds) * sample_rate)
            position = max(position, starts[-1] + 1) if starts else position
        pieces.append(piece)
        starts.append(max(position, 0))
        position = starts[-1] + len(piece)
    total = position + int(rng.uniform(*edge_seconds) * sample_rate)
    out = np.zeros(total)
    for start, piece in zip(starts, pieces):
        out[start : start + len(piece)] += piece
    floor = float(np.median([background for _, _, background in takes]))
    if floor > 0:  # a continuous room tone, so gaps are not digital silence
        out += rng.standard_normal(total) * floor * 0.5
    peak = np.abs(out).max() if total else 0.0
    if peak > 0.99:
        out *= 0.99 / peak
    return out.astype(np.float32), " ".join(words)


def write_spliced_dataset(
    dataset: Dataset,
    output_dir: str | Path,
    count: int = 200,
    words_per_sequence: tuple[int, int] = (2, 6),
    gap_seconds: tuple[float, float] = (0.05, 0.4),
    seed: int = 0,
    split: str | None = None,
    sample_rate: int = MODEL_SAMPLE_RATE,
) -> Dataset:
    """Splice ``dataset``'s takes into ``count`` sequences, write them as 16-bit WAV files plus a
    ``manifest.csv`` (audio, text, speaker, split) in ``output_dir``, and return them as a Dataset."""
    from autoasr.data.load import load_dataset

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    utterances = list(dataset.utterances)
    spliced = _splice(utterances, [u.text for u in utterances], [u.speaker for u in utterances], count,
                      words_per_sequence, gap_seconds, seed, sample_rate)
    rows = []
    for index, (samples, text, speaker) in enumerate(spliced):
        name = f"spliced_{index:05d}.wav"
        soundfile.write(output_dir / name, samples, sample_rate, subtype="PCM_16")
        rows.append({"audio": name, "text": text, "speaker": speaker or "", "split": split or ""})
    manifest = output_dir / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["audio", "text", "speaker", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return load_dataset(manifest)


def make_spliced_test_set(
    fsdd_test_dataset: Dataset | str | Path,
    output_dir: str | Path,
    count: int = 200,
    words_per_sequence: tuple[int, int] = (2, 6),
    gap_seconds: tuple[float, float] = (0.05, 0.4),
    seed: int = 0,
) -> Dataset:
    """Connected digit strings spliced from FSDD's test takes (0-4), each string one speaker's voice.

    ``fsdd_test_dataset`` is a Dataset of test takes, or the FSDD folder (its ``test`` split is used).
    The strings are written under ``output_dir`` with a manifest, so ``autoasr evaluate`` and
    ``ASRPredictor.evaluate`` read them like any corpus.

    >>> strings = make_spliced_test_set("data/fsdd", "runs/fsdd_strings", count=200)   # doctest: +SKIP
    >>> predictor.evaluate(strings)["wer"]                                              # doctest: +SKIP
    """
    dataset = fsdd_test_dataset
    if not isinstance(dataset, Dataset):
        from autoasr.data.load import load_dataset

        dataset = load_dataset(dataset, domain="digits")
        if any(u.split == "test" for u in dataset):
            dataset = dataset.with_split("test")
    if not len(dataset):
        raise ValueError("make_spliced_test_set: the dataset has no utterances")
    return write_spliced_dataset(dataset, output_dir, count=count, words_per_sequence=words_per_sequence,
                                 gap_seconds=gap_seconds, seed=seed, split="test")
