import time

import pytest
import torch

from autoasr.core.text import CharVocabulary
from autoasr.search.local import PortfolioSearcher
from autoasr.search.presets import PRESETS
from autoasr.search.stopping import median_stopping
from autoasr.training.loop import annealed_rate_scale, train_trial
from autoasr.training.tensors import SplitTensors


def toy_task(count=48):
    """Two 'words' with distinct spectral patterns: learnable in seconds."""
    generator = torch.Generator().manual_seed(0)
    features, texts = [], []
    for i in range(count):
        word = "ab" if i % 2 else "ba"
        frames = torch.randn(30, 40, generator=generator) * 0.3
        frames[:15, :20 if word == "ab" else 20:] += 2.0
        frames[15:, 20:] += 2.0 if word == "ab" else 0.0
        frames[15:, :20] += 0.0 if word == "ab" else 2.0
        features.append(frames)
        texts.append(word)
    return features, texts


def test_trial_learns_a_toy_task_keeps_best_weights_and_reports_every_epoch():
    features, texts = toy_task(96)
    vocabulary = CharVocabulary.from_texts(texts)
    train = SplitTensors.build(features[:80], texts[:80], vocabulary)
    tuning = SplitTensors.build(features[80:], texts[80:], vocabulary)
    reports = []
    config = {"model": "crnn", "size": "tiny", "learning_rate": 5e-3, "batch_size": 8, "augment": 0.0, "patience": 10}
    outcome = train_trial(config, train, tuning, vocabulary, deadline=time.time() + 60, report=reports.append)
    assert outcome.best_wer <= 0.25
    assert [r["epoch"] for r in reports] == list(range(1, outcome.epochs + 1))
    assert outcome.state_dict is not None and outcome.best_epoch >= 1
    assert reports[-1]["train_loss"] < reports[0]["train_loss"]


@pytest.mark.slow
def test_trial_stops_at_its_deadline():
    features, texts = toy_task()
    vocabulary = CharVocabulary.from_texts(texts)
    split = SplitTensors.build(features, texts, vocabulary)
    config = {"model": "conformer", "size": "small", "learning_rate": 1e-3, "batch_size": 4, "patience": 100}
    started = time.time()
    outcome = train_trial(config, split, split, vocabulary, deadline=started + 3)
    assert time.time() - started < 8
    assert outcome.stop_reason in ("deadline", "perfect")


@pytest.mark.slow
def test_annealed_trial_decays_its_rate_to_the_deadline_and_ignores_plateaus():
    # labels unrelated to the features: the tuning WER stops improving, so a plain trial stops on a plateau
    generator = torch.Generator().manual_seed(1)
    features = [torch.randn(20, 40, generator=generator) for _ in range(48)]
    texts = ["ab" if torch.rand(1, generator=generator).item() < 0.5 else "ba" for _ in features]
    vocabulary = CharVocabulary.from_texts(texts)
    train = SplitTensors.build(features[:36], texts[:36], vocabulary)
    tuning = SplitTensors.build(features[36:], texts[36:], vocabulary)
    config = {"model": "convnet", "size": "tiny", "learning_rate": 4e-3, "batch_size": 4, "augment": 0.0,
              "patience": 1}
    plain = train_trial(config, train, tuning, vocabulary, deadline=time.time() + 60)
    assert plain.stop_reason == "plateau"
    annealed = train_trial({**config, "anneal": True}, train, tuning, vocabulary, deadline=time.time() + 4)
    assert annealed.stop_reason == "deadline"
    rates = [row["learning_rate"] for row in annealed.history]
    after_warm_up = rates[rates.index(max(rates)):]
    assert all(later <= earlier for earlier, later in zip(after_warm_up, after_warm_up[1:]))
    assert after_warm_up[-1] < 0.25 * max(rates)


def test_anneal_schedule_is_a_cosine_from_the_full_rate_to_a_small_floor():
    scales = [annealed_rate_scale(elapsed, 10.0) for elapsed in range(0, 11)]
    assert scales[0] == 1.0 and abs(scales[5] - 0.51) < 1e-9 and abs(scales[-1] - 0.02) < 1e-9
    assert all(later < earlier for earlier, later in zip(scales, scales[1:]))
    assert annealed_rate_scale(15.0, 10.0) == annealed_rate_scale(10.0, 10.0)  # past the deadline: the floor


def test_stop_request_ends_a_trial():
    features, texts = toy_task()
    vocabulary = CharVocabulary.from_texts(texts)
    split = SplitTensors.build(features, texts, vocabulary)
    config = {"model": "convnet", "size": "tiny", "learning_rate": 1e-3, "batch_size": 8, "patience": 100}
    outcome = train_trial(config, split, split, vocabulary, deadline=time.time() + 60,
                          should_stop=lambda: True)
    assert outcome.stop_reason == "stopped" and outcome.epochs == 0


def test_searcher_proposes_the_portfolio_first_then_samples_the_space():
    preset = PRESETS["default"]
    searcher = PortfolioSearcher(search_space=preset.space, reward_attribute="reward", portfolio=preset.portfolio)
    proposed = []
    for reward in (0.5, 0.6, 0.4, 0.3, 0.2, 0.1):
        config = searcher.get_config()
        searcher.update(config=config, reward=reward)
        proposed.append(config)
    assert proposed[: len(preset.portfolio)] == [dict(c) for c in preset.portfolio]
    assert len({tuple(sorted(c.items())) for c in proposed}) == len(proposed)
    assert {c["model"] for c in proposed} == {"crnn", "conformer", "convnet"}


def _history(*rows):
    return [{"epoch": i + 1, "epoch_seconds": seconds, "best_val_wer": wer} for i, (seconds, wer) in enumerate(rows)]


def test_median_stopping_compares_trials_after_equal_training_time_not_equal_epochs():
    # two fast-epoch trials at 0.3 / 0.4 WER after 15 s; a slow-epoch trial still at 100% after one 15 s epoch
    histories = {"1": _history((5, 0.6), (5, 0.4), (5, 0.3), (5, 0.2)), "2": _history((5, 0.7), (5, 0.5), (5, 0.4)),
                 "3": _history((15, 1.0))}
    assert median_stopping(histories, "3", grace_seconds=10)
    # as good as the median after 15 s
    assert not median_stopping({**histories, "3": _history((15, 0.3))}, "3", grace_seconds=10)
    assert not median_stopping(histories, "3", grace_seconds=20)  # too early to judge
    # a trial is compared only with trials that trained at least as long: after 30 s no other one has
    assert not median_stopping({**histories, "3": _history((30, 1.0))}, "3", grace_seconds=10)
    # an earlier trial whose first evaluation came later than this point counts as having no model yet (100%)
    slow = {"1": _history((40, 0.5)), "2": _history((40, 0.6)), "3": _history((10, 0.9))}
    assert not median_stopping(slow, "3", grace_seconds=5)
    assert not median_stopping(histories, "4", grace_seconds=0)  # a trial with no evaluation yet is never judged
