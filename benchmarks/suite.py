"""`make bench-suite`: the development suite (issue 14): presets judged on speakers they never heard.

Every corpus is split into training speakers and *unseen* test speakers; each (corpus, split, preset,
seed) is one fit in its own process (wall time and memory its own, like fit_once.py), scored on the
unseen speakers. The table gives per corpus and preset the mean test WER, its spread over seeds and
rotations, and the fit wall time; beside it, where every test transcript is a training transcript,
a one-clip classifier (MFCC mean/std and four segment means + logistic regression) as the bar a recogniser has to beat.

    python benchmarks/suite.py --corpora fsdd,speech_commands,sc_small --presets default,single \
        --seeds 0 --fsdd-rotations 0 --time-limit 180 --output docs/benchmarks.md

Corpora: ``fsdd`` (4 speakers train, the 5th test; ``--fsdd-rotations`` picks which is held out),
``speech_commands`` (ten words, 191 speakers: a fifth of the speakers held out), ``sc_small`` (a
learner's own recording: 3 training speakers x up to 10 takes of 5 words, tested on the held-out
Speech Commands speakers' clips of those words), ``demo`` (the synthesized demo corpus, its test
speakers) and ``espeak_es`` (Spanish digits by eSpeak NG voices; 2 of 8 voices held out).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

CORPORA = ("fsdd", "speech_commands", "sc_small", "demo", "espeak_es")
DOMAINS = {"fsdd": "digits", "speech_commands": "commands", "sc_small": "commands", "demo": "commands",
           "espeak_es": "general"}
SMALL_WORDS = ("yes", "no", "up", "down", "stop")
SMALL_SPEAKERS, SMALL_TAKES = 3, 10
SPANISH_DIGITS = ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve")
TEST_SPEAKER_FRACTION = 0.2
REUSE = {"enabled": False}  # --reuse: kept results are read back, not run again


# ---------------------------------------------------------------------------------------------
# The corpora and their unseen-speaker splits (deterministic: the parent and each fit build the same)


def _speech_commands(shared: Path, rotation: int):
    from autoasr import load_dataset
    from autoasr.data.split import split_tuning

    # audio validated, so durations are known: the budget plan and the forecast read the hours of audio
    dataset = load_dataset(shared / "speech_commands", domain="commands")
    # split_tuning holds out whole speakers and keeps every word in training: the test speakers are unseen
    train, test = split_tuning(dataset, fraction=TEST_SPEAKER_FRACTION, seed=rotation)
    return train, test


def _small_cut(train, test):
    """What a learner records: the 3 training speakers with most takes of 5 words, at most 10 takes each."""
    counts = Counter(u.speaker for u in train if u.text in SMALL_WORDS)
    speakers = sorted(counts, key=lambda speaker: (-counts[speaker], speaker))[:SMALL_SPEAKERS]
    kept, taken = [], Counter()
    for utterance in train:
        key = (utterance.speaker, utterance.text)
        if utterance.speaker in speakers and utterance.text in SMALL_WORDS and taken[key] < SMALL_TAKES:
            taken[key] += 1
            kept.append(utterance)
    return (train.subset(kept, "sc_small:train"),
            test.subset([u for u in test if u.text in SMALL_WORDS], "sc_small:test"))


def corpus_splits(corpus: str, rotation: int, shared: Path, cache: Path):
    """(train, test) datasets of ``corpus``; the test speakers are never in train."""
    from autoasr import load_dataset

    if corpus == "fsdd":
        dataset = load_dataset(shared / "fsdd", domain="digits")
        held = dataset.speakers[rotation % len(dataset.speakers)]
        return (dataset.subset([u for u in dataset if u.speaker != held], f"fsdd-without-{held}"),
                dataset.subset([u for u in dataset if u.speaker == held], f"fsdd-{held}"))
    if corpus == "speech_commands":
        return _speech_commands(shared, rotation)
    if corpus == "sc_small":
        return _small_cut(*_speech_commands(shared, rotation))
    if corpus == "demo":
        from autoasr.data.demo_corpus import prepare_demo_corpus

        return load_dataset(prepare_demo_corpus(), split=("train", "test"), domain="general")
    if corpus == "espeak_es":
        from autoasr.data.demo_corpus import prepare_spoken_corpus

        manifest = prepare_spoken_corpus(cache / "suite_espeak_es", SPANISH_DIGITS, language="es", num_speakers=8,
                                         num_test_speakers=2, repeats=3, seed=rotation)
        return load_dataset(manifest, split=("train", "test"), domain="general")
    raise ValueError(f"unknown corpus '{corpus}' (choose from {', '.join(CORPORA)})")


# ---------------------------------------------------------------------------------------------
# One fit (child process)


def _use_feature_cache(folder: Path) -> None:
    """Features cached on disk by an earlier fit of the same split make a later fit cheaper; an empty cache
    times every fit as a user's first one."""
    from autoasr.training import feature_cache, tensors

    feature_cache.default_cache_dir = tensors.default_cache_dir = lambda: folder


