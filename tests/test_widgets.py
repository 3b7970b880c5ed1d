"""The wizard's panels driven from Python: set values, click buttons, check what the panels show."""
from __future__ import annotations

import csv
import datetime
import io
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas
import pytest
from audio_clips import encode_tone, write_audio

from autoasr import DataError
from autoasr.core.callbacks import PrintProgress
from widgets import LiveProgress, build_app
from widgets.budget_picker import BudgetPicker, estimate_trials
from widgets.data_picker import DataPicker, save_upload
from widgets.domain_picker import DomainPicker
from widgets.error_explorer import (
    aligned_words,
    alignment_html,
    worst_speakers,
    worst_words,
)
from widgets.leaderboard import leaderboard_html
from widgets.session import Session

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ data


def test_data_picker_loads_a_manifest_and_summarises_it(tiny_corpus, tmp_path):
    session = Session(output=tmp_path)
    picker = DataPicker(session, data=str(tiny_corpus))
    assert picker.source.value == "path"
    picker.load_button.click()
    assert "Loaded 104 utterances" in picker.status.value
    assert len(session.train) + len(session.test) == 104 and len(session.test) == 26  # the corpus's own test split
    assert "hours of audio" in picker.summary.value and "character set" in picker.summary.value
    assert picker.figure is not None and picker.figure.data[0].type == "histogram"
    assert "No problems found" in picker.problems.value


def test_data_picker_lists_problems_by_file_and_row(tiny_corpus, tmp_path):
    rows = list(csv.DictReader(open(tiny_corpus)))[:12]
    for row in rows:
        row["audio"] = str(tiny_corpus.parent / row["audio"])
    rows[3]["audio"] = str(tmp_path / "missing.wav")
    rows[5]["text"] = ""
    manifest = tmp_path / "broken.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    picker = DataPicker(Session(output=tmp_path), data=str(manifest))
    dataset = picker.load()
    assert len(dataset) == 10
    assert "2 rows were skipped" in picker.problems.value
    assert "<td>broken.csv</td><td>4</td>" in picker.problems.value  # file and row of the missing audio
    assert "<td>6</td><td>empty transcript" in picker.problems.value


def test_data_picker_reports_a_bad_path_without_raising(tmp_path):
    picker = DataPicker(Session(output=tmp_path), data=str(tmp_path / "nothing-here"))
    assert picker.load() is None
    assert "Could not load the data" in picker.status.value and "no such file" in picker.status.value


def _corpus_zip(tiny_corpus: Path, count: int = 12) -> bytes:
    rows = list(csv.DictReader(open(tiny_corpus)))[:count]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for row in rows:
            archive.write(tiny_corpus.parent / row["audio"], f"my_corpus/{row['audio']}")
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        archive.writestr("my_corpus/manifest.csv", text.getvalue())
    return buffer.getvalue()


def test_uploaded_zip_is_extracted_in_a_folder_of_its_own_and_loaded(tiny_corpus, tmp_path):
    session = Session(output=tmp_path / "wizard")
    picker = DataPicker(session)
    picker.source.value = "zip"
    content = _corpus_zip(tiny_corpus)
    picker.upload.value = (_upload(content, "my corpus.zip"),)
    assert "Loaded 12 utterances" in picker.status.value, picker.status.value
    folders = list((tmp_path / "wizard" / "uploads").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("my corpus-")
    assert (folders[0] / "my corpus.zip").is_file() and (folders[0] / "extracted" / "my_corpus" / "manifest.csv").is_file()
    assert len(session.dataset) == 12


def _zip_with(name: str, data: bytes = b"x", symlink: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("good.txt", b"fine")
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, data)
    return buffer.getvalue()


def _upload(content: bytes, name: str = "corpus.zip") -> dict:
    return {"name": name, "type": "application/zip", "size": len(content), "content": memoryview(content),
            "last_modified": datetime.datetime.now(datetime.timezone.utc)}


@pytest.mark.parametrize("name, symlink, reason", [
    ("/etc/evil.txt", False, "absolute"),
    ("../evil.txt", False, ".."),
    ("data/../../evil.txt", False, ".."),
    ("link", True, "link"),
])
def test_unsafe_zip_upload_is_refused_and_leaves_nothing_behind(tmp_path, name, symlink, reason):
    picker = DataPicker(Session(output=tmp_path / "wizard"))
    picker.source.value = "zip"
    picker.upload.value = (_upload(_zip_with(name, b"/etc/passwd" if symlink else b"x", symlink)),)
    assert "Could not load the data" in picker.status.value and reason in picker.status.value
    assert name.split("/")[-1] in picker.status.value  # the offending entry is named
    uploads = tmp_path / "wizard" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "wizard" / "evil.txt").exists()


