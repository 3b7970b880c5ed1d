"""Fits with and without a pretrained Whisper encoder, scored on speakers no fit ever heard; prints a Markdown table.

    PYTHONPATH=$PWD python benchmarks/pretrained_heldout.py --time-limit 180 \\
        --speech-commands ../shared/data/speech_commands --fsdd ../shared/data/fsdd \\
        --pretrained ../shared/models/whisper-tiny.en --output autoasr_runs/pretrained_heldout

(a) Speech Commands, ten words (a folder per word, files ``<speaker>_nohash_<n>.wav``): every fifth speaker
    (sorted by id) is held out for the test. (b) FSDD (``recordings/<digit>_<speaker>_<take>.wav``): one
    speaker held out (``--fsdd-speaker``). With ``--only``: (c) ``sc30``, 30 training utterances (3 Speech
    Commands speakers x 5 words x 2 takes), tested on the held-out speakers' clips of those words; (d)
    ``espeak_es``, an unseen language (Spanish digits, 8 eSpeak NG voices x 3, 2 voices held out).
    ``--zero-shot-only`` fits nothing: it scores Whisper used as it is (the leaderboard's ``whisper-zero-shot``
    row) on the same test speakers and times it. Each corpus is fitted once without an encoder (no
    ``AUTOASR_PRETRAINED``, an empty Hugging Face cache) and once with ``--pretrained``. The encoder family's
    throughput is the training audio seconds per training second of its trials.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import tempfile
import time
from pathlib import Path

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPEECH_COMMANDS_NAME = re.compile(r"(?P<speaker>[0-9a-f]+)_nohash_(?P<take>\d+)$")
FSDD_NAME = re.compile(r"(?P<digit>\d)_(?P<speaker>[a-z]+)_(?P<take>\d+)$")


def speech_commands_rows(folder: Path, held_out_every: int = 5) -> list[dict]:
    """One row per clip: the word is its folder's name; every ``held_out_every``-th speaker goes to the test."""
    clips = [(file, SPEECH_COMMANDS_NAME.match(file.stem)) for file in sorted(folder.glob("*/*.wav"))]
    speakers = sorted({match["speaker"] for _, match in clips if match})
    held_out = set(speakers[::held_out_every])
    return [{"audio": str(file), "text": file.parent.name, "speaker": match["speaker"],
             "split": "test" if match["speaker"] in held_out else "train"} for file, match in clips if match]


def fsdd_rows(folder: Path, speaker: str) -> list[dict]:
    rows = []
    for file in sorted((folder / "recordings").glob("*.wav")):
        match = FSDD_NAME.match(file.stem)
        if match:
            rows.append({"audio": str(file), "text": DIGITS[int(match["digit"])], "speaker": match["speaker"],
                         "split": "test" if match["speaker"] == speaker else "train"})
    return rows


SMALL_WORDS = ("yes", "no", "up", "down", "stop")
SPANISH_DIGITS = ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve")


def speech_commands_30_rows(folder: Path, speakers: int = 3, takes: int = 2) -> list[dict]:
    """30 training utterances, what a learner records: the 3 training speakers with most takes of 5 words,
    2 takes of each word each; the test is every held-out speaker's clips of those words."""
    rows = [row for row in speech_commands_rows(folder) if row["text"] in SMALL_WORDS]
    complete = [s for s in sorted({r["speaker"] for r in rows if r["split"] == "train"})
                if all(sum(r["speaker"] == s and r["text"] == w for r in rows) >= takes for w in SMALL_WORDS)]
    chosen, kept, taken = complete[:speakers], [], {}
    for row in rows:
        key = (row["speaker"], row["text"])
        if row["split"] == "test" or (row["speaker"] in chosen and taken.get(key, 0) < takes):
            taken[key] = taken.get(key, 0) + 1
            kept.append(row)
    return kept


def espeak_rows(folder: Path, language: str = "es", texts=SPANISH_DIGITS, repeats: int = 3) -> list[dict]:
    """An unseen language: the Spanish digits by 8 eSpeak NG voices x 3 repeats, 2 voices held out."""
    import csv as csv_module

    from autoasr.data.demo_corpus import prepare_spoken_corpus

    manifest = prepare_spoken_corpus(folder, texts, language=language, num_speakers=8, num_test_speakers=2, repeats=repeats)
    with open(manifest) as handle:
        return [{"audio": str(manifest.parent / row["audio"]), "text": row["text"], "speaker": row["speaker"],
                 "split": row["split"]} for row in csv_module.DictReader(handle)]


