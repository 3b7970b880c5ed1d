"""How a time limit is shared: a reserve for saving, the exploration, the winner's continuation, the decoder
choice, and each trial's deadline. The budget widget asks the same arithmetic for its estimate."""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from autogluon.common import space

from autoasr.search.decoder_choice import decoder_choice_seconds
from autoasr.search.presets import Preset, get_preset

# share of the budget kept back for saving and the final evaluation of the winner
FINAL_RESERVE_SHARE, FINAL_RESERVE_SECONDS = 0.03, 2.0
MIN_EPOCHS_PER_TRIAL = 6
MAX_TRIAL_SHARE_OF_EXPLORATION = 0.4  # that floor never lets one trial crowd out the search
# no trial is pruned before it has trained this share of a trial's time: a quarter of it shows which
# models learn per second without letting a slow starter use up its whole turn
PRUNING_GRACE_SHARE = 0.25
PREPARATION_SECONDS_PER_AUDIO_HOUR = 40.0  # feature extraction on one CPU core, measured roughly
# the share of the search kept for refitting the winner on training + tuning data, when a refit is planned
# (:func:`plans_refit`): on 30 clips the winner's pooled head trains to convergence in 5-25 s on two busy
# cores, and refitting it on all 30 clips read unseen speakers with 2.4% WER against 8.3% for the same head
# trained on the 20 clips left once a tuning speaker is held out (benchmarks/smalldata_probe.py)
REFIT_SHARE = 0.15
# "auto" refits corpora of at most this many utterances (training + tuning): there a tuning speaker's clips are
# a large share of what there is to learn from, and a model trains on all of them in seconds
REFIT_MAX_UTTERANCES = 1000
# the share kept before the refit for ranking the finalists by k-fold by speaker (autoasr.search.kfold), when
# planned: 3-4 Whisper heads x 3 folds of 20 clips, each a few seconds on two busy cores
KFOLD_SHARE = 0.15


# "auto" also refits when the tuning split took a large share of the voices (at most this many speakers in training
# + tuning) and the heads train on cached encoder vectors (epochs of a second or less, so the refit fits its share):
# FSDD's george read through the frozen encoder's layer average with 3.6-9.0% errors when one of the other four
# speakers was held out for tuning (9.0% without nicolas), 4.4% when trained on all four
REFIT_MAX_SPEAKERS_WITH_ENCODER = 5


def plans_refit(refit, num_utterances: int, preset: Preset | None = None, backend: str = "local",
                voices: int = 0, whisper_encoder: bool = False) -> bool:
    """Whether a fit keeps time to refit its winner on all data: ``refit`` True or False, or "auto": small
    corpora, or 2 to ``REFIT_MAX_SPEAKERS_WITH_ENCODER`` named ``voices`` in training + tuning with a
    ``whisper_encoder`` at hand; except with a baseline preset (no continuation share: ``single``, ``random``), whose trials stay
    as they ended so that the benchmark's baselines remain what they say, and except on Ray, whose start
    (~17 s on 2 cores) already comes out of the exploration (with the refit's 15% too, a 60 s fit on 78 clips
    ran no trial).

    >>> plans_refit("auto", 30), plans_refit("auto", 3000), plans_refit(True, 3000), plans_refit(False, 30)
    (True, False, True, False)
    >>> plans_refit("auto", 30, get_preset("single")), plans_refit("auto", 30, backend="ray")
    (False, False)
    >>> plans_refit("auto", 3000, voices=4, whisper_encoder=True), plans_refit("auto", 3000, voices=4)
    (True, False)
    """
    if refit not in (True, False, "auto"):
        raise ValueError(f"refit must be True, False or 'auto', not {refit!r}")
    if refit == "auto":
        few_voices = whisper_encoder and 2 <= voices <= REFIT_MAX_SPEAKERS_WITH_ENCODER
        return ((num_utterances <= REFIT_MAX_UTTERANCES or few_voices)
                and (preset is None or preset.refine_share > 0)
                and backend == "local")
    return bool(refit)


def final_reserve(time_limit: float) -> float:
    return max(FINAL_RESERVE_SECONDS, FINAL_RESERVE_SHARE * time_limit)


