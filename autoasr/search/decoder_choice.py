"""Greedy or lexicon + n-gram LM decoding for the winner, whichever reads the tuning set better, and the time
kept back for making that choice."""
from __future__ import annotations

from autoasr.models.batching import emissions
from autoasr.training.tensors import SplitTensors

DECODER_CHOICE_UTTERANCES = 300
# training transcripts that use at most this many distinct words are a closed vocabulary (a command set,
# digits, yes/no, a few phrases): whatever the domain, they decode as one
CLOSED_VOCABULARY_MAX_WORDS = 50


def transcript_vocabulary(train_texts: list[str]) -> set[str] | None:
    """The words of ``train_texts`` when they form a closed vocabulary (at most 50 distinct words, each said at
    least twice, so the set is a vocabulary rather than the start of an open one), else None.

    >>> sorted(transcript_vocabulary(["yes", "no", "yes", "no please", "please"]))
    ['no', 'please', 'yes']
    >>> transcript_vocabulary(["the cat sat", "a dog ran"]) is None
    True
    """
    counts: dict[str, int] = {}
    for text in train_texts:
        for word in text.split():
            counts[word] = counts.get(word, 0) + 1
    if not counts or len(counts) > CLOSED_VOCABULARY_MAX_WORDS or min(counts.values()) < 2:
        return None
    return set(counts)


def compare_decoders_on_tuning(network, tuning: SplitTensors, symbols, domain, train_texts: list[str]):
    """Greedy against lexicon + n-gram LM decoding of ``network`` on (up to 300 of) the tuning utterances,
    the LM built from the domain's text and ``train_texts``: the choice every search makes on its winner.

    When the training transcripts form a closed vocabulary (:func:`transcript_vocabulary`) in any domain, the
    lexicon holds only their words and the domain's vocabulary (domain sentences outside them are left out) and a tie goes to the lexicon,
    as in the closed-vocabulary domains: the constrained decoder cannot spell a word nobody said.
    """
    from autoasr.decoding.lm import compare_decoders

    count = min(len(tuning.features), DECODER_CHOICE_UTTERANCES)
    text = domain.language_model_text(train_texts)
    closed = transcript_vocabulary(list(train_texts))
    if closed is not None:
        allowed = closed | set(domain.vocabulary or ())  # a domain's own word list stays speakable
        text = [line for line in text if set(line.split()) <= allowed]
    comparison = compare_decoders(emissions(network, tuning.features[:count]), tuning.texts[:count], symbols, text,
                                  lm_weights=(0.5, 1.0, 2.0), word_scores=(0.0, 1.0),
                                  prefer_lm=domain.decoder == "lm" or closed is not None, order=domain.lm_order)
    comparison.closed_vocabulary = None if closed is None else len(closed)
    return comparison


# the choice runs only with at least this much time left (building the lexicon and LM, loading the winner)
MIN_DECODER_CHOICE_SECONDS = 1.0


# at most this share of the search's time is kept back for it: a 10 s fit still has time for a trial
DECODER_CHOICE_SHARE = 0.1


def decoder_choice_seconds(num_tuning: int, search_seconds: float = float("inf")) -> float:
    """Time kept back to compare greedy and LM decoding on the winner: its fixed cost plus ~3 ms per utterance and
    setting, but at most a tenth of the search. Less than the fixed cost skipped the choice whenever the
    continuation ran to its deadline (sc_small, 36 tuning clips, 2026-12-03: greedy kept, lexicon never tried).

    >>> decoder_choice_seconds(100), decoder_choice_seconds(100, search_seconds=8.0)
    (2.8, 0.8)
    """
    needed = MIN_DECODER_CHOICE_SECONDS + min(num_tuning, DECODER_CHOICE_UTTERANCES) * 6 * 0.003
    return round(min(needed, DECODER_CHOICE_SHARE * search_seconds), 3)