# open vocabulary: everyday sentences (written for this benchmark); the test voices read sentences no fit heard
ENGLISH_SENTENCES = (
    "the kettle is on the stove", "please open the window a little", "my sister walks the dog at noon",
    "we planted tomatoes in the garden", "the bus was late again today", "can you pass me the salt",
    "the library closes at six", "he painted the fence bright green", "turn left after the bridge",
    "the children sang a happy song", "rain is coming from the west", "she reads a book every week",
    "our team won the final match", "the bread smells fresh and warm", "put the keys on the table",
    "a small bird sat on the roof", "the train leaves from platform two", "i forgot my umbrella at home",
    "the coffee is too hot to drink", "they moved to a new house in may", "the river runs past the old mill",
    "write your name at the top", "the cat sleeps under the chair", "we watched the stars last night",
    "his phone battery is almost empty", "the shop sells fruit and vegetables", "bring a jacket it may be cold",
    "the meeting starts in ten minutes", "she fixed the bike by herself", "the baby laughed at the clown",
    "the music was loud at the party", "clean the brushes after painting", "a letter came for you today",
    "the lamp in the hall is broken", "we need more paper for the printer", "the snow melted by the morning",
    "he runs along the beach each day", "the soup needs a little more pepper", "close the door when you leave",
    "the farmer feeds the horses early",
)


def espeak_sentence_rows(folder: Path, train_sentences: int = 30) -> list[dict]:
    """Open vocabulary: 40 English sentences by 8 eSpeak NG voices; 6 voices' readings of the first 30 train,
    2 other voices' readings of the last 10 test (new voices, new sentences)."""
    rows = espeak_rows(folder, language="en-us", texts=ENGLISH_SENTENCES, repeats=1)
    trained = set(ENGLISH_SENTENCES[:train_sentences])
    return [row for row in rows if (row["split"] == "train") == (row["text"] in trained)]