@dataclass(frozen=True)
class BudgetPlan:
    """The deadlines of one fit, as ``time.time()`` values, fixed once the data is prepared.

    ``exploration_deadline`` ends the search for new configurations; the winner is continued until
    ``continuation_deadline``; the decoder choice ends by ``decoder_deadline``; the finalists' k-fold ranking
    (when planned) by ``kfold_deadline``; a refit of the winner on all data (when planned) by
    ``search_deadline``; the rest saves the run.
    """

    search_deadline: float
    decoder_deadline: float
    continuation_deadline: float
    exploration_deadline: float
    exploration_seconds: float
    trial_seconds: float
    pruning_grace_seconds: float
    kfold_deadline: float = 0.0  # 0: none planned (read through ``kfold_planned``)

    @classmethod
    def plan(cls, started: float, time_limit: float, preset: Preset, num_tuning: int, now: float,
             refit: bool = False, kfold: bool = False) -> "BudgetPlan":
        """``kfold`` counts only with ``refit``: the k-fold ranking chooses what the refit trains."""
        search_deadline = started + float(time_limit) - final_reserve(time_limit)
        search_seconds = max(search_deadline - now, 1.0)
        trial_seconds = max(preset.min_trial_seconds, preset.trial_share * search_seconds)
        kfold_deadline = search_deadline - (REFIT_SHARE * search_seconds if refit else 0.0)
        decoder_deadline = kfold_deadline - (KFOLD_SHARE * search_seconds if refit and kfold else 0.0)
        continuation_deadline = decoder_deadline - decoder_choice_seconds(num_tuning, search_seconds)
        exploration_deadline = continuation_deadline - preset.refine_share * search_seconds
        return cls(search_deadline, decoder_deadline, continuation_deadline, exploration_deadline,
                   exploration_deadline - now, trial_seconds, PRUNING_GRACE_SHARE * trial_seconds,
                   kfold_deadline if refit and kfold else 0.0)

    @property
    def refit_planned(self) -> bool:
        """Whether time was kept for a refit (between the decoder deadline and the search deadline)."""
        return self.decoder_deadline < self.search_deadline

    @property
    def kfold_planned(self) -> bool:
        """Whether time was kept for ranking the finalists by k-fold (after the decoder deadline, before the refit)."""
        return self.decoder_deadline < self.kfold_deadline

    def trial_deadline(self, now: float, epoch_seconds: list[float], own_epoch_seconds: list[float] = ()) -> float:
        """A trial gets its share of the budget, but at least enough for a few epochs once their length is known:
        on a slow machine fewer, better-trained trials beat many untrained ones. ``own_epoch_seconds`` (a trial that
        trains pretrained encoder weights) sets the floor from the trial's own epochs when they are the longer:
        the median of all epochs is a cached head's there, 15-40x shorter, and a fine-tuned Whisper top layer cut
        after its 2 epochs read FSDD's george with 5.0% where 7-8 epochs read 3.4-3.8% (frozen head: 5-11%)."""
        lengths = [statistics.median(seconds) for seconds in (epoch_seconds, own_epoch_seconds) if seconds]
        floor = MIN_EPOCHS_PER_TRIAL * max(lengths) if lengths else 0.0
        floor = min(floor, MAX_TRIAL_SHARE_OF_EXPLORATION * self.exploration_seconds)
        return min(self.exploration_deadline, now + max(self.trial_seconds, floor))


def estimate_trials(seconds: float, presets: str = "default", audio_hours: float = 0.0) -> tuple[int, int]:
    """A rough (fewest, most) number of trials a budget buys.

    Each trial may use at most ``trial_share`` of the search budget (and at least ``min_trial_seconds``);
    trials that plateau or fall behind the median stop early, so the real count is usually higher.

    >>> estimate_trials(600, "default")
    (4, 12)
    """
    preset = get_preset(presets)
    search = max(seconds - final_reserve(seconds) - PREPARATION_SECONDS_PER_AUDIO_HOUR * audio_hours, 0.0)
    if not any(isinstance(value, space.Space) for value in preset.space.values()):
        return (1, 1) if search > 0 else (0, 0)
    longest_trial = max(preset.min_trial_seconds, preset.trial_share * search)
    fewest = max(1, int(search // longest_trial)) if search >= preset.min_trial_seconds / 2 else 0
    most = max(fewest, int(search // preset.min_trial_seconds)) if preset.prune else fewest
    return (fewest, min(most, 3 * fewest)) if fewest else (0, 0)
