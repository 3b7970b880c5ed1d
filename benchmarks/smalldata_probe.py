"""Where a 30-utterance corpus's error comes from, with a frozen Whisper encoder (issue 14 item 3, issue 17).

    PYTHONPATH=$PWD python benchmarks/smalldata_probe.py --speech-commands ../shared/data/speech_commands \\
        --pretrained ../shared/models/whisper-tiny.en --only sc30

(a) The frozen encoder's ceiling: its vectors mean+max pooled, a scikit-learn logistic regression trained on all
    the training clips, or only on the part ``fit`` trains on once it has held its tuning speaker out; test error
    on the held-out speakers. (b) The pooled head as the search trains it (``train_trial``, the portfolio's
    configuration) on the fit's training part with its tuning part for early stopping, then the same
    configuration trained on every clip for the epochs the first run needed (what a refit does). Prints one
    JSON line per measurement.
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
    parser.add_argument("--output", default=tempfile.mkdtemp(prefix="smalldata-probe-"))
    arguments = parser.parse_args()
    output = Path(arguments.output)
    rows, domain = {"sc30": (lambda: speech_commands_30_rows(Path(arguments.speech_commands)), "commands"),
                    "fsdd": (lambda: fsdd_rows(Path(arguments.fsdd), "lucas"), "digits"),
                    "espeak_es": (lambda: espeak_rows(output / "espeak_es_corpus"), "general")}[arguments.only]
    manifest = write_manifest(rows(), output / "manifest.csv")
    everything, test = load_dataset(manifest, split=("train", "test"), domain=domain)
    train, tuning = prepare_splits(everything, None, domain, seed=0)
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
