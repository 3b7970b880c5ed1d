"""Where a 30-utterance corpus's error comes from, with a frozen Whisper encoder (issue 14 item 3, issue 17).

    PYTHONPATH=$PWD python benchmarks/smalldata_probe.py --speech-commands ../shared/data/speech_commands \\
        --pretrained ../shared/models/whisper-tiny.en --only sc30

(a) The frozen encoder's ceiling: its vectors mean+max pooled, a scikit-learn logistic regression trained on all
    the training clips, or only on the part ``fit`` trains on once it has held its tuning speaker out; test error
    on the held-out speakers. (b) The pooled head as the search trains it (``train_trial``, the portfolio's
    configuration) on the fit's training part with its tuning part for early stopping, then the same
    configuration trained on every clip for the epochs the first run needed (what a refit does). Prints one
    JSON line per measurement.

``--probe layers``: which encoder layer reads unseen speakers best from few clips. Each clip's vectors of every
layer (the embeddings, then layers 1..N) mean+max pooled; a logistic regression on each layer alone, on all
layers concatenated, on the average of layers, and a SUPERB-style learned softmax-weighted sum of the layers'
(standardised) pooled vectors with a linear head; trained on the part a fit trains on and on every training
clip, test error on the held-out speakers (``--max-train`` subsamples the training clips, for FSDD).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch


def pooled(features: list[torch.Tensor]):
    import numpy

    return numpy.stack([torch.cat([f.mean(0), f.amax(0)]).numpy() for f in features])


def logistic_error(train_x, train_y, test_x, test_y) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(train_x, train_y)
    return float((model.predict(test_x) != test_y).mean())


def test_error(config, state, vocabulary, test) -> float:
    from autoasr.core.metrics import error_rates
    from autoasr.models.batching import transcribe_features
    from autoasr.models.registry import build_network

    network = build_network(config, test.features[0].shape[1], len(vocabulary), symbols=vocabulary.symbols)
    network.load_state_dict(state)
    return error_rates(test.texts, transcribe_features(network, test.features, vocabulary))["wer"]


def layer_vectors(dataset, source: str):
    """(clips, layers + 1, 2 * d_model): every layer's mean+max pooled vectors of each clip, at its own length."""
    from autoasr.data.audio import read_audio
    from autoasr.models.whisper import WhisperLogMel, encoder_layer_states, load_whisper_encoder

    if not dataset:
        return []
    encoder = load_whisper_encoder(source)
    log_mel = WhisperLogMel(encoder.config.num_mel_bins)
    vectors = []
    with torch.inference_mode():
        for utterance in dataset:
            mel = log_mel(torch.from_numpy(read_audio(utterance.audio))[None])[..., :3000]
            states = torch.stack([state[0] for state in encoder_layer_states(encoder, mel)])
            vectors.append(torch.cat([states.mean(1), states.amax(1)], dim=-1))
    return torch.stack(vectors).numpy()


def mixed_error(train_x, train_y, test_x, test_y, epochs: int = 400, seed: int = 0) -> tuple[float, list[float]]:
    """A softmax-weighted sum of the layers' standardised pooled vectors and a linear head trained together (full
    batch, the head's L2 penalty the logistic regression's), then the logistic regression on the learned mix:
    test error and the learned layer weights."""
    torch.manual_seed(seed)
    mean, std = train_x.mean(0, keepdims=True), train_x.std(0, keepdims=True) + 1e-5
    classes = sorted(set(train_y))
    x = torch.tensor((train_x - mean) / std, dtype=torch.float32)
    y = torch.tensor([classes.index(t) for t in train_y])
    weights = torch.zeros(x.shape[1], requires_grad=True)
    head = torch.nn.Linear(x.shape[2], len(classes))
    optimiser = torch.optim.Adam([{"params": [weights], "lr": 5e-2}, {"params": head.parameters(), "lr": 1e-2}])
    for _ in range(epochs):
        optimiser.zero_grad()
        logits = head((weights.softmax(0)[:, None] * x).sum(1))
        loss = torch.nn.functional.cross_entropy(logits, y) + 0.5 * head.weight.pow(2).sum() / len(y)
        loss.backward()
        optimiser.step()
    mix = weights.detach().softmax(0).numpy()
    test = (test_x - mean) / std
    error = logistic_error((x.numpy() * mix[:, None]).sum(1), train_y, (test * mix[:, None]).sum(1), test_y)
    return error, mix.tolist()


