"""The ensemble row: the best few trained trials combined (:mod:`autoasr.inference.ensemble`), weighted by
greedy ensemble selection on the tuning set, and recorded like every other row.

Members are the best ``MAX_MEMBERS`` distinct trained trials (a continued trial and its parent are one
lineage: the better of the two stands for it; pretrained recognizers used as they are have no CTC outputs
and never join). Their tuning outputs come from the feature store's cached tuning features, so scoring costs
a forward pass of each head, not of the audio pipeline. Weights come from Caruana et al.'s greedy selection
with replacement (what AutoGluon's ``WeightedEnsemble`` does): start from the best member alone, add the member
whose extra vote lowers the tuning WER most, keep the best weighting seen. The row is scored on the whole
tuning set like the trials, timed and sized with :func:`~autoasr.results.model_costs.measure_inference_cost`,
and can become the best model only by a lower tuning WER than every other row (a tie goes to the single
model: :class:`~autoasr.results.leaderboard.TrialBook`).
"""
from __future__ import annotations

import time

from autoasr.core.callbacks import emit
from autoasr.core.metrics import error_rates
from autoasr.core.storage import write_json
from autoasr.inference.ensemble import EnsembleModel
from autoasr.inference.model import TrainedModel
from autoasr.inference.model_files import MODEL_SPEC_FILE, write_tuning_transcripts
from autoasr.models.batching import emissions
from autoasr.models.whisper import POOLED_HEADS
from autoasr.results.leaderboard import TrialBook, leaderboard_row
from autoasr.results.run_folder import RunFolder
from autoasr.search.decoder_choice import transcript_vocabulary
from autoasr.search.reference_rows import close_scored_row
from autoasr.training.trial import new_trial_record

MAX_MEMBERS = 3
# a closed vocabulary's distinct training transcripts are the candidates to score when there are at most this
# many (commands, isolated digits); spliced digit strings and sentences make too many: posteriors are averaged
MAX_CANDIDATES = 100
SELECTION_ROUNDS = 2 * MAX_MEMBERS  # Caruana's rounds: enough for weights such as 2:1 or 1:1:1


def close_enough(wer: float, best_wer: float) -> bool:
    """Whether a trial is accurate enough to vote beside the best: a family that learned little (45% WER beside
    0.3%, Speech Commands 2026-12-03) only drags an equally weighted combination down."""
    return wer <= 2 * best_wer + 0.02


def ensemble_seconds(num_tuning: int) -> float:
    """Time kept back for the ensemble row: loading the members, a pass of their heads over the tuning
    features, the selection, and timing one clip five times with every member (measured: ~3 s for three
    Whisper-encoder heads and 300 tuning clips on one busy core)."""
    return 2.0 + 0.01 * min(num_tuning, 1000)


def is_combined(trial: dict) -> bool:
    return bool(trial.get("ensemble")) or trial.get("config", {}).get("model") == "ensemble"


def lineage(trial: dict, book: TrialBook) -> str:
    """The first trial of a chain of continuations (``continued_from``), which names the whole chain."""
    seen = trial
    while seen.get("config", {}).get("continued_from") in book.trials:
        seen = book[seen["config"]["continued_from"]]
    return seen["trial_id"]


def ensemble_members(book: TrialBook, frame_aligned_only: bool = False, count: int = MAX_MEMBERS) -> list[dict]:
    """The best ``count`` trained trials of distinct lineages, best first (pooled clip heads left out when
    ``frame_aligned_only``: their short paths do not line up with frames)."""
    trained = [t for t in book.records() if t["status"] == "ok" and not t.get("recognizer") and not is_combined(t)]
    # the bar is the best trained model's, pooled or not: on FSDD, with the pooled heads (1.3%) left out of an
    # average of frame posteriors, two CTC heads at 37% and 65% made a 61% row that could never be chosen
    best_wer = min((t["val_wer"] for t in trained), default=1.0)
    trained = [t for t in trained if not (frame_aligned_only and t["config"].get("size") in POOLED_HEADS)]
    members, lineages = [], set()
    for trial in sorted(trained, key=lambda t: (t["val_wer"], t["val_cer"], t["start_time"])):
        root = lineage(trial, book)
        if root not in lineages and close_enough(trial["val_wer"], best_wer):
            members.append(trial)
            lineages.add(root)
    return members[:count]


def closed_candidates(train_texts: list[str]) -> list[str] | None:
    """The distinct training transcripts when they form a closed set small enough to score one by one, else None.

    >>> closed_candidates(["yes", "no", "yes", "no"])
    ['no', 'yes']
    """
    if transcript_vocabulary(list(train_texts)) is None:
        return None
    distinct = sorted(set(train_texts))
    return distinct if len(distinct) <= MAX_CANDIDATES else None


