"""Rows for pretrained recognizers used as they are — Whisper zero-shot, PocketSphinx — before any training.

Each is what a user would get without training: it transcribes the tuning set, its text normalised the way
the domain scores (:mod:`autoasr.inference.recognizers`), scored with the trials' WER code, timed and sized
like a trial (:func:`~autoasr.results.model_costs.measure_inference_cost`), and recorded through the same
:class:`~autoasr.results.leaderboard.TrialBook` and :class:`~autoasr.results.run_folder.RunFolder`. So it
can win, and everything that uses the best model uses it. Its time counts against the budget: the first
few tuning clips give an estimate, and a row the budget cannot afford is skipped with the reason.
"""
from __future__ import annotations

import shutil
import time

from autoasr.core.callbacks import emit
from autoasr.core.metrics import error_rates
from autoasr.core.storage import write_json
from autoasr.data.dataset import Dataset
from autoasr.domains.presets import Domain
from autoasr.inference.model import TrainedModel
from autoasr.inference.model_files import MODEL_SPEC_FILE, write_tuning_transcripts
from autoasr.inference.recognizers import (
    POCKETSPHINX,
    RECOGNIZERS,
    WHISPER_ZERO_SHOT,
    PocketSphinxRecognizer,
    pocketsphinx_available,
    whisper_token_budget,
)
from autoasr.results.leaderboard import TrialBook, leaderboard_row
from autoasr.results.model_costs import measure_inference_cost
from autoasr.results.run_folder import RunFolder
from autoasr.training.trial import new_trial_record

# the share of the time left these rows may take together: they are yardsticks, the search is the point
REFERENCE_SHARE = 0.3
# ... except on sentences, where training from scratch on a learner's few hundred clips read 87% of the words
# wrong and Whisper used as it is 13% (issue 17): there the pretrained row is the likeliest winner
SENTENCES_REFERENCE_SHARE = 0.5
SENTENCE_WORDS = 3  # transcripts of this many words on average are sentences, not commands
PROBE_CLIPS = 3  # tuning clips transcribed to estimate the whole tuning set's cost
# at most this many distinct training words make a closed vocabulary PocketSphinx gets as a grammar
GRAMMAR_WORDS = 200
# below this share of training words in PocketSphinx's US-English dictionary the corpus is not English-like:
# English command sets and digits are all in it, while half of the Spanish digits (cero, uno, dos...) are too,
# as names or loanwords, and PocketSphinx read them with 85% WER
ENGLISH_SHARE = 0.8


def reference_share(texts: list[str], clip_labels: bool) -> float:
    """The share of the time left the rows may take for these training transcripts.

    >>> reference_share(["yes", "no"], clip_labels=True), reference_share(["turn the oven off now"], clip_labels=False)
    (0.3, 0.5)
    """
    words = sum(len(text.split()) for text in texts) / max(len(texts), 1)
    return SENTENCES_REFERENCE_SHARE if words >= SENTENCE_WORDS and not clip_labels else REFERENCE_SHARE


def wanted_rows(choice) -> list[str]:
    """``"auto"``/None/True: both; ``"none"``/False: neither; a name or a list of names: those.

    >>> wanted_rows("whisper")
    ['whisper-zero-shot']
    """
    if choice in (None, True, "auto", "all"):
        return [WHISPER_ZERO_SHOT, POCKETSPHINX]
    if choice in (False, "none", ""):
        return []
    names = [choice] if isinstance(choice, str) else list(choice)
    aliases = {"whisper": WHISPER_ZERO_SHOT, "zero-shot": WHISPER_ZERO_SHOT}
    rows = [aliases.get(name, name) for name in names]
    unknown = [name for name in rows if name not in RECOGNIZERS]
    if unknown:
        raise ValueError(f"unknown zero-shot row {unknown[0]!r} (choose from whisper, pocketsphinx, auto, none)")
    return rows


def _whisper_config(encoders: list, train: Dataset, domain: Domain) -> tuple[dict | None, str | None]:
    whisper = next((e for e in encoders if getattr(e, "kind", "") == "whisper"), None)
    if whisper is None:
        return None, "no Whisper model at hand (pass pretrained= a Whisper folder or hub id)"
    return {"source": whisper.source or str(whisper.path), "normalizer": domain.normalizer,
            "max_new_tokens": whisper_token_budget(train.texts)}, None


# longer transcripts (digit strings, phrases) keep the open loop: a chain of optional words decodes slowly
# (3 words: 0.12 s a clip, 6 words: 0.78 s, against 0.09 s for the loop and 0.02 s for one word)
MAX_GRAMMAR_WORDS_A_CLIP = 2


