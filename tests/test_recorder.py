"""The microphone recorder's Python side (PCM in, 16 kHz out), recording a dataset, trying a model live, and
notebook 06 headless with eSpeak NG clips in place of the microphone. The browser side: test_browser_recorder.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from loopback_hub import LoopbackHub

from widgets.recorder import Recorder, pcm_to_samples, samples_to_pcm, write_wav
from widgets.record_dataset import RecordDataset, confusions, parse_prompts, plan_takes

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "06_your_own_voice.ipynb"
WORDS = ["yes", "no", "stop"]


def _tone(seconds: float, rate: int, frequency: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture(scope="module")
def spoken_words(tmp_path_factory) -> Path:
    """Manifest of eSpeak NG voices saying WORDS: 4 voices, so up to 4 takes of each word."""
    from autoasr.data.demo_corpus import prepare_spoken_corpus

    return prepare_spoken_corpus(tmp_path_factory.mktemp("spoken_words"), WORDS, num_speakers=4, num_test_speakers=1)


def test_pcm_round_trip_keeps_the_samples_within_one_step():
    samples = np.array([0.0, 0.5, -0.5, 0.999, -1.0, 2.0], dtype=np.float32)  # 2.0 clips to full scale
    pcm = samples_to_pcm(samples)
    assert len(pcm) == 2 * len(samples)
    decoded = pcm_to_samples(pcm, 16000)
    assert decoded.dtype == np.float32
    np.testing.assert_allclose(decoded, np.clip(samples, -1, 1), atol=1 / 16000)


def test_browser_rate_pcm_is_resampled_to_16_khz_keeping_the_pitch():
    tone = _tone(1.0, 48000, frequency=440.0)
    samples = pcm_to_samples(samples_to_pcm(tone), 48000)
    assert abs(len(samples) - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * 16000 / len(samples) - 440) < 2  # the tone is still at 440 Hz
    with pytest.raises(ValueError, match="even number"):
        pcm_to_samples(b"\x00\x01\x02", 16000)


def test_a_take_reaches_audio_and_every_on_recorded_callback(tmp_path):
    heard = []
    recorder = Recorder(on_recorded=lambda samples: heard.append(len(samples)))
    recorder.on_recorded(lambda samples: 1 / 0)  # a broken listener is reported, the take is kept
    assert recorder.audio.size == 0
    # as the browser's message arrives: a binary buffer of PCM at its own rate and the take counter, together
    recorder.set_state({"pcm": memoryview(samples_to_pcm(_tone(0.5, 44100))), "sample_rate": 44100, "take": 1})
    assert heard == [8000] and recorder.audio.shape == (8000,)
    assert "ZeroDivisionError" in recorder.status
    write_wav(tmp_path / "clip.wav", _tone(0.25, 22050), 22050)
    assert len(recorder.feed(tmp_path / "clip.wav")) == 4000 and heard[-1] == 4000 and recorder.take == 2


def test_prompts_are_normalised_and_asked_for_in_rounds():
    assert parse_prompts("Yes, no!\nStop;  yes ,, GO ") == ["yes", "no", "stop", "go"]
    assert plan_takes(["yes", "no"], 2) == [("yes", 1), ("no", 1), ("yes", 2), ("no", 2)]


def test_recorded_takes_become_wavs_and_a_manifest_that_load_dataset_reads(tmp_path):
    from autoasr import load_dataset

    recording = RecordDataset(tmp_path / "voice", prompts=["yes", "no"], takes=3)
    assert recording.recorder.prompt.startswith("Say: “yes”")
    for index in range(5):
        recording.recorder.feed(_tone(0.4, 16000, 300 + 50 * index))
    recording.redo()  # the fifth take (yes, round 3) is asked for again
    assert recording.recorder.prompt.startswith("Say: “yes” <small>(take 3 of 3)") and not recording.complete
    assert not (tmp_path / "voice" / "wav" / "no_3.wav").exists()
    recording.recorder.feed(_tone(0.4, 16000))
    recording.recorder.feed(_tone(0.4, 16000))
    recording.recorder.feed(_tone(0.05, 16000))  # too short, and all takes are done anyway: ignored
    assert recording.complete and len(recording.rows) == 6
    train, test = load_dataset(recording.manifest, split=("train", "test"))
    assert sorted(u.text for u in test) == ["no", "yes"]  # the last round is the test set
    assert len(train) == 4 and {u.speaker for u in train} == {"you"}
    info = soundfile.info(str(test.utterances[0].audio))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert abs(info.duration - 0.4) < 0.01


def test_fill_from_feeds_the_kth_clip_of_each_word_and_names_a_missing_word(spoken_words, tmp_path):
    from autoasr import load_dataset

    recording = RecordDataset(tmp_path / "voice", prompts=WORDS, takes=3)
    recording.fill_from(spoken_words)
    assert recording.complete and recording.recorder.take == 9
    assert [row["text"] for row in recording.rows[:3]] == WORDS
    assert len(load_dataset(recording.manifest)) == 9
    recording.words.value = "yes, maybe"
    with pytest.raises(ValueError, match="'maybe'"):
        recording.fill_from(spoken_words)


def test_try_live_transcribes_each_take_with_the_best_model_or_all(trained_predictor, fsdd_subset):
    from autoasr import load_dataset
    from widgets.try_live import TryLive

    clip = load_dataset(fsdd_subset, split="test").utterances[0]
    live = TryLive(trained_predictor)
    expected = trained_predictor.transcribe([str(clip.audio)])[0]
    assert live.feed(clip.audio) == [(trained_predictor.best_trial_id, expected)]
    assert expected in live.words.value or not expected
    live.every_model.value = True
    assert [trial for trial, _ in live.feed(clip.audio)] == list(trained_predictor.leaderboard().query(
        "status == 'ok'")["trial_id"])
    nothing = TryLive()
    assert nothing.feed(clip.audio) == [] and "Train a model first" in nothing.words.value


def test_confusions_count_what_each_word_was_written_as():
    evaluation = {"utterances": [{"reference": "no", "hypothesis": "go"}, {"reference": "no", "hypothesis": "no"},
                                 {"reference": "go", "hypothesis": ""}]}
    table = confusions(evaluation)
    assert table.loc["no", "go"] == 1 and table.loc["no", "no"] == 1 and table.loc["go", "(nothing)"] == 1


def test_the_wizard_has_a_your_voice_step_that_turns_takes_into_the_data(tmp_path):
    from widgets.app import STEPS, WizardApp

    app = WizardApp(output=tmp_path / "wizard")
    assert STEPS[-1] == "7 · Your voice" and len(app.tabs.children) == len(STEPS)
    assert app.voice.use_recordings() is None and "Record some takes" in app.voice.status.value
    app.voice.recording.words.value = "on, off"
    app.voice.recording.takes.value = 2
    for _ in range(4):
        app.voice.recording.recorder.feed(_tone(0.3, 16000))
    dataset = app.voice.use_recordings()
    assert len(dataset) == 4 and app.session.dataset is dataset and app.session.source == "recorded"
    assert app.tabs.selected_index == 1  # on to the budget


@pytest.mark.slow
def test_notebook_06_runs_headless_with_espeak_clips_as_the_microphone(spoken_words, tmp_path):
    papermill = pytest.importorskip("papermill")
    output = tmp_path / NOTEBOOK.name
    papermill.execute_notebook(str(NOTEBOOK), str(output), cwd=str(tmp_path), kernel_name="python3",
                               progress_bar=False, parameters={"time_limit": 20, "words": ", ".join(WORDS),
                                                               "takes": 3, "fake_microphone": str(spoken_words)})
    cells = [cell for cell in json.loads(output.read_text())["cells"] if cell["cell_type"] == "code"]
    outputs = [output for cell in cells for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert all(cell["execution_count"] is not None for cell in cells)
    manifest = tmp_path / "autoasr_runs" / "your_voice" / "recordings" / "manifest.csv"
    assert len(manifest.read_text().splitlines()) == 1 + 3 * len(WORDS)
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "| heard:" in text and "test WER" in text
    confusion = "".join("".join(o.get("data", {}).get("text/html", "")) for o in cells[-1]["outputs"])
    assert "said" in confusion and all(word in confusion for word in WORDS)  # the confusion table is shown
    # tests/conftest.py keeps the hub offline: the notebook says so and trains from scratch
    assert "autoasr: Training from scratch: no pretrained listener" in text and "HF_HUB_OFFLINE" in text


@pytest.mark.slow
def test_notebook_06_with_a_hub_and_an_empty_cache_leads_with_the_pretrained_listener_without_a_flag(
        spoken_words, served_model, online, tmp_path):
    """What a learner on a fresh machine gets: the kernel downloads tiny.en (from a loopback hub here) and a
    pretrained row leads, though the notebook names no model."""
    papermill = pytest.importorskip("papermill")
    output = tmp_path / NOTEBOOK.name
    with LoopbackHub({"openai/whisper-tiny.en": served_model}) as hub:
        online(hub.endpoint)  # the kernel inherits this process's environment
        papermill.execute_notebook(str(NOTEBOOK), str(output), cwd=str(tmp_path), kernel_name="python3",
                                   progress_bar=False, parameters={"time_limit": 30, "words": ", ".join(WORDS),
                                                                   "takes": 3, "fake_microphone": str(spoken_words)})
        assert hub.downloads("model.safetensors")
    cells = [cell for cell in json.loads(output.read_text())["cells"] if cell["cell_type"] == "code"]
    outputs = [output for cell in cells for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "autoasr: Starting from the pretrained listener whisper-tiny.en (downloaded once" in text
    board = "".join("".join(o.get("data", {}).get("text/plain", "")) for cell in cells
                    if "predictor.leaderboard()" in "".join(cell["source"]) for o in cell["outputs"])
    first_row = next(line.split() for line in board.splitlines() if line.split()[:1] == ["0"])  # the table's row 0
    assert first_row[2] == "whisper", board  # a head on the pretrained encoder leads