def greedy_selection(objective, count: int, rounds: int = SELECTION_ROUNDS) -> list[int]:
    """Caruana's greedy ensemble selection with replacement: vote counts per member minimising ``objective(counts)``
    (lower is better), starting from the best single member; the best counts seen are returned."""
    singles = [[int(i == m) for i in range(count)] for m in range(count)]
    counts = min(singles, key=objective)
    best, best_score = list(counts), objective(counts)
    for _ in range(rounds):
        options = [[c + int(i == m) for i, c in enumerate(counts)] for m in range(count)]
        counts = min(options, key=objective)
        score = objective(counts)
        if score < best_score:
            best, best_score = list(counts), score
    return best


class EnsembleRow:
    """Builds, scores, saves and records the ensemble row of a search; ``run`` says what it did."""

    def __init__(self, book: TrialBook, folder: RunFolder, features, latency_clip, callbacks: list):
        self.book, self.folder, self.features = book, folder, features
        self.latency_clip, self.callbacks = latency_clip, callbacks

    def run(self, train_texts: list[str], deadline: float) -> str:
        """Record the row (or say why not) before ``deadline`` (a ``time.time()`` value)."""
        started = time.time()
        if deadline - started < 1.0:
            return f"skipped: {max(deadline - started, 0):.1f} s left for it"
        candidates = closed_candidates(train_texts)
        members = ensemble_members(self.book, frame_aligned_only=candidates is None)
        if len(members) < 2:
            return (f"skipped: {len(members)} trained model(s) of distinct lineages within 2x the best tuning WER "
                    "+ 2 points to combine (it needs 2)")
        models = [TrainedModel.load(self.folder.trial_dir(t["trial_id"])) for t in members]
        ensemble = EnsembleModel(models, [1.0] * len(models), candidates, [t["trial_id"] for t in members])
        references, scores = self._tuning_scores(ensemble, members)
        note = self._choose_weights(ensemble, scores, references)
        hypotheses = ensemble.decide(scores)
        if time.time() > deadline:
            return f"skipped: scoring took {time.time() - started:.1f} s, past its deadline"
        self._record(ensemble, members, references, hypotheses, started, note)
        return "ok"

    def _tuning_scores(self, ensemble: EnsembleModel, members: list[dict]) -> tuple[list[str], list]:
        """Each member's outputs on the (cached) tuning features, reduced to what the combination weighs."""
        outputs, references = [], None
        for trial, model in zip(members, ensemble.members):
            _, tuning = self.features(trial["config"])
            references = references or list(tuning.texts)
            outputs.append(emissions(model.network, tuning.features))
        return references, ensemble.member_scores(outputs)

    @staticmethod
    def _choose_weights(ensemble: EnsembleModel, scores: list, references: list[str]) -> str:
        def objective(counts: list[int]) -> tuple[float, float]:
            ensemble.weights = [float(c) for c in counts]
            rates = error_rates(references, ensemble.decide(scores))
            return rates["wer"], rates["cer"]

        counts = greedy_selection(objective, len(ensemble.members))
        if sum(c > 0 for c in counts) >= 2:
            ensemble.weights = [c / sum(counts) for c in counts]
            return "greedy ensemble selection on the tuning set"
        # one member alone read the tuning set best: the row shows what a plain average gives, to compare
        ensemble.weights = [1.0 / len(counts)] * len(counts)
        return (f"equal weights (greedy selection kept trial {ensemble.member_ids[counts.index(max(counts))]} "
                "alone)")

    def _record(self, ensemble: EnsembleModel, members: list[dict], references: list[str], hypotheses: list[str],
                started: float, note: str) -> None:
        trial_id = self.book.next_id()
        trial_dir = self.folder.trial_dir(trial_id)
        write_json(trial_dir / MODEL_SPEC_FILE, ensemble.spec())
        record = new_trial_record(trial_id, ensemble.config)
        record.update(start_time=started, ensemble=list(ensemble.member_ids), weights_note=note,
                      pretrained=any(leaderboard_row(t)["pretrained"] for t in members))
        self.book.add(record)
        emit(self.callbacks, "on_trial_start", trial_id, dict(record["config"]))
        rates = error_rates(references, hypotheses)
        record.update(status="ok", val_wer=rates["wer"], val_cer=rates["cer"], epochs=0, best_epoch=0,
                      eval_seconds=time.time() - started, stop_reason="ensemble", error=None,
                      decoder=ensemble.combination, parameters=ensemble.parameters(),
                      members_val_wer={t["trial_id"]: t["val_wer"] for t in members})
        write_tuning_transcripts(trial_dir, references, hypotheses)
        close_scored_row(record, ensemble, self.latency_clip, self.folder, self.book, self.callbacks)