def test_chunked_upload_reassembles_pieces_on_disk_and_refuses_too_large_files(tmp_path):
    from widgets.chunked_upload import ChunkedUpload

    upload = ChunkedUpload(folder=tmp_path / "incoming", max_bytes=5_000_000, accept=".zip")
    payload = bytes(range(256)) * 10_000  # 2.56 MB: three pieces of 1 MiB
    upload._on_message(upload, {"kind": "start", "name": "../corpus.zip", "size": len(payload)}, [])
    pieces = [(offset, payload[offset:offset + upload.chunk_bytes]) for offset in range(0, len(payload), upload.chunk_bytes)]
    assert len(pieces) == 3
    for offset, piece in reversed(pieces):  # written by offset: the order of arrival does not matter
        upload._on_message(upload, {"kind": "chunk", "offset": offset}, [memoryview(piece)])
    assert upload.value == ()
    upload._on_message(upload, {"kind": "end", "name": "../corpus.zip", "size": len(payload)}, [])
    (received,) = upload.value
    assert received["name"] == "corpus.zip" and received["size"] == len(payload)
    assert Path(received["path"]).parent == tmp_path / "incoming" and Path(received["path"]).read_bytes() == payload
    upload._on_message(upload, {"kind": "start", "name": "short.zip", "size": 10}, [])
    upload._on_message(upload, {"kind": "chunk", "offset": 0}, [b"12345"])
    upload._on_message(upload, {"kind": "end", "name": "short.zip", "size": 10}, [])
    assert "arrived incomplete" in upload.status and len(upload.value) == 1
    upload._on_message(upload, {"kind": "refused", "name": "huge.zip", "size": 9_000_000_000}, [])
    assert "huge.zip is 9,000 MB: more than the 5 MB" in upload.status


def test_a_zip_that_arrived_in_pieces_is_extracted_and_loaded(tiny_corpus, tmp_path):
    content = _corpus_zip(tiny_corpus)
    picker = DataPicker(Session(output=tmp_path / "wizard"))
    picker.source.value = "zip"
    received = tmp_path / "wizard" / "uploads" / "incoming" / "corpus.zip"
    received.parent.mkdir(parents=True)
    received.write_bytes(content)
    picker.upload.value = ({"name": "corpus.zip", "size": len(content), "path": str(received)},)
    assert "Loaded 12 utterances" in picker.status.value, picker.status.value
    assert not received.exists()  # moved into the upload's own folder, not copied


def test_zip_upload_larger_than_the_cap_is_refused(tmp_path):
    with pytest.raises(DataError):
        save_upload(_upload(_zip_with("big.bin", b"0" * 10_000)), tmp_path, max_bytes=5_000)
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_the_wizard_normalises_its_data_with_the_domain_chosen_after_loading(tmp_path):
    from autoasr.results.evaluation import evaluation_dataset

    rows = [{"audio": str(write_audio(tmp_path / f"clip{i}.wav")), "text": f"Room {i % 10}{(i + 3) % 10}",
             "speaker": f"s{i % 4}", "split": "test" if i >= 16 else "train"} for i in range(20)]
    manifest = tmp_path / "rooms.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    app = build_app(data=str(manifest), minutes=0.25, output=tmp_path / "wizard")
    assert "room 69" in app.session.test.texts  # loaded before a domain is chosen: the general normaliser
    app.domain.domain.value = "digits"
    assert app.run.start()
    app.run.stop()
    assert app.run.wait(timeout=120)
    assert "room six nine" in app.session.test.texts and "room nine two" in app.session.train.texts
    assert not any(ch.isdigit() for text in app.session.test.texts + app.session.train.texts for ch in text)
    assert "Room 69" in {u.text for u in app.session.dataset} or "room 69" in app.session.dataset.texts  # kept
    # evaluate() scores a Dataset against references normalised the same way
    assert "room six nine" in evaluation_dataset(app.session.dataset, "digits").texts


# ------------------------------------------------------------------ budget and domain


