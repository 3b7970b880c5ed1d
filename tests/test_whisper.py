"""A frozen Whisper encoder with a CTC head: loading, clip-length encoding, the resolver, a search, save and reload.

The code paths run on a tiny random Whisper saved to a temporary folder (seconds); the shared Whisper
tiny.en (``../shared/models/whisper-tiny.en``) checks the real weights and is skipped where absent.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from autoasr.models.encoder_sources import available_pretrained_encoders, cached_whisper_source
from autoasr.models.whisper import (
    WhisperEncoderFrontend,
    WhisperLogMel,
    WhisperUnavailable,
    encode_log_mel,
    load_whisper_encoder,
)


@pytest.mark.parametrize("size", ["tiny", "small", "medium"])
def test_every_head_keeps_the_frame_rate(size):
    from autoasr.models.whisper import WhisperCTCHead

    head = WhisperCTCHead(num_features=32, vocabulary_size=12, size=size)
    log_probs, lengths = head(torch.randn(2, 50, 32), torch.tensor([50, 30]))
    assert log_probs.shape == (2, 50, 12) and lengths.tolist() == [50, 30]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(2, 50), atol=1e-5)


def test_the_encoder_runs_on_the_clip_own_length(tiny_whisper_dir):
    frontend = WhisperEncoderFrontend(str(tiny_whisper_dir))
    one, three = frontend(torch.randn(16000) * 0.1), frontend(torch.randn(48000) * 0.1)
    assert one.shape == (50, 32) and three.shape == (150, 32)  # 50 vectors a second, no 30 s padding
    batch = frontend(torch.randn(3, 16000) * 0.1)
    assert batch.shape == (3, 50, 32) and not batch.requires_grad
    assert frontend(torch.zeros(16000 * 35)).shape == (1750, 32)  # past 30 s: encoded in 30 s windows


def test_cut_positional_embeddings_match_the_encoder_on_a_full_window(tiny_whisper_dir):
    """On 30 s of input (the only length transformers' forward accepts) both passes must agree exactly."""
    encoder = load_whisper_encoder(str(tiny_whisper_dir))
    mel = WhisperLogMel()(torch.randn(1, 16000 * 30) * 0.1)
    assert mel.shape == (1, 80, 3000)
    with torch.inference_mode():
        ours, theirs = encode_log_mel(encoder, mel), encoder(mel).last_hidden_state
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_the_log_mel_matches_whisper_feature_extractor():
    from transformers import WhisperFeatureExtractor

    samples = (np.random.default_rng(0).standard_normal(16000) * 0.1).astype(np.float32)
    reference = WhisperFeatureExtractor()(samples, sampling_rate=16000, return_tensors="pt").input_features[0, :, :100]
    ours = WhisperLogMel()(torch.from_numpy(samples)[None])[0]
    assert ours.shape == reference.shape
    assert (ours - reference).abs().max() < 0.05  # float32 against the extractor's float64 STFT


def test_the_resolver_finds_folders_and_says_why_it_cannot(tiny_whisper_dir, tmp_path, monkeypatch):
    encoders = available_pretrained_encoders(str(tiny_whisper_dir))
    assert [e.kind for e in encoders] == ["whisper"] and encoders[0].config["d_model"] == 32
    assert encoders[0].source == str(tiny_whisper_dir) and "Whisper encoder, 2 layers of 32 dims" in encoders[0].describe()
    monkeypatch.setenv("AUTOASR_PRETRAINED", str(tiny_whisper_dir))
    assert available_pretrained_encoders()[0].source == str(tiny_whisper_dir)
    monkeypatch.delenv("AUTOASR_PRETRAINED")
    missing = available_pretrained_encoders("openai/whisper-not-a-model")  # offline: a plain reason, no traceback
    assert missing == [] and "openai/whisper-not-a-model: offline: HF_HUB_OFFLINE is set" in missing.reason
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((tiny_whisper_dir / "config.json").read_text())
    assert "without safetensors weights" in available_pretrained_encoders(str(pickled)).reason
    with pytest.raises(WhisperUnavailable, match="openai/whisper-none"):
        load_whisper_encoder("openai/whisper-none")
    none = available_pretrained_encoders()  # nothing configured, an empty HF cache, offline (tests/conftest.py)
    assert none == [] and cached_whisper_source() is None
    assert "openai/whisper-tiny.en" in none.reason and "HF_HUB_OFFLINE" in none.reason
    assert "not asked for" in available_pretrained_encoders(None).reason


def test_a_whisper_model_in_the_hf_cache_is_the_default(tiny_whisper_dir, tmp_path, monkeypatch):
    """The cache as huggingface_hub writes it: blobs, a snapshot of links to them, and a ref."""
    repo = tmp_path / "models--someone--whisper-tiny-test"
    snapshot = repo / "snapshots" / "0123abcd"
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    for file in ("config.json", "model.safetensors", "generation_config.json"):
        blob = repo / "blobs" / file.replace(".", "-")
        blob.write_bytes((tiny_whisper_dir / file).read_bytes())
        (snapshot / file).symlink_to(blob)
    assert cached_whisper_source(str(tmp_path)) == "someone/whisper-tiny-test"
    monkeypatch.setattr("autoasr.models.encoder_sources.cached_whisper_source", lambda **_: "someone/whisper-tiny-test")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    encoders = available_pretrained_encoders()
    assert [e.source for e in encoders] == ["someone/whisper-tiny-test"]


def test_audio_seconds_follow_the_encoder_frame_rate(tiny_whisper_dir, tiny_corpus):
    from autoasr import load_dataset
    from autoasr.core.text import CharVocabulary
    from autoasr.training.loop import train_trial
    from autoasr.training.tensors import FeatureStore

    train = load_dataset(tiny_corpus, split="train", domain="digits")
    vocabulary = CharVocabulary.from_texts(train.texts)
    config = {"model": "whisper", "size": "tiny", "frontend": "whisper", "encoder": str(tiny_whisper_dir),
              "num_features": 32, "learning_rate": 3e-3, "dropout": 0.1, "augment": 0.0, "batch_size": 16,
              "max_epochs": 1}
    tensors, _ = FeatureStore(train, train, vocabulary)(config)
    duration = sum(u.duration for u in train)
    assert tensors.frames_per_second == 50.0 and abs(tensors.audio_seconds - duration) < 0.03 * len(train)
    outcome = train_trial(config, tensors, tensors, vocabulary, deadline=time.time() + 60)
    assert outcome.epochs == 1 and abs(outcome.audio_seconds_trained - duration) < 0.03 * len(train)


@pytest.mark.slow
def test_a_search_starts_with_whisper_heads_and_the_winner_saves_and_reloads(tiny_whisper_dir, tiny_corpus, tmp_path):
    from autoasr import ASRPredictor, load_dataset
    from autoasr.export.runtime import load_exported
    from autoasr.export.writers import export_model

    train, test = load_dataset(tiny_corpus, split=("train", "test"), domain="digits")
    predictor = ASRPredictor(path=tmp_path / "run", domain="digits", verbosity=0)
    started = time.time()
    predictor.fit(train, time_limit=25, pretrained=str(tiny_whisper_dir))
    assert time.time() - started < 25 * 1.1 + 10
    board = predictor.leaderboard()
    first = board.sort_values("start_time").iloc[0]
    assert first["model"] == "whisper" and bool(first["pretrained"])
    # trained-from-scratch rows are not pretrained; an ensemble is when one of its members is
    assert not board[~board["model"].isin(["whisper", "ensemble"])]["pretrained"].any()
    for _, row in board[board["model"] == "ensemble"].iterrows():
        members = board[board["trial_id"].isin(row["config"]["members"])]
        assert len(members) >= 2 and bool(row["pretrained"]) == bool(members["pretrained"].any())
    assert (board["status"] == "ok").any()
    whisper_trial = predictor.trials[first["trial_id"]]
    assert whisper_trial["config"]["encoder"] == str(tiny_whisper_dir)
    reloaded = ASRPredictor.load(tmp_path / "run")
    texts = reloaded.transcribe([u.audio for u in list(test)[:3]])
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    assert 0.0 <= reloaded.evaluate(test)["wer"]
    # the first whisper row (a CTC head) exports from its trial folder, the frozen encoder inside the file
    exported = load_exported(export_model(tmp_path / "run" / "trials" / str(first["trial_id"]), tmp_path / "m.pt",
                                          format="torchscript"))
    clips = [u.audio for u in list(test)[:3]]
    assert exported.transcribe(clips) == reloaded.model(first["trial_id"]).transcribe(clips)


@pytest.mark.slow
def test_the_shared_tiny_en_encoder_reads_fsdd_digits_after_seconds_of_training(whisper_dir, fsdd_subset, tmp_path):
    """The real weights: a head on the frozen tiny.en encoder must read the held-out takes almost perfectly."""
    from autoasr import ASRPredictor, load_dataset

    encoder = WhisperEncoderFrontend(str(whisper_dir))
    assert encoder.num_features == 384 and encoder(torch.zeros(16000)).shape == (50, 384)
    train, test = load_dataset(fsdd_subset, split=("train", "test"), domain="digits")
    predictor = ASRPredictor(path=tmp_path / "run", domain="digits", verbosity=0)
    started = time.time()
    predictor.fit(train, time_limit=45, pretrained=str(whisper_dir))
    assert time.time() - started <= 45 * 1.1 + 10  # the encoder pass counts in the time limit
    assert predictor.leaderboard().iloc[0]["model"] == "whisper"
    assert ASRPredictor.load(tmp_path / "run").evaluate(test)["wer"] <= 0.05


def test_an_encoder_deadline_leaves_out_training_clips_but_never_tuning_ones(tiny_whisper_dir, tiny_corpus, tmp_path):
    from autoasr import load_dataset
    from autoasr.core.text import CharVocabulary
    from autoasr.training.feature_cache import ENCODER_CHUNK
    from autoasr.training.tensors import FeatureStore

    train, tuning = load_dataset(tiny_corpus, split=("train", "test"), domain="digits")
    assert len(train) > ENCODER_CHUNK
    store = FeatureStore(train, tuning, CharVocabulary.from_texts(train.texts + tuning.texts), cache_dir=tmp_path)
    store.encoder_deadline = time.time() - 1.0  # already past: only the first chunk is encoded
    config = {"frontend": "whisper", "encoder": str(tiny_whisper_dir), "num_features": 32}
    train_tensors, tuning_tensors = store(config)
    assert len(train_tensors.features) == ENCODER_CHUNK and len(tuning_tensors.features) == len(tuning)
    assert store.partial == {"whisper": {"encoded": ENCODER_CHUNK, "total": len(train)}}
    assert set(train_tensors.texts) <= set(train.texts) and len(train_tensors.targets) == ENCODER_CHUNK
    assert len(list(tmp_path.glob("*.safetensors"))) == 1  # only the complete tuning set was cached


@pytest.fixture(scope="module")
def words_corpus(tiny_corpus, tmp_path_factory):
    """The tiny corpus without its digit strings: one word per clip from 20, each said by every voice."""
    import collections
    import csv

    rows = list(csv.DictReader(open(tiny_corpus)))
    counts = collections.Counter(row["text"] for row in rows)
    manifest = tmp_path_factory.mktemp("words") / "manifest.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "audio": str(tiny_corpus.parent / row["audio"])} for row in rows
                         if counts[row["text"]] > 1)
    return manifest


