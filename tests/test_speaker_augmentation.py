"""Speaker augmentation: speed-perturbed copies of small training sets, written once, only where clips are few."""
from __future__ import annotations

import threading

import pytest

from autoasr import ASRPredictor, load_dataset
from autoasr.core.callbacks import FitCallback
from autoasr.domains import expand
from autoasr.domains.expand import (
    SPEAKER_COPY_MAX_CLIPS,
    SPEAKER_SWITCH,
    expand_training_set,
    plan_speaker_copies,
    speaker_copies,
)
from autoasr.domains.presets import get_domain


@pytest.fixture(scope="module")
def splits(tiny_corpus):
    """A few training clips of two voices and a tuning set of other voices (the tiny corpus's own split)."""
    dataset = load_dataset(tiny_corpus)
    speakers = dataset.speakers
    train = dataset.subset([u for u in dataset if u.speaker in speakers[:2]][:12], "tiny-train")
    tuning = dataset.subset([u for u in dataset if u.speaker in speakers[2:]][:6], "tiny-tuning")
    return train, tuning


def test_small_corpora_get_two_copies_large_ones_none_and_the_switch_wins(monkeypatch):
    monkeypatch.delenv(SPEAKER_SWITCH, raising=False)
    assert plan_speaker_copies(120)["copies"] == 2
    assert plan_speaker_copies(120)["clips_added"] == 240
    large = plan_speaker_copies(SPEAKER_COPY_MAX_CLIPS + 1)
    assert large["copies"] == 0 and large["clips_added"] == 0 and "over" in large["reason"]
    assert plan_speaker_copies(SPEAKER_COPY_MAX_CLIPS + 1, True)["copies"] == 2  # asked for: made whatever the size
    assert plan_speaker_copies(120, False) == {"copies": 0, "clips_added": 0,
                                               "reason": "switched off (augment_speakers=False)"}
    monkeypatch.setenv(SPEAKER_SWITCH, "0")
    assert plan_speaker_copies(120)["copies"] == 0
    assert plan_speaker_copies(120, True)["copies"] == 2  # the argument beats the environment
    with pytest.raises(ValueError, match="augment_speakers"):
        plan_speaker_copies(120, "sometimes")


def test_copies_keep_labels_and_speakers_change_the_tempo_and_are_written_once(splits, monkeypatch):
    train, _ = splits
    slow, fast = speaker_copies(train, 2, seed=0)
    for copy in (slow, fast):
        assert copy.texts == train.texts
        assert [u.speaker for u in copy] == [u.speaker for u in train]
    for original, slower, faster in zip(train, slow, fast):  # 0.9x plays longer, 1.1x shorter
        assert slower.duration == pytest.approx(original.duration / 0.9, rel=0.01)
        assert faster.duration == pytest.approx(original.duration / 1.1, rel=0.01)

    def no_second_write(*args, **kwargs):
        raise AssertionError("the cached copies were made again")

    monkeypatch.setattr(expand, "augmented_copies", no_second_write)
    again = speaker_copies(train, 2, seed=0)
    assert [u.audio for u in again[0]] == [u.audio for u in slow]


def test_expansion_appends_copies_after_the_real_clips_and_none_when_switched_off(splits):
    train, _ = splits
    domain = get_domain("commands")
    assert len(expand_training_set(train, domain, speaker_copies_per_clip=0)) == len(train)
    expanded = expand_training_set(train, domain, speaker_copies_per_clip=2)
    assert len(expanded) == 3 * len(train)
    assert [u.audio for u in expanded][: len(train)] == [u.audio for u in train]


class StopAtFirstEpoch(FitCallback):
    """Records what the search trains on, then stops it after one epoch: the data is what is tested."""

    def __init__(self):
        self.info, self.predictor = None, None

    def on_search_start(self, info):
        self.info = info

    def on_epoch_end(self, trial_id, metrics):
        threading.Timer(0.05, self.predictor.stop).start()


@pytest.mark.parametrize("augment_speakers", ["auto", False])
def test_fit_augments_training_speakers_only_and_the_switch_turns_it_off(splits, tmp_path, augment_speakers,
                                                                         monkeypatch):
    monkeypatch.delenv(SPEAKER_SWITCH, raising=False)
    train, tuning = splits
    stopper = StopAtFirstEpoch()
    predictor = stopper.predictor = ASRPredictor(path=tmp_path / "run", domain="commands", verbosity=0)
    predictor.fit(train, tuning_data=tuning, time_limit=40, presets="single", callbacks=[stopper],
                  augment_speakers=augment_speakers, zero_shot="none", refit=False)
    summary = predictor.fit_summary["speaker_augmentation"]
    assert stopper.info["num_tuning"] == len(tuning)  # the tuning set is never augmented
    if augment_speakers == "auto":
        assert stopper.info["num_train"] == 3 * len(train)
        assert summary["clips_added"] == 2 * len(train) and summary["speed_factors"] == [0.9, 1.1]
    else:
        assert stopper.info["num_train"] == len(train)
        assert summary["clips_added"] == 0 and "switched off" in summary["reason"]
    assert ASRPredictor.load(tmp_path / "run").fit_summary["speaker_augmentation"] == summary


def test_a_telephony_domain_still_gets_its_one_channel_copy_besides_the_speaker_copies(splits):
    train, _ = splits  # recipe.is_identity is a property: calling it broke the telephony/far-field expansion
    assert len(expand_training_set(train, get_domain("telephony"))) == 2 * len(train)
    assert len(expand_training_set(train, get_domain("telephony"), speaker_copies_per_clip=2)) == 4 * len(train)