def _pocketsphinx_config(train: Dataset, domain: Domain) -> tuple[dict | None, str | None]:
    if not pocketsphinx_available():
        return None, "PocketSphinx is not installed (pip install pocketsphinx)"
    words = sorted({word for text in train.texts for word in text.split()})
    dictionary = PocketSphinxRecognizer()
    known = [word for word in words if dictionary.knows(word)]
    if not words or len(known) < ENGLISH_SHARE * len(words):
        return None, (f"not English-like: {len(known)} of the {len(words)} training words are in PocketSphinx's "
                      "US-English dictionary")
    # a small vocabulary of commands is a grammar; sentences (a loop over 150 words decoded 22 s a clip of
    # espeak_en_sentences) and large vocabularies get the bundled English LM
    closed = len(words) <= GRAMMAR_WORDS and reference_share(train.texts, False) == REFERENCE_SHARE
    # as many words a clip as the longest training transcript: a grammar that loops reads noise as words
    longest = max(len(text.split()) for text in train.texts)
    return {"normalizer": domain.normalizer, "words": known if closed else None,
            "max_words": longest if closed and longest <= MAX_GRAMMAR_WORDS_A_CLIP else None,
            "vocabulary": "closed (grammar of the training words)" if closed else "open (bundled English LM)",
            "words_missing_from_dictionary": sorted(set(words) - set(known))[:50]}, None


def reference_configs(choice, encoders: list, train: Dataset, domain: Domain) -> tuple[dict, dict]:
    """({row name: recognizer config} to try, {row name: why it is not tried})."""
    configs, skipped = {}, {}
    for name in wanted_rows(choice):
        config, reason = (_whisper_config(encoders, train, domain) if name == WHISPER_ZERO_SHOT
                          else _pocketsphinx_config(train, domain))
        if config is None:
            skipped[name] = reason
        else:
            configs[name] = config
    return configs, skipped


class ReferenceRows:
    """Scores recognizer configs on the tuning set as trials of ``book``, within ``deadline`` (a time)."""

    def __init__(self, book: TrialBook, folder: RunFolder, tuning: Dataset, latency_clip, callbacks: list):
        self.book, self.folder, self.tuning = book, folder, tuning
        self.latency_clip, self.callbacks = latency_clip, callbacks

    def run(self, configs: dict, deadline: float) -> dict:
        """{row name: "ok", or why it was skipped or failed}."""
        outcome = {}
        for name, config in configs.items():
            if any(trial.get("recognizer") == name for trial in self.book.records()):
                outcome[name] = "ok (kept from the resumed run)"
                continue
            try:
                outcome[name] = self.score(name, config, deadline)
            except KeyboardInterrupt:
                raise
            except Exception as error:  # a yardstick that cannot run must not end the fit
                outcome[name] = f"failed: {type(error).__name__}: {error}"
        return outcome

    def score(self, name: str, config: dict, deadline: float) -> str:
        trial_id = self.book.next_id()
        trial_dir = self.folder.trial_dir(trial_id)
        started = time.time()
        write_json(trial_dir / MODEL_SPEC_FILE, {"kind": name, "config": config})
        try:
            model = TrainedModel.load(trial_dir)  # the entry every saved model goes through
            audio = [u.audio for u in self.tuning]
            probe_started = time.time()  # loading is paid once: only transcribing scales with the clips
            hypotheses = model.transcribe(audio[:PROBE_CLIPS])
        except Exception:
            shutil.rmtree(trial_dir, ignore_errors=True)
            raise
        per_clip = (time.time() - probe_started) / max(min(PROBE_CLIPS, len(audio)), 1)
        needed = per_clip * max(len(audio) - PROBE_CLIPS, 0)
        if time.time() + needed > deadline:
            shutil.rmtree(trial_dir, ignore_errors=True)
            return (f"skipped: transcribing the {len(audio)} tuning clips would take about {needed:.0f} s more "
                    f"({per_clip:.2f} s a clip), over the {max(deadline - time.time(), 0):.0f} s it may use")
        record = new_trial_record(trial_id, {**model.config})
        record.update(start_time=started, pretrained=True, recognizer=name)
        self.book.add(record)
        emit(self.callbacks, "on_trial_start", trial_id, dict(record["config"]))
        hypotheses += model.transcribe(audio[PROBE_CLIPS:])
        self._finish(record, model, hypotheses, started)
        return "ok"

    def _finish(self, record: dict, model, hypotheses: list[str], started: float) -> None:
        """Score, time and size the row, and write it where every trial is written."""
        rates = error_rates(self.tuning.texts, hypotheses)
        parameters = getattr(model, "parameters", None)
        record.update(status="ok", val_wer=rates["wer"], val_cer=rates["cer"], epochs=0, best_epoch=0,
                      eval_seconds=time.time() - started, stop_reason="zero-shot", error=None, decoder="own",
                      parameters=parameters() if callable(parameters) else None)
        write_tuning_transcripts(self.folder.trial_dir(record["trial_id"]), self.tuning.texts, hypotheses)
        close_scored_row(record, model, self.latency_clip, self.folder, self.book, self.callbacks)


def close_scored_row(record: dict, model, latency_clip, folder: RunFolder, book: TrialBook, callbacks: list) -> None:
    """The end of a row scored without training (a recognizer, an ensemble): its costs, the record on disk, the
    best model chosen again, the callbacks told."""
    try:
        record.update(measure_inference_cost(model, latency_clip))
    except Exception as error:  # an unmeasured model is still a usable model: it only cannot meet a limit
        record["cost_error"] = f"{type(error).__name__}: {error}"
    record["end_time"] = time.time()
    folder.write_trial(record)
    book.refresh_best()
    emit(callbacks, "on_trial_end", leaderboard_row(record))