def test_clip_labels_are_told_from_open_transcripts():
    from autoasr.search.candidates import clip_labels, resolve_trial_config

    assert clip_labels(["yes", "no"] * 3) == ["no", "yes"]
    assert clip_labels(["yes", "no", "yes"]) == []  # "no" once: not a label set a classifier can learn
    assert clip_labels([f"word{i}" for i in range(51)] * 2) == []  # more than 50 labels: open vocabulary
    # read prompts in an open-vocabulary domain are sentences, not labels; in a command domain a phrase is a label
    prompts = ["the kettle is on the stove", "turn left after the bridge"] * 3
    assert clip_labels(prompts, phrases_are_labels=False) == [] and clip_labels(prompts) == sorted(set(prompts))
    assert clip_labels(["lights on", "stop"] * 2, phrases_are_labels=False) == ["lights on", "stop"]
    config = {"model": "whisper", "size": "pooled", "encoder": "x", "frontend": "whisper", "num_features": 8}
    assert resolve_trial_config(config, [], ["no", "yes"])["labels"] == ["no", "yes"]
    with pytest.raises(ValueError, match="not clip labels"):
        resolve_trial_config(config, [])


@pytest.mark.parametrize("size", ["pooled", "pooled_tuned"])
def test_the_pooled_head_reads_back_its_likeliest_label_and_learns_by_cross_entropy(tiny_whisper_dir, size):
    from autoasr.core.text import CharVocabulary
    from autoasr.decoding.greedy import greedy_decode
    from autoasr.models.whisper import build_whisper_head

    labels = ["off", "on", "one", "yes"]  # shared prefixes and a doubled letter ("off" needs a blank)
    vocabulary = CharVocabulary.from_texts(labels)
    head = build_whisper_head(32, len(vocabulary), 0.0, size, labels=labels, symbols=vocabulary.symbols,
                              encoder=str(tiny_whisper_dir))
    tuned = [name for name in head.state_dict() if name.startswith("top.")]
    assert bool(tuned) == (size == "pooled_tuned")  # a frozen top layer is the encoder's, not saved with the head
    torch.manual_seed(0)
    features, lengths = torch.randn(4, 20, 32), torch.tensor([20, 15, 10, 5])
    head.eval()  # padding must not change a clip's scores: the top layer's attention and the pooling skip it
    alone = head.logits(features[3:, :5], lengths[3:])
    torch.testing.assert_close(head.logits(features, lengths)[3:], alone, atol=1e-4, rtol=1e-4)
    head.train()
    targets = [torch.tensor(vocabulary.encode(label)) for label in labels]
    optimizer = torch.optim.Adam([p for p in head.parameters() if p.requires_grad], lr=0.05)
    first = head.clip_loss(features, lengths, targets).item()
    for _ in range(50):
        optimizer.zero_grad()
        head.clip_loss(features, lengths, targets).backward()
        optimizer.step()
    assert head.clip_loss(features, lengths, targets).item() < 0.1 * first
    head.eval()
    log_probs, out_lengths = head(features, lengths)
    assert greedy_decode(log_probs, out_lengths, vocabulary) == labels
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(4, log_probs.shape[1]), atol=1e-4)
    head.output.weight.data.normal_()  # whatever the scores, greedy decoding reads the likeliest label
    best = head.logits(features, lengths).argmax(-1).tolist()
    assert greedy_decode(*head(features, lengths), vocabulary) == [labels[i] for i in best]


