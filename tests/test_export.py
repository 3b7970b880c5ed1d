"""Export to ONNX and TorchScript: an exportable frontend equal to torchaudio's, parity on real speech,
dynamic batch and time axes, self-describing files, and the CLI accepting an ``.onnx`` file."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from autoasr import load_dataset
from autoasr.core.text import CharVocabulary
from autoasr.data.audio import read_audio
from autoasr.export.graph import PortableFrontend
from autoasr.export.runtime import OnnxModel, TorchScriptModel, load_exported
from autoasr.export.writers import export_metadata, export_model
from autoasr.inference.model import TrainedModel
from autoasr.models.batching import pad_batch
from autoasr.models.frontends import Frontend, FrontendConfig

DIGIT_TEXT = "zero one two three four five six seven eight nine"


def run_cli(*arguments):
    return subprocess.run([sys.executable, "-m", "autoasr.cli", *map(str, arguments)], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def test_takes(fsdd_subset):
    return load_dataset(fsdd_subset, split="test", domain="digits")


@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_portable_frontend_equals_torchaudio_on_real_speech(kind, test_takes):
    """Row by row, and for a zero-padded batch: the exportable frontend gives torchaudio's features."""
    frontend = Frontend(FrontendConfig(kind=kind))
    portable = PortableFrontend(frontend)
    samples = [torch.from_numpy(read_audio(u.audio)) for u in list(test_takes)[:24]]
    with torch.inference_mode():
        expected, expected_lengths = pad_batch([frontend(s) for s in samples])
        waveforms = torch.nn.utils.rnn.pad_sequence(samples, batch_first=True)
        features, lengths = portable(waveforms, torch.tensor([len(s) for s in samples]))
    assert lengths.tolist() == expected_lengths.tolist()
    assert features.shape == expected.shape
    difference = (features - expected).abs().max().item()
    # features are normalised (unit variance): both sides carry float32 FFT/DFT rounding of ~1e-3 at most
    assert difference < 5e-3, difference

    # against a float64 computation of the same features, the DFT is no less exact than torch.stft
    reference_frontend = Frontend(FrontendConfig(kind=kind)).double()
    worst_torchaudio = worst_portable = 0.0
    with torch.inference_mode():
        for position, sample in enumerate(samples):
            reference = reference_frontend(sample.double())
            frames = len(reference)
            worst_torchaudio = max(worst_torchaudio, (expected[position, :frames] - reference).abs().max().item())
            worst_portable = max(worst_portable, (features[position, :frames] - reference).abs().max().item())
    assert worst_portable <= 2 * worst_torchaudio + 1e-4, (worst_portable, worst_torchaudio)


def _max_log_prob_difference(trained: TrainedModel, exported, audio: list) -> float:
    """Largest |log p| difference per utterance (each run alone, so no padding differs)."""
    worst = 0.0
    for item, exported_log_probs in zip(audio, exported.log_probs(audio, batch_size=1)):
        features = trained.features(read_audio(item))
        with torch.inference_mode():
            log_probs, _ = trained.network(features.unsqueeze(0), torch.tensor([len(features)]))
        assert log_probs.shape[1] == len(exported_log_probs)
        worst = max(worst, float(np.abs(log_probs[0].numpy() - exported_log_probs).max()))
    return worst


@pytest.mark.slow
@pytest.mark.parametrize("export_format", ["onnx", "torchscript"])
def test_exported_model_transcribes_fsdd_test_takes_exactly_like_pytorch(export_format, robust_digit_model,
                                                                           test_takes, tmp_path):
    path = export_model(robust_digit_model, tmp_path / ("digits.onnx" if export_format == "onnx" else "digits.pt"),
                        format=export_format)
    exported = load_exported(path)
    assert isinstance(exported, OnnxModel if export_format == "onnx" else TorchScriptModel)
    audio = [u.audio for u in test_takes]
    expected = robust_digit_model.transcribe(audio)
    transcripts = exported.transcribe(audio)
    identical = sum(a == b for a, b in zip(expected, transcripts))
    difference = _max_log_prob_difference(robust_digit_model, exported, audio[:20])
    print(f"\n{export_format}: {identical}/{len(audio)} transcripts identical; max |log-prob| difference "
          f"{difference:.2e}")
    assert transcripts == expected
    assert sum(t == r for t, r in zip(transcripts, test_takes.texts)) >= len(audio) // 2, "a model that recognises"
    # the frontends agree to float32 FFT rounding (torch.stft's own error against float64 is ~1e-3):
    # measured 6e-4 to 1e-3 here
    assert difference < 5e-3


def test_a_lexicon_and_lm_decoder_travels_with_the_export(robust_digit_model, test_takes, tmp_path):
    from dataclasses import replace

    from autoasr.decoding.lm import LexiconDecoder, lm_decoding_available

    if not lm_decoding_available():
        pytest.skip("flashlight-text is not installed")
    with_decoder = replace(robust_digit_model, decoder=LexiconDecoder.build(
        robust_digit_model.vocabulary.symbols, DIGIT_TEXT.split(), beam_size=20))
    exported = load_exported(export_model(with_decoder, tmp_path / "digits.onnx"))
    assert exported.decoder_spec == with_decoder.decoder.spec()
    audio = [u.audio for u in test_takes][:40]
    transcripts = exported.transcribe(audio)
    assert transcripts == with_decoder.transcribe(audio)
    assert all(text in DIGIT_TEXT.split() for text in transcripts if text), "the lexicon allows digit words only"


