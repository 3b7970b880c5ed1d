"""Folder-per-label corpora (Teachable Machine, Edge Impulse, Keras) and Speech Commands are detected and read."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from audio_clips import encode_tone, write_audio

from autoasr import load_dataset
from autoasr.data.layouts import detect_layout

SPEECH_COMMANDS = Path(os.environ.get("AUTOASR_SPEECH_COMMANDS",
                                      Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "speech_commands"))


def test_label_folders_give_the_folder_name_as_transcript(tmp_path):
    for label in ("yes", "no", "turn_on"):
        for take in range(2):
            write_audio(tmp_path / label / f"clip{take}.wav")
    (tmp_path / "README.txt").write_text("not audio")
    dataset = load_dataset(tmp_path)
    assert detect_layout(tmp_path).name == "label_folders"
    assert sorted(u.text for u in dataset) == ["no", "no", "turn on", "turn on", "yes", "yes"]
    assert {u.speaker for u in dataset} == {None} and {u.split for u in dataset} == {None}


def test_label_folders_of_phone_memos_and_browser_recordings_are_a_corpus(tmp_path):
    for label, name, codec in (("yes", "memo.m4a", "aac"), ("no", "take.webm", "libopus")):
        (tmp_path / label).mkdir()
        for take in range(2):
            encode_tone(tmp_path / label / f"{take}{name}", codec, 48000, seconds=0.5)
    dataset = load_dataset(tmp_path)
    assert detect_layout(tmp_path).name == "label_folders"
    assert sorted(u.text for u in dataset) == ["no", "no", "yes", "yes"]


def test_one_label_folder_is_not_a_corpus_of_labels(tmp_path):
    write_audio(tmp_path / "yes" / "clip.wav")
    assert detect_layout(tmp_path) is None or detect_layout(tmp_path).name != "label_folders"


def test_speech_commands_speakers_lists_and_background_noise(tmp_path):
    for word in ("yes", "no"):
        for speaker in ("0a7c2a8d", "bd76a7fd", "c0c0c0c0"):
            write_audio(tmp_path / word / f"{speaker}_nohash_0.wav")
    write_audio(tmp_path / "_background_noise_" / "white_noise.wav", seconds=1.0)
    (tmp_path / "validation_list.txt").write_text("yes/bd76a7fd_nohash_0.wav\nno/bd76a7fd_nohash_0.wav\n")
    (tmp_path / "testing_list.txt").write_text("yes/c0c0c0c0_nohash_0.wav\nno/c0c0c0c0_nohash_0.wav\n")
    dataset = load_dataset(tmp_path)
    assert detect_layout(tmp_path).name == "speech_commands"
    assert len(dataset) == 6 and sorted(dataset.speakers) == ["0a7c2a8d", "bd76a7fd", "c0c0c0c0"]
    splits = {(u.speaker, u.split) for u in dataset}
    assert splits == {("0a7c2a8d", "train"), ("bd76a7fd", "dev"), ("c0c0c0c0", "test")}
    train, test = load_dataset(tmp_path, split=("train", "test"))
    assert sorted(u.text for u in test) == ["no", "yes"] and all(u.speaker == "0a7c2a8d" for u in train)


def test_speech_commands_without_lists_has_no_splits(tmp_path):
    for word in ("up", "down"):
        write_audio(tmp_path / word / f"1234abcd_nohash_{len(word)}.wav")
    dataset = load_dataset(tmp_path)
    assert detect_layout(tmp_path).name == "speech_commands"
    assert {u.split for u in dataset} == {None} and dataset.speakers == ["1234abcd"]


def test_the_shared_speech_commands_folder():
    if not SPEECH_COMMANDS.is_dir():
        pytest.skip(f"Speech Commands not found at {SPEECH_COMMANDS} (set AUTOASR_SPEECH_COMMANDS to its folder)")
    dataset = load_dataset(SPEECH_COMMANDS, validate_audio=False)
    assert detect_layout(SPEECH_COMMANDS).name == "speech_commands"
    assert len(dataset) == 3239 and len(dataset.speakers) == 191
    assert sorted({u.text for u in dataset}) == sorted(["yes", "no", "up", "down", "left", "right", "on", "off",
                                                        "stop", "go"])