def test_a_frozen_top_layer_runs_once_a_trial_and_the_head_reads_its_outputs_alike(tiny_whisper_dir):
    from autoasr.core.text import CharVocabulary
    from autoasr.models.batching import pad_batch
    from autoasr.models.whisper import build_whisper_head
    from autoasr.training.loop import frozen_layers_once
    from autoasr.training.tensors import SplitTensors

    labels = ["off", "on", "one", "yes"]
    vocabulary = CharVocabulary.from_texts(labels)
    torch.manual_seed(0)
    clips = [torch.randn(n, 32) for n in (20, 15, 10, 5)]
    train, tuning = (SplitTensors.build(clips, labels, vocabulary, 50.0), SplitTensors.build(clips[:2], labels[:2],
                                                                                             vocabulary, 50.0))
    frozen = build_whisper_head(32, len(vocabulary), 0.0, "pooled", labels=labels, symbols=vocabulary.symbols,
                                encoder=str(tiny_whisper_dir)).eval()
    expected = frozen.logits(*pad_batch(clips))
    once_train, once_tuning, put_back = frozen_layers_once(frozen, train, tuning)
    assert frozen.top is None and [f.shape for f in once_train.features] == [f.shape for f in clips]
    assert once_train.texts == train.texts and len(once_tuning.features) == 2
    torch.testing.assert_close(frozen.logits(*pad_batch(once_train.features)), expected, atol=1e-4, rtol=1e-4)
    put_back()
    assert isinstance(frozen.top, list)  # the saved head and every later use run the layer themselves again
    torch.testing.assert_close(frozen.logits(*pad_batch(clips)), expected)
    tuned = build_whisper_head(32, len(vocabulary), 0.0, "pooled_tuned", labels=labels, symbols=vocabulary.symbols,
                               encoder=str(tiny_whisper_dir))
    assert frozen_layers_once(tuned, train, tuning)[0] is train  # a trained top layer must run every epoch