def test_budget_picker_sets_the_time_limit_and_estimates_trials(tmp_path):
    session = Session(output=tmp_path)
    picker = BudgetPicker(session, minutes=3)
    assert session.time_limit == 180
    picker.minutes.value = 10
    picker.presets.value = "fast"
    assert session.time_limit == 600 and session.presets == "fast"
    assert "trials" in picker.estimate.value
    assert "CPU core" in picker.hardware_info.value
    picker.presets.value = "single"
    assert "about <b>1</b> trial" in picker.estimate.value
    fewest, most = estimate_trials(600, "default")
    assert 1 <= fewest <= most
    assert estimate_trials(3600, "default")[1] >= estimate_trials(60, "default")[1]


def test_domain_picker_offers_every_domain_and_keeps_the_vocabulary(tmp_path):
    from autoasr.domains.presets import DOMAINS

    session = Session(output=tmp_path)
    picker = DomainPicker(session)
    assert [value for _, value in picker.domain.options] == list(DOMAINS)
    assert all(DOMAINS[name].description in label for label, name in picker.domain.options)
    picker.domain.value = "digits"
    picker.vocabulary.value = "lights on\n\n  kitchen  \n"
    assert session.domain == "digits" and session.custom_vocabulary == ["lights on", "kitchen"]


# ------------------------------------------------------------------ the search, live


@pytest.fixture(scope="module")
def finished_app(tiny_corpus, tmp_path_factory):
    """The wizard after one short search on the tiny corpus, started with the Start button."""
    app = build_app(data=str(tiny_corpus), minutes=0.3, output=tmp_path_factory.mktemp("wizard"))
    assert app.session.domain == "general"  # a path gives no domain suggestion
    app.mid_search = []

    def transcribe_the_first_model(predictor):  # the Transcribe step, pressed while the search still runs
        if not app.mid_search:
            app.mid_search.append((app.run.running, app.transcribe.transcribe(), time.time() - started))

    app.session.on("trial", transcribe_the_first_model)
    started = time.time()
    app.run.start_button.click()
    assert app.run.running and app.run.start_button.disabled and not app.run.stop_button.disabled
    assert app.run.wait(timeout=120), "the search did not end"
    app.elapsed = time.time() - started
    return app


@pytest.mark.slow
def test_start_runs_a_search_that_fills_the_trials_table_and_the_curves(finished_app):
    run = finished_app.run
    assert run.error is None, run.error
    live = run.live
    assert live.events[0] == "search_start" and live.events[-1] == "search_end"
    assert live.preparations and all(done == total for done, total in live.preparations.values())
    assert live.preparation_row.layout.display == "flex"
    assert len(live.trials) >= 1 and all(t["status"] in ("ok", "pruned", "failed") for t in live.trials.values())
    assert live.table.value.count("<tr") == len(live.trials) + 1  # header + one row per trial
    assert "autoasr-best" in live.table.value
    assert len(live.figure.data) == len(live.trials)
    assert sum(len(trace.x) for trace in live.figure.data) >= 1  # at least one epoch drawn
    assert live.progress.bar_style == "success" and live.progress.value > 0
    assert "from scratch" in live.listener.value  # tests/conftest.py: offline, an empty cache
    assert "Training from scratch: no pretrained listener" in run.status.value  # the finished run says it too
    fit_seconds = finished_app.session.predictor.fit_summary["fit_seconds"]
    assert fit_seconds < 18 + 15  # the budget is kept (with slack for a loaded machine)
    assert run.start_button.disabled is False and run.stop_button.disabled is True


def test_the_transcribe_step_works_with_the_first_model_while_the_search_goes_on(finished_app):
    running, outputs, seconds = finished_app.mid_search[0]
    assert running and seconds < finished_app.elapsed  # before the search ended
    assert len(outputs) == 1 and outputs[0][0] == "001" and not outputs[0][1].startswith("(failed")
    assert finished_app.session.running is None  # the finished run is the session's predictor now


