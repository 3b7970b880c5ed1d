"""Training throughput of a finished run, read from its trial files: audio seconds trained per second of
training, per model, and the time the search took to reach a target tuning WER.

The same figures on a GPU machine answer issue 6's GPU benchmark (run `make bench` there, then this on
`autoasr_runs/bench_default`); here they are the CPU reference.

    python benchmarks/throughput.py autoasr_runs/bench_default --target-wer 0.05 [--json]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_trials(run: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted((run / "trials").glob("*/trial.json"))]


def throughput(run: Path, target_wer: float) -> dict:
    """Per model (family and size): trials, audio seconds trained, training seconds and their ratio;
    for the run: the overall ratio and seconds from the first trial's start to the first epoch at or
    under ``target_wer`` (None when no epoch got there)."""
    trials = [t for t in read_trials(run) if t.get("train_seconds")]
    if not trials:
        raise SystemExit(f"{run}: no trial with training time (is it a finished autoasr run?)")
    by_model: dict[str, dict] = {}
    for trial in trials:
        row = by_model.setdefault(f"{trial['model']} {trial['size']}", {"trials": 0, "audio_seconds": 0.0,
                                                                        "train_seconds": 0.0})
        row["trials"] += 1
        row["audio_seconds"] += trial.get("audio_seconds_trained", 0.0)
        row["train_seconds"] += trial["train_seconds"]
    for row in by_model.values():
        row["audio_seconds_per_second"] = row["audio_seconds"] / row["train_seconds"]
    started = min(t["start_time"] for t in trials)
    reached = [row["time"] for t in trials for row in t.get("history", []) if row["val_wer"] <= target_wer]
    audio = sum(row["audio_seconds"] for row in by_model.values())
    seconds = sum(row["train_seconds"] for row in by_model.values())
    return {"run": str(run), "by_model": by_model, "audio_seconds_per_second": audio / seconds,
            "target_wer": target_wer, "seconds_to_target": (min(reached) - started) if reached else None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--target-wer", type=float, default=0.05)
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args()
    result = throughput(arguments.run, arguments.target_wer)
    if arguments.json:
        print(json.dumps(result))
        return
    print(f"{'model':<18} {'trials':>6} {'audio s trained':>16} {'training s':>11} {'audio s / s':>12}")
    for name, row in sorted(result["by_model"].items(), key=lambda item: -item[1]["audio_seconds_per_second"]):
        print(f"{name:<18} {row['trials']:>6} {row['audio_seconds']:>16.0f} {row['train_seconds']:>11.1f} "
              f"{row['audio_seconds_per_second']:>12.1f}")
    reached = result["seconds_to_target"]
    print(f"whole run: {result['audio_seconds_per_second']:.1f} audio seconds trained per second; tuning WER "
          f"<= {arguments.target_wer:.0%} after {'never' if reached is None else f'{reached:.1f} s'}")


if __name__ == "__main__":
    main()
