"""Lexicon + n-gram LM beam search: the LM itself, spelling correction, and WER against greedy decoding."""
from __future__ import annotations

import math
import random

import pytest
import torch

from autoasr.core.text import CharVocabulary
from autoasr.decoding.greedy import greedy_decode
from autoasr.decoding.lm import (
    LexiconDecoder,
    NGramModel,
    compare_decoders,
    kenlm_available,
)

COMMANDS = [
    "turn on the light", "turn off the light", "turn on the radio", "turn off the radio", "play music",
    "stop music", "next song", "previous song", "volume up", "volume down", "open the door",
    "close the door", "call home", "set a timer", "cancel the timer", "what time is it",
]


def spelled_log_probs(path: str, symbols: tuple[str, ...], confidence: float = 0.9) -> torch.Tensor:
    """(time, symbols) log-probs whose best path is ``path`` ("_" = blank)."""
    index = {symbol: position for position, symbol in enumerate(symbols)}
    rows = torch.full((len(path), len(symbols)), (1 - confidence) / (len(symbols) - 1))
    for frame, character in enumerate(path):
        rows[frame, 0 if character == "_" else index[character]] = confidence
    return rows.log()


def noisy_log_probs(text: str, symbols: tuple[str, ...], rng: random.Random, error_rate: float) -> torch.Tensor:
    """Log-probs an unsure acoustic model might give: each character 2-3 frames then a blank; with
    probability ``error_rate`` a wrong character wins the frame while the right one stays second best."""
    letters = [s for s in symbols[1:] if s != " "]
    index = {symbol: position for position, symbol in enumerate(symbols)}
    rows = []
    for character in text:
        wrong = rng.random() < error_rate
        substitute = rng.choice(letters) if character != " " else rng.choice([*letters, "<blank>"])
        for _ in range(rng.randint(2, 3)):
            row = torch.full((len(symbols),), 0.02)
            if wrong:
                row[index[substitute]] = 0.5
                row[index[character]] = 0.35
            else:
                row[index[character]] = 0.8
            rows.append(row / row.sum())
        blank = torch.full((len(symbols),), 0.02)
        blank[0] = 0.9
        rows.append(blank / blank.sum())
    return torch.stack(rows).log()


def test_kneser_ney_probabilities_sum_to_one_in_every_context():
    model = NGramModel.train(COMMANDS, order=3)
    outcomes = [*model.words, "</s>", "<unk>"]
    for context in [(), ("turn",), ("<s>",), ("turn", "on"), ("the",), ("never", "seen")]:
        assert math.isclose(sum(10 ** model.log10_probability(w, context) for w in outcomes), 1.0, rel_tol=1e-6)
    assert model.log10_probability("light", ("on", "the")) > model.log10_probability("music", ("on", "the"))


def test_arpa_text_has_counts_matching_its_sections():
    arpa = NGramModel.train(COMMANDS, order=2).to_arpa()
    header = dict(line.split("=") for line in arpa.splitlines() if line.startswith("ngram "))
    sections = arpa.split("\\2-grams:")
    assert int(header["ngram 1"]) == len([l for l in sections[0].split("\\1-grams:")[1].splitlines() if l.strip()])
    assert "\\end\\" in arpa


def test_lexicon_corrects_a_misspelled_near_word():
    symbols = ("<blank>", " ", "a", "g", "o", "p", "s", "t")
    log_probs = spelled_log_probs("_ss_tt_aa_pp__", symbols).unsqueeze(0)
    lengths = torch.tensor([log_probs.shape[1]])
    assert greedy_decode(log_probs, lengths, CharVocabulary(symbols)) == ["stap"]
    decoder = LexiconDecoder.build(symbols, ["stop", "go", "stop go"])
    assert decoder.decode(log_probs, lengths) == ["stop"]


@pytest.mark.skipif(not kenlm_available(), reason="flashlight-text without KenLM: only the Python LM exists")
def test_python_language_model_decodes_like_kenlm():
    symbols = CharVocabulary.from_texts(COMMANDS).symbols
    rng = random.Random(1)
    emissions = [noisy_log_probs(text, symbols, rng, 0.3) for text in COMMANDS[:6]]
    kenlm = LexiconDecoder.build(symbols, COMMANDS, use_kenlm=True)
    python = LexiconDecoder.build(symbols, COMMANDS, use_kenlm=False)
    assert kenlm.decode_each(emissions) == python.decode_each(emissions)


def test_lm_decoding_lowers_wer_against_greedy_on_a_closed_command_set():
    symbols = CharVocabulary.from_texts(COMMANDS).symbols
    rng = random.Random(0)
    references = [rng.choice(COMMANDS) for _ in range(60)]
    emissions = [noisy_log_probs(text, symbols, rng, 0.15) for text in references]
    comparison = compare_decoders(emissions, references, symbols, COMMANDS, lm_weights=(1.0, 2.0), word_scores=(0.0,))
    print(f"greedy WER {comparison.greedy_wer:.3f}, LM WER {comparison.lm_wer:.3f}")
    assert comparison.greedy_wer > 0.25
    assert comparison.lm_wer < comparison.greedy_wer / 3
    assert comparison.chosen == "lm"
    assert comparison.summary()["val_wer_lm"] == comparison.lm_wer


def test_batched_decoding_respects_lengths_and_spec_round_trips():
    symbols = CharVocabulary.from_texts(COMMANDS).symbols
    rng = random.Random(2)
    emissions = [noisy_log_probs(text, symbols, rng, 0.0) for text in ("play music", "volume up")]
    padded = torch.nn.utils.rnn.pad_sequence(emissions, batch_first=True)
    lengths = torch.tensor([len(e) for e in emissions])
    decoder = LexiconDecoder.build(symbols, COMMANDS, lm_weight=1.5)
    assert decoder.decode(padded, lengths) == ["play music", "volume up"]
    rebuilt = LexiconDecoder.from_spec(decoder.spec())
    assert rebuilt.lm_weight == 1.5 and rebuilt.decode(padded, lengths) == ["play music", "volume up"]


def test_digit_strings_decode_although_training_transcripts_are_isolated_digits():
    from autoasr.domains.presets import get_domain

    digits = get_domain("digits")
    text = digits.language_model_text(["one", "seven", "nine", "zero"] * 50)  # isolated takes only
    symbols = CharVocabulary.from_texts(digits.vocabulary).symbols
    decoder = LexiconDecoder.build(symbols, text, order=digits.lm_order)
    rng = random.Random(3)
    strings = ["four two nine one", "eight eight", "three zero five six seven"]
    assert decoder.decode_each([noisy_log_probs(s, symbols, rng, 0.1) for s in strings]) == strings


def test_words_the_model_cannot_spell_are_skipped_and_reported():
    decoder = LexiconDecoder.build(("<blank>", " ", "g", "o"), ["go", "café", "go go"])
    assert decoder.words == ("go",) and decoder.skipped_words == ("café",)
    with pytest.raises(ValueError, match="separator"):
        LexiconDecoder.build(("<blank>", "g", "o"), ["go"])