def test_results_appear_in_the_leaderboard_compare_errors_and_transcribe_panels(finished_app):
    app = finished_app
    predictor = app.session.predictor
    assert predictor is not None and predictor.best_trial_id is not None
    assert (Path(predictor.path) / "leaderboard.csv").is_file()
    assert app.tabs.selected_index == 3  # the wizard moved on to the results
    table = app.leaderboard.table.value
    assert "autoasr-leaderboard" in table and f"★ {predictor.best_trial_id}" in table
    assert table.count("<tr") == len(predictor.leaderboard()) + 1
    app.leaderboard.sort_by.value = "start_time"
    app.leaderboard.ascending.value = False
    assert app.leaderboard.ascending.description == "descending"
    assert app.leaderboard.errors_of.value == predictor.best_trial_id  # its word errors are shown first
    assert "autoasr-word-errors" in app.leaderboard.word_errors.value or "No word" in app.leaderboard.word_errors.value
    assert {"race", "curves", "time", "size", "settings", "breakdown"} <= set(app.compare.figures)
    assert all(len(figure.data) >= 1 for figure in app.compare.figures.values())
    assert app.errors.model.value == predictor.best_trial_id
    assert "test utterances" in app.errors.overview.value
    if app.errors.utterance.options:  # a model can be perfect on the tiny test set
        assert "autoasr-align" in app.errors.alignment.value
        assert app.errors.player.children and app.errors.player.children[0].value[:4] == b"RIFF"
    outputs = app.transcribe.transcribe()
    assert [trial for trial, _ in outputs] == list(app.transcribe.models.value)
    assert "Reference:" in app.transcribe.results.value


def test_the_wizard_writes_the_report_and_offers_report_model_zip_and_onnx_as_page_links(finished_app, tmp_path):
    import base64
    import re

    from autoasr import ASRPredictor
    from autoasr.export.runtime import load_exported

    app = finished_app
    predictor = app.session.predictor
    assert (Path(predictor.path) / "report.html").is_file() and "report.html" in app.run.status.value
    files = app.downloads.prepare()
    assert set(files) == {"report", "model", "onnx"}, app.downloads.links.value
    links = dict(re.findall(r"download='([^']+)' href='data:[^;]+;base64,([^']+)'", app.downloads.links.value))
    assert set(links) == {path.name for path in files.values()}
    for name, payload in links.items():  # what the browser saves is the file itself
        (tmp_path / name).write_bytes(base64.b64decode(payload))
    with zipfile.ZipFile(tmp_path / files["model"].name) as archive:
        archive.extractall(tmp_path / "unzipped")
    reopened = ASRPredictor.load(tmp_path / "unzipped" / Path(predictor.path).name)
    assert reopened.best_trial_id == predictor.best_trial_id and len(reopened.leaderboard()) == 1
    clip = str(next(iter(app.session.test)).audio)
    assert reopened.transcribe([clip]) == predictor.transcribe([clip])
    assert isinstance(load_exported(tmp_path / "model.onnx").transcribe([clip])[0], str)
    assert "<h2>Leaderboard</h2>" in (tmp_path / "report.html").read_text()
    app.session.set_predictor(predictor)  # a new best model makes the links stale
    assert app.downloads.links.value == "" and not app.downloads.files


def test_a_large_onnx_file_is_offered_with_half_precision_weights_and_a_link_is_measured_as_the_page_carries_it(
        finished_app, monkeypatch, tmp_path):
    import base64
    import re

    import onnx

    from autoasr.export.runtime import load_exported
    from widgets import downloads

    monkeypatch.setattr(downloads, "LARGE_ONNX_BYTES", 0)  # every file is "large": the smaller file is offered
    files = finished_app.downloads.prepare()
    assert files["onnx"].name == "model.fp16.onnx" and (Path(files["onnx"]).parent / "model.onnx").is_file()
    assert "ONNX file (half-precision weights)" in finished_app.downloads.links.value
    assert "full-precision file is saved at" in finished_app.downloads.links.value
    payload = dict(re.findall(r"download='([^']+)' href='data:[^;]+;base64,([^']+)'",
                              finished_app.downloads.links.value))["model.fp16.onnx"]
    (tmp_path / "model.fp16.onnx").write_bytes(base64.b64decode(payload))
    metadata = {entry.key: entry.value for entry in onnx.load(str(tmp_path / "model.fp16.onnx")).metadata_props}
    assert metadata["autoasr.quantized"] == "fp16"
    clips = [str(u.audio) for u in list(finished_app.session.test)[:4]]
    half, full = load_exported(tmp_path / "model.fp16.onnx"), load_exported(Path(files["onnx"]).parent / "model.onnx")
    assert half.transcribe(clips) == full.transcribe(clips)
    size = files["onnx"].stat().st_size
    monkeypatch.setattr(downloads, "MAX_LINK_BYTES", size + 1)  # the file fits, its base64 (4/3 of it) does not
    assert "too large to hand over" in downloads.download_link(files["onnx"], "ONNX file")


