"""Export of Whisper encoder rows (CTC heads, pooled, pooled_tuned and pooled_mix clip heads): the exported graph reads
waveforms, carries the frozen encoder's weights, and transcribes like the PyTorch model on clips of different
lengths in shared batches; the real tiny.en encoder exports too; zero-shot rows still refuse, plainly."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import onnx
import pytest
import torch

from autoasr.core.text import CharVocabulary
from autoasr.export.runtime import OnnxModel, TorchScriptModel, load_exported
from autoasr.export.writers import export_model
from autoasr.inference.long_audio import segment_log_probs
from autoasr.inference.model import TrainedModel

LABELS = ["off", "on", "one", "yes"]  # shared prefixes and a doubled letter: a pooled head's paths need blanks
# 0.6 s and 3 s among them, and shorter than the 720 samples the encoder frontend pads a clip to
CLIP_SAMPLES = (9600, 48000, 300, 16000, 20000, 721, 31999)
FORMATS = {"onnx": "model.onnx", "torchscript": "model.pt"}


def noise_clips(lengths=CLIP_SAMPLES, seed: int = 0) -> list[np.ndarray]:
    generator = np.random.default_rng(seed)
    return [(0.1 * generator.standard_normal(n)).astype(np.float32) for n in lengths]


def whisper_row(encoder, size: str, num_features: int = 32) -> TrainedModel:
    """A Whisper row as a search saves it, its head's output layer made decisive (random heads give near ties,
    a fragile comparison of greedy paths)."""
    config = {"model": "whisper", "size": size, "frontend": "whisper", "encoder": str(encoder),
              "num_features": num_features}
    if size.startswith("pooled"):
        config["labels"] = LABELS
    torch.manual_seed(0)
    model = TrainedModel.build(config, CharVocabulary.from_texts(LABELS + ["zero two"]))
    with torch.no_grad():
        model.network.output.weight.normal_(0.0, 2.0)
    return model


def assert_export_matches(model: TrainedModel, exported, clips: list, batch_size: int = 3, atol: float = 1e-3):
    expected = segment_log_probs(model, clips, batch_size=batch_size)  # the PyTorch model's own batches
    got = exported.log_probs(clips, batch_size=batch_size)
    assert [len(item) for item in got] == [len(item) for item in expected]
    for mine, theirs in zip(got, expected):
        np.testing.assert_allclose(mine, theirs, atol=atol, rtol=0)
    assert exported.transcribe(clips, batch_size=batch_size) == model.transcribe(clips, batch_size=batch_size)


@pytest.mark.parametrize("export_format", list(FORMATS))
@pytest.mark.parametrize("size", ["tiny", "small", "medium", "pooled", "pooled_tuned", "pooled_mix"])
def test_every_whisper_row_exports_and_transcribes_like_pytorch(tiny_whisper_dir, size, export_format, tmp_path):
    model = whisper_row(tiny_whisper_dir, size)
    exported = load_exported(export_model(model, tmp_path / FORMATS[export_format], format=export_format))
    assert isinstance(exported, OnnxModel if export_format == "onnx" else TorchScriptModel)
    clips = noise_clips()
    # batches of 3: rows of different lengths share each batch, so the graph must hide each row's padding
    assert_export_matches(model, exported, clips)
    assert_export_matches(model, exported, clips[:3], batch_size=1)  # 0.6 s, 3 s and 0.02 s alone
    if size.startswith("pooled"):
        assert set(exported.transcribe(clips)) <= set(LABELS)


def test_the_frozen_encoder_travels_inside_the_file(tiny_whisper_dir, tmp_path):
    import shutil

    encoder = shutil.copytree(tiny_whisper_dir, tmp_path / "encoder")
    model = whisper_row(encoder, "pooled")
    path = export_model(model, tmp_path / "pooled.onnx")
    clips = noise_clips((16000, 8000))
    before = load_exported(path).log_probs(clips)
    shutil.rmtree(encoder)  # the file alone: no folder, no transformers model at run time
    graph = onnx.load(str(path))
    metadata = {entry.key: entry.value for entry in graph.metadata_props}
    frontend = json.loads(metadata["autoasr.frontend"])
    assert frontend == {**frontend, "kind": "whisper", "hop_length": 320, "max_seconds": 30, "below_top": True,
                        "encoder": "encoder", "sample_rate": 16000}
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.graph.input]
    assert dims == [["batch", "samples"], ["batch"]]
    encoder_weights = sum(int(np.prod(t.dims)) for t in graph.graph.initializer)
    assert encoder_weights >= sum(p.numel() for p in model.frontend.transform.encoder_module.parameters())
    after = load_exported(path).log_probs(clips)
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_an_exported_ctc_row_cuts_long_audio_and_decodes_with_its_lexicon(tiny_whisper_dir, tmp_path):
    from autoasr.decoding.lm import LexiconDecoder, lm_decoding_available

    model = whisper_row(tiny_whisper_dir, "small")
    exported = load_exported(export_model(model, tmp_path / "small.onnx"))
    long_recording = np.concatenate(noise_clips((16000 * 12, 16000 * 12, 16000 * 10), seed=1))  # 34 s
    with pytest.raises(ValueError, match="at most 30 s"):
        exported.log_probs([long_recording])  # one encoder window per clip: the graph is not fed more
    assert exported.transcribe([long_recording]) == model.transcribe([long_recording])  # cut, then read
    if not lm_decoding_available():
        pytest.skip("flashlight-text is not installed")
    with_decoder = replace(model, decoder=LexiconDecoder.build(model.vocabulary.symbols, LABELS, beam_size=8))
    exported = load_exported(export_model(with_decoder, tmp_path / "lexicon.pt", format="torchscript"))
    clips = noise_clips()
    assert exported.decoder_spec == with_decoder.decoder.spec()
    transcripts = exported.transcribe(clips, batch_size=3)
    assert transcripts == with_decoder.transcribe(clips, batch_size=3)
    assert all(set(text.split()) <= set(LABELS) for text in transcripts)


def test_the_real_tiny_en_pooled_row_exports_and_reads_fsdd_takes_alike(whisper_dir, fsdd_dir, tmp_path):
    """One real pooled row (tiny.en's 8M encoder weights in the file, about 32 MB) on a few real takes."""
    from autoasr.core.text import DIGIT_WORDS
    from autoasr.data.audio import read_audio

    files = sorted((fsdd_dir / "recordings").glob("*_0.wav"))[:: 7][:6]
    clips = [read_audio(path) for path in files]
    config = {"model": "whisper", "size": "pooled", "frontend": "whisper", "encoder": str(whisper_dir),
              "num_features": 384, "labels": sorted(DIGIT_WORDS)}
    torch.manual_seed(0)
    model = TrainedModel.build(config, CharVocabulary.from_texts(DIGIT_WORDS))
    with torch.no_grad():
        model.network.output.weight.normal_(0.0, 0.5)
    path = export_model(model, tmp_path / "pooled.onnx")
    assert 25 < path.stat().st_size / 2**20 < 40
    assert_export_matches(model, load_exported(path), clips, batch_size=4, atol=1e-3)


def test_an_fp16_export_halves_the_weights_and_computes_alike(tiny_whisper_dir, tmp_path):
    model = whisper_row(tiny_whisper_dir, "small")
    full = export_model(model, tmp_path / "small.onnx")
    half = export_model(model, tmp_path / "small.fp16.onnx", quantize="fp16")
    assert half.stat().st_size < 0.75 * full.stat().st_size
    graph = onnx.load(str(half))
    assert {entry.key: entry.value for entry in graph.metadata_props}["autoasr.quantized"] == "fp16"
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.graph.initializer)
    # weights rounded to 11 bits; this tiny head scales them up (output weights drawn with sd 2): within 0.05
    assert_export_matches(model, load_exported(half), noise_clips(), atol=5e-2)


