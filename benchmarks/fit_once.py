"""One benchmark fit in its own process (so its peak memory is its own); prints a JSON result line.

    python benchmarks/fit_once.py --fsdd ../shared/data/fsdd --time-limit 300 --presets default
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fsdd", required=True)
    parser.add_argument("--time-limit", type=float, default=300)
    parser.add_argument("--presets", default="default")
    parser.add_argument("--output", default="autoasr_runs/bench")
    parser.add_argument("--seed", type=int, default=0)
    # the tables this feeds are the from-scratch engine's (docs/benchmarks.md, "Core engine on FSDD"): no encoder
    # unless asked for, whatever the product's default
    parser.add_argument("--pretrained", default=None, help="a Whisper folder or hub id (default: from scratch)")
    arguments = parser.parse_args()

    from autoasr import ASRPredictor, load_dataset

    train, test = load_dataset(arguments.fsdd, split=("train", "test"), domain="digits")
    predictor = ASRPredictor(path=Path(arguments.output), domain="digits", verbosity=1)
    started = time.time()
    predictor.fit(train, time_limit=arguments.time_limit, presets=arguments.presets, seed=arguments.seed,
                  pretrained=arguments.pretrained)
    fit_seconds = time.time() - started
    result = predictor.evaluate(test)
    leaderboard = predictor.leaderboard()
    history = predictor.history()
    first_result_seconds = float(history["time"].min() - started) if not history.empty else None
    best = leaderboard.iloc[0]
    print("RESULT " + json.dumps({
        "presets": arguments.presets, "time_limit": arguments.time_limit, "fit_seconds": fit_seconds,
        "test_wer": result["wer"], "test_cer": result["cer"], "num_test": result["num_utterances"],
        "trials": int(len(leaderboard)), "trials_ok": int((leaderboard["status"] == "ok").sum()),
        "best_model": f"{best['model']} {best['size']}", "best_val_wer": float(best["val_wer"]),
        "feature_seconds": predictor.fit_summary["feature_seconds"],
        "train_seconds": float(leaderboard["train_seconds"].fillna(0).sum()),
        "eval_seconds": float(leaderboard["eval_seconds"].fillna(0).sum()),
        "first_result_seconds": first_result_seconds,
        "real_time_factor": result["real_time_factor"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "best_latency_ms": best["latency_ms"], "best_size_mb": best["size_mb"], "best_decoder": best["decoder"],
        "pareto_latency": [{key: (row[key].item() if hasattr(row[key], "item") else row[key]) for key in
                            ("trial_id", "model", "size", "decoder", "val_wer", "latency_ms", "rtf", "size_mb")}
                           for _, row in predictor.pareto_front("latency_ms").iterrows()],
        "best_so_far": [[float(t - started), float(w)] for t, w in
                        zip(history.sort_values("time")["time"], history.sort_values("time")["val_wer"].cummin())],
    }))


if __name__ == "__main__":
    main()