def fit_one(arguments) -> dict:
    from autoasr import ASRPredictor

    train, test = corpus_splits(arguments.one, arguments.rotation, Path(arguments.shared), Path(arguments.cache))
    label = preset_label(arguments.presets, arguments.pretrained)
    output = Path(arguments.runs) / f"{arguments.one}{arguments.rotation}_{label}_seed{arguments.seed}"
    predictor = ASRPredictor(path=output, domain=DOMAINS[arguments.one], verbosity=0)
    # no --pretrained: from scratch even where a Whisper model sits in the Hugging Face cache
    pretrained = arguments.pretrained or []
    with tempfile.TemporaryDirectory(prefix="suite-features-") as empty:
        if arguments.cold_features:
            _use_feature_cache(Path(empty))
        started = time.time()
        predictor.fit(train, time_limit=arguments.time_limit, presets=arguments.presets, seed=arguments.seed,
                      pretrained=pretrained)
        fit_seconds = time.time() - started
    result = predictor.evaluate(test)
    leaderboard = predictor.leaderboard()
    best = leaderboard.iloc[0]
    return {"corpus": arguments.one, "rotation": arguments.rotation, "presets": label,
            "seed": arguments.seed, "time_limit": arguments.time_limit, "fit_seconds": fit_seconds,
            "test_wer": result["wer"], "test_cer": result["cer"], "num_train": len(train), "num_test": len(test),
            "train_speakers": train.num_speakers, "test_speakers": test.num_speakers,
            "trials": int(len(leaderboard)), "trials_ok": int((leaderboard["status"] == "ok").sum()),
            # trials that never read one tuning word right: budget that bought nothing (issue 14, item 4)
            "trials_learned_nothing": int((leaderboard["val_wer"] >= 1.0).sum()),
            "decoder": str(best.get("decoder", "greedy")),
            "best_model": f"{best['model']} {best['size']}", "best_val_wer": float(best["val_wer"]),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "feature_seconds": predictor.fit_summary.get("feature_seconds"),
            "refit": bool((predictor.fit_summary.get("refit") or {}).get("done")),
            "first_trial_start_seconds": float(leaderboard["start_time"].min() - started),
            "load_average": os.getloadavg()}


def preset_label(presets: str, pretrained: str | None) -> str:
    """The table's name for a preset: ``default``, or ``default+whisper-tiny.en`` with a pretrained encoder."""
    return f"{presets}+{Path(pretrained).name}" if pretrained else presets


def run_fit(corpus: str, rotation: int, presets: str, seed: int, arguments) -> dict:
    name = f"suite_{corpus}{rotation}_{preset_label(presets, arguments.pretrained)}_{arguments.time_limit:g}s_seed{seed}"
    name += "_coldfeatures" if arguments.cold_features else ""
    path = RESULTS / f"{name}.json"
    if REUSE["enabled"] and path.is_file():
        return json.loads(path.read_text())
    command = [sys.executable, __file__, "--one", corpus, "--rotation", str(rotation), "--presets", presets,
               "--seed", str(seed), "--time-limit", str(arguments.time_limit), "--shared", arguments.shared,
               "--cache", arguments.cache, "--runs", arguments.runs] + (["--cold-features"] if arguments.cold_features else [])
    command += ["--pretrained", arguments.pretrained] if arguments.pretrained else []
    load_before = os.getloadavg()
    started = time.time()
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"suite fit {name} failed:\n{completed.stderr[-3000:]}")
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result.update(process_seconds=time.time() - started, load_average_before=load_before)
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return result