def test_latency_limit_button_makes_the_best_model_within_it_the_one_every_step_uses(finished_app):
    app = finished_app
    predictor = app.session.predictor
    finished = predictor.leaderboard().query("status == 'ok'")
    assert "latency ms" in app.leaderboard.table.value and finished["latency_ms"].gt(0).all()
    fastest = finished.sort_values(["latency_ms", "val_wer"]).iloc[0]
    app.leaderboard.latency_limit.value = float(fastest["latency_ms"])
    app.leaderboard.pick.click()
    assert predictor.best_trial_id == fastest["trial_id"], app.leaderboard.pick_message.value
    assert f"Trial {fastest['trial_id']} is now the best model" in app.leaderboard.pick_message.value
    assert f"★ {fastest['trial_id']}" in app.leaderboard.table.value
    assert app.errors.model.value == fastest["trial_id"]  # the other steps followed
    app.leaderboard.latency_limit.value = 0.1
    app.leaderboard.pick.click()
    assert "no finished model is within 0.1 ms latency" in app.leaderboard.pick_message.value
    assert predictor.best_trial_id == fastest["trial_id"]


def test_stop_ends_the_search_early_and_keeps_the_best_model(tiny_corpus, tmp_path):
    app = build_app(data=str(tiny_corpus), minutes=3, output=tmp_path)
    started = time.time()
    app.run.start()
    deadline = time.time() + 90
    while not any(t.get("best_val_wer") is not None for t in app.run.live.trials.values()) and time.time() < deadline:
        time.sleep(0.2)
    app.run.stop_button.click()
    assert "Stopping" in app.run.status.value
    assert app.run.wait(timeout=90)
    assert time.time() - started < 150  # far less than the 180 s budget
    predictor = app.session.predictor
    assert predictor is not None and predictor.fit_summary["stopped_by_user"]
    assert predictor.best_trial_id is not None
    assert "Stopped by you" in app.run.status.value


def test_start_without_usable_data_explains_instead_of_raising(tmp_path):
    app = build_app(output=tmp_path)
    app.data.source.value = "path"
    app.data.path.value = ""
    assert app.run.start() is False
    assert "Load data first" in app.run.status.value
    assert "type the path" in app.data.status.value


def test_live_progress_draws_callbacks_it_receives():
    progress = LiveProgress()
    progress.on_search_start({"time_limit": 60, "presets": "default", "num_train": 10, "num_tuning": 2})
    progress.on_trial_start("001", {"model": "crnn", "size": "tiny", "learning_rate": 0.002})
    for epoch, wer in enumerate([1.0, 0.8, 0.5], start=1):
        progress.on_epoch_end("001", {"epoch": epoch, "val_wer": wer, "best_val_wer": min(wer, 1.0)})
    progress.on_trial_end({"trial_id": "001", "model": "crnn", "size": "tiny", "status": "ok", "val_wer": 0.5,
                           "epochs": 3, "stop_reason": "pruned", "start_time": 0, "end_time": 4})
    progress.on_search_end(pandas.DataFrame())
    assert list(progress.figure.data[0].y) == [1.0, 0.8, 0.5]
    assert "pruned" in progress.table.value and "50.0%" in progress.table.value
    assert "best <b>001 crnn</b>" in progress.headline.value


def test_live_progress_shows_feature_preparation_before_the_search():
    progress = LiveProgress()
    assert progress.preparation_row.layout.display == "none"
    progress.on_preparation("logmel features of demo:train", 0, 400)
    assert progress.preparation_row.layout.display == "flex"
    assert progress.preparation_text.value == "logmel features of demo:train: 0 of 400 clips"
    progress.on_preparation("logmel features of demo:train", 150, 400)
    assert (progress.preparation.value, progress.preparation.max) == (150, 400)
    assert progress.preparation.bar_style == "info"
    progress.on_preparation("logmel features of demo:train", 400, 400)
    assert progress.preparation.bar_style == "success" and "400 clips ready" in progress.preparation_text.value
    progress.reset()
    assert progress.preparation_row.layout.display == "none" and not progress.preparations


