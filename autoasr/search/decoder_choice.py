"""Greedy or lexicon + n-gram LM decoding for the winner, whichever reads the tuning set better, and the time
kept back for making that choice."""
from __future__ import annotations

from autoasr.models.batching import emissions
from autoasr.training.tensors import SplitTensors

DECODER_CHOICE_UTTERANCES = 300


def compare_decoders_on_tuning(network, tuning: SplitTensors, symbols, domain, train_texts: list[str]):
    """Greedy against lexicon + n-gram LM decoding of ``network`` on (up to 300 of) the tuning utterances,
    the LM built from the domain's text and ``train_texts``: the choice every search makes on its winner."""
    from autoasr.decoding.lm import compare_decoders

    count = min(len(tuning.features), DECODER_CHOICE_UTTERANCES)
    return compare_decoders(emissions(network, tuning.features[:count]), tuning.texts[:count], symbols,
                            domain.language_model_text(train_texts), lm_weights=(0.5, 1.0, 2.0),
                            word_scores=(0.0, 1.0), prefer_lm=domain.decoder == "lm", order=domain.lm_order)


def decoder_choice_seconds(num_tuning: int) -> float:
    """Time kept back to compare greedy and LM decoding on the winner: ~3 ms per utterance and setting."""
    return 0.5 + min(num_tuning, DECODER_CHOICE_UTTERANCES) * 6 * 0.003
