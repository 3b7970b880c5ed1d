"""The peer HPO library as a baseline: Optuna's TPE sampler with a median pruner driving autoasr's trainer.

Same data (the digits domain's spliced strings included), features, tuning split, search space,
trainer and greedy-vs-LM decoder choice on the winner as autoasr's own search; only the search
strategy differs. Prints a RESULT line like fit_once.py.

    python benchmarks/optuna_once.py --fsdd ../shared/data/fsdd --time-limit 300
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import optuna
import torch

from autoasr.core.metrics import error_rates
from autoasr.core.text import CharVocabulary
from autoasr.data.load import load_dataset
from autoasr.data.split import split_tuning
from autoasr.domains.expand import expand_training_set
from autoasr.domains.presets import get_domain
from autoasr.inference.model import TrainedModel
from autoasr.search.decoder_choice import (
    decoder_choice_seconds,
    compare_decoders_on_tuning,
)
from autoasr.training.loop import train_trial
from autoasr.training.tensors import FeatureStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fsdd", required=True)
    parser.add_argument("--time-limit", type=float, default=300)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    started = time.time()
    deadline = started + arguments.time_limit * 0.97
    torch.set_num_threads(torch.get_num_threads())
    train_all, test = load_dataset(arguments.fsdd, split=("train", "test"), domain="digits")
    train, tuning = split_tuning(train_all, seed=arguments.seed)
    domain = get_domain("digits")
    train = expand_training_set(train, domain, arguments.seed)  # as ASRPredictor.fit does for this domain
    deadline -= decoder_choice_seconds(len(tuning))
    vocabulary = CharVocabulary.from_texts(train.texts + tuning.texts)
    tensors_for = FeatureStore(train, tuning, vocabulary)

    tensors_for("logmel")
    best = {"wer": float("inf"), "state": None, "config": None}
    history = []

    def objective(trial: optuna.Trial) -> float:
        config = {
            "model": trial.suggest_categorical("model", ["crnn", "conformer", "convnet"]),
            "size": trial.suggest_categorical("size", ["tiny", "small", "medium"]),
            "learning_rate": trial.suggest_float("learning_rate", 5e-4, 5e-3, log=True),
            "dropout": trial.suggest_float("dropout", 0.0, 0.3),
            "augment": trial.suggest_float("augment", 0.0, 2.0),
            "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64]),
            "frontend": trial.suggest_categorical("frontend", ["logmel", "mfcc"]),
            "patience": 4,
        }
        pruned = {"flag": False}

        def report(metrics):
            history.append((time.time() - started, metrics["val_wer"]))
            trial.report(metrics["val_wer"], metrics["epoch"])
            if trial.should_prune():
                pruned["flag"] = True

        train_split, tuning_split = tensors_for(config["frontend"])
        remaining = deadline - time.time()
        outcome = train_trial(config, train_split, tuning_split, vocabulary,
                              deadline=time.time() + min(remaining, 0.2 * arguments.time_limit), report=report,
                              should_stop=lambda: pruned["flag"], seed=arguments.seed + trial.number)
        if outcome.best_wer < best["wer"]:
            best.update(wer=outcome.best_wer, state=outcome.state_dict, config=config)
        if pruned["flag"]:
            raise optuna.TrialPruned()
        return outcome.best_wer

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=arguments.seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=3))
    study.optimize(objective, timeout=max(deadline - time.time(), 1))
    model = TrainedModel.build(best["config"], vocabulary, best["state"])
    comparison = compare_decoders_on_tuning(model.network, tensors_for(best["config"]["frontend"])[1],
                                            vocabulary.symbols, domain, train.texts)
    if comparison.chosen == "lm":
        model.decoder = comparison.decoder
    fit_seconds = time.time() - started
    evaluation_started = time.time()
    hypotheses = model.transcribe([u.audio for u in test])
    evaluation_seconds = time.time() - evaluation_started
    result = error_rates(test.texts, hypotheses)
    history.sort()
    best_so_far, running = [], float("inf")
    for seconds, wer in history:
        running = min(running, wer)
        best_so_far.append([seconds, running])
    print("RESULT " + json.dumps({
        "presets": "optuna-tpe", "time_limit": arguments.time_limit, "fit_seconds": fit_seconds,
        "test_wer": result["wer"], "test_cer": result["cer"], "num_test": result["num_utterances"],
        "trials": len(study.trials), "trials_ok": sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials),
        "best_model": f"{best['config']['model']} {best['config']['size']}", "best_val_wer": comparison.lm_wer if comparison.chosen == "lm" else best["wer"],
        "best_decoder": comparison.chosen,
        "first_result_seconds": history[0][0] if history else None,
        "real_time_factor": evaluation_seconds / sum(u.duration for u in test),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "best_so_far": best_so_far,
    }))


if __name__ == "__main__":
    main()