def test_live_progress_says_which_listener_shows_its_download_and_counts_the_budget_from_the_fit_start():
    progress = LiveProgress()
    progress.on_pretrained({"pretrained": [], "listener": "Training from scratch: offline: HF_HUB_OFFLINE is set."})
    assert "from scratch" in progress.listener.value and "HF_HUB_OFFLINE" in progress.listener.value
    progress.on_pretrained({"pretrained": ["whisper-tiny.en: ..."],
                            "listener": "Starting from the pretrained listener whisper-tiny.en (downloaded once)."})
    assert "pretrained</span> Starting from the pretrained listener whisper-tiny.en" in progress.listener.value
    progress.on_download("model.safetensors", 30_000_000, 75_539_400)
    assert progress.preparation_row.layout.display == "flex" and progress.preparation.bar_style == "info"
    assert progress.preparation_text.value.endswith("model.safetensors, 30.0 of 75.5 MB")
    progress.on_download("model.safetensors", 75_539_400, 75_539_400)
    assert progress.preparation.bar_style == "success"
    fit_started = time.time() - 40  # preparation and the encoder pass took 40 s before the search began
    progress.on_search_start({"time_limit": 60, "presets": "default", "num_train": 10, "num_tuning": 2,
                              "fit_started": fit_started})
    time.sleep(1.3)  # one tick of the budget bar
    assert progress.progress.value >= 40 and progress.progress_text.value.startswith(("40 s", "41 s", "42 s"))
    progress.on_search_end(pandas.DataFrame())
    assert progress.progress_text.value.startswith("done: 4")


def test_the_wizard_offers_a_pretrained_listener_on_by_default_with_sizes_and_costs(tmp_path, monkeypatch):
    from widgets.listener_picker import RECOMMENDED, ListenerPicker
    from widgets.session import Session

    monkeypatch.delenv("AUTOASR_PRETRAINED", raising=False)
    session = Session(output=tmp_path)
    picker = ListenerPicker(session)
    assert picker.enabled.description == RECOMMENDED and picker.enabled.value and session.pretrained == "auto"
    labels = [label for label, _ in picker.choice.options]
    assert [value for _, value in picker.choice.options] == ["auto", "openai/whisper-tiny", "openai/whisper-base"]
    assert "~155 MB" in labels[0] and "(not measured here)" in labels[2] and "not measured" not in labels[0]
    assert "downloaded once when you press <b>Start</b>" in picker.details.value  # the test cache is empty
    assert "10-20 one-second clips a second" in picker.details.value
    picker.choice.value = "openai/whisper-base"
    assert session.pretrained == "openai/whisper-base" and "about 295 MB" in picker.details.value
    picker.enabled.value = False
    assert session.pretrained is None and picker.choice.disabled and "Trains from scratch" in picker.details.value
    monkeypatch.setenv("AUTOASR_PRETRAINED", "/srv/models/whisper-tiny.en")
    picker.enabled.value = True
    picker.choice.value = "auto"
    assert "copy your teacher set up" in picker.details.value and "/srv/models/whisper-tiny.en" in picker.details.value


def test_print_progress_prints_the_first_and_last_preparation_line_and_few_between():
    printed = io.StringIO()
    printer = PrintProgress(printed)
    printer.on_preparation("mfcc features of x", 0, 500)
    for done in range(50, 500, 50):  # quicker than the repeat interval: none of these is printed
        printer.on_preparation("mfcc features of x", done, 500)
    printer.on_preparation("mfcc features of x", 500, 500)
    assert printed.getvalue().splitlines() == ["preparing mfcc features of x: 500 clips",
                                               "prepared mfcc features of x: 500 clips"]


# ------------------------------------------------------------------ results, pure parts


def test_alignment_marks_substitutions_deletions_and_insertions():
    assert aligned_words("go left now", "go lift") == [("equal", "go", "go"), ("substitute", "left", "lift"),
                                                      ("delete", "now", None)]
    assert aligned_words("stop", "stop it") == [("equal", "stop", "stop"), ("insert", None, "it")]
    assert aligned_words("yes", "") == [("delete", "yes", None)]
    markup = alignment_html("go left now <b>", "go lift")
    assert "class='substitute'>left<" in markup and "class='delete'>now<" in markup
    assert "<b>" not in markup  # text is escaped