def layer_probe(train, fit_train, test, source: str, max_train: int, seed: int = 0) -> None:
    import random

    import numpy

    def sample(dataset):
        utterances = list(dataset)
        return utterances if len(utterances) <= max_train else random.Random(seed).sample(utterances, max_train)

    started = time.time()
    parts = {"all": sample(train), "fit_train": sample(fit_train)}
    test_clips = list(test)
    cache = {u.audio: v for u, v in zip(test_clips, layer_vectors(test_clips, source))}
    for part in parts.values():
        missing = [u for u in part if u.audio not in cache]
        cache.update({u.audio: v for u, v in zip(missing, layer_vectors(missing, source))})
    print(json.dumps({"probe": "layer_encoding", "seconds": round(time.time() - started, 1),
                      "clips": len(cache)}), flush=True)
    test_x, test_y = numpy.stack([cache[u.audio] for u in test_clips]), [u.text for u in test_clips]
    for name, part in parts.items():
        x, y = numpy.stack([cache[u.audio] for u in part]), [u.text for u in part]
        depth = x.shape[1]
        views = {f"layer{k}": (x[:, k], test_x[:, k]) for k in range(depth)}
        views["concat_all"] = (x.reshape(len(x), -1), test_x.reshape(len(test_x), -1))
        views["mean_all"] = (x.mean(1), test_x.mean(1))
        views["mean_top3"] = (x[:, -3:].mean(1), test_x[:, -3:].mean(1))
        views["mean_top2"] = (x[:, -2:].mean(1), test_x[:, -2:].mean(1))
        scale = x.std(0, keepdims=True) + 1e-5  # each layer standardised first (a residual stream grows with depth)
        views["mean_all_standardised"] = ((x / scale).mean(1), (test_x / scale).mean(1))
        errors = {view: round(logistic_error(a, y, b, test_y), 4) for view, (a, b) in views.items()}
        mixed, weights = mixed_error(x, y, test_x, test_y, seed=seed)
        print(json.dumps({"probe": "layers", "trained_on": name, "clips": len(y), "test": len(test_y),
                          "logistic_test_error": errors, "learned_mix_test_error": round(mixed, 4),
                          "mix_weights": [round(w, 3) for w in weights]}), flush=True)
    print(json.dumps({"probe": "load_average", "value": os.getloadavg()}))