# ---------------------------------------------------------------------------------------------
# The bar to beat: one label per clip from MFCC statistics


def clip_features(dataset):
    import numpy as np
    import torch
    import torchaudio

    from autoasr.data.audio import read_audio

    torch.set_num_threads(1)  # on a shared 2-core machine more threads busy-wait (see tests/conftest.py)
    mfcc = torchaudio.transforms.MFCC(sample_rate=16000, n_mfcc=20, melkwargs={"n_fft": 400, "hop_length": 160,
                                                                               "n_mels": 40})
    rows = []
    for utterance in dataset:
        coefficients = mfcc(torch.from_numpy(read_audio(utterance.audio)).float())
        deltas = torchaudio.functional.compute_deltas(coefficients)
        frames = torch.cat([coefficients, deltas])
        # a word's sounds come in order: the means of four time segments keep that order, the whole-clip
        # statistics alone do not
        segments = [segment.mean(dim=1) for segment in torch.tensor_split(coefficients, 4, dim=1)]
        rows.append(torch.cat([frames.mean(dim=1), frames.std(dim=1), *segments]).numpy())
    return np.stack(rows)


def clip_classifier(corpus: str, rotation: int, shared: Path, cache: Path) -> dict | None:
    """Error rate of a logistic regression on MFCC mean/std (as WER: one wrong label is one wrong word per
    word of the clip's transcript); None when some test transcript is never a training transcript."""
    import jiwer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    kept = RESULTS / f"suite_{corpus}{rotation}_clip_classifier.json"
    if REUSE["enabled"] and kept.is_file():
        return json.loads(kept.read_text())["result"]
    train, test = corpus_splits(corpus, rotation, shared, cache)
    if not set(test.texts) <= set(train.texts):
        return None
    started = time.time()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=1.0))
    model.fit(clip_features(train), train.texts)
    predicted = model.predict(clip_features(test))
    result = {"wer": jiwer.wer(list(test.texts), list(predicted)), "accuracy": float((predicted == test.texts).mean()),
              "seconds": time.time() - started, "num_train": len(train), "num_test": len(test)}
    RESULTS.mkdir(exist_ok=True)
    kept.write_text(json.dumps({"corpus": corpus, "rotation": rotation, "result": result}, indent=1) + "\n")
    return result


def encoder_probe(corpus: str, rotation: int, shared: Path, cache: Path, pretrained: str) -> dict | None:
    """Issue 17's bar for the encoder rows: the frozen Whisper encoder's top-layer vectors of each clip, mean+max
    pooled, and a logistic regression on them, trained on the same training clips (no search, no budget); its
    error rate counts as WER. None when some test transcript is never a training transcript."""
    import jiwer
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from autoasr.core.text import CharVocabulary
    from autoasr.models.encoder_sources import available_pretrained_encoders
    from autoasr.search.candidates import clip_labels, pooled_candidate
    from autoasr.training.tensors import FeatureStore

    kept = RESULTS / f"suite_{corpus}{rotation}_encoder_probe_{Path(pretrained).name}.json"
    if REUSE["enabled"] and kept.is_file():
        return json.loads(kept.read_text())["result"]
    train, test = corpus_splits(corpus, rotation, shared, cache)
    labels = clip_labels(train.texts)
    if not labels or not set(test.texts) <= set(train.texts):
        return None
    torch.set_num_threads(2)
    started = time.time()
    encoders = available_pretrained_encoders(str(Path(pretrained).resolve()))
    top_layer = {**pooled_candidate(encoders, labels)[0], "size": "tiny"}  # the encoder's own output
    with tempfile.TemporaryDirectory(prefix="suite-probe-") as folder:
        train_part, test_part = FeatureStore(train, test, CharVocabulary.from_texts(train.texts), cache_dir=folder)(top_layer)

    def pooled(features):
        return np.stack([torch.cat([f.mean(0), f.amax(0)]).numpy() for f in features])

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000)).fit(pooled(train_part.features),
                                                                                    train_part.texts)
    predicted = model.predict(pooled(test_part.features))
    result = {"wer": jiwer.wer(list(test_part.texts), list(predicted)), "seconds": time.time() - started,
              "num_train": len(train), "num_test": len(test), "load_average": os.getloadavg()}
    RESULTS.mkdir(exist_ok=True)
    kept.write_text(json.dumps({"corpus": corpus, "rotation": rotation, "result": result}, indent=1) + "\n")
    return result


