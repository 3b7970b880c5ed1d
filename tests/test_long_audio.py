"""Long recordings: voice-activity segmentation in order, merged transcripts, word timestamps."""
from __future__ import annotations

import json
import random
import subprocess
import sys
import time

import jiwer
import numpy as np
import pytest
import soundfile

from autoasr.inference.long_audio import (
    SegmentationSettings,
    _Source,
    align_words,
    fixed_chunks,
    frame_energies,
    speech_regions,
    transcribe_long,
    transcribe_with_words,
)

NUM_TAKES = 40
FSDD_RATE = 8000




@pytest.fixture(scope="session")
def long_recording(fsdd_dir, tmp_path_factory):
    """40 FSDD test takes (takes 0-4, random speakers and digits) with 0.3-1.0 s pauses of faint noise,
    at 8 kHz: returns the path, the reference words and each take's (start, end) in seconds."""
    from autoasr.core.text import DIGIT_WORDS
    from autoasr.data.layouts import FSDD_NAME

    takes = sorted(f for f in (fsdd_dir / "recordings").glob("*.wav") if int(FSDD_NAME.match(f.stem)["take"]) < 5)
    chooser = random.Random(8)
    noise = np.random.default_rng(0)
    pieces = [np.zeros(FSDD_RATE // 2, np.float32)]
    position, words, spans = len(pieces[0]), [], []
    for take in chooser.sample(takes, NUM_TAKES):
        samples, rate = soundfile.read(take, dtype="float32")
        assert rate == FSDD_RATE
        pause = (noise.standard_normal(int(chooser.uniform(0.3, 1.0) * rate)) * 1e-3).astype(np.float32)
        pieces += [samples, pause]
        words.append(DIGIT_WORDS[int(FSDD_NAME.match(take.stem)["digit"])])
        spans.append((position / rate, (position + len(samples)) / rate))
        position += len(samples) + len(pause)
    path = tmp_path_factory.mktemp("long") / "digits_40_takes.wav"
    soundfile.write(path, np.concatenate(pieces), FSDD_RATE)
    return path, words, spans


def _word_errors(reference: list[str], hypothesis: str) -> float:
    return jiwer.wer(" ".join(reference), hypothesis)


def test_segmentation_finds_every_take_in_order(long_recording):
    path, words, spans = long_recording
    source = _Source(path, 16000)
    energies = frame_energies(source)
    regions = speech_regions(energies)
    assert len(regions) == NUM_TAKES
    for (start, stop), (take_start, take_end) in zip(regions, spans):
        # each segment covers the speech of its take (FSDD takes begin and end in their own quiet)
        assert start * 0.01 < take_end and stop * 0.01 > take_start
        assert start * 0.01 <= take_start + 0.3 and stop * 0.01 >= take_end - 0.3
    assert all(a[1] <= b[0] for a, b in zip(regions, regions[1:])), "segments are in order and do not overlap"


def test_energies_read_block_by_block_equal_a_whole_read(long_recording):
    path = long_recording[0]
    whole = frame_energies(_Source(path, 16000), SegmentationSettings(block_seconds=1000))
    in_blocks = frame_energies(_Source(path, 16000), SegmentationSettings(block_seconds=0.37))
    duration = soundfile.info(str(path)).duration
    assert len(whole) == len(in_blocks) == int(np.ceil(duration / 0.01))
    np.testing.assert_allclose(whole, in_blocks, atol=1e-4)


def test_long_recording_is_transcribed_in_order_with_word_timestamps(robust_digit_model, long_recording):
    path, reference, spans = long_recording
    duration = soundfile.info(str(path)).duration
    assert duration > 40
    started = time.perf_counter()
    result = transcribe_long(robust_digit_model, path)
    seconds = time.perf_counter() - started
    error_rate = _word_errors(reference, result.text)
    print(f"\nlong audio: {duration:.1f} s, {len(result.segments)} segments, WER {error_rate:.1%}, "
          f"RTF {seconds / duration:.3f}\n  hyp: {result.text}\n  ref: {' '.join(reference)}")
    assert error_rate <= 0.25  # measured 7.5% with this model; the per-take WER of such a model is ~10-20%
    assert result.duration == pytest.approx(duration)

    starts = [word.start for word in result.words]
    assert starts == sorted(starts), "words come in the order they were spoken"
    for word, following in zip(result.words, result.words[1:]):
        assert word.end <= following.start + 1e-6
    assert all(0 <= word.start < word.end <= duration for word in result.words)

    # every recognised word that lines up with a reference word lies in that word's take
    alignment = jiwer.process_words(" ".join(reference), result.text).alignments[0]
    checked = 0
    for chunk in alignment:
        if chunk.type in ("equal", "substitute"):
            for ref_index, hyp_index in zip(range(chunk.ref_start_idx, chunk.ref_end_idx),
                                            range(chunk.hyp_start_idx, chunk.hyp_end_idx)):
                word, (take_start, take_end) = result.words[hyp_index], spans[ref_index]
                centre = (word.start + word.end) / 2
                assert take_start - 0.1 <= centre <= take_end + 0.1, (word, spans[ref_index])
                checked += 1
    assert checked >= 0.8 * NUM_TAKES


def test_transcribe_routes_long_files_through_segmentation(robust_digit_model, long_recording, fsdd_dir):
    path, reference, _ = long_recording
    short = sorted((fsdd_dir / "recordings").glob("*_0.wav"))[:2]
    texts = robust_digit_model.transcribe([str(short[0]), str(path), str(short[1])])
    assert texts[1] == transcribe_long(robust_digit_model, path).text
    assert len(texts[1].split()) >= 0.8 * NUM_TAKES  # not one 50-second utterance
    assert texts[0::2] == robust_digit_model.transcribe([str(short[0]), str(short[1])])


class LoudnessSpotter:
    """A stand-in recognizer that hears one word, "ab", in every loud stretch of audio (20 ms output
    frames, like the real models): its words are where the takes are, so the segmenters are checked
    without any model error."""

    sample_rate, hop_length = 16000, 160
    symbols = ("<blank>", " ", "a", "b")

    @property
    def vocabulary(self):
        from autoasr.core.text import CharVocabulary

        return CharVocabulary(self.symbols)

    def run(self, waveform, lengths):  # marks an exported-style model; log_probs below does the work
        raise NotImplementedError

    def log_probs(self, segments, batch_size=16):
        results = []
        for samples in segments:
            frames = (len(samples) // self.hop_length + 2) // 2
            padded = np.zeros(frames * 2 * self.hop_length, np.float32)
            padded[: len(samples)] = samples[: len(padded)]
            loud = np.square(padded).reshape(frames, -1).mean(axis=1) > 1e-4
            for start, stop in _runs(~loud):  # a word has quiet moments (stops, closures) inside
                if stop - start < 8 and start > 0 and stop < frames:
                    loud[start:stop] = True
            path = np.zeros(frames, dtype=int)
            for start, stop in _runs(loud):
                path[start], path[max(stop - 1, start + 1) if stop - start > 1 else start] = 2, 3
                if stop < frames:
                    path[stop] = 1
            results.append(np.log(np.eye(4)[path] * 0.97 + 0.01).astype(np.float32))
        return results


def _runs(mask):
    from autoasr.inference.long_audio import _runs as runs

    return runs(mask)


@pytest.mark.parametrize("settings", [SegmentationSettings(),
                                      SegmentationSettings(segmentation="fixed", chunk_seconds=5, overlap_seconds=1.5)],
                         ids=["energy", "fixed-chunks"])
def test_segmenters_keep_every_word_once_in_order_at_its_time(long_recording, settings):
    path, reference, spans = long_recording
    result = transcribe_long(LoudnessSpotter(), path, settings)
    if settings.segmentation == "fixed":
        assert len(result.segments) >= 9  # chunks cut through takes: the overlap must recover them
    assert len(result.words) == NUM_TAKES
    for word, (take_start, take_end) in zip(result.words, spans):
        assert take_start - 0.05 <= word.start < word.end <= take_end + 0.05
    assert all(a.end <= b.start for a, b in zip(result.words, result.words[1:]))


def test_speech_regions_cut_long_speech_at_its_quietest_point():
    energies = np.full(3000, -20.0)
    energies[1234] = -60.0  # a short dip: not a pause, but the best place to cut
    regions = speech_regions(energies, SegmentationSettings(threshold_db=-40, max_segment_seconds=15.0))
    assert regions == [(0, 1234), (1234, 2733), (2733, 3000)]  # without a quiet point: at the longest allowed
    assert fixed_chunks(250, SegmentationSettings(chunk_seconds=1.0, overlap_seconds=0.5)) == [
        (0, 100), (50, 150), (100, 200), (150, 250)]


def test_words_and_times_from_ctc_alignment():
    symbols = ("<blank>", " ", "o", "n", "e", "t", "w")
    path = [2, 3, 4, 0, 0, 1, 0, 5, 5, 6, 2, 0]  # "one two" with blanks and a repeated frame
    log_probs = np.log(np.eye(len(symbols))[path] * 0.9 + 0.1 / len(symbols))
    text, words = align_words(log_probs, symbols, frame_seconds=0.02, offset_seconds=10.0)
    assert text == "one two"
    assert [w.word for w in words] == ["one", "two"]
    assert words[0].start == pytest.approx(10.0) and words[0].end == pytest.approx(10.06)
    assert words[1].start == pytest.approx(10.14) and words[1].end == pytest.approx(10.22)


@pytest.mark.slow
def test_transcribe_json_has_words_with_timestamps(robust_digit_model, long_recording, fsdd_dir, tmp_path):
    from autoasr.export.writers import export_model

    path, reference, _ = long_recording
    exported = export_model(robust_digit_model, tmp_path / "digits.onnx")
    short = sorted((fsdd_dir / "recordings").glob("*_0.wav"))[0]
    completed = subprocess.run([sys.executable, "-m", "autoasr.cli", "transcribe", str(exported), str(short),
                                str(path), "--json"], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    results = json.loads(completed.stdout)
    assert [r["audio"] for r in results] == [str(short), str(path)]
    long_result = results[1]
    assert long_result["words"] and {"word", "start", "end"} <= set(long_result["words"][0])
    assert " ".join(w["word"] for w in long_result["words"]) == long_result["text"]
    assert _word_errors(reference, long_result["text"]) <= 0.25
    assert all(0 <= w["start"] < w["end"] <= long_result["duration"] for w in long_result["words"])
    in_process = transcribe_with_words(robust_digit_model, [short])[0]
    assert results[0]["text"] == in_process.text


def test_a_zero_shot_row_gives_its_text_without_word_times_for_short_and_long_audio(long_recording, fsdd_dir):
    """A pretrained recognizer used as it is has no CTC frames to time words by: ``--json`` still gives its text
    (it crashed on its missing frontend), each item one segment, no word times."""
    from autoasr.inference.recognizers import load_recognizer, pocketsphinx_available

    if not pocketsphinx_available():
        pytest.skip("PocketSphinx is not installed (pip install pocketsphinx)")
    from autoasr.core.text import DIGIT_WORDS

    model = load_recognizer({"kind": "pocketsphinx", "config": {"model": "pocketsphinx", "words": list(DIGIT_WORDS)}})
    path, words, _spans = long_recording
    short = sorted((fsdd_dir / "recordings").glob("3_jackson_*.wav"))[0]
    timed = transcribe_with_words(model, [str(short), str(path)])
    assert [item.words for item in timed] == [[], []]
    assert timed[0].text == model.transcribe([str(short)])[0] and timed[0].duration == pytest.approx(0.3, abs=0.4)
    assert len(timed[1].segments) == 1 and timed[1].duration > 40
    # cut at its pauses, not read as one piece: a grammar of one or two words per piece wrote about one per take
    assert len(words) * 0.75 <= len(timed[1].text.split()) <= len(words) * 2
    assert transcribe_long(model, str(path)).text == timed[1].text
