"""Model selection that generalises (issue 14): perfect scores on tiny tuning sets, pruning grace in updates,
families that learned nothing, and closed vocabularies decoded as such in any domain."""
from __future__ import annotations

import random

import pytest
import torch

from autoasr.core.text import CharVocabulary
from autoasr.domains.presets import get_domain
from autoasr.search.decoder_choice import compare_decoders_on_tuning, transcript_vocabulary
from autoasr.search.learning import faster_learning, learned_nothing
from autoasr.search.stopping import median_stopping
from autoasr.training.progress import MIN_UTTERANCES_FOR_PERFECT, ProgressJudge
from autoasr.training.tensors import SplitTensors


def test_a_perfect_score_on_a_tiny_tuning_set_does_not_end_the_trial():
    tiny, large = ProgressJudge(patience=4, tuning_size=30), ProgressJudge(patience=4, tuning_size=MIN_UTTERANCES_FOR_PERFECT)
    for judge in (tiny, large):
        for epoch in (1, 2):
            judge.judge(epoch, wer=0.0, cer=0.0, train_loss=1.0 / epoch, step=10 * epoch)
    assert large.stop_reason(2) == "perfect"
    assert tiny.stop_reason(2) is None
    # it still ends: perfect cannot improve, so after `patience` evaluations without gain it is a plateau
    for epoch in range(3, 20):
        tiny.judge(epoch, wer=0.0, cer=0.0, train_loss=0.5, step=200 + epoch)
        if tiny.stop_reason(epoch):
            break
    assert tiny.stop_reason(epoch) == "plateau"


def _rows(wers, seconds=5.0, steps_per_epoch=10):
    return [{"epoch": i + 1, "epoch_seconds": seconds, "best_val_wer": min(wers[: i + 1]), "val_wer": wer,
             "steps": steps_per_epoch * (i + 1)} for i, wer in enumerate(wers)]


def test_median_stopping_waits_for_enough_updates_before_pruning():
    # two earlier trials learned; a slow starter is still blank after 20 s but has made only 40 updates
    histories = {"1": _rows([0.5, 0.3, 0.2, 0.1]), "2": _rows([0.6, 0.4, 0.3, 0.2]),
                 "3": _rows([1.0, 1.0, 1.0, 1.0])}
    assert median_stopping(histories, "3", grace_seconds=5.0)  # in wall seconds alone it is pruned
    assert not median_stopping(histories, "3", grace_seconds=5.0, grace_steps=100)
    histories["3"] = _rows([1.0, 1.0, 1.0, 1.0], steps_per_epoch=30)  # 120 updates and still nothing
    assert median_stopping(histories, "3", grace_seconds=5.0, grace_steps=100)


def _trial(model, wers, size="small", **config):
    return {"status": "ok", "config": {"model": model, "size": size, **config}, "history": [{"val_wer": w} for w in wers],
            "val_wer": min(wers), "val_cer": min(wers) * 0.8}


def test_a_trial_that_never_read_a_word_learned_nothing():
    assert learned_nothing(_trial("crnn", [1.0, 1.0]))
    assert not learned_nothing(_trial("crnn", [1.0, 0.9]))
    assert not learned_nothing({**_trial("crnn", [1.0]), "status": "running"})
    assert not learned_nothing(_trial("crnn", [1.0], continued_from="001"))  # a continuation is judged elsewhere


def test_a_family_that_learned_nothing_gets_a_faster_configuration_then_is_replaced():
    config = {"model": "conformer", "size": "small", "learning_rate": 1.5e-3, "batch_size": 32, "dropout": 0.1}
    learner = _trial("convnet", [0.6, 0.2])
    assert faster_learning(config, [learner]) == config  # nothing stalled: unchanged
    once = faster_learning(config, [learner, _trial("conformer", [1.0, 1.0])])
    assert once == {**config, "size": "tiny", "learning_rate": 3e-3, "batch_size": 16}
    twice = faster_learning(config, [learner, _trial("conformer", [1.0]), _trial("conformer", [1.0], size="tiny")])
    assert twice == {**config, "model": "convnet"}
    # a high rate is not raised past the searched range; other families are untouched
    fast = {**config, "learning_rate": 4e-3}
    assert faster_learning(fast, [_trial("conformer", [1.0])])["learning_rate"] == 5e-3
    assert faster_learning({**config, "model": "crnn"}, [_trial("conformer", [1.0])])["model"] == "crnn"
    pretrained = {"model": "whisper", "size": "tiny", "learning_rate": 1e-2}
    assert faster_learning(pretrained, [_trial("whisper", [1.0])]) == pretrained


