"""Pretrained wav2vec2 encoders: discovery, pickle-free loading and CTC fine-tuning of a tiny local checkpoint."""
from __future__ import annotations

import pickle

import pytest
import torch
from torchaudio.models import wav2vec2_model

from autoasr.models.frontends import WaveformFrames
from autoasr.models.wav2vec2 import (
    ENVIRONMENT_VARIABLE,
    Wav2Vec2CTC,
    available_pretrained_encoders,
    build_pretrained_ctc,
    load_wav2vec2,
    pretrained_model_family,
    read_encoder,
    save_wav2vec2_checkpoint,
    tiny_wav2vec2_config,
)
from autoasr.search.candidates import search_candidates

VOCABULARY_SIZE = 5  # blank, space and three "letters"


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A randomly initialised two-layer wav2vec2 saved as an autoasr checkpoint."""
    torch.manual_seed(0)
    config = tiny_wav2vec2_config()
    model = wav2vec2_model(**config, aux_num_out=None)
    path = save_wav2vec2_checkpoint(model, config, tmp_path_factory.mktemp("encoders") / "tiny_w2v2.safetensors")
    return path, model


def tone_sequence(frequencies: list[float], seconds_each: float = 0.25) -> torch.Tensor:
    """Consecutive tones: a toy "utterance" whose symbols are the tones."""
    time = torch.arange(int(seconds_each * 16000)) / 16000
    return torch.cat([0.5 * torch.sin(2 * torch.pi * f * time) for f in frequencies])


def test_no_configured_weights_gives_an_empty_list_with_a_reason(monkeypatch, tmp_path):
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    encoders = available_pretrained_encoders()
    assert encoders == [] and ENVIRONMENT_VARIABLE in encoders.reason
    (tmp_path / "notes.safetensors").write_bytes(b"not a checkpoint")
    assert "not a safetensors file" in available_pretrained_encoders(tmp_path).reason
    assert "no such file or folder" in available_pretrained_encoders(tmp_path / "missing").reason


def test_checkpoint_is_found_through_the_environment_variable(monkeypatch, tiny_checkpoint):
    path, _ = tiny_checkpoint
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, str(path.parent))
    encoders = available_pretrained_encoders()
    assert [encoder.name for encoder in encoders] == ["tiny_w2v2"]
    assert encoders[0].config["encoder_num_layers"] == 2 and 10_000 < encoders[0].parameters < 100_000
    assert "wav2vec2 encoder" in encoders[0].describe()


def test_checkpoint_loads_without_unpickling_anything(monkeypatch, tiny_checkpoint):
    path, original = tiny_checkpoint

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint load must not unpickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    loaded = load_wav2vec2(path)
    for key, value in original.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_forward_gives_ctc_log_probabilities_per_output_frame(tiny_checkpoint):
    path, _ = tiny_checkpoint
    model = build_pretrained_ctc(read_encoder(path), VOCABULARY_SIZE).eval()
    frontend = WaveformFrames()
    clips = [tone_sequence([300, 900]), tone_sequence([600])]
    frames = torch.nn.utils.rnn.pad_sequence([frontend(c) for c in clips], batch_first=True)
    lengths = torch.tensor([len(frontend(c)) for c in clips])
    assert frames.shape[-1] == 160 and lengths.tolist() == [50, 25]
    log_probs, out_lengths = model(frames, lengths)
    assert log_probs.shape[0] == 2 and log_probs.shape[2] == VOCABULARY_SIZE
    assert log_probs.shape[1] == out_lengths.max() and abs(out_lengths[0].item() - 25) <= 1  # 50 frames a second
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]), atol=1e-5)
    assert not any(p.requires_grad for p in model.encoder.feature_extractor.parameters())


def test_a_few_fine_tuning_steps_reduce_the_ctc_loss(tiny_checkpoint):
    path, _ = tiny_checkpoint
    torch.manual_seed(0)
    model = build_pretrained_ctc(path, VOCABULARY_SIZE, dropout=0.0)
    frontend = WaveformFrames()
    tones = {2: 300.0, 3: 700.0, 4: 1500.0}
    labels = [[2, 3], [4, 2], [3, 4, 2], [4]]
    clips = [tone_sequence([tones[label] for label in sequence]) for sequence in labels]
    frames = torch.nn.utils.rnn.pad_sequence([frontend(c) for c in clips], batch_first=True)
    lengths = torch.tensor([len(frontend(c)) for c in clips])
    targets = torch.cat([torch.tensor(sequence) for sequence in labels])
    target_lengths = torch.tensor([len(sequence) for sequence in labels])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    losses = []
    for _ in range(25):
        log_probs, out_lengths = model(frames, lengths)
        loss = ctc(log_probs.transpose(0, 1), targets, out_lengths, target_lengths)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_model_family_builds_for_training_and_for_inference(tiny_checkpoint):
    path, _ = tiny_checkpoint
    encoders = available_pretrained_encoders(path)
    family = pretrained_model_family(encoders)
    trained = family.build(160, VOCABULARY_SIZE, dropout=0.1, **family.sizes["tiny_w2v2"])
    rebuilt = family.build(160, VOCABULARY_SIZE, dropout=0.1, encoder_config=encoders[0].config)
    rebuilt.load_state_dict(trained.state_dict())  # a fine-tuned model reloads without the checkpoint
    assert isinstance(rebuilt, Wav2Vec2CTC)
    with pytest.raises(ValueError, match="waveform"):
        family.build(40, VOCABULARY_SIZE, **family.sizes["tiny_w2v2"])
    [candidate] = search_candidates(encoders)
    assert candidate["model"] == "wav2vec2" and candidate["size"] == "tiny_w2v2" and candidate["augment"] == 0.0
