"""`make bench-portfolio`: the search's portfolio chosen across the suite, leave-one-corpus-out (issue 14, item 2).

AutoGluon chooses its zero-shot portfolios the same way: every candidate configuration is trained on every
data set, and a portfolio is built greedily on all data sets but one, then judged on the one left out.
Here a candidate is one configuration trained alone for ``--trial-seconds`` (what a portfolio trial gets in
a 180 s ``default`` search: at most a fifth of the budget) on each suite corpus's training speakers; it is
scored on held-out *tuning* speakers (what the search sees and chooses by) and on the corpus's *unseen test*
speakers (what the user gets).

For each corpus left out, a portfolio of ``--size`` entries is chosen greedily on the other corpora: each
step adds the candidate that lowers most the mean, over those corpora, of the portfolio's best tuning WER
divided by the best tuning WER any candidate reached there (so a hard corpus does not outweigh the others).
On the left-out corpus the portfolio's pick is its entry with the lowest tuning WER; the table gives that
pick's test WER beside the same for today's portfolio (its first ``--size`` entries) and for the best
single candidate in hindsight.

    python benchmarks/portfolio_loco.py --corpora fsdd,sc_small,demo,espeak_es --trial-seconds 30 --size 3 \
        --output docs/benchmarks.md

Each (corpus, candidate) result is kept in benchmarks/results/ and reused by ``--reuse``, so the matrix can be
filled corpus by corpus (``--corpora fsdd`` then ``--corpora demo`` ...) and the table written from all of it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from suite import RESULTS, corpus_splits  # noqa: E402
from suite import DOMAINS as SUITE_DOMAINS  # noqa: E402

from autoasr.search.presets import DEFAULT_CONFIG, PORTFOLIO  # noqa: E402

# today's portfolio, then configurations it leaves out: other sizes, the other frontend, a larger batch
CANDIDATES = {f"p{index}": dict(config) for index, config in enumerate(PORTFOLIO)} | {
    "convnet-tiny-logmel": {**DEFAULT_CONFIG, "model": "convnet", "size": "tiny", "learning_rate": 3e-3},
    "crnn-tiny-mfcc": {**DEFAULT_CONFIG, "size": "tiny", "frontend": "mfcc", "learning_rate": 3e-3, "batch_size": 16},
    "conformer-tiny": {**DEFAULT_CONFIG, "model": "conformer", "size": "tiny", "learning_rate": 2e-3,
                       "batch_size": 16},
    "convnet-medium": {**DEFAULT_CONFIG, "model": "convnet", "size": "medium", "learning_rate": 2e-3},
}
TODAY = [f"p{index}" for index in range(len(PORTFOLIO))]


def label(config: dict) -> str:
    return f"{config['model']} {config['size']} {config['frontend']} lr {config['learning_rate']:g} bs {config['batch_size']}"


def train_candidate(corpus: str, name: str, trial_seconds: float, shared: Path, cache: Path, runs: Path) -> dict:
    """One candidate trained alone on ``corpus`` for ``trial_seconds``: its tuning and unseen-test WER."""
    from dataclasses import replace

    from autoasr import ASRPredictor
    from autoasr.data.split import split_tuning
    from autoasr.search import presets as search_presets

    config = CANDIDATES[name]
    search_presets.PRESETS["candidate"] = replace(search_presets.PRESETS["single"], name="candidate",
                                                  description=f"the candidate {name}", space=dict(config))
    train, test = corpus_splits(corpus, 0, shared, cache)
    fitting, tuning = split_tuning(train, seed=0)  # the split fit itself would make: held-out speakers
    predictor = ASRPredictor(path=runs / f"{corpus}_{name}", domain=SUITE_DOMAINS[corpus], verbosity=0)
    predictor.fit(fitting, tuning, time_limit=trial_seconds, presets="candidate", pretrained=[],
                  zero_shot="none")
    best = predictor.leaderboard().iloc[0]
    started = time.time()
    tested = predictor.evaluate(test)
    return {"corpus": corpus, "candidate": name, "config": config, "trial_seconds": trial_seconds,
            "tuning_wer": float(best["val_wer"]), "test_wer": float(tested["wer"]), "epochs": int(best["epochs"]),
            "train_seconds": float(best["train_seconds"]), "evaluate_seconds": time.time() - started,
            "tuning_speakers": tuning.num_speakers, "test_speakers": test.num_speakers,
            "load_average": os.getloadavg()}


def warm_feature_cache(corpus: str, names: list[str], shared: Path, scratch: Path) -> None:
    """Features of every frontend the candidates use, computed once before any candidate is timed: each
    candidate's seconds then buy training, as a portfolio trial's do once the search has prepared the data."""
    from autoasr.predictor import FitError

    seen = set()
    for name in names:
        if CANDIDATES[name]["frontend"] not in seen:
            seen.add(CANDIDATES[name]["frontend"])
            try:
                train_candidate(corpus, name, 5, shared, scratch, scratch / "warm-up")
            except FitError:
                pass  # the features are cached even when 5 s left no time to train on them


def result_path(corpus: str, name: str, trial_seconds: float) -> Path:
    return RESULTS / f"portfolio_{corpus}_{name}_{trial_seconds:g}s.json"


def greedy_portfolio(matrix: dict, corpora: list[str], size: int) -> list[str]:
    """The ``size`` candidates that, added one at a time, lower most the mean normalised best tuning WER."""
    floor = {c: max(min(matrix[c][n]["tuning_wer"] for n in matrix[c]), 0.01) for c in corpora}

    def loss(portfolio: list[str]) -> float:
        return statistics.mean(min(matrix[c][n]["tuning_wer"] for n in portfolio) / floor[c] for c in corpora)

    chosen: list[str] = []
    names = sorted(set.intersection(*(set(matrix[c]) for c in corpora)))
    while len(chosen) < min(size, len(names)):
        chosen.append(min((n for n in names if n not in chosen), key=lambda n: loss(chosen + [n])))
    return chosen


def pick(matrix: dict, corpus: str, portfolio: list[str]) -> dict:
    """What a search running ``portfolio`` on ``corpus`` would keep: the entry with the lowest tuning WER."""
    return min((matrix[corpus][n] for n in portfolio if n in matrix[corpus]), key=lambda r: r["tuning_wer"])


def loco_table(matrix: dict, size: int) -> str:
    corpora = sorted(matrix)
    lines = [f"| left-out corpus | portfolio chosen on the others (first {size}) | its pick: test WER | "
             f"today's first {size}: test WER | best single in hindsight: test WER |", "|---|---|---|---|---|"]
    chosen_wers, today_wers = [], []
    for held in corpora:
        others = [c for c in corpora if c != held]
        portfolio = greedy_portfolio(matrix, others, size)
        chosen, today = pick(matrix, held, portfolio), pick(matrix, held, TODAY[:size])
        hindsight = min(matrix[held].values(), key=lambda r: r["test_wer"])
        chosen_wers.append(chosen["test_wer"])
        today_wers.append(today["test_wer"])
        lines.append(f"| {held} | {', '.join(portfolio)} | {chosen['test_wer']:.1%} ({chosen['candidate']}) | "
                     f"{today['test_wer']:.1%} ({today['candidate']}) | {hindsight['test_wer']:.1%} "
                     f"({hindsight['candidate']}) |")
    lines.append(f"| **mean** | | **{statistics.mean(chosen_wers):.1%}** | **{statistics.mean(today_wers):.1%}** | |")
    return "\n".join(lines)


def matrix_table(matrix: dict) -> str:
    corpora = sorted(matrix)
    names = sorted(set().union(*(matrix[c] for c in corpora)), key=lambda n: (n not in TODAY, n))
    lines = ["| candidate | " + " | ".join(f"{c} tuning / test" for c in corpora) + " |",
             "|---|" + "---|" * len(corpora)]
    for name in names:
        cells = [f"{matrix[c][name]['tuning_wer']:.1%} / {matrix[c][name]['test_wer']:.1%}" if name in matrix[c] else "–"
                 for c in corpora]
        lines.append(f"| {name}: {label(CANDIDATES[name])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(matrix: dict, size: int, trial_seconds: float, command: str) -> str:
    loads = [r["load_average"][0] for rows in matrix.values() for r in rows.values()]
    return (f"## Portfolio chosen leave-one-corpus-out\n\n`{command}`\n\n"
            f"Each candidate trained alone for {trial_seconds:g} s on each corpus's training speakers (2 CPU cores, "
            f"1-minute load average {min(loads):.1f}–{max(loads):.1f} during the runs); tuning WER on held-out "
            f"training speakers, test WER on the corpus's unseen test speakers.\n\n{matrix_table(matrix)}\n\n"
            f"{loco_table(matrix, size)}\n")


def replace_section(document: str, title: str, new: str) -> str:
    start = document.find(title)
    if start < 0:
        return document.rstrip() + "\n\n" + new
    end = document.find("\n## ", start + len(title))
    return document[:start] + new + (document[end + 1:] if end >= 0 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default="fsdd,sc_small,demo,espeak_es")
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--trial-seconds", type=float, default=30)
    parser.add_argument("--size", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="read kept results back instead of training again")
    parser.add_argument("--table-only", action="store_true", help="write the table from every kept result")
    parser.add_argument("--shared", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--output", help="markdown file whose section is replaced (e.g. docs/benchmarks.md)")
    arguments = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if not arguments.table_only:
        with tempfile.TemporaryDirectory(prefix="portfolio-") as scratch:
            for corpus in arguments.corpora.split(","):
                names = [n for n in arguments.candidates.split(",")
                         if not (arguments.reuse and result_path(corpus, n, arguments.trial_seconds).is_file())]
                warm_feature_cache(corpus, names, Path(arguments.shared), Path(scratch))
                for name in names:
                    path = result_path(corpus, name, arguments.trial_seconds)
                    result = train_candidate(corpus, name, arguments.trial_seconds, Path(arguments.shared),
                                             Path(scratch), Path(scratch) / "runs")
                    path.write_text(json.dumps(result, indent=1) + "\n")
                    print(f"{corpus:16s} {name:22s} tuning {result['tuning_wer']:.1%} test {result['test_wer']:.1%}",
                          flush=True)
    matrix: dict[str, dict[str, dict]] = {}
    for path in sorted(RESULTS.glob(f"portfolio_*_{arguments.trial_seconds:g}s.json")):
        result = json.loads(path.read_text())
        if result["candidate"] in CANDIDATES:
            matrix.setdefault(result["corpus"], {})[result["candidate"]] = result
    if len(matrix) < 2:
        print("the leave-one-corpus-out table needs results on at least two corpora")
        return
    command = "python benchmarks/portfolio_loco.py " + " ".join(sys.argv[1:])
    text = section(matrix, arguments.size, arguments.trial_seconds, command)
    print(text)
    if arguments.output:
        output = Path(arguments.output)
        output.write_text(replace_section(output.read_text(), "## Portfolio chosen leave-one-corpus-out", text))


if __name__ == "__main__":
    main()
