"""The microphone recorder in a real browser: Chromium's fake microphone plays a word spoken by eSpeak NG,
the recorder records it in JupyterLab and in Voilà, and the model trained on such words must write it.

Chromium is started with ``--use-fake-device-for-media-stream --use-file-for-fake-audio-capture=WORD.wav``
(the file stands in for the microphone, looping) and ``--use-fake-ui-for-media-stream`` (permission granted
without a prompt). Screenshots of each step land in ``artifacts/screenshots/recorder_*.png``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from browser_servers import (
    FAKE_MICROPHONE_ARGS,
    ROOT,
    chromium,
    free_port,
    jupyterlab_command,
    screenshot,
    serving,
    voila_command,
)

pytestmark = pytest.mark.browser

WORDS = ["yes", "stop", "left", "right"]
RECORD_SECONDS = 2.0
MIC_RATE = 48000  # what a real microphone gives; the kernel resamples it to 16 kHz


@pytest.fixture(scope="module")
def word_model(tmp_path_factory):
    """(model folder, microphone WAV, word): a one-configuration model trained for 90 s on eSpeak NG voices
    saying WORDS, and a clip it reads right (a held-out voice when one is) with silence around it, at 48 kHz."""
    from autoasr import ASRPredictor, load_dataset
    from autoasr.data.audio import read_audio, resample
    from autoasr.data.demo_corpus import prepare_spoken_corpus

    folder = tmp_path_factory.mktemp("recorder_words")
    manifest = prepare_spoken_corpus(folder / "corpus", WORDS, num_speakers=10, num_test_speakers=2, repeats=2)
    train, test = load_dataset(manifest, split=("train", "test"))
    predictor = ASRPredictor(path=folder / "model", domain="commands", verbosity=0).fit(
        train, time_limit=90, presets="single")
    # the browser must give the same words as the file: take a clip the model reads right from the file
    clips = list(test) + list(train)
    heard = predictor.transcribe([str(u.audio) for u in clips])
    clip = next((u for u, text in zip(clips, heard) if text == u.text), None)
    if clip is None:
        pytest.fail(f"the fixture's model read none of its {len(clips)} clips right: {heard[:8]}")
    print(f"the fake microphone says {clip.text!r} ({clip.audio.name}, speaker {clip.speaker}, split {clip.split})")
    # the capture loops the file: silence after the word keeps a second one out of the recording
    word = resample(read_audio(clip.audio), 16000, MIC_RATE)
    silence = np.zeros(int(0.3 * MIC_RATE), np.float32)
    microphone = folder / "microphone.wav"
    soundfile.write(str(microphone), np.concatenate([silence, word, np.zeros(4 * MIC_RATE, np.float32)]), MIC_RATE,
                    subtype="PCM_16")
    predictor.save()
    return folder / "model", microphone, clip.text


def _try_live_notebook(folder: Path, model: Path) -> Path:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    notebook = new_notebook(cells=[new_code_cell(
        "from autoasr import ASRPredictor\nfrom widgets.try_live import TryLive\n\n"
        f"live = TryLive(ASRPredictor.load({str(model)!r}))\nlive"), new_code_cell(
        "from widgets.record_dataset import RecordDataset\n\n"
        "RecordDataset('recordings', prompts=['hello'], takes=1)")],
        metadata={"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}})
    path = folder / "try_live.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="module")
def served(word_model, tmp_path_factory):
    """{"lab": URL, "voila": URL, "lab_folder": its folder} of the try-live notebook in JupyterLab and in Voilà
    (it shows TryLive on the fixture's model, then a one-take RecordDataset)."""
    lab_folder, voila_folder = tmp_path_factory.mktemp("lab"), tmp_path_factory.mktemp("voila")
    for folder in (lab_folder, voila_folder):
        _try_live_notebook(folder, word_model[0])
    lab_port, voila_port = free_port(), free_port()
    lab = jupyterlab_command(lab_port, lab_folder, tmp_path_factory.mktemp("lab_settings"))
    with serving(lab, lab_folder, lab_port, lab_folder / "server.log"), \
            serving(voila_command("try_live.ipynb", voila_port), voila_folder, voila_port, voila_folder / "server.log"):
        yield {"lab": f"http://127.0.0.1:{lab_port}/lab/tree/try_live.ipynb", "voila": f"http://127.0.0.1:{voila_port}/",
               "lab_folder": lab_folder}


@pytest.fixture(scope="module")
def wizard(tmp_path_factory):
    """(URL, run folder) of the wizard (notebooks/app.ipynb) served by Voilà with no data chosen."""
    runs = tmp_path_factory.mktemp("wizard_runs")
    port = free_port()
    with serving(voila_command(ROOT / "notebooks" / "app.ipynb", port), runs, port, runs / "server.log",
                 AUTOASR_APP_OUTPUT=str(runs)):
        yield f"http://127.0.0.1:{port}/", runs


@pytest.fixture(scope="module")
def microphone_browser(word_model):
    """Chromium whose microphone plays the fixture's spoken word."""
    with chromium(FAKE_MICROPHONE_ARGS + [f"--use-file-for-fake-audio-capture={word_model[1]}"]) as browser:
        yield browser


def _shot(page, name: str) -> Path:
    return screenshot(page, f"recorder_{name}")


def _record_and_read(page, where: str) -> str:
    """Press Record, let the fake microphone speak, press Stop; return the words the model wrote."""
    record = page.locator(".autoasr-recorder-button").first
    record.wait_for(timeout=120_000)
    record.scroll_into_view_if_needed()
    _shot(page, f"{where}_1_ready")
    record.click()
    page.wait_for_selector(".autoasr-recorder-button.recording", timeout=20_000)
    # the loudest the level meter shows while recording (the word is short, silence follows it)
    page.evaluate("""() => { const meter = document.querySelector('.autoasr-recorder-level');
        window.autoasrLoudest = 0;
        setInterval(() => { window.autoasrLoudest = Math.max(window.autoasrLoudest, parseFloat(meter.style.width) || 0); },
                    30); }""")
    page.wait_for_timeout(700)  # about when the fake microphone says the word
    _shot(page, f"{where}_2_recording")
    page.wait_for_timeout(RECORD_SECONDS * 1000 - 700)
    loudest = page.evaluate("() => window.autoasrLoudest")
    record.click()
    words = page.locator(".autoasr-live-words").first
    words.wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelector('.autoasr-recorder-player').duration > 1", timeout=20_000)
    _shot(page, f"{where}_3_transcript")
    status = page.locator(".autoasr-recorder-status").first.inner_text()
    assert status.startswith("Recorded "), status
    assert loudest > 30, f"the level meter stayed at {loudest}% while the word was spoken"
    return words.inner_text().strip()


def test_a_word_recorded_in_jupyterlab_is_transcribed(served, microphone_browser, word_model):
    page = microphone_browser.new_page(viewport={"width": 1100, "height": 800})
    try:
        page.goto(served["lab"], timeout=120_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_timeout(2000)
        select_kernel = page.locator(".jp-Dialog button:has-text('Select')")
        if select_kernel.count():
            select_kernel.first.click()
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        assert _record_and_read(page, "lab") == word_model[2]
        # the dataset recorder below it writes the take as a 16 kHz WAV in a manifest load_dataset reads
        dataset_record = page.locator(".autoasr-recorder-button").nth(1)
        dataset_record.scroll_into_view_if_needed()
        dataset_record.click()
        page.wait_for_timeout(RECORD_SECONDS * 1000)
        dataset_record.click()
        page.locator("text=1 of 1 takes recorded").wait_for(timeout=30_000)
        _shot(page, "lab_4_dataset_take")
        from autoasr import load_dataset

        take = load_dataset(served["lab_folder"] / "recordings" / "manifest.csv").utterances[0]
        assert take.text == "hello" and 1.5 < soundfile.info(str(take.audio)).duration < 4
    except Exception:
        _shot(page, "lab_failed")
        raise


def test_a_word_recorded_in_voila_is_transcribed(served, microphone_browser, word_model):
    page = microphone_browser.new_page(viewport={"width": 1100, "height": 700})
    try:
        page.goto(served["voila"], timeout=120_000)
        assert _record_and_read(page, "voila") == word_model[2]
    except Exception:
        _shot(page, "voila_failed")
        raise


def test_the_wizard_records_your_voice_and_uses_it_as_the_data(wizard, microphone_browser):
    url, runs = wizard
    page = microphone_browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(url, timeout=120_000)
        page.get_by_role("tab", name="7 · Your voice").click()
        page.locator("textarea:visible").fill("yes")
        page.locator(".widget-inline-hbox:visible", has_text="Takes each").locator("input").fill("1")
        page.keyboard.press("Tab")
        page.wait_for_timeout(500)  # let both values reach the kernel
        page.get_by_role("button", name="Start over").click()
        page.locator(".autoasr-recorder-prompt:visible", has_text="take 1 of 1").wait_for(timeout=30_000)
        record = page.locator(".autoasr-recorder-button:visible").first
        record.click()
        page.wait_for_timeout(RECORD_SECONDS * 1000)
        record.click()
        page.locator("text=1 of 1 takes recorded").wait_for(timeout=30_000)
        _shot(page, "wizard_7_your_voice")
        page.get_by_role("button", name="Train on my recordings").click()
        page.wait_for_selector("text=Hardware:", timeout=30_000)  # on to step 2, the budget
        assert page.get_by_role("tab", name="2 · Budget & domain").get_attribute("aria-selected") == "true"
    except Exception:
        _shot(page, "wizard_failed")
        raise
    rows = (runs / "recordings" / "manifest.csv").read_text().splitlines()
    assert rows == ["audio,text,speaker,split", "wav/yes_1.wav,yes,you,train"]
