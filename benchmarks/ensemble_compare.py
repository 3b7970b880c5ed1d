"""Test WER of a finished run's ensemble row beside its best single row (and its members): was the ensemble worth it?

Reads a run folder written by ``benchmarks/pretrained_heldout.py`` or ``benchmarks/suite.py`` and the same
held-out test split (a manifest's ``test`` rows, or a suite corpus), transcribes the test clips with each row
and prints one ``RESULT`` JSON line with the load average beside the figures.

    python benchmarks/ensemble_compare.py --run /tmp/ensemble_runs/sc/speech_commands/encoder \
        --manifest /tmp/ensemble_runs/sc/speech_commands/manifest.csv
    python benchmarks/ensemble_compare.py --run /tmp/ensemble_runs/suite/demo0_default_seed0 --suite-corpus demo
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def test_split(arguments):
    from autoasr import load_dataset

    if arguments.manifest:
        return load_dataset(arguments.manifest, split="test", domain=arguments.domain)
    sys.path.insert(0, str(Path(__file__).parent))
    from suite import corpus_splits

    return corpus_splits(arguments.suite_corpus, 0, Path(arguments.shared), Path(arguments.cache))[1]


def pair_score(predictor, row, test) -> dict:
    from autoasr.core.metrics import error_rates
    from autoasr.inference.ensemble import EnsembleModel

    saved = predictor.model(row["trial_id"])
    pair = EnsembleModel(saved.members[:2], [0.5, 0.5], saved.candidates, saved.member_ids[:2])
    return {"members": pair.member_ids, "test_wer": error_rates(test.texts, pair.transcribe([u.audio for u in test]))["wer"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", required=True)
    parser.add_argument("--manifest", help="a manifest with a test split (pretrained_heldout.py writes one)")
    parser.add_argument("--domain", default="commands")
    parser.add_argument("--suite-corpus", help="a benchmarks/suite.py corpus name instead of a manifest")
    parser.add_argument("--shared", default="../shared/data")
    parser.add_argument("--cache", default=os.environ.get("AUTOASR_CACHE", str(Path.home() / ".cache" / "autoasr")))
    arguments = parser.parse_args()
    from autoasr import ASRPredictor

    predictor = ASRPredictor.load(arguments.run)
    board = predictor.leaderboard()
    test = test_split(arguments)
    finished = board[board["status"] == "ok"]
    ensemble = finished[finished["model"] == "ensemble"]
    single = finished[(finished["model"] != "ensemble")].iloc[0]
    rows = {"best_single": str(single["trial_id"])}
    if len(ensemble):
        rows["ensemble"] = str(ensemble.iloc[0]["trial_id"])
        for member in ensemble.iloc[0]["config"]["members"]:
            rows.setdefault(f"member_{member}", str(member))
    result = {"run": arguments.run, "best_trial_id": predictor.best_trial_id,
              "ensemble_outcome": predictor.fit_summary.get("ensemble"), "num_test": len(test)}
    for name, trial_id in rows.items():
        row = board[board["trial_id"] == trial_id].iloc[0]
        scores = predictor.evaluate(test, model=trial_id, record=False)
        result[name] = {"trial_id": trial_id, "model": f"{row['model']} {row['size']}", "val_wer": float(row["val_wer"]),
                        "test_wer": scores["wer"], "latency_ms": row["latency_ms"], "size_mb": row["size_mb"],
                        "config": row["config"] if name == "ensemble" else None}
    if len(ensemble):  # what the two best members alone, equally weighted, would read (the Caruana choice aside)
        result["best_pair_equal_weights"] = pair_score(predictor, ensemble.iloc[0], test)
    result["load_average"] = os.getloadavg()
    print("RESULT " + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