def test_worst_speakers_and_words_rank_the_errors():
    utterances = [
        {"audio": "a.wav", "speaker": "anna", "reference": "go left", "hypothesis": "go left"},
        {"audio": "b.wav", "speaker": "ben", "reference": "go left", "hypothesis": "no lift"},
        {"audio": "c.wav", "speaker": "ben", "reference": "left", "hypothesis": "lift"},
    ]
    speakers = worst_speakers(utterances)
    assert list(speakers["speaker"]) == ["ben", "anna"] and speakers.iloc[0]["wer"] == 1.0
    words = worst_words(utterances)
    assert words.iloc[0]["word"] == "left" and words.iloc[0]["errors"] == 2 and words.iloc[0]["said"] == 3
    assert words.iloc[0]["often_heard_as"] == "lift"


def test_leaderboard_table_sorts_and_highlights_the_best():
    board = pandas.DataFrame([
        {"trial_id": "001", "model": "crnn", "size": "small", "val_wer": 0.4, "val_cer": 0.2, "status": "ok",
         "epochs": 5, "parameters": 1000, "train_seconds": 9.0, "stop_reason": "plateau", "config": {"dropout": 0.1},
         "start_time": 1},
        {"trial_id": "002", "model": "conformer", "size": "tiny", "val_wer": 0.2, "val_cer": 0.1, "status": "ok",
         "epochs": 7, "parameters": 500, "train_seconds": 12.0, "stop_reason": "deadline", "config": {}, "start_time": 2},
        {"trial_id": "003", "model": "convnet", "size": "tiny", "val_wer": float("nan"), "val_cer": float("nan"),
         "status": "failed", "epochs": 0, "parameters": None, "train_seconds": None, "stop_reason": "error",
         "config": {}, "start_time": 3},
    ])
    html = leaderboard_html(board, sort_by="val_wer", best_trial_id="002")
    assert html.index(">★ 002<") < html.index(">001<") < html.index(">003<")
    assert "<tr class='autoasr-best'><td>★ 002" in html
    by_time = leaderboard_html(board, sort_by="train_seconds", ascending=False, best_trial_id="002")
    assert by_time.index(">★ 002<") < by_time.index(">001<")


def test_a_row_that_started_from_a_pretrained_encoder_is_marked_and_explained():
    board = pandas.DataFrame([
        {"trial_id": "001", "model": "whisper", "size": "tiny", "val_wer": 0.02, "val_cer": 0.01, "status": "ok",
         "pretrained": True, "epochs": 5, "parameters": 1000, "train_seconds": 9.0, "stop_reason": "plateau",
         "config": {}, "start_time": 1},
        {"trial_id": "002", "model": "convnet", "size": "tiny", "val_wer": 0.2, "val_cer": 0.1, "status": "ok",
         "pretrained": False, "epochs": 7, "parameters": 500, "train_seconds": 12.0, "stop_reason": "deadline",
         "config": {}, "start_time": 2},
        {"trial_id": "003", "model": "whisper", "size": "pooled_tuned", "val_wer": 0.3, "val_cer": 0.2, "status": "ok",
         "pretrained": True, "epochs": 4, "parameters": 2000, "train_seconds": 30.0, "stop_reason": "deadline",
         "config": {}, "start_time": 3, "note": "refit on all data: trial 001's configuration trained for 4 epochs"},
    ])
    html = leaderboard_html(board)
    first, second, third = html.split("<tr", 4)[2:5]
    assert "pretrained</span>" in first and "680,000 hours" in first
    assert "pretrained" not in second
    # each tooltip says what was trained on the learner's data, in words
    assert "spells letters" in first and "top layer was retrained" not in first
    assert "top layer was retrained" in third and "spells letters" not in third
    assert "refit on all clips" in third and "trial 001&#x27;s configuration" in third
    assert "refit on all clips" not in first + second


def test_a_zero_shot_row_says_it_had_no_training_and_word_errors_read_as_a_table():
    from widgets.leaderboard import word_errors_html

    board = pandas.DataFrame([
        {"trial_id": "001", "model": "pocketsphinx", "size": "", "val_wer": 0.3, "val_cer": 0.2, "status": "ok",
         "pretrained": True, "epochs": 0, "parameters": 0, "train_seconds": 0.0, "stop_reason": "zero-shot",
         "config": {}, "start_time": 1}])
    html = leaderboard_html(board)
    assert "zero-shot, no training" in html and "without training" in html and "680,000" not in html
    errors = pandas.DataFrame([{"reference": "stop", "hypothesis": "top", "count": 3},
                               {"reference": "go", "hypothesis": "", "count": 1},
                               {"reference": "", "hypothesis": "no", "count": 1}])
    table = word_errors_html(errors)
    assert table.count("<tr") == 4 and "(missed)" in table and "(nothing said)" in table and ">3<" in table
    assert "No word" in word_errors_html(errors.iloc[0:0])