def test_transcripts_of_a_few_repeated_words_are_a_closed_vocabulary():
    assert transcript_vocabulary(["yes", "no", "yes no", "no"]) == {"yes", "no"}
    assert transcript_vocabulary([f"word{i}" for i in range(60)] * 2) is None  # too many words
    assert transcript_vocabulary(["the cat sat", "the cat ran"]) is None  # words said once: an open vocabulary
    assert transcript_vocabulary([]) is None


class _Emitter(torch.nn.Module):
    """A network whose outputs are given: stands in for a trained acoustic model whose log-probs are known."""

    def __init__(self, outputs: list[torch.Tensor]):
        super().__init__()
        self.outputs = outputs

    def forward(self, padded, lengths):
        rows = [self.outputs[int(padded[i, 0, 0])] for i in range(len(padded))]
        longest = max(len(r) for r in rows)
        batch = torch.stack([torch.cat([r, r[-1:].expand(longest - len(r), -1)]) for r in rows])
        return batch, torch.tensor([len(r) for r in rows])


def _misspelled(text: str, symbols, rng: random.Random) -> torch.Tensor:
    """Log-probs whose greedy reading swaps one letter of each word for a near-miss (second best is right)."""
    index = {s: i for i, s in enumerate(symbols)}
    letters = [s for s in symbols[1:] if s != " "]
    rows = []
    for position, character in enumerate(text):
        row = torch.full((len(symbols),), 0.01)
        if position == 1 and character != " ":
            row[index[rng.choice([c for c in letters if c != character])]] = 0.5
            row[index[character]] = 0.4
        else:
            row[index[character]] = 0.9
        rows.append(row / row.sum())
        blank = torch.full((len(symbols),), 0.01)
        blank[0] = 0.9
        rows.append(blank / blank.sum())
    return torch.stack(rows).log()


def test_a_general_domain_with_a_command_set_decodes_with_the_lexicon():
    from autoasr.decoding.lm import lm_decoding_available

    if not lm_decoding_available():
        pytest.skip("flashlight-text (the lexicon beam search) is not installed")
    words = ["encender", "apagar", "subir", "bajar"]
    rng = random.Random(0)
    train_texts = [rng.choice(words) for _ in range(40)]
    references = [rng.choice(words) for _ in range(12)]
    symbols = CharVocabulary.from_texts(train_texts).symbols
    outputs = [_misspelled(text, symbols, rng) for text in references]
    tuning = SplitTensors.build([torch.full((3, 2), float(i)) for i in range(len(references))], references,
                                CharVocabulary(symbols))
    comparison = compare_decoders_on_tuning(_Emitter(outputs), tuning, symbols, get_domain("general"), train_texts)
    assert comparison.greedy_wer == 1.0  # every word misspelled
    assert comparison.chosen == "lm" and comparison.lm_wer == 0.0
    assert comparison.summary()["closed_vocabulary_words"] == 4
    assert set(comparison.decoder.words) == set(words)


def test_a_slowly_falling_loss_in_the_blank_phase_is_learning_not_a_plateau():
    # the demo corpus's CRNN (12 updates an epoch): only blanks, the loss falling about 1% an evaluation
    losses = [3.27, 3.19, 3.16, 3.13, 3.10, 3.07, 3.04, 3.01, 2.98, 2.95, 2.92, 2.89, 2.86, 2.83]
    judge = ProgressJudge(patience=8)
    halvings = 0
    for epoch, loss in enumerate(losses, start=4):
        _, halve = judge.judge(epoch, wer=1.0, cer=1.0, train_loss=loss, step=12 * epoch)
        halvings += halve
        assert judge.stop_reason(epoch) is None
    assert halvings == 0
    # a loss that stopped falling is a plateau, and without halving the rate in the blank phase
    for epoch in range(18, 40):
        _, halve = judge.judge(epoch, wer=1.0, cer=1.0, train_loss=2.83, step=12 * epoch)
        assert not halve
        if judge.stop_reason(epoch):
            break
    assert judge.stop_reason(epoch) == "plateau" and epoch == 18 + 7
