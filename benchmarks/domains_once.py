"""Issue 5 benchmark: domain presets on corpora spoken offline by eSpeak NG; prints a JSON result line.

- commands: a closed set of 20 voice commands, 9 voices train (twice each), 3 other voices test.
  ``ASRPredictor`` with a custom vocabulary (the commands as domain sentences, on the ``commands``
  preset); test WER greedy and with the lexicon + n-gram LM decoder the run built, on the same model.
- language: Swahili yes/no ("ndiyo", "hapana"), a language autoasr has never seen: 40 utterances of
  one to three words by 8 voices train, 20 by 4 other voices test; test WER and fit wall time.

    python benchmarks/domains_once.py --time-limit 120 --output autoasr_runs/bench_domains
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

COMMANDS = (
    "turn on the light", "turn off the light", "play music", "stop music", "volume up", "volume down",
    "next song", "previous song", "open the door", "close the door", "lock the door", "call mom",
    "set an alarm", "cancel the alarm", "what time is it", "turn up the heat", "turn down the heat",
    "start the timer", "stop the timer", "go home",
)
SWAHILI_YES_NO = ("ndiyo", "hapana", "ndiyo hapana", "hapana ndiyo", "hapana hapana ndiyo")


def fit_and_score(name: str, manifest: Path, domain, time_limit: float, output: Path, seed: int) -> dict:
    """Fit on the manifest's train split, score its test split with the chosen decoder and greedily."""
    from autoasr import ASRPredictor, load_dataset
    from autoasr.core.storage import read_json
    from autoasr.decoding.lm import LexiconDecoder
    from autoasr.training.trial import TRIAL_FILE

    train, test = load_dataset(manifest, split=("train", "test"), domain=domain.normalizer)
    predictor = ASRPredictor(path=output / name, domain=domain, verbosity=0)
    started = time.time()
    predictor.fit(train, time_limit=time_limit, seed=seed, pretrained=None)  # the from-scratch engine's table
    fit_seconds = time.time() - started
    leaderboard = predictor.leaderboard()
    best = leaderboard[leaderboard["trial_id"] == predictor.best_trial_id].iloc[0]
    trial = read_json(predictor.path / "trials" / predictor.best_trial_id / TRIAL_FILE)
    model = predictor.model()
    chosen = model.decoder
    try:
        if chosen is None:  # greedy won on the tuning set: score the LM the run built there all the same
            model.decoder = LexiconDecoder.build(
                model.vocabulary.symbols, domain.language_model_text(train.texts), order=domain.lm_order,
                lm_weight=trial.get("lm_weight", 1.0), word_score=trial.get("word_score", 0.0))
        with_lm = predictor.evaluate(test, record=False)
        model.decoder = None
        greedy = predictor.evaluate(test, record=False)
    finally:
        model.decoder = chosen
    return {
        "fit_seconds": fit_seconds, "time_limit": time_limit, "num_train": len(train), "num_test": len(test),
        "train_speakers": len(train.speakers), "test_speakers": len(test.speakers),
        "test_wer": (with_lm if chosen is not None else greedy)["wer"],  # with the decoder the run chose
        "test_wer_lm": with_lm["wer"], "test_wer_greedy": greedy["wer"],
        "test_cer_lm": with_lm["cer"], "test_cer_greedy": greedy["cer"], "num_test_words": with_lm["num_words"],
        "decoder_chosen": "lm" if chosen is not None else "greedy",
        "val_wer_greedy": trial.get("val_wer_greedy"), "val_wer_lm": trial.get("val_wer_lm"),
        "lm_weight": trial.get("lm_weight"), "word_score": trial.get("word_score"),
        "best_model": f"{best['model']} {best['size']}", "trials": int(len(leaderboard)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--time-limit", type=float, default=120, help="seconds for each fit")
    parser.add_argument("--output", default="autoasr_runs/bench_domains")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    from autoasr.data.demo_corpus import prepare_spoken_corpus
    from autoasr.domains.presets import Domain

    output = Path(arguments.output)
    commands_corpus = prepare_spoken_corpus(output / "corpus_commands", COMMANDS, num_speakers=12,
                                            num_test_speakers=3, repeats=2, seed=arguments.seed)
    commands_domain = Domain.custom(words=COMMANDS, sentences=COMMANDS, name="home commands", base="commands")
    commands = fit_and_score("commands", commands_corpus, commands_domain, arguments.time_limit, output,
                             arguments.seed)
    swahili_corpus = prepare_spoken_corpus(output / "corpus_swahili", SWAHILI_YES_NO, language="sw",
                                           num_speakers=12, num_test_speakers=4, repeats=1, seed=arguments.seed)
    swahili_domain = Domain.custom(words=("ndiyo", "hapana"), name="swahili yes/no", base="commands")
    swahili = fit_and_score("swahili", swahili_corpus, swahili_domain, arguments.time_limit, output,
                            arguments.seed)
    print("RESULT " + json.dumps({
        "commands": {**commands, "num_commands": len(COMMANDS),
                     "vocabulary_size": len(commands_domain.vocabulary)},
        "language": {**swahili, "language": "Swahili (eSpeak NG 'sw')", "texts": list(SWAHILI_YES_NO)},
    }))


if __name__ == "__main__":
    main()
