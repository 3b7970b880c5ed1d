"""``inspect_dataset`` and ``autoasr inspect``: counts, formats, vocabulary, duplicates, leakage, problems."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from audio_clips import write_audio

from autoasr.cli import main
from autoasr.data.inspection import InspectionReport, inspect_dataset


@pytest.fixture()
def leaky_corpus(tmp_path) -> Path:
    """Train and test share speaker anna and one recording (copied under another name); two rows are bad."""
    write_audio(tmp_path / "a1.wav")
    write_audio(tmp_path / "a2.wav", rate=8000, channels=2)
    write_audio(tmp_path / "b1.wav")
    shutil.copy(tmp_path / "a1.wav", tmp_path / "copy_of_a1.wav")
    (tmp_path / "manifest.csv").write_text(
        "audio,text,speaker,split\n"
        "a1.wav,yes no,anna,train\n"          # row 1
        "a2.wav,no,anna,train\n"              # row 2
        "missing.wav,yes,ben,train\n"         # row 3: no such file
        "b1.wav,,ben,test\n"                  # row 4: empty transcript
        "copy_of_a1.wav,yes no,anna,test\n"   # row 5: same audio as row 1
        "b1.wav,maybe,ben,test\n"             # row 6: same path as row 4 (which was skipped)
    )
    return tmp_path / "manifest.csv"


def test_report_counts_formats_and_text(leaky_corpus):
    report = inspect_dataset(leaky_corpus)
    assert isinstance(report, InspectionReport) and report.layout == "manifest"
    assert report.num_utterances == 4 and report.num_speakers == 2
    assert report.total_seconds == pytest.approx(1.2, abs=0.01)
    assert report.sample_rates == {8000: 1, 16000: 3} and report.channels == {1: 3, 2: 1}
    assert report.splits["train"]["utterances"] == 2 and report.splits["test"]["speakers"] == 2
    assert report.vocabulary == {"yes": 2, "no": 3, "maybe": 1}
    assert report.characters == " abemnosy"
    assert report.durations["min"] == pytest.approx(0.3, abs=0.01)


def test_problems_are_named_by_file_and_row(leaky_corpus):
    report = inspect_dataset(leaky_corpus)
    located = [(Path(p.source).name, p.row) for p in report.problems]
    assert located == [("manifest.csv", 3), ("manifest.csv", 4)]
    text = report.to_text()
    assert "manifest.csv, row 3: " in text and "missing.wav" in text
    assert "manifest.csv, row 4: empty transcript" in text


def test_leakage_between_train_and_test_is_warned(leaky_corpus):
    report = inspect_dataset(leaky_corpus)
    assert report.leakage["speakers"] == ["anna"]
    [shared] = report.leakage["utterances"]
    assert Path(shared["train"]["audio"]).name == "a1.wav" and Path(shared["test"]["audio"]).name == "copy_of_a1.wav"
    warnings = " | ".join(report.warnings)
    assert "1 speakers appear in both train and test (anna)" in warnings
    assert "1 test utterances are also in train" in warnings


def test_duplicates_by_content_hash(leaky_corpus):
    report = inspect_dataset(leaky_corpus)
    [group] = report.duplicates
    assert group["reason"] == "identical audio content in different files"
    assert [item["location"] for item in group["utterances"]] == [
        f"{leaky_corpus}, row 1 (a1.wav)", f"{leaky_corpus}, row 5 (copy_of_a1.wav)"]


def test_duplicates_by_same_path(tmp_path):
    write_audio(tmp_path / "x.wav")
    (tmp_path / "m.csv").write_text("audio,text\nx.wav,one\nx.wav,two\n")
    [group] = inspect_dataset(tmp_path / "m.csv").duplicates
    assert group["reason"] == "same audio file listed more than once" and len(group["utterances"]) == 2


def test_out_of_vocabulary_against_a_word_list_and_the_digits_domain(leaky_corpus, tmp_path):
    report = inspect_dataset(leaky_corpus, against=["yes", "no"])
    assert report.out_of_vocabulary == {"maybe": 1}
    words = tmp_path / "words.txt"
    words.write_text("Yes\nmaybe\n")
    assert inspect_dataset(leaky_corpus, against=words).out_of_vocabulary == {"no": 3}
    write_audio(tmp_path / "digits" / "d.wav")
    (tmp_path / "digits" / "m.csv").write_text("audio,text\nd.wav,call 42\n")
    assert inspect_dataset(tmp_path / "digits" / "m.csv", domain="digits").out_of_vocabulary == {"call": 1}


def test_to_dict_is_json_and_the_cli_prints_it(leaky_corpus, capsys):
    as_dict = inspect_dataset(leaky_corpus).to_dict()
    assert json.loads(json.dumps(as_dict))["problems"][0] == {
        "file": str(leaky_corpus), "row": 3, "message": as_dict["problems"][0]["message"]}
    assert main(["inspect", str(leaky_corpus), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["utterances"] == 4 and printed["leakage"]["speakers"] == ["anna"]
    assert main(["inspect", str(leaky_corpus), "--vocabulary", str(leaky_corpus)]) == 0
    text = capsys.readouterr().out
    assert "Warnings:" in text and "row 4: empty transcript" in text


def test_cli_errors_are_one_line_without_traceback(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "absent")]) == 2
    assert main(["inspect", str(tmp_path), "--domain", "no-such-domain"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("autoasr: error:") for line in errors)
    assert "Traceback" not in "".join(errors)


def test_a_corpus_with_no_usable_rows_is_still_reported(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("audio,text\nnothing.wav,hello\n")
    report = inspect_dataset(tmp_path / "m.csv")
    assert report.num_utterances == 0 and report.problems[0].row == 1
    assert main(["inspect", str(tmp_path / "m.csv")]) == 1
    assert "no usable utterances" in capsys.readouterr().out