def test_a_trial_that_never_emitted_a_word_is_marked_learned_nothing_with_a_reason():
    row = {"trial_id": "004", "model": "conformer", "size": "medium", "val_wer": 1.0, "val_cer": 1.0, "status": "ok",
           "epochs": 2, "parameters": 9000, "train_seconds": 14.2, "stop_reason": "deadline", "config": {},
           "start_time": 4}
    learner = dict(row, trial_id="005", val_wer=0.3, val_cer=0.1)
    html = leaderboard_html(pandas.DataFrame([learner, row]), best_trial_id="005")
    nothing_row = html[html.index(">004<"):]
    assert ">learned nothing</span>" in nothing_row and "#e65100" in nothing_row
    assert "did not learn to emit words within its 14 s" in nothing_row
    assert html.count(">learned nothing</span>") == 1  # the trial that learned keeps its "ok"
    garbled = dict(row, val_cer=0.6)  # writes letters, no word right yet: still a learner, not "nothing"
    assert ">learned nothing<" not in leaderboard_html(pandas.DataFrame([garbled]))
    progress = LiveProgress()
    progress.on_trial_start("004", {"model": "conformer", "size": "medium"})
    progress.on_trial_end({**row, "start_time": 100.0, "end_time": 115.0})
    assert ">learned nothing</span>" in progress.table.value and "within its 14 s" in progress.table.value


def test_the_wizard_carries_the_glossary_with_every_term_the_issue_names(tmp_path):
    from widgets.glossary import glossary_terms

    terms = {term.lower() for term in glossary_terms()}
    assert {"wer", "cer", "epoch", "tuning set", "pruned", "plateau", "deadline", "presets", "rtf", "size",
            "learned nothing"} <= terms
    app = build_app(output=tmp_path)
    assert app.widget.children[1] is app.glossary and app.glossary.selected_index is None  # collapsed
    page = app.glossary.children[0].value
    assert "<dt><b>Tuning set</b></dt>" in page and "Word error rate" in page


@pytest.mark.slow
def test_autoasr_never_imports_the_widgets():
    sources = "\n".join(path.read_text() for path in (ROOT / "autoasr").rglob("*.py"))
    assert "ipywidgets" not in sources and "from widgets" not in sources and "import widgets" not in sources
    code = ("import sys, autoasr, autoasr.predictor, autoasr.results.plots, autoasr.cli; "
            "print(any(m == 'ipywidgets' or m.startswith(('ipywidgets.', 'widgets')) for m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.strip() == "False", result.stderr



def test_a_phone_voice_memo_uploaded_to_the_transcribe_panel_is_transcribed(finished_app, tmp_path):
    panel = finished_app.transcribe
    assert ".m4a" in panel.upload.accept and ".webm" in panel.upload.accept
    encode_tone(tmp_path / "memo.m4a", "aac", 44100, seconds=0.6)
    panel.upload.value = ({"name": "memo.m4a", "content": (tmp_path / "memo.m4a").read_bytes()},)
    assert panel.clip.value.endswith("memo.m4a")
    assert panel.player.children[0].format == "mp4"
    outputs = panel.transcribe()
    assert outputs and not any(text.startswith("(failed") for _, text in outputs), outputs


def test_the_finished_run_says_in_words_what_small_data_made_the_search_do():
    from widgets.run_panel import small_data_steps

    assert small_data_steps({}) == []
    assert small_data_steps({"speaker_augmentation": {"copies": 0, "clips_added": 0, "reason": "5000 clips"},
                             "refit": {"done": False, "reason": "a large corpus"}}) == []
    lines = small_data_steps({"speaker_augmentation": {"copies": 2, "clips_added": 150},
                              "refit": {"done": True, "trial_id": "012", "refit_of": "004", "epochs": 9,
                                        "kfold": {"done": True, "folds": 3, "winner": "004"}}})
    assert len(lines) == 3
    assert "150 copies" in lines[0] and "3 times" in lines[1]
    assert "trial 004" in lines[2] and "trial 012" in lines[2] and "all your clips" in lines[2]
