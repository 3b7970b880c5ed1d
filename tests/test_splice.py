"""Splicing isolated takes into connected strings: order, gaps, one voice per string, FSDD test strings."""
from __future__ import annotations

import numpy as np
import pytest

from autoasr.data.dataset import Dataset
from autoasr.data.load import load_dataset
from autoasr.domains.splice import make_spliced_test_set, splice_sequences, trim_silence

RATE = 16000
WORD_TONES = {"one": 400.0, "two": 900.0, "three": 1600.0, "four": 2500.0}


def isolated_take(frequency: float, rng: np.random.Generator) -> np.ndarray:
    """A 0.2-0.3 s tone burst between 0.3 s of quiet noise: an isolated word with its silences."""
    burst = 0.3 * np.sin(2 * np.pi * frequency * np.arange(int(rng.uniform(0.2, 0.3) * RATE)) / RATE)
    quiet = np.zeros(int(0.3 * RATE))
    return (np.concatenate([quiet, burst, quiet]) + 0.001 * rng.standard_normal(len(burst) + 2 * len(quiet))).astype(np.float32)


def bursts(samples: np.ndarray) -> list[tuple[int, int, float]]:
    """(start, end, frequency) of each loud stretch, from 10 ms frame levels."""
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    loud = np.sqrt((frames**2).mean(axis=1)) > 0.05
    found, start = [], None
    for index, is_loud in enumerate([*loud, False]):
        if is_loud and start is None:
            start = index
        elif not is_loud and start is not None:
            if index - start >= 3:
                piece = samples[start * 160 : index * 160]
                spectrum = np.abs(np.fft.rfft(piece * np.hanning(len(piece))))
                found.append((start, index, float(np.fft.rfftfreq(len(piece), 1 / RATE)[spectrum.argmax()])))
            start = None
    return found


@pytest.fixture(scope="module")
def takes():
    rng = np.random.default_rng(0)
    clips, texts, speakers = [], [], []
    for speaker in ("ann", "bob"):
        for word, frequency in WORD_TONES.items():
            for _ in range(2):  # bob's voice is a fifth higher: each string must hold one voice only
                clips.append(isolated_take(frequency * (1.5 if speaker == "bob" else 1.0), rng))
                texts.append(word)
                speakers.append(speaker)
    return clips, texts, speakers


def test_spliced_strings_say_their_words_in_order_with_varied_short_gaps(takes):
    clips, texts, speakers = takes
    spliced = splice_sequences(clips, texts, count=12, words_per_sequence=(2, 5), gap_seconds=(0.05, 0.3),
                               seed=1, speakers=speakers)
    gaps = []
    for samples, text in spliced:
        words = text.split()
        assert 2 <= len(words) <= 5 and samples.dtype == np.float32
        found = bursts(samples)
        assert len(found) == len(words)
        ratios = {round(f / WORD_TONES[w], 1) for (_, _, f), w in zip(found, words)}
        assert ratios in ({1.0}, {1.5})  # right word, and one voice per string
        gaps += [(b[0] - a[1]) / 100 for a, b in zip(found, found[1:])]
        assert len(samples) / RATE < 0.3 * len(words) + 0.3 * (len(words) - 1) + 0.8  # the takes' silences are gone
    assert min(gaps) >= 0.03 and max(gaps) <= 0.45 and np.std(gaps) > 0.03


def test_splicing_is_deterministic_given_the_seed(takes):
    clips, texts, speakers = takes
    first = splice_sequences(clips, texts, count=4, seed=7, speakers=speakers)
    again = splice_sequences(clips, texts, count=4, seed=7, speakers=speakers)
    other = splice_sequences(clips, texts, count=4, seed=8, speakers=speakers)
    assert all(a[1] == b[1] and np.array_equal(a[0], b[0]) for a, b in zip(first, again))
    assert [t for _, t in first] != [t for _, t in other]


def test_overlapping_gaps_crossfade_without_clipping(takes):
    clips, texts, _ = takes
    for samples, _ in splice_sequences(clips, texts, count=5, gap_seconds=(-0.01, 0.0), seed=0):
        assert np.abs(samples).max() <= 0.99


def test_trim_silence_keeps_a_margin_around_speech():
    signal = np.concatenate([np.zeros(8000), np.ones(1600) * 0.5, np.zeros(8000)]).astype(np.float32)
    assert len(trim_silence(signal, RATE, margin_seconds=0.03)) == 1600 + 2 * 480


def test_texts_are_required_for_plain_arrays():
    with pytest.raises(ValueError, match="needs texts"):
        splice_sequences([np.zeros(100, np.float32)], count=1)


def test_fsdd_test_takes_become_connected_digit_strings(fsdd_dir, tmp_path):
    everything = load_dataset(fsdd_dir, domain="digits", validate_audio=False)
    test_takes = Dataset([u for u in everything if u.split == "test" and u.speaker in ("jackson", "theo")], "fsdd")
    strings = make_spliced_test_set(test_takes, tmp_path / "strings", count=8, seed=0)
    assert len(strings) == 8 and (tmp_path / "strings" / "manifest.csv").is_file()
    digits = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
    for utterance in strings:
        assert 2 <= len(utterance.text.split()) <= 6 and set(utterance.text.split()) <= digits
        assert utterance.speaker in ("jackson", "theo") and utterance.split == "test"
        assert 0.4 < utterance.duration < 0.9 * len(utterance.text.split()) + 2.0