# ---------------------------------------------------------------------------------------------
# The table


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2%} (1 run)"
    return (f"{statistics.mean(values):.2%} ± {statistics.stdev(values):.2%} "
            f"({min(values):.1%}–{max(values):.1%}, {len(values)} runs)")


def suite_table(results: list[dict], baselines: dict[str, list[dict | None]], probes: dict | None = None) -> str:
    lines = ["| corpus | train / test utterances (speakers) | preset | test WER, unseen speakers: mean ± sd "
             "(min–max) | fit wall time: mean (max) | feature extraction in the fit | trials (finished) | best models "
             "| clip classifier WER | frozen-encoder probe WER |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for corpus in dict.fromkeys(r["corpus"] for r in results):
        for presets in dict.fromkeys(r["presets"] for r in results if r["corpus"] == corpus):
            runs = [r for r in results if r["corpus"] == corpus and r["presets"] == presets]
            first = runs[0]
            sizes = f"{first['num_train']} ({first['train_speakers']}) / {first['num_test']} ({first['test_speakers']})"
            fits = [r["fit_seconds"] for r in runs]
            trials = f"{statistics.mean(r['trials'] for r in runs):.1f} ({statistics.mean(r['trials_ok'] for r in runs):.1f})"
            if all("trials_learned_nothing" in r for r in runs):
                trials += f", {statistics.mean(r['trials_learned_nothing'] for r in runs):.1f} learned nothing"
            models = ", ".join(f"{name} ×{count}" for name, count in Counter(r["best_model"] for r in runs).items())
            bars = [b["wer"] for b in baselines.get(corpus, []) if b is not None]
            bar = _spread(bars) if bars else "n/a (open transcripts)"
            probed = [b["wer"] for b in (probes or {}).get(corpus, []) if b is not None]
            probe = _spread(probed) if probed else ("n/a (open transcripts)" if corpus in (probes or {}) else "not run")
            features = [r["feature_seconds"] for r in runs if r.get("feature_seconds") is not None]
            feature_text = f"{statistics.mean(features):.0f} s" if features else "not recorded"
            lines.append(f"| {corpus} | {sizes} | {presets} | {_spread([r['test_wer'] for r in runs])} | "
                         f"{statistics.mean(fits):.0f} s ({max(fits):.0f} s) | {feature_text} | {trials} | {models} | {bar} | {probe} |")
    return "\n".join(lines)


CORPUS_NOTES = (
    "- `fsdd`: Free Spoken Digit Dataset, all 50 takes of 4 speakers train, the 5th speaker is the test "
    "(`--fsdd-rotations` picks which, by sorted name: 0 = george); domain `digits`.",
    "- `speech_commands`: the ten-word Speech Commands subset in `../shared/data/speech_commands` (real phone and "
    "laptop recordings); a fifth of the 191 speakers held out whole (`split_tuning(fraction=0.2, seed=rotation)`); "
    "domain `commands`.",
    "- `sc_small`: what a learner records: the 3 training speakers of that split with most takes of yes/no/up/down/"
    "stop, at most 10 takes each (they have about 5 each: 75 clips); tested on the held-out speakers' clips of "
    "those 5 words.",
    "- `demo`: the synthesized demo corpus (eSpeak NG voices), its own test voices; `espeak_es`: the Spanish digits "
    "cero-nueve by 8 eSpeak NG voices x 3 repeats, 2 voices held out (`prepare_spoken_corpus`); domain `general`.",
    "- clip classifier: standardised MFCC (20 + deltas) mean/std and four time-segment means, multinomial logistic "
    "regression (scikit-learn), trained on the same training clips; its error rate counts as WER (one label per clip).",
    "- frozen-encoder probe (with `--pretrained`; issue 17's bar for the encoder rows): the encoder's top-layer "
    "vectors of each clip, mean+max pooled, and a logistic regression on them, trained on the same training clips.",
)


def suite_section(results: list[dict], baselines: dict, command: str, probes: dict | None = None) -> str:
    loads = [r.get("load_average_before", r.get("load_average"))[0] for r in results]
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    not_run = [corpus for corpus in CORPORA if corpus not in {r["corpus"] for r in results}]
    return "\n".join([
        "## Development suite (issue 14)", "",
        f"Command: `{command}` (the table is rebuilt from the kept results by adding `--reuse`; {machine}; "
        "1-minute load average before the fits "
        f"{min(loads):.1f}–{max(loads):.1f}: other jobs shared the CPUs, so wall times and what fits in the "
        "budget are noisy). WER is on test speakers no fit heard; spread is over seeds and rotations; each fit "
        "ran in its own process (`benchmarks/suite.py --one ...`), kept in `benchmarks/results/suite_*.json`.", "",
        suite_table(results, baselines, probes), "", *CORPUS_NOTES,
        *([f"- not run in this table: {', '.join(not_run)}."] if not_run else []), ""])


# ---------------------------------------------------------------------------------------------


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default=",".join(CORPORA))
    parser.add_argument("--presets", default="default,single")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--fsdd-rotations", default="0,1,2,3,4", help="which FSDD speakers are held out (by index)")
    parser.add_argument("--rotations", default="0", help="test-speaker draws of the other corpora")
    parser.add_argument("--time-limit", type=float, default=180)
    parser.add_argument("--shared", default="../shared/data")
    parser.add_argument("--cache", default=os.environ.get("AUTOASR_CACHE", str(Path.home() / ".cache" / "autoasr")))
    parser.add_argument("--runs", default="autoasr_runs/suite")
    parser.add_argument("--output", default="docs/benchmarks.md")
    parser.add_argument("--reuse", action="store_true", help="read back kept results instead of fitting again")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--cold-features", action="store_true",
                        help="each fit starts with an empty feature cache (pays feature extraction, as a first fit does)")
    parser.add_argument("--pretrained", default=None,
                        help="a pretrained encoder (Whisper folder or hub id) for every fit: the preset shows as "
                             "PRESET+NAME; without it every fit trains from scratch")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one fit and print its RESULT line
    parser.add_argument("--rotation", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    if arguments.one:
        print("RESULT " + json.dumps(fit_one(arguments)))
        return
    from run_benchmarks import replace_section

    shared, cache = Path(arguments.shared), Path(arguments.cache)
    REUSE["enabled"] = arguments.reuse
    results, baselines, probes = [], {}, {}
    for corpus in arguments.corpora.split(","):
        rotations = arguments.fsdd_rotations if corpus == "fsdd" else arguments.rotations
        for rotation in (int(r) for r in rotations.split(",")):
            if not arguments.no_baseline:
                baselines.setdefault(corpus, []).append(clip_classifier(corpus, rotation, shared, cache))
                if arguments.pretrained:
                    probes.setdefault(corpus, []).append(encoder_probe(corpus, rotation, shared, cache,
                                                                       arguments.pretrained))
            for presets in arguments.presets.split(","):
                for seed in (int(s) for s in arguments.seeds.split(",")):
                    results.append(run_fit(corpus, rotation, presets, seed, arguments))
                    print(json.dumps({k: results[-1][k] for k in ("corpus", "rotation", "presets", "seed",
                                                                  "test_wer", "fit_seconds")}), flush=True)
    output = Path(arguments.output)
    document = output.read_text() if output.is_file() else "# Benchmarks\n"
    command = "python benchmarks/suite.py " + " ".join(a for a in sys.argv[1:] if a != "--reuse")
    output.write_text(replace_section(document, "suite", suite_section(results, baselines, command, probes)))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