@pytest.mark.slow
def test_a_clip_label_search_trains_the_pooled_head_and_reloads_after_the_encoder_folder_moves(
        tiny_whisper_dir, words_corpus, tmp_path):
    import shutil

    from autoasr import ASRPredictor, load_dataset
    from autoasr.export.runtime import load_exported
    from autoasr.export.writers import export_model

    encoder = shutil.copytree(tiny_whisper_dir, tmp_path / "my-encoder")
    train, test = load_dataset(words_corpus, split=("train", "test"), domain="commands")
    predictor = ASRPredictor(path=tmp_path / "run", domain="commands", verbosity=0)
    predictor.fit(train, time_limit=20, pretrained=str(encoder))
    board = predictor.leaderboard()
    first, second = board.sort_values("start_time").iloc[:2].itertuples()
    # a small corpus: the head on the layers' average first, then the head on the top layer
    assert (first.model, first.size, first.status) == ("whisper", "pooled_mix", "ok")
    assert (second.model, second.size) == ("whisper", "pooled")
    first = board.sort_values("start_time").iloc[0]
    labels = predictor.trials[first["trial_id"]]["config"]["labels"]
    assert labels == sorted(set(train.texts))
    predictor.select_best()
    pooled = predictor.model(first["trial_id"]).transcribe([u.audio for u in list(test)[:6]])
    assert len(pooled) == 6 and set(pooled) <= set(labels)  # a classifier says one of its labels, never a blend
    # the encoder in the file (the trial itself: an ensemble row may lead, and it does not export)
    exported = load_exported(export_model(predictor.model(first["trial_id"]), tmp_path / "model.onnx"))
    clips = [u.audio for u in list(test)[:6]]
    assert exported.transcribe(clips) == pooled
    assert (tmp_path / "run" / "encoders" / "my-encoder" / "model.safetensors").is_file()
    shutil.move(str(encoder), tmp_path / "moved-away")  # the folder the fit read is gone
    reloaded = ASRPredictor.load(tmp_path / "run")
    assert reloaded.model(first["trial_id"]).transcribe([u.audio for u in list(test)[:6]]) == pooled
    assert 0.0 <= reloaded.evaluate(test)["wer"] <= 1.0