def test_an_int8_export_is_smaller_keeps_its_metadata_and_its_frontend_in_float(tiny_whisper_dir, tmp_path):
    model = whisper_row(tiny_whisper_dir, "pooled")
    full = export_model(model, tmp_path / "pooled.onnx")
    small = export_model(model, tmp_path / "pooled.int8.onnx", quantize="int8")
    assert small.stat().st_size < full.stat().st_size
    graph = onnx.load(str(small))
    metadata = {entry.key: entry.value for entry in graph.metadata_props}
    assert metadata["autoasr.quantized"] == "int8" and "autoasr.vocabulary" in metadata
    integer = [node.name for node in graph.graph.node if node.op_type in ("MatMulInteger", "DynamicQuantizeLinear")]
    assert any("/frontend/layers." in name for name in integer)  # the encoder's layers are quantized...
    assert not any("log_mel" in name for name in integer)  # ...the spectrum and mel products are not
    clips = noise_clips()
    assert set(load_exported(small).transcribe(clips)) <= set(LABELS)
    with pytest.raises(ValueError, match="is for ONNX files"):
        export_model(model, tmp_path / "pooled.pt", format="torchscript", quantize="int8")


@pytest.mark.slow
def test_zero_shot_rows_still_refuse_export_in_one_plain_line(tmp_path):
    """A recognizer used as it is has no CTC outputs: ``export_model`` and the CLI say so (no traceback)."""
    spec = {"kind": "pocketsphinx", "config": {"words": ["one", "two"], "normalizer": "digits"}}
    (tmp_path / "model.json").write_text(json.dumps(spec))
    pytest.importorskip("pocketsphinx", reason="PocketSphinx is not installed (pip install pocketsphinx)")
    with pytest.raises(ValueError, match="pretrained recognizer used as it is") as refused:
        export_model(tmp_path, tmp_path / "model.onnx")
    assert "\n" not in str(refused.value) and "export a trained row instead" in str(refused.value)
    result = subprocess.run([sys.executable, "-m", "autoasr.cli", "export", str(tmp_path), "--output",
                             str(tmp_path / "model.onnx")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"autoasr: error: {refused.value}"
    assert not (tmp_path / "model.onnx").exists()
