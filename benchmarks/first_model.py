"""Time to the first usable model on a learner's own voice, and how good that first model is.

A learner records 5 takes of each of 10 words. Here that is one FSDD speaker's takes 0-4 of the ten digits (50
clips); the test is the same speaker's 450 other takes (5-49). The fit runs under a one-core affinity (a Binder
pod, a school laptop) with the pretrained listener, and the clock runs from the ``fit`` call to the first trained
row, the encoder pass included. At that moment the script transcribes a test take with ``predictor.transcribe``
(the first model is usable while the search goes on). Each fit starts with an empty feature cache, so the
encoder pass is paid. After the fit it reports the first row's test WER beside the final model's.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/first_model.py --fsdd ../shared/data/fsdd \\
        --pretrained ../shared/models/whisper-tiny.en --speakers george,jackson,lucas --time-limit 150 --cpus 0
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import tempfile
import time
from pathlib import Path

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def own_voice_manifest(fsdd: Path, speaker: str, folder: Path, takes: int = 5) -> Path:
    """Takes below ``takes`` train, the rest test: one voice, as a learner records it."""
    rows = []
    for file in sorted((fsdd / "recordings").glob(f"*_{speaker}_*.wav")):
        digit, _, take = file.stem.split("_")
        rows.append({"audio": str(file.resolve()), "text": DIGITS[int(digit)], "speaker": speaker,
                     "split": "train" if int(take) < takes else "test"})
    if not rows:
        raise SystemExit(f"no takes of speaker {speaker} in {fsdd}/recordings")
    manifest = folder / f"{speaker}.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


class FirstModel:
    """A fit callback that notes when the first trained row ends, and uses it right then."""

    def __init__(self, predictor, called: float, probe_clip: str):
        self.predictor, self.called, self.probe_clip = predictor, called, probe_clip
        self.first: dict | None = None
        self.order: list[str] = []

    def on_trial_end(self, trial: dict) -> None:
        self.order.append(f"{trial['trial_id']} {trial['model']} {trial.get('size')}")
        trained = trial.get("status") == "ok" and trial.get("epochs") and trial["model"] != "ensemble"
        if self.first is None and trained:
            seconds = time.time() - self.called
            started = time.time()
            heard = self.predictor.transcribe([self.probe_clip], model=trial["trial_id"])[0]
            self.first = {"trial_id": trial["trial_id"], "model": f"{trial['model']} {trial.get('size')}",
                          "seconds_from_call": round(seconds, 1), "val_wer": trial.get("val_wer"),
                          "transcribed_mid_search": heard, "transcribe_seconds": round(time.time() - started, 2)}

    def __getattr__(self, _event):
        return lambda *args: None


def run(manifest: Path, pretrained: str | None, time_limit: float, output: Path) -> dict:
    from autoasr import ASRPredictor, load_dataset

    train, test = load_dataset(manifest, split=("train", "test"), domain="digits")
    predictor = ASRPredictor(path=output, domain="digits", verbosity=0)
    called = time.time()
    watcher = FirstModel(predictor, called, str(test.utterances[0].audio))
    predictor.fit(train, time_limit=time_limit, pretrained=pretrained, callbacks=[watcher])
    fit_seconds = time.time() - called
    final = predictor.evaluate(test, record=False)
    first = watcher.first or {}
    first_wer = predictor.evaluate(test, model=first["trial_id"], record=False)["wer"] if first else None
    board = predictor.leaderboard()
    return {"first": first, "first_test_wer": first_wer, "final_trial": predictor.best_trial_id,
            "final_model": f"{board.iloc[0]['model']} {board.iloc[0]['size']}", "final_test_wer": final["wer"],
            "num_test": final["num_utterances"], "fit_seconds": round(fit_seconds, 1), "trial_order": watcher.order,
            "ended_early": predictor.fit_summary.get("ended_early"),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fsdd", default="../shared/data/fsdd", type=Path)
    parser.add_argument("--pretrained", default="../shared/models/whisper-tiny.en")
    parser.add_argument("--speakers", default="george")
    parser.add_argument("--time-limit", type=float, default=150)
    parser.add_argument("--cpus", default="0", help="CPU affinity, e.g. 0 (one core); empty: as given")
    parser.add_argument("--output", type=Path, default=Path("autoasr_runs/first_model"))
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    arguments = parser.parse_args()
    if arguments.cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(cpu) for cpu in arguments.cpus.split(",")})
    pretrained = None if arguments.pretrained in ("", "none") else str(Path(arguments.pretrained).resolve())
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for speaker in arguments.speakers.split(","):
            manifest = own_voice_manifest(arguments.fsdd, speaker, Path(folder))
            # a cold feature cache: the encoder pass over the learner's clips is part of the time to a first model
            os.environ["AUTOASR_CACHE"] = tempfile.mkdtemp(prefix=f"first-model-{speaker}-", dir=folder)
            result = {"speaker": speaker, "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else None, **run(manifest, pretrained, arguments.time_limit, arguments.output / speaker)}
            print(json.dumps(result), flush=True)
            results.append(result)
    print("\n| speaker | first row | seconds from the call | its test WER | final row | final test WER | fit s |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        first = r["first"]
        print(f"| {r['speaker']} | {first.get('trial_id')} {first.get('model')} | {first.get('seconds_from_call')} | "
              f"{r['first_test_wer']:.1%} | {r['final_trial']} {r['final_model']} | {r['final_test_wer']:.1%} | "
              f"{r['fit_seconds']} |" if first else f"| {r['speaker']} | none | | | | {r['final_test_wer']:.1%} | |")
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