def main() -> None:
    from autoasr.core.text import CharVocabulary
    from autoasr.data.load import load_dataset
    from autoasr.data.split import prepare_splits
    from autoasr.search.candidates import clip_labels, pooled_candidate
    from autoasr.models.encoder_sources import available_pretrained_encoders
    from autoasr.training.loop import train_trial
    from autoasr.training.tensors import FeatureStore
    from benchmarks.pretrained_heldout import espeak_rows, fsdd_rows, speech_commands_30_rows, write_manifest

    parser = argparse.ArgumentParser()
    parser.add_argument("--speech-commands", default="../shared/data/speech_commands")
    parser.add_argument("--fsdd", default="../shared/data/fsdd")
    parser.add_argument("--pretrained", default="../shared/models/whisper-tiny.en")
    parser.add_argument("--only", choices=["sc30", "fsdd", "espeak_es"], default="sc30")
    parser.add_argument("--trial-seconds", type=float, default=40.0)
    parser.add_argument("--probe", choices=["heads", "layers"], default="heads")
    parser.add_argument("--max-train", type=int, default=300, help="--probe layers: at most this many training clips")
    parser.add_argument("--output", default=tempfile.mkdtemp(prefix="smalldata-probe-"))
    arguments = parser.parse_args()
    output = Path(arguments.output)
    rows, domain = {"sc30": (lambda: speech_commands_30_rows(Path(arguments.speech_commands)), "commands"),
                    "fsdd": (lambda: fsdd_rows(Path(arguments.fsdd), "lucas"), "digits"),
                    "espeak_es": (lambda: espeak_rows(output / "espeak_es_corpus"), "general")}[arguments.only]
    manifest = write_manifest(rows(), output / "manifest.csv")
    everything, test = load_dataset(manifest, split=("train", "test"), domain=domain)
    train, tuning = prepare_splits(everything, None, domain, seed=0)
    if arguments.probe == "layers":
        layer_probe(everything, train, test, str(Path(arguments.pretrained).resolve()), arguments.max_train)
        return
    encoders = available_pretrained_encoders(str(Path(arguments.pretrained).resolve()))
    vocabulary = CharVocabulary.from_texts(everything.texts)
    labels = clip_labels(everything.texts)
    config = {**pooled_candidate(encoders, labels)[0], "labels": labels, "patience": 4}
    cache = output / "cache"
    started = time.time()
    fit_store = FeatureStore(train, tuning, vocabulary, cache_dir=cache)
    all_store = FeatureStore(everything, test, vocabulary, cache_dir=cache)
    for frontend in ({**config, "size": "tiny"}, config):  # the top layer's output, and its input (the head's)
        fit_store(frontend), all_store(frontend)
    print(json.dumps({"probe": "encoding", "seconds": time.time() - started, "train": len(everything),
                      "fit_train": len(train), "fit_tuning": len(tuning), "test": len(test)}), flush=True)

    top_fit, top_tuning = fit_store({**config, "size": "tiny"})
    top_all, top_test = all_store({**config, "size": "tiny"})
    for name, part in (("all", top_all), ("fit_train", top_fit)):
        error = logistic_error(pooled(part.features), part.texts, pooled(top_test.features), top_test.texts)
        print(json.dumps({"probe": "a_logistic", "trained_on": name, "clips": len(part.texts), "test_error": error}),
              flush=True)

    head_train, head_tuning = fit_store(config)
    head_all, head_test = all_store(config)
    history = []
    outcome = train_trial(config, head_train, head_tuning, vocabulary, time.time() + arguments.trial_seconds,
                          report=history.append)
    print(json.dumps({"probe": "b_head_on_fit_train", "epochs": outcome.epochs, "best_epoch": outcome.best_epoch,
                      "steps": history[-1]["steps"] if history else 0, "stop": outcome.stop_reason,
                      "tuning_wer": outcome.best_wer, "train_seconds": round(outcome.train_seconds, 1),
                      "test_error": test_error(config, outcome.state_dict, vocabulary, head_test),
                      "curve": [(h["epoch"], round(h["train_loss"], 3), round(h["val_wer"], 3)) for h in history]}),
          flush=True)
    last = train_trial({**config, "max_epochs": outcome.epochs, "refit": True}, head_train, head_tuning, vocabulary,
                       time.time() + arguments.trial_seconds)  # the same run, its last epoch kept
    print(json.dumps({"probe": "b_head_on_fit_train_last_epoch", "epochs": last.epochs,
                      "test_error": test_error(config, last.state_dict, vocabulary, head_test)}), flush=True)
    for epochs in sorted({max(outcome.best_epoch, 1), outcome.epochs, 2 * max(outcome.best_epoch, 1)}):
        refit = train_trial({**config, "max_epochs": epochs, "refit": True}, head_all, head_tuning, vocabulary,
                            time.time() + arguments.trial_seconds)
        print(json.dumps({"probe": "b_refit_on_all", "epochs": refit.epochs, "train_seconds": round(refit.train_seconds, 1),
                          "test_error": test_error(config, refit.state_dict, vocabulary, head_test)}), flush=True)
    print(json.dumps({"probe": "load_average", "value": os.getloadavg()}))


if __name__ == "__main__":
    main()
