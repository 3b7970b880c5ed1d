"""Phone and browser audio (m4a/AAC, webm/opus, mp3) is decoded through PyAV; files are made by PyAV itself."""
from pathlib import Path

import numpy as np
import pytest
from audio_clips import TONE_HZ, encode_tone

from autoasr.data.audio import AUDIO_EXTENSIONS, AudioError, audio_info, read_audio


@pytest.mark.parametrize("name, codec, rate", [
    ("memo.m4a", "aac", 44100),         # a phone's voice memo
    ("recording.webm", "libopus", 48000),  # a browser's MediaRecorder
    ("song.mp3", "libmp3lame", 44100),
])
def test_compressed_audio_is_read_as_16k_mono_with_its_tone(tmp_path, name, codec, rate):
    assert Path(name).suffix in AUDIO_EXTENSIONS
    encode_tone(tmp_path / name, codec, rate)
    samples = read_audio(tmp_path / name)
    assert samples.ndim == 1 and samples.dtype == np.float32
    # encoders pad with a priming delay of a few frames, never a tenth of a second
    assert abs(len(samples) - 16000) < 1600
    spectrum = np.abs(np.fft.rfft(samples))
    peak_hz = np.argmax(spectrum) * 16000 / len(samples)
    assert abs(peak_hz - TONE_HZ) < 5
    assert 0.3 < np.abs(samples).max() < 0.8
    file_rate, channels, seconds = audio_info(tmp_path / name)
    assert file_rate == rate and channels == 2
    assert 0.9 < seconds < 1.15


def test_a_file_neither_decoder_reads_raises_audio_error_naming_it(tmp_path):
    (tmp_path / "voice.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A garbage that is not audio")
    with pytest.raises(AudioError, match="voice.m4a"):
        read_audio(tmp_path / "voice.m4a")
    with pytest.raises(AudioError, match="voice.m4a"):
        audio_info(tmp_path / "voice.m4a")