def write_manifest(rows: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["audio", "text", "speaker", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def fit_and_score(manifest: Path, domain: str, time_limit: float, pretrained: str | None, output: Path,
                  seed: int = 0) -> dict:
    from autoasr import ASRPredictor, load_dataset

    train, test = load_dataset(manifest, split=("train", "test"), domain=domain)
    predictor = ASRPredictor(path=output, domain=domain, verbosity=1)
    load_at_start, started = os.getloadavg(), time.time()
    predictor.fit(train, time_limit=time_limit, pretrained=pretrained, seed=seed)
    fit_seconds = time.time() - started
    result = predictor.evaluate(test)
    board = predictor.leaderboard()
    encoder_rows = board[board["model"] == "whisper"]
    trials = [predictor.trials[t] for t in encoder_rows["trial_id"]]
    audio = sum(t.get("audio_seconds_trained", 0.0) for t in trials)
    seconds = sum(t.get("train_seconds", 0.0) for t in trials)
    best = board.iloc[0]
    return {"encoder": bool(pretrained), "test_wer": result["wer"], "num_test": result["num_utterances"],
            "num_train": len(train), "fit_seconds": fit_seconds, "best": f"{best['model']} {best['size']}",
            "best_val_wer": float(best["val_wer"]), "trials": int(len(board)),
            "feature_seconds": predictor.fit_summary["feature_seconds"],
            "encoder_training_clips": predictor.fit_summary.get("encoder_training_clips"),
            "encoder_audio_seconds_per_second": audio / seconds if seconds else None,
            "zero_shot": predictor.fit_summary.get("zero_shot"),
            "zero_shot_val_wer": {r["model"]: float(r["val_wer"]) for _, r in board.iterrows() if r["config"].get("kind")},
            "rows_test_wer": rows_test_wer(predictor, board, test),
            "kfold": (predictor.fit_summary.get("refit") or {}).get("kfold"), "load_at_start": load_at_start,
            "load_average": os.getloadavg()}


def rows_test_wer(predictor, board, test, top: int = 3, max_clips: int = 100) -> dict:
    """On a small test set, the test WER of the best ``top`` rows and of every zero-shot row: does the leaderboard's
    order on the tuning clips hold on new voices (and, for sentences, new words)?"""
    if len(test) > max_clips:
        return {}
    ok = board[board["status"] == "ok"]
    chosen = list(ok["trial_id"][:top]) + [t for t, c in zip(ok["trial_id"], ok["config"]) if c.get("kind")]
    rows = {}
    for trial_id in dict.fromkeys(chosen):
        row = ok[ok["trial_id"] == trial_id].iloc[0]
        rows[f"{trial_id} {row['model']} {row['size']}"] = {
            "val_wer": float(row["val_wer"]), "test_wer": predictor.evaluate(test, model=trial_id, record=False)["wer"]}
    return rows


def zero_shot_score(manifest: Path, domain: str, pretrained: str, clips: int) -> dict:
    """Whisper used as it is (the leaderboard's ``whisper-zero-shot`` row) on the held-out speakers' clips:
    every k-th of them when ``clips`` caps the count, normalised the way the domain scores."""
    from autoasr import load_dataset
    from autoasr.core.metrics import error_rates
    from autoasr.domains.presets import get_domain
    from autoasr.inference.recognizers import WhisperZeroShot, whisper_token_budget

    train, test = load_dataset(manifest, split=("train", "test"), domain=domain)
    utterances = list(test)[:: max(1, len(test) // clips)][:clips] if clips else list(test)
    loaded = time.time()
    recognizer = WhisperZeroShot({"source": pretrained, "normalizer": get_domain(domain).normalizer,
                                  "max_new_tokens": whisper_token_budget(train.texts)})
    started = time.time()
    hypotheses = recognizer.transcribe([u.audio for u in utterances])
    seconds = time.time() - started
    rates = error_rates([u.text for u in utterances], hypotheses)
    audio = sum(u.duration or 0.0 for u in utterances)
    return {"test_wer": rates["wer"], "num_test": len(utterances), "of_test": len(test),
            "load_seconds": started - loaded, "seconds": seconds, "seconds_per_clip": seconds / len(utterances),
            "rtf": seconds / audio, "load_average": os.getloadavg()}


def print_zero_shot(name: str, result: dict) -> None:
    print("RESULT " + json.dumps({"corpus": name, **result}), flush=True)
    print(f"| {name} ({result['num_test']} of {result['of_test']} test clips) | whisper-tiny.en zero-shot | "
          f"{100 * result['test_wer']:.1f}% | {result['seconds']:.0f} s ({result['seconds_per_clip']:.2f} s a clip, "
          f"RTF {result['rtf']:.2f}) | {' '.join(f'{x:.1f}' for x in result['load_average'])} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-limit", type=float, default=180)
    parser.add_argument("--speech-commands", default="../shared/data/speech_commands")
    parser.add_argument("--fsdd", default="../shared/data/fsdd")
    parser.add_argument("--fsdd-speaker", default="lucas")
    parser.add_argument("--pretrained", default="../shared/models/whisper-tiny.en")
    parser.add_argument("--output", default="autoasr_runs/pretrained_heldout")
    parser.add_argument("--only", choices=["speech_commands", "fsdd", "sc30", "espeak_es", "espeak_en_sentences"], default=None)
    parser.add_argument("--seed", type=int, default=0, help="the fit's seed (repeat a corpus with several)")
    parser.add_argument("--encoder-only", action="store_true", help="skip the fits without the encoder")
    parser.add_argument("--zero-shot-only", action="store_true",
                        help="no fits: score Whisper used as it is (the whisper-zero-shot row) on the test speakers")
    parser.add_argument("--zero-shot-clips", type=int, default=0, help="with --zero-shot-only: at most this many "
                        "test clips, spread over the test set (0: all)")
    arguments = parser.parse_args()
    os.environ.pop("AUTOASR_PRETRAINED", None)
    os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is downloaded; the fit without --pretrained finds no cached model
    os.environ["HF_HUB_CACHE"] = tempfile.mkdtemp(prefix="empty-hf-cache-")
    output = Path(arguments.output)
    corpora = {"speech_commands": (lambda: speech_commands_rows(Path(arguments.speech_commands)), "commands"),
               "fsdd": (lambda: fsdd_rows(Path(arguments.fsdd), arguments.fsdd_speaker), "digits"),
               "sc30": (lambda: speech_commands_30_rows(Path(arguments.speech_commands)), "commands"),
               "espeak_es": (lambda: espeak_rows(output / "espeak_es_corpus"), "general"),
               "espeak_en_sentences": (lambda: espeak_sentence_rows(output / "espeak_en_corpus"), "general")}
    results = []
    for name, (rows, domain) in corpora.items():
        if (arguments.only and name != arguments.only) or (not arguments.only and name in ("sc30", "espeak_es", "espeak_en_sentences")):
            continue
        manifest = write_manifest(rows(), output / name / "manifest.csv")
        if arguments.zero_shot_only:
            print_zero_shot(name, zero_shot_score(manifest, domain, str(Path(arguments.pretrained).resolve()),
                                                  arguments.zero_shot_clips))
            continue
        for pretrained in ([str(Path(arguments.pretrained).resolve())] + ([] if arguments.encoder_only else [None])):
            result = {"corpus": name, **fit_and_score(manifest, domain, arguments.time_limit, pretrained,
                                                      output / name / ("encoder" if pretrained else "scratch"),
                                                      arguments.seed), "seed": arguments.seed}
            print("RESULT " + json.dumps(result), flush=True)
            results.append(result)
    if not results:
        return
    print("| corpus (held-out speakers) | encoder | test WER | fit s | best model | encoder family audio s/s | load avg |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        rate = f"{r['encoder_audio_seconds_per_second']:.0f}" if r["encoder_audio_seconds_per_second"] else "–"
        print(f"| {r['corpus']} ({r['num_test']} test clips) | {'whisper-tiny.en' if r['encoder'] else 'none'} | "
              f"{100 * r['test_wer']:.1f}% | {r['fit_seconds']:.0f} | {r['best']} | {rate} | "
              f"{' '.join(f'{x:.1f}' for x in r['load_average'])} |")


if __name__ == "__main__":
    main()
