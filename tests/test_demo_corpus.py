"""The embedded demo corpus: synthesized offline by eSpeak NG, cached, split by speaker."""
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from autoasr.data.demo_corpus import (
    DEMO_SAMPLE_RATE,
    DEMO_VOCABULARY,
    prepare_demo_corpus,
    prepare_spoken_corpus,
)

SMALL = {"num_speakers": 4, "repeats": 1, "seed": 0}


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    manifest = prepare_demo_corpus(root, **SMALL)
    with open(manifest, newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    return manifest, header, rows


def _read(manifest: Path, row: dict) -> np.ndarray:
    samples, rate = soundfile.read(manifest.parent / row["audio"], dtype="float32")
    assert rate == DEMO_SAMPLE_RATE
    assert samples.ndim == 1, "mono"
    return samples


def _median_f0(samples: np.ndarray, rate: int = DEMO_SAMPLE_RATE) -> list[float]:
    """Autocorrelation pitch of the loud, clearly periodic 40 ms frames."""
    frame, values = 640, []
    for start in range(0, len(samples) - frame, frame // 2):
        chunk = samples[start:start + frame] - samples[start:start + frame].mean()
        if np.sqrt(np.mean(chunk ** 2)) < 0.05 * np.abs(samples).max():
            continue
        corr = np.correlate(chunk, chunk, "full")[frame - 1:]
        low, high = rate // 400, rate // 60
        lag = low + int(np.argmax(corr[low:high]))
        if corr[lag] > 0.5 * corr[0]:
            values.append(rate / lag)
    return values


def _log_spectrum(clips: list[np.ndarray], bands: int = 40) -> np.ndarray:
    power = np.zeros(bands)
    for clip in clips:
        spectrum = np.abs(np.fft.rfft(clip, n=32768)) ** 2
        power += np.array([band.sum() for band in np.array_split(spectrum[:16384], bands)])
    log = np.log10(power / len(clips) + 1e-12)
    return log - log.mean()


def test_manifest_columns_and_size(small_corpus):
    manifest, header, rows = small_corpus
    assert manifest.name == "manifest.csv"
    assert header == ["audio", "text", "speaker", "duration", "split"]
    # 10 digits + 10 commands + 6 digit strings per speaker and repeat
    assert len(rows) == 4 * 26
    info = json.loads((manifest.parent / "corpus.json").read_text())
    assert info["params"]["num_speakers"] == 4 and info["num_utterances"] == len(rows)


def test_audio_files_are_16k_mono_audible_and_short(small_corpus):
    manifest, _, rows = small_corpus
    for row in rows:
        assert not Path(row["audio"]).is_absolute()
        samples = _read(manifest, row)
        seconds = len(samples) / DEMO_SAMPLE_RATE
        assert 0.3 <= seconds <= 2.5, row
        assert abs(seconds - float(row["duration"])) < 0.01, row
        assert np.sqrt(np.mean(samples ** 2)) > 0.02, f"too quiet: {row}"
        # noise was added: the leading silence is not digital zero
        assert np.abs(samples[:400]).max() > 0


def test_texts_use_only_the_demo_vocabulary(small_corpus):
    _, _, rows = small_corpus
    words = {word for row in rows for word in row["text"].split(" ")}
    assert words <= set(DEMO_VOCABULARY)
    assert set(DEMO_VOCABULARY) <= words  # every word is spoken at least once
    assert all(row["text"] == row["text"].lower().strip() for row in rows)
    lengths = {len(row["text"].split()) for row in rows}
    assert lengths == {1, 2, 3}


def test_speakers_are_held_out_for_test(small_corpus):
    _, _, rows = small_corpus
    train = {row["speaker"] for row in rows if row["split"] == "train"}
    test = {row["speaker"] for row in rows if row["split"] == "test"}
    assert {row["split"] for row in rows} == {"train", "test"}
    assert len(train) == 3 and len(test) == 1
    assert not train & test


def test_speakers_sound_different(small_corpus):
    manifest, _, rows = small_corpus
    clips: dict[str, list[np.ndarray]] = {}
    for row in rows:
        clips.setdefault(row["speaker"], []).append(_read(manifest, row))
    pitch = {speaker: np.median(sum((_median_f0(c) for c in cs), [])) for speaker, cs in clips.items()}
    assert max(pitch.values()) - min(pitch.values()) > 50, pitch  # male and female voices
    # A nearest-centroid classifier on long-term spectra tells the voices apart (leave-one-out),
    # far above the 25 % of guessing; same-voice clips would not allow that.
    features = [(row["speaker"], _log_spectrum([_read(manifest, row)])) for row in rows]
    correct = 0
    for i, (speaker, feature) in enumerate(features):
        centroids = {
            other: np.mean([f for j, (s, f) in enumerate(features) if s == other and j != i], axis=0)
            for other in clips
        }
        correct += min(centroids, key=lambda other: np.linalg.norm(centroids[other] - feature)) == speaker
    assert correct / len(features) > 0.5, correct / len(features)


def test_second_call_uses_the_cache_and_force_rebuilds_identically(small_corpus):
    manifest, _, rows = small_corpus
    files = [manifest, manifest.parent / "corpus.json"] + [manifest.parent / r["audio"] for r in rows]
    before = {path: path.stat().st_mtime_ns for path in files}
    content = {path: path.read_bytes() for path in files[2:]}

    start = time.perf_counter()
    assert prepare_demo_corpus(manifest.parent, **SMALL) == manifest
    assert time.perf_counter() - start < 1.0
    assert {path: path.stat().st_mtime_ns for path in files} == before

    # the same arguments give the same audio, bit for bit
    assert prepare_demo_corpus(manifest.parent, force=True, **SMALL) == manifest
    assert {path: path.read_bytes() for path in content} == content


def test_missing_espeak_gives_an_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # makes the import fail
    with pytest.raises(RuntimeError, match="pip install espeakng-loader"):
        prepare_demo_corpus(tmp_path / "demo", num_speakers=2, repeats=1)


def test_default_root_follows_autoasr_cache(tmp_path, monkeypatch):
    from autoasr.data import demo_corpus

    monkeypatch.setenv("AUTOASR_CACHE", str(tmp_path))
    assert demo_corpus._default_root() == tmp_path / "demo_corpus"
    monkeypatch.delenv("AUTOASR_CACHE")
    assert demo_corpus._default_root() == Path.home() / ".cache" / "autoasr" / "demo_corpus"


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError):
        prepare_demo_corpus(tmp_path, num_speakers=1)
    with pytest.raises(ValueError):
        prepare_demo_corpus(tmp_path, repeats=0)


def test_spoken_corpus_says_your_sentences_in_another_language_with_held_out_voices(tmp_path):
    texts = ["ndiyo", "hapana", "ndiyo, hapana"]  # a comma must survive the CSV manifest
    manifest = prepare_spoken_corpus(tmp_path / "sw", texts, language="sw", num_speakers=3,
                                     num_test_speakers=1, repeats=1)
    with open(manifest, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["text"] for row in rows) == sorted(texts * 3)
    test = {row["speaker"] for row in rows if row["split"] == "test"}
    train = {row["speaker"] for row in rows if row["split"] == "train"}
    assert len(test) == 1 and len(train) == 2
    speakers = json.loads((manifest.parent / "corpus.json").read_text())["speakers"]
    assert all(s["voice"].startswith("sw+") for s in speakers)
    assert len({s["voice"] for s in speakers}) == 3  # distinct voice variants
    for row in rows:
        assert np.sqrt(np.mean(_read(manifest, row) ** 2)) > 0.02, row
    assert prepare_spoken_corpus(tmp_path / "sw", texts, language="sw", num_speakers=3,
                                 num_test_speakers=1, repeats=1) == manifest  # cached
    with pytest.raises(ValueError, match="no language"):
        prepare_spoken_corpus(tmp_path / "xx", texts, language="xx-nowhere")
    with pytest.raises(ValueError):
        prepare_spoken_corpus(tmp_path / "xx", texts, num_speakers=2, num_test_speakers=2)
