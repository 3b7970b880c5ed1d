import numpy as np
import pytest
import soundfile

from autoasr.core.text import BLANK, CharVocabulary, normalize_text
from autoasr.data.audio import AudioError, read_audio


def test_stereo_44k_file_is_mixed_to_mono_and_resampled_to_16k(tmp_path):
    seconds = 0.5
    t = np.arange(int(44100 * seconds)) / 44100
    left, right = np.sin(2 * np.pi * 440 * t), np.zeros_like(t)
    soundfile.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), 44100)
    samples = read_audio(tmp_path / "stereo.wav")
    assert samples.ndim == 1 and samples.dtype == np.float32
    assert abs(len(samples) - 8000) <= 2
    assert 0.3 < np.abs(samples).max() < 0.6  # mean of a full-scale and a silent channel


def test_missing_and_corrupt_audio_raise_audio_error_naming_the_file(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        read_audio(tmp_path / "absent.wav")
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wave file")
    with pytest.raises(AudioError, match="broken.wav"):
        read_audio(tmp_path / "broken.wav")


def test_normalize_text_lowercases_strips_punctuation_and_spells_digits_in_digits_domain():
    assert normalize_text("  Hello,   World! ") == "hello world"
    assert normalize_text("PIN 407", domain="digits") == "pin four zero seven"
    assert normalize_text("don't") == "don't"


def test_vocabulary_puts_blank_first_and_round_trips_text():
    vocabulary = CharVocabulary.from_texts(["go left", "stop"])
    assert vocabulary.symbols[0] == BLANK and " " in vocabulary.symbols
    assert vocabulary.decode(vocabulary.encode("go stop")) == "go stop"
    assert vocabulary.unknown_characters("gox") == {"x"}
