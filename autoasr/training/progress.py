"""The stop rule of one trial: after each evaluation, did the model improve, is it still learning, and should
it stop (perfect, plateau)?"""
from __future__ import annotations

import math

# a plateau is only judged after this many updates: on tens of clips an epoch is a few steps, and a
# CTC model needs on the order of a hundred before it emits anything but blanks
MIN_STEPS_BEFORE_PLATEAU = 100
# a perfect score on fewer tuning utterances than this is luck as often as skill (one eSpeak voice's 30
# clips read perfectly by a model that read 72% of two other voices' words wrong): it does not end a trial,
# which then runs until it plateaus or its deadline passes
MIN_UTTERANCES_FOR_PERFECT = 100
# while only blanks come out, a loss that falls by this share an evaluation is still learning: a CRNN on the
# demo corpus (12 updates an epoch) fell 0.7-1.9% an evaluation from 3.2 to 2.9, was called a plateau at a 2%
# threshold after 192 updates, its rate halved four times on the way, and read 98% of unseen words wrong
BLANK_PHASE_LOSS_GAIN = 0.005


class ProgressJudge:
    """Keeps the best tuning WER/CER and counts evaluations without progress.

    Early in training WER often sits at 100% while CER falls, and before that a CTC model emits only
    blanks while its loss falls: each of these counts as progress, so no plateau is called while the
    model is still learning to speak. An annealed run never plateaus: its last, lowest-rate epochs are
    the ones that settle it.
    """

    def __init__(self, patience: int, anneal: bool = False, tuning_size: int = MIN_UTTERANCES_FOR_PERFECT,
                 keep_last: bool = False):
        self.patience = patience
        # a refit on all data is scored on clips it trained on: no yardstick for choosing an epoch, halving the
        # rate or stopping; every epoch is the new model and only its epoch count or deadline ends it
        self.keep_last = keep_last
        self.anneal = anneal
        self.trust_perfect = tuning_size >= MIN_UTTERANCES_FOR_PERFECT
        self.best_wer = self.best_cer = math.inf
        self.best_epoch = 0
        self.best_cer_seen = self.best_train_loss = math.inf
        self.evaluations_without_gain = 0

    def judge(self, epoch: int, wer: float, cer: float, train_loss: float, step: int) -> tuple[bool, bool]:
        """Record one evaluation; returns (improved: a new best model, halve_rate: a plateau is starting).

        A new best model scores better on the tuning set, or as well with a lower training loss."""
        improved = wer < self.best_wer - 1e-9 or (wer == self.best_wer and cer < self.best_cer)
        # a tie on a small tuning set (ten clips: one WER step is 10%) says nothing; the later, better-trained
        # epoch is kept. On 30 Speech Commands clips the first epoch at the tuned WER (4 of 23, train loss 1.04)
        # read unseen speakers with 8.3% WER, the last one (loss 0.007) with 2.1% (benchmarks/smalldata_probe.py)
        tied_but_fitter = (wer == self.best_wer and cer == self.best_cer and train_loss < self.best_train_loss)
        still_blank = self.best_cer_seen >= 0.95 and cer >= 0.95
        progressed = (improved or cer < self.best_cer_seen - 1e-9
                      or (still_blank and train_loss < self.best_train_loss * (1.0 - BLANK_PHASE_LOSS_GAIN)))
        self.best_cer_seen = min(self.best_cer_seen, cer)
        self.best_train_loss = min(self.best_train_loss, train_loss)
        kept = improved or tied_but_fitter or self.keep_last  # a tie is worth keeping, not progress that delays a plateau
        if kept:
            self.best_wer, self.best_cer, self.best_epoch = wer, cer, epoch
        if progressed or step < MIN_STEPS_BEFORE_PLATEAU or self.anneal or self.keep_last:
            self.evaluations_without_gain = 0
            return kept, False
        self.evaluations_without_gain += 1
        # halve the rate on a plateau before giving up, but not in the blank phase: a lower rate only lengthens it
        return kept, self.evaluations_without_gain % 2 == 0 and not still_blank

    def stop_reason(self, epoch: int) -> str | None:
        """"perfect" or "plateau" when the trial should end after this evaluation, else None."""
        if self.keep_last:
            return None
        if self.best_wer == 0.0 and self.best_cer == 0.0 and epoch >= 2 and self.trust_perfect:
            return "perfect"
        if self.evaluations_without_gain >= self.patience:
            return "plateau"
        return None
