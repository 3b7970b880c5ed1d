"""Each corpus layout is detected and read from a small fixture the test writes (0.3 s noise clips)."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from audio_clips import write_audio

from autoasr import load_dataset
from autoasr.data.dataset import DataError
from autoasr.data.layouts import (
    FSDD_PATTERN,
    LAYOUTS,
    FilenamePattern,
    detect_layout,
    read_filename_pattern,
    split_name,
)
from autoasr.data.load import read_corpus


def texts_by_id(dataset) -> dict[str, str]:
    return {u.utterance_id: u.text for u in dataset}


def test_manifest_rows_with_missing_audio_are_problems_with_row_numbers(tmp_path):
    write_audio(tmp_path / "a.wav")
    (tmp_path / "manifest.csv").write_text("audio,text,speaker,split\na.wav,Hello there,anna,train\n"
                                           "missing.wav,gone,ben,test\n")
    dataset = read_corpus(tmp_path)
    assert detect_layout(tmp_path).name == "manifest"
    assert [(u.text, u.speaker, u.split) for u in dataset] == [("hello there", "anna", "train")]
    assert [(Path(p.source).name, p.row) for p in dataset.problems] == [("manifest.csv", 2)]


def test_transcribed_folder_reads_txt_and_lab_with_speaker_and_split_from_folders(tmp_path):
    write_audio(tmp_path / "train" / "anna" / "one.wav")
    (tmp_path / "train" / "anna" / "one.txt").write_text("Turn left\n")
    write_audio(tmp_path / "test" / "ben" / "two.flac")
    (tmp_path / "test" / "ben" / "two.lab").write_text("stop")
    write_audio(tmp_path / "train" / "anna" / "three.ogg", rate=22050)
    (tmp_path / "train" / "anna" / "three.txt").write_text("go\n")
    write_audio(tmp_path / "test" / "ben" / "orphan.mp3")
    dataset = read_corpus(tmp_path)
    assert detect_layout(tmp_path).name == "transcribed_folder"
    assert sorted((u.text, u.speaker, u.split) for u in dataset) == [("go", "anna", "train"), ("stop", "ben", "test"),
                                                                     ("turn left", "anna", "train")]
    assert len(dataset.problems) == 1 and dataset.problems[0].source.endswith("orphan.mp3")


def test_audiofolder_metadata_with_split_folders_and_speaker_column(tmp_path):
    for split in ("train", "test"):
        write_audio(tmp_path / split / f"{split}_clip.wav")
        (tmp_path / split / "metadata.csv").write_text(
            f"file_name,transcription,speaker_id\n{split}_clip.wav,Good {split},spk_{split}\nnope.wav,x,y\n")
    dataset = read_corpus(tmp_path)
    assert detect_layout(tmp_path).name == "audiofolder"
    assert sorted((u.text, u.speaker, u.split) for u in dataset) == [("good test", "spk_test", "test"),
                                                                     ("good train", "spk_train", "train")]
    assert sorted((Path(p.source).parent.name, p.row) for p in dataset.problems) == [("test", 2), ("train", 2)]


def _librispeech_subset(root: Path, subset: str, speaker: str, chapter: str, lines: int) -> None:
    folder = root / subset / speaker / chapter
    rows = []
    for number in range(lines):
        utterance_id = f"{speaker}-{chapter}-{number:04d}"
        write_audio(folder / f"{utterance_id}.flac")
        rows.append(f"{utterance_id} HELLO WORLD NUMBER {number}")
    rows.append(f"{speaker}-{chapter}-9999 NO AUDIO FOR THIS LINE")
    (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(rows) + "\n")


def test_librispeech_speakers_from_ids_and_splits_from_subset_names(tmp_path):
    root = tmp_path / "LibriSpeech"
    _librispeech_subset(root, "train-clean-5", "19", "198", 2)
    _librispeech_subset(root, "dev-clean-2", "84", "121", 1)
    dataset = read_corpus(root)
    assert detect_layout(root).name == "librispeech"
    assert texts_by_id(dataset)["19-198-0001"] == "hello world number 1"
    assert sorted({(u.speaker, u.split) for u in dataset}) == [("19", "train"), ("84", "dev")]
    assert sorted((Path(p.source).name, p.row) for p in dataset.problems) == [("19-198.trans.txt", 3),
                                                                              ("84-121.trans.txt", 2)]
    single = read_corpus(root / "dev-clean-2")  # one subset: no split imposed
    assert [u.split for u in single] == [None]


def test_common_voice_tsvs_give_splits_and_client_ids_speakers_mp3_clips(tmp_path):
    header = "client_id\tpath\tsentence\tup_votes\n"
    for split, speaker in (("train", "c1"), ("dev", "c2"), ("test", "c3")):
        write_audio(tmp_path / "clips" / f"cv_{split}.mp3", rate=16000)
        (tmp_path / f"{split}.tsv").write_text(header + f'{speaker}\tcv_{split}.mp3\tHe said "{split}"\t2\n')
    (tmp_path / "train.tsv").write_text((tmp_path / "train.tsv").read_text() + "c9\tabsent.mp3\tlost\t0\n")
    (tmp_path / "validated.tsv").write_text(header)  # ignored when train/dev/test exist
    dataset = read_corpus(tmp_path)
    assert detect_layout(tmp_path).name == "common_voice"
    assert sorted((u.text, u.speaker, u.split) for u in dataset) == [
        ("he said dev", "c2", "dev"), ("he said test", "c3", "test"), ("he said train", "c1", "train")]
    assert [(Path(p.source).name, p.row) for p in dataset.problems] == [("train.tsv", 2)]
    assert len(read_corpus(tmp_path / "test.tsv")) == 1  # one table given directly


def test_kaldi_reads_plain_paths_and_never_runs_piped_commands(tmp_path):
    data = tmp_path / "data" / "train"
    write_audio(tmp_path / "audio" / "u1.wav")
    write_audio(data / "u3.wav")
    marker = tmp_path / "PWNED"
    data.joinpath("wav.scp").write_text(
        f"u1 {tmp_path / 'audio' / 'u1.wav'}\n"
        f"u2 touch {marker} && sox in.wav -t wav - |\n"
        "u3 u3.wav\n")
    data.joinpath("text").write_text("u1 YES NO\nu2 NO\nu3 YES\n")
    data.joinpath("utt2spk").write_text("u1 spk1\nu2 spk1\nu3 spk2\n")
    dataset = read_corpus(tmp_path / "data")  # a folder of Kaldi data folders
    assert detect_layout(data).name == "kaldi"
    assert sorted((u.utterance_id, u.text, u.speaker, u.split) for u in dataset) == [
        ("u1", "yes no", "spk1", "train"), ("u3", "yes", "spk2", "train")]
    located = {(Path(p.source).name, p.row) for p in dataset.problems}
    assert ("wav.scp", 2) in located and ("text", 2) in located
    assert any("not run" in p.message for p in dataset.problems)
    assert not marker.exists()


def test_ljspeech_metadata_uses_normalized_text(tmp_path):
    write_audio(tmp_path / "wavs" / "LJ001-0001.wav", rate=22050)
    write_audio(tmp_path / "wavs" / "LJ001-0002.wav", rate=22050)
    (tmp_path / "metadata.csv").write_text("LJ001-0001|Dr. Smith 2|Doctor Smith two\nLJ001-0002|Plain text|\n"
                                           "LJ001-0003|no audio|no audio\n")
    dataset = read_corpus(tmp_path)
    assert detect_layout(tmp_path).name == "ljspeech"
    assert texts_by_id(dataset) == {"LJ001-0001": "doctor smith two", "LJ001-0002": "plain text"}
    assert [(Path(p.source).name, p.row) for p in dataset.problems] == [("metadata.csv", 3)]


def test_fsdd_is_an_instance_of_the_filename_pattern_reader(tmp_path):
    for name in ("0_anna_0", "7_anna_12", "3_ben_4"):
        write_audio(tmp_path / "recordings" / f"{name}.wav", rate=8000)
    dataset = read_corpus(tmp_path)
    assert isinstance(FSDD_PATTERN, FilenamePattern)
    assert detect_layout(tmp_path).name == "fsdd"
    assert sorted((u.text, u.speaker, u.split) for u in dataset) == [
        ("seven", "anna", "train"), ("three", "ben", "test"), ("zero", "anna", "test")]
    train, test = load_dataset(tmp_path, split=("train", "test"))
    assert (len(train), len(test)) == (1, 2)


def test_a_corpus_given_by_a_relative_path_reads_from_any_working_folder(tmp_path, monkeypatch):
    for name in ("0_anna_0", "7_anna_12"):
        write_audio(tmp_path / "corpora" / "fsdd" / "recordings" / f"{name}.wav", rate=8000)
    write_audio(tmp_path / "corpora" / "lj" / "wavs" / "LJ001-0001.wav", rate=22050)
    (tmp_path / "corpora" / "lj" / "metadata.csv").write_text("LJ001-0001|one|one\n")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    for relative, count in (("../corpora/fsdd", 2), ("../corpora/lj", 1)):
        dataset = read_corpus(relative)
        assert len(dataset) == count and not dataset.problems, dataset.problems
        assert all(u.audio.is_file() for u in dataset)


def test_yesno_names_become_yes_no_words(tmp_path):
    write_audio(tmp_path / "0_1_1_0.wav", rate=8000)
    write_audio(tmp_path / "1_1_1_1.wav", rate=8000)
    dataset = read_corpus(tmp_path)
    assert detect_layout(tmp_path).name == "yesno"
    assert sorted(dataset.texts) == ["no yes yes no", "yes yes yes yes"]


def test_named_files_and_a_custom_pattern_report_files_that_do_not_match(tmp_path):
    write_audio(tmp_path / "stop_anna_3.wav")
    write_audio(tmp_path / "go_ben_1.flac")
    dataset = read_corpus(tmp_path)
    assert detect_layout(tmp_path).name == "named_files"
    assert sorted((u.text, u.speaker) for u in dataset) == [("go", "ben"), ("stop", "anna")]

    custom = tmp_path / "custom"
    write_audio(custom / "anna-turn left-train.wav")
    write_audio(custom / "stray.wav")
    result = read_filename_pattern(custom, "{speaker}-{text:[a-z ]+}-{split}")
    assert [(u.text, u.speaker, u.split) for u in result] == [("turn left", "anna", "train")]
    assert [Path(p.source).name for p in result.problems] == ["stray.wav"]


def test_zip_of_a_layout_is_extracted_once_into_the_cache_and_read(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOASR_CACHE", str(tmp_path / "cache"))
    corpus = tmp_path / "src" / "my_corpus"
    _librispeech_subset(corpus, "dev-clean-2", "84", "121", 2)
    archive = tmp_path / "my_corpus.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for file in sorted(corpus.rglob("*")):
            bundle.write(file, file.relative_to(corpus.parent).as_posix())
    assert detect_layout(archive).name == "archive"
    dataset = read_corpus(archive)
    assert len(dataset) == 2 and {u.speaker for u in dataset} == {"84"} and dataset.name == "my_corpus"
    extracted = dataset[0].audio
    assert str(extracted).startswith(str(tmp_path / "cache"))
    first_mtime = os.stat(extracted).st_mtime_ns
    assert read_corpus(archive)[0].audio == extracted and os.stat(extracted).st_mtime_ns == first_mtime


def test_unknown_layout_names_every_layout(tmp_path):
    (tmp_path / "notes.md").write_text("nothing to see")
    with pytest.raises(DataError) as error:
        read_corpus(tmp_path)
    for layout in LAYOUTS:
        assert layout.name in str(error.value)


def test_split_names_are_canonical():
    assert [split_name(name) for name in ("train-clean-5", "dev", "validation", "test.tsv", "speakerA")] == [
        "train", "dev", "dev", "test", None]