@pytest.mark.parametrize("family", ["crnn", "conformer", "convnet"])
@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_every_model_family_exports_with_dynamic_batch_and_time(family, kind, test_takes, tmp_path):
    """Untrained tiny models: their near-random outputs make the argmax paths a strict comparison."""
    torch.manual_seed(0)
    trained = TrainedModel.build({"model": family, "size": "tiny", "frontend": kind},
                                 CharVocabulary.from_texts([DIGIT_TEXT]))
    onnx_model = load_exported(export_model(trained, tmp_path / "model.onnx"))
    script_model = load_exported(export_model(trained, tmp_path / "model.pt", format="torchscript"))
    audio = [u.audio for u in test_takes][:21]
    expected = trained.transcribe(audio, batch_size=8)  # batches of 8, 8 and 5 takes of different lengths
    assert onnx_model.transcribe(audio, batch_size=8) == expected
    assert script_model.transcribe(audio, batch_size=8) == expected
    assert _max_log_prob_difference(trained, onnx_model, audio[:3]) < 5e-3
    assert _max_log_prob_difference(trained, script_model, audio[:3]) < 5e-3


def test_exported_files_describe_themselves(robust_digit_model, tmp_path):
    path = export_model(robust_digit_model, tmp_path / "digits.onnx")
    graph = onnx.load(str(path))
    metadata = {entry.key: entry.value for entry in graph.metadata_props}
    assert json.loads(metadata["autoasr.vocabulary"]) == list(robust_digit_model.vocabulary.symbols)
    frontend = json.loads(metadata["autoasr.frontend"])
    assert frontend == {**frontend, "kind": "logmel", "num_features": 40, "sample_rate": 16000, "hop_length": 160,
                        "n_fft": 512, "win_length": 400}
    assert [i.name for i in graph.graph.input] == ["waveform", "waveform_lengths"]
    dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.graph.input]
    assert dims == [["batch", "samples"], ["batch"]]
    # no file beside it is needed: onnxruntime alone (no autoasr, no torch) runs it on a waveform
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    waveform = np.zeros((3, 12345), dtype=np.float32)
    log_probs, lengths = session.run(None, {"waveform": waveform, "waveform_lengths": np.array([12345, 9000, 400])})
    assert log_probs.shape[0] == 3 and log_probs.shape[2] == len(robust_digit_model.vocabulary)
    assert lengths.tolist() == [(12345 // 160 + 2) // 2, (9000 // 160 + 2) // 2, (400 // 160 + 2) // 2]

    script = TorchScriptModel(export_model(robust_digit_model, tmp_path / "digits.pt", format="torchscript"))
    assert script.symbols == robust_digit_model.vocabulary.symbols
    assert script.frontend_settings == frontend


@pytest.mark.slow
def test_cli_exports_a_run_and_evaluates_and_transcribes_the_onnx_file(trained_predictor, fsdd_subset, tmp_path):
    run = trained_predictor.path
    output = tmp_path / "exported" / "digits.onnx"
    result = run_cli("export", run, "--format", "onnx", "--output", output)
    assert result.returncode == 0, result.stderr
    assert output.is_file() and "exported" in result.stdout
    from_run = json.loads(run_cli("evaluate", run, fsdd_subset, "--json").stdout)
    from_onnx = json.loads(run_cli("evaluate", output, fsdd_subset, "--json").stdout)
    assert from_onnx["num_utterances"] == from_run["num_utterances"] == 100
    assert from_onnx["wer"] == from_run["wer"] and from_onnx["cer"] == from_run["cer"]

    audio = [str(u.audio) for u in load_dataset(fsdd_subset, split="test")][:3]
    transcribed = run_cli("transcribe", output, *audio)
    assert transcribed.returncode == 0, transcribed.stderr
    texts = [line.split("\t", 1)[1] if "\t" in line else "" for line in transcribed.stdout.splitlines()]
    assert texts == trained_predictor.transcribe(audio)

    script = run_cli("export", run, "--format", "torchscript", "--output", tmp_path / "digits.pt")
    assert script.returncode == 0, script.stderr
    leaderboard = run_cli("leaderboard", output)
    assert leaderboard.returncode == 2 and "no leaderboard" in leaderboard.stderr
    assert "Traceback" not in leaderboard.stderr


@pytest.mark.slow
def test_export_of_a_missing_model_is_one_clear_line(tmp_path):
    result = run_cli("export", tmp_path / "nothing-here", "--output", tmp_path / "x.onnx")
    assert result.returncode == 2
    assert "nothing-here" in result.stderr and "Traceback" not in result.stderr


def test_a_model_of_a_custom_domain_exports_and_evaluates_with_that_domains_normaliser(robust_digit_model,
                                                                                      fsdd_subset, tmp_path):
    from autoasr.domains.presets import Domain

    domain = Domain.custom(words=[str(d) for d in range(10)], name="my phone digits", base="digits")
    metadata = export_metadata(robust_digit_model, domain.to_dict())
    assert metadata["autoasr.domain"] == "my phone digits"
    assert json.loads(metadata["autoasr.domain_spec"])["normalizer"] == domain.normalizer
    exported = load_exported(export_model(_predictor_like(robust_digit_model, domain), tmp_path / "run.onnx"))
    assert exported.metadata["autoasr.domain"] == "my phone digits"
    result = exported.evaluate(fsdd_subset)  # the name alone is unknown to get_domain: the spec travels along
    assert result["num_utterances"] == 100 and result["wer"] < 0.5


def _predictor_like(model, domain):
    class Run:  # what export_model reads from an ASRPredictor: its best model and its domain
        domain_spec = domain

        def model(self):
            return model

    return Run()
