"""Beam search with a lexicon and a word n-gram language model, built from domain text and transcripts.

A CTC model spells characters; greedy decoding keeps whatever it spells ("stap"). Beam search through
a lexicon only follows spellings of known words, and a word n-gram language model (LM) prefers word
sequences that the domain text makes likely ("stop the music"). The search itself is torchaudio's
``ctc_decoder`` (flashlight-text). The LM is an interpolated Kneser-Ney n-gram estimated here in
plain Python and handed to flashlight's KenLM as an ARPA file; where flashlight-text was built
without KenLM the same n-gram is scored through a Python :class:`CTCDecoderLM` instead.

>>> symbols = ("<blank>", " ", "a", "g", "o", "p", "s", "t")
>>> decoder = LexiconDecoder.build(symbols, ["stop", "go", "stop go"])
>>> decoder.decode(log_probs, lengths)        # (batch, time, len(symbols)) log-softmax  # doctest: +SKIP
['stop']

Choosing between greedy and LM decoding needs no retraining: :func:`compare_decoders` decodes a
model's tuning-set outputs both ways (and tries a few LM weights) and says which is better.
"""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import torch

from autoasr.core.metrics import error_rates

SENTENCE_START, SENTENCE_END, UNKNOWN_WORD = "<s>", "</s>", "<unk>"
BLANK_TOKEN_NAMES = ("<blank>",)
WORD_SEPARATOR = " "
_SEPARATOR_TOKEN_CANDIDATES = ("|", "<sep>", "<word_separator>")
_IMPOSSIBLE = -1e4  # log-probability of a symbol on the appended end-of-utterance frame


# --------------------------------------------------------------------------------------- n-gram LM


@dataclass
class NGramModel:
    """A word n-gram LM with interpolated Kneser-Ney smoothing (modified counts as in KenLM).

    ``probabilities[n]`` maps each seen n-gram (a tuple of words) to log10 p(last word | the others),
    already interpolated with lower orders; ``backoffs[n]`` maps an n-gram used as a context to the
    log10 weight given to the next lower order for words never seen after it (ARPA conventions).

    >>> model = NGramModel.train(["stop the music", "play the music"], order=2)
    >>> round(10 ** model.log10_probability("music", ("the",)), 2) > round(10 ** model.log10_probability("stop", ("the",)), 2)
    True
    """

    order: int
    probabilities: list[dict[tuple[str, ...], float]]
    backoffs: list[dict[tuple[str, ...], float]]
    words: tuple[str, ...]  # every word the model knows, without <s>, </s> and <unk>

    @classmethod
    def train(cls, sentences: Iterable[str], order: int = 3) -> "NGramModel":
        """Estimate from whitespace-separated sentences (already normalised)."""
        if order < 1:
            raise ValueError("order must be at least 1")
        raw: list[Counter] = [Counter() for _ in range(order + 1)]  # raw[n][ngram]
        for sentence in sentences:
            tokens = [SENTENCE_START, *sentence.split(), SENTENCE_END]
            if len(tokens) == 2:
                continue
            for n in range(1, order + 1):
                for end in range(max(n, 2) - 1, len(tokens)):  # the predicted word is never <s>
                    if end - n + 1 < 0:
                        continue
                    raw[n][tuple(tokens[end - n + 1 : end + 1])] += 1
        words = tuple(sorted({g[0] for g in raw[1]} - {SENTENCE_END}))

        # adjusted counts: raw counts at the highest order and for n-grams that start a sentence,
        # otherwise the number of distinct words seen before the n-gram ("continuation" counts)
        adjusted: list[dict[tuple[str, ...], int]] = [{} for _ in range(order + 1)]
        adjusted[order] = dict(raw[order])
        for n in range(order - 1, 0, -1):
            left_contexts: Counter = Counter(g[1:] for g in raw[n + 1])
            adjusted[n] = {g: (count if g[0] == SENTENCE_START else left_contexts.get(g, count))
                           for g, count in raw[n].items()}

        probabilities: list[dict] = [{} for _ in range(order + 1)]
        backoff_weights: list[dict] = [{} for _ in range(order + 1)]  # linear, not log
        vocabulary_size = len(words) + 2  # the words, </s> and <unk>
        for n in range(1, order + 1):
            discount = _discount(adjusted[n].values())
            totals: Counter = Counter()
            types: Counter = Counter()
            for g, count in adjusted[n].items():
                totals[g[:-1]] += count
                types[g[:-1]] += 1
            for context in totals:
                backoff_weights[n - 1][context] = discount * types[context] / totals[context]
            for g, count in adjusted[n].items():
                context = g[:-1]
                lower = (1.0 / vocabulary_size if n == 1
                         else _interpolated(probabilities, backoff_weights, g[-1], context[1:]))
                probabilities[n][g] = (count - discount) / totals[context] + backoff_weights[n - 1][context] * lower
        # <unk> takes the unigram mass set aside for unseen words; <s> is never predicted
        unknown = backoff_weights[0].get((), 1.0) / vocabulary_size
        probabilities[1][(UNKNOWN_WORD,)] = unknown
        log_probabilities = [{g: math.log10(p) for g, p in level.items()} for level in probabilities]
        log_probabilities[1][(SENTENCE_START,)] = -99.0
        # ARPA keeps a backoff weight on each (n-1)-gram that is a context of some n-gram
        log_backoffs: list[dict] = [{} for _ in range(order + 1)]
        for n in range(1, order):
            for context, weight in backoff_weights[n].items():
                log_backoffs[n][context] = math.log10(weight) + 0.0  # + 0.0 turns -0.0 into 0.0
        return cls(order, log_probabilities, log_backoffs, words)

    def log10_probability(self, word: str, context: Sequence[str] = ()) -> float:
        """log10 p(word | context), backing off to shorter contexts as ARPA does."""
        context = tuple(context)[-(self.order - 1):] if self.order > 1 else ()
        penalty = 0.0
        while True:
            n = len(context) + 1
            value = self.probabilities[n].get((*context, word))
            if value is not None:
                return penalty + value
            if not context:
                return penalty + self.probabilities[1][(UNKNOWN_WORD,)]
            penalty += self.backoffs[len(context)].get(context, 0.0)
            context = context[1:]

    def to_arpa(self) -> str:
        """The model as ARPA text, which KenLM (and SRILM, and most toolkits) read."""
        # KenLM reads bigram models and up: a unigram model gets one impossible bigram (an empty
        # sentence), which changes no other probability
        padded = self.order == 1
        lines = ["", "\\data\\"]
        for n in range(1, self.order + 1):
            lines.append(f"ngram {n}={len(self.probabilities[n])}")
        if padded:
            lines.append("ngram 2=1")
        for n in range(1, self.order + 1):
            lines += ["", f"\\{n}-grams:"]
            for g in sorted(self.probabilities[n]):
                entry = f"{self.probabilities[n][g]:.6f}\t{' '.join(g)}"
                if n < self.order and g in self.backoffs[n]:
                    entry += f"\t{self.backoffs[n][g]:.6f}"
                lines.append(entry)
        if padded:
            lines += ["", "\\2-grams:", f"-99.000000\t{SENTENCE_START} {SENTENCE_END}"]
        lines += ["", "\\end\\", ""]
        return "\n".join(lines)


def _discount(counts: Iterable[int]) -> float:
    """Kneser-Ney discount D = n1 / (n1 + 2 n2), kept within [0.1, 0.9] for tiny corpora."""
    of_counts = Counter(counts)
    n1, n2 = of_counts.get(1, 0), of_counts.get(2, 0)
    if n1 == 0 or n2 == 0:
        return 0.5
    return min(0.9, max(0.1, n1 / (n1 + 2 * n2)))


def _interpolated(probabilities, backoff_weights, word: str, context: tuple[str, ...]) -> float:
    """p(word | context) from the lower orders estimated so far (linear probabilities)."""
    weight = 1.0
    while True:
        value = probabilities[len(context) + 1].get((*context, word))
        if value is not None:
            return weight * value
        if not context:
            return weight * backoff_weights[0].get((), 1.0) / max(len(probabilities[1]), 1)
        weight *= backoff_weights[len(context)].get(context, 1.0)
        context = context[1:]


# ------------------------------------------------------------------------- python LM for flashlight


def _python_lm(model: NGramModel, words: Sequence[str]):
    """A torchaudio ``CTCDecoderLM`` that scores ``model`` in Python (used when KenLM is missing)."""
    from torchaudio.models.decoder import CTCDecoderLM, CTCDecoderLMState

    class NGramDecoderLM(CTCDecoderLM):
        def __init__(self):
            CTCDecoderLM.__init__(self)
            self.words = list(words) + [UNKNOWN_WORD]
            self.contexts: dict = {}

        def start(self, start_with_nothing: bool):
            self.contexts.clear()  # states of the previous utterance are no longer needed
            state = CTCDecoderLMState()
            self.contexts[state] = (SENTENCE_START,)
            return state

        def score(self, state, usr_token_idx: int):
            context = self.contexts[state]
            word = self.words[usr_token_idx] if 0 <= usr_token_idx < len(self.words) else UNKNOWN_WORD
            child = state.child(usr_token_idx)
            if child not in self.contexts:
                keep = max(model.order - 1, 0)
                self.contexts[child] = (*context, word)[-keep:] if keep else ()
            return child, model.log10_probability(word, context)

        def finish(self, state):
            context = self.contexts[state]
            return state.child(-1), model.log10_probability(SENTENCE_END, context)

    return NGramDecoderLM()


def lm_decoding_available() -> bool:
    """True when flashlight-text (the beam search behind torchaudio's ``ctc_decoder``) is installed."""
    try:
        import flashlight.lib.text.decoder  # noqa: F401
        return True
    except Exception:
        return False


def kenlm_available() -> bool:
    """True when flashlight-text was built with KenLM (then ARPA files are scored in C++)."""
    try:
        from flashlight.lib.text.decoder.kenlm import KenLM  # noqa: F401
        return True
    except Exception:
        try:
            from flashlight.lib.text.decoder import KenLM  # noqa: F401
            return True
        except Exception:
            return False


# ------------------------------------------------------------------------------------ the decoder


@contextlib.contextmanager
def _quiet_native_output():
    """Silence what C++ code writes to file descriptors 1 and 2 (Python's own output is untouched)."""
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no real descriptors (some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for descriptor in saved:
            os.close(descriptor)


@dataclass
class LexiconDecoder:
    """CTC beam search restricted to a lexicon, scored by a word n-gram LM.

    Build it with :meth:`build`; decode a batch of log-probabilities with :meth:`decode`. The
    decoder is plain data (:meth:`spec`/:meth:`from_spec` as JSON) so a saved model can rebuild it.

    >>> symbols = ("<blank>", " ", "a", "g", "o", "p", "s", "t")
    >>> decoder = LexiconDecoder.build(symbols, ["stop", "go"], beam_size=20)
    >>> sorted(decoder.words)
    ['go', 'stop']
    """

    symbols: tuple[str, ...]
    texts: tuple[str, ...]
    words: tuple[str, ...]
    language_model: NGramModel
    beam_size: int = 50
    lm_weight: float = 1.0
    word_score: float = 0.0
    beam_threshold: float = 25.0
    order: int = 3
    use_kenlm: bool = True
    skipped_words: tuple[str, ...] = ()  # words with characters the model cannot spell
    _decoder: object = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, vocabulary_symbols: Sequence[str], words_or_sentences: Iterable[str], beam_size: int = 50,
              lm_weight: float = 1.0, word_score: float = 0.0, order: int = 3, beam_threshold: float = 25.0,
              use_kenlm: bool | None = None) -> "LexiconDecoder":
        """Lexicon and LM from ``words_or_sentences`` (a word list, domain sentences, training transcripts).

        ``vocabulary_symbols`` are the model's output symbols: index 0 is the CTC blank and ``" "``
        separates words. Text must already be normalised like the transcripts. Words containing a
        character the model cannot emit are left out and listed in ``skipped_words``.
        """
        symbols = tuple(vocabulary_symbols)
        if not symbols or WORD_SEPARATOR not in symbols:
            raise ValueError("vocabulary_symbols must hold the blank at index 0 and the word separator ' '")
        spellable = set(symbols[1:]) - {WORD_SEPARATOR}
        texts = tuple(" ".join(str(text).split()) for text in words_or_sentences if str(text).strip())
        all_words = sorted({word for text in texts for word in text.split()})
        words = tuple(word for word in all_words if set(word) <= spellable)
        skipped = tuple(word for word in all_words if not set(word) <= spellable)
        if not words:
            raise ValueError("no word of the domain text can be spelled with the model's characters")
        known = set(words)
        sentences = [" ".join(w for w in text.split() if w in known) for text in texts]
        language_model = NGramModel.train([s for s in sentences if s], order=order)
        decoder = cls(symbols, texts, words, language_model, int(beam_size), float(lm_weight), float(word_score),
                      float(beam_threshold), int(order), kenlm_available() if use_kenlm is None else bool(use_kenlm),
                      skipped)
        decoder._decoder = decoder._build_flashlight()
        return decoder

    def with_weights(self, lm_weight: float | None = None, word_score: float | None = None,
                     beam_size: int | None = None) -> "LexiconDecoder":
        """The same lexicon and LM with other search weights (cheap: no LM re-estimation)."""
        changed = replace(self, lm_weight=self.lm_weight if lm_weight is None else float(lm_weight),
                          word_score=self.word_score if word_score is None else float(word_score),
                          beam_size=self.beam_size if beam_size is None else int(beam_size), _decoder=None)
        changed._decoder = changed._build_flashlight()
        return changed

    def _token_names(self) -> tuple[list[str], str, str]:
        separator = next(name for name in _SEPARATOR_TOKEN_CANDIDATES if name not in self.symbols)
        names = [separator if symbol == WORD_SEPARATOR else symbol for symbol in self.symbols]
        return names, names[0], separator

    def _build_flashlight(self):
        if not lm_decoding_available():
            raise RuntimeError("LM decoding needs flashlight-text (pip install flashlight-text); "
                               "greedy decoding works without it")
        from torchaudio.models.decoder import ctc_decoder

        names, blank, separator = self._token_names()
        with tempfile.TemporaryDirectory(prefix="autoasr-lexicon-") as folder:
            lexicon = Path(folder) / "lexicon.txt"
            # a spelling ends with the separator: flashlight lets a CTC token repeat over frames only
            # inside a word, so a word must not end on its last letter (see ``decode`` for the last word)
            lexicon.write_text("".join(f"{word} {' '.join(word)} {separator}\n" for word in self.words),
                               encoding="utf-8")
            dictionary = Path(folder) / "words.txt"  # fixes the LM's word indices: self.words, then <unk>
            dictionary.write_text("".join(f"{word}\n" for word in (*self.words, UNKNOWN_WORD)), encoding="utf-8")
            if self.use_kenlm and kenlm_available():
                arpa = Path(folder) / "lm.arpa"
                arpa.write_text(self.language_model.to_arpa(), encoding="utf-8")
                language_model = str(arpa)
            else:
                language_model = _python_lm(self.language_model, self.words)
            with _quiet_native_output():  # KenLM prints a loading banner on the process's stderr
                return ctc_decoder(lexicon=str(lexicon), tokens=names, lm=language_model, lm_dict=str(dictionary),
                                   nbest=1, beam_size=self.beam_size, beam_threshold=self.beam_threshold,
                                   lm_weight=self.lm_weight, word_score=self.word_score, sil_score=0.0,
                                   blank_token=blank, sil_token=separator, unk_word=UNKNOWN_WORD)

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor | None = None) -> list[str]:
        """Best word sequence for each item of a (batch, time, symbols) batch of CTC log-probabilities."""
        if log_probs.ndim != 3 or log_probs.shape[-1] != len(self.symbols):
            raise ValueError(f"log_probs must be (batch, time, {len(self.symbols)}), got {tuple(log_probs.shape)}")
        log_probs = log_probs.detach().to("cpu", torch.float32)
        batch, frames, num_symbols = log_probs.shape
        if lengths is None:
            lengths = torch.full((batch,), frames, dtype=torch.int32)
        lengths = lengths.detach().cpu().clamp(max=frames).to(torch.int32)
        # models trained on plain transcripts emit no separator after the last word: one frame of
        # certain separator after each utterance's end lets its last word complete
        emissions = torch.full((batch, frames + 1, num_symbols), _IMPOSSIBLE)
        emissions[:, :frames] = log_probs
        emissions[torch.arange(batch), lengths.long(), self.symbols.index(WORD_SEPARATOR)] = 0.0
        results = self._decoder(emissions.contiguous(), lengths + 1)
        return [" ".join(hypotheses[0].words) if hypotheses else "" for hypotheses in results]

    def decode_each(self, emissions: Sequence[torch.Tensor]) -> list[str]:
        """Decode a list of (time, symbols) log-probability matrices of different lengths."""
        return [self.decode(item.unsqueeze(0), torch.tensor([len(item)]))[0] for item in emissions]

    def spec(self) -> dict:
        """JSON-friendly description from which :meth:`from_spec` rebuilds the same decoder."""
        return {"symbols": list(self.symbols), "texts": list(self.texts), "beam_size": self.beam_size,
                "lm_weight": self.lm_weight, "word_score": self.word_score, "order": self.order,
                "beam_threshold": self.beam_threshold}

    @classmethod
    def from_spec(cls, spec: dict) -> "LexiconDecoder":
        return cls.build(tuple(spec["symbols"]), spec["texts"], beam_size=spec.get("beam_size", 50),
                         lm_weight=spec.get("lm_weight", 1.0), word_score=spec.get("word_score", 0.0),
                         order=spec.get("order", 3), beam_threshold=spec.get("beam_threshold", 25.0))


# ------------------------------------------------------------------------ greedy versus LM decoding


DEFAULT_LM_WEIGHTS = (0.5, 1.0, 2.0)
DEFAULT_WORD_SCORES = (-1.0, 0.0, 1.0, 2.0)


@dataclass
class DecoderComparison:
    """Greedy and LM decoding of the same model outputs, and which one to keep."""

    greedy_wer: float
    greedy_cer: float
    lm_wer: float
    lm_cer: float
    lm_weight: float
    word_score: float
    chosen: str  # "greedy" or "lm"
    decoder: LexiconDecoder | None
    tried: list[dict] = field(default_factory=list)
    closed_vocabulary: int | None = None  # the lexicon's size when the transcripts were a closed vocabulary

    def summary(self) -> dict:
        """Leaderboard columns: the decoder kept and both WERs (and the closed vocabulary's size, if one)."""
        summary = {"decoder": self.chosen, "val_wer_greedy": self.greedy_wer, "val_wer_lm": self.lm_wer,
                   "lm_weight": self.lm_weight, "word_score": self.word_score}
        if self.closed_vocabulary is not None:
            summary["closed_vocabulary_words"] = self.closed_vocabulary
        return summary


def compare_decoders(emissions: Sequence[torch.Tensor], references: Sequence[str], vocabulary_symbols: Sequence[str],
                     words_or_sentences: Iterable[str], lm_weights: Sequence[float] = DEFAULT_LM_WEIGHTS,
                     word_scores: Sequence[float] = DEFAULT_WORD_SCORES, beam_size: int = 50,
                     prefer_lm: bool = False, order: int = 3) -> DecoderComparison:
    """Decode tuning-set outputs greedily and with the LM at a few weights; keep the lower WER.

    ``emissions`` are per-utterance (time, symbols) log-probabilities of one trained model. Ties go to
    greedy (simpler, faster) unless ``prefer_lm`` (closed-vocabulary domains). ``order`` is the
    n-gram order (a domain's ``lm_order``).

    >>> comparison = compare_decoders(emissions, references, vocabulary.symbols, transcripts)  # doctest: +SKIP
    >>> comparison.chosen, comparison.greedy_wer, comparison.lm_wer                           # doctest: +SKIP
    ('lm', 0.12, 0.04)
    """
    from autoasr.core.text import CharVocabulary
    from autoasr.decoding.greedy import greedy_decode

    symbols = tuple(vocabulary_symbols)
    vocabulary = CharVocabulary(symbols)
    greedy = [greedy_decode(item.unsqueeze(0), torch.tensor([len(item)]), vocabulary)[0] for item in emissions]
    greedy_rates = error_rates(list(references), greedy)
    base = LexiconDecoder.build(symbols, words_or_sentences, beam_size=beam_size, order=order)
    tried = []
    best: tuple | None = None
    for lm_weight in lm_weights:
        for word_score in word_scores:
            decoder = base.with_weights(lm_weight, word_score)
            rates = error_rates(list(references), decoder.decode_each(emissions))
            tried.append({"lm_weight": lm_weight, "word_score": word_score, "wer": rates["wer"], "cer": rates["cer"]})
            if best is None or (rates["wer"], rates["cer"]) < (best[0]["wer"], best[0]["cer"]):
                best = (rates, decoder)
    rates, decoder = best
    lm_better = rates["wer"] < greedy_rates["wer"] or (prefer_lm and rates["wer"] <= greedy_rates["wer"])
    return DecoderComparison(greedy_rates["wer"], greedy_rates["cer"], rates["wer"], rates["cer"], decoder.lm_weight,
                             decoder.word_score, "lm" if lm_better else "greedy", decoder, tried)
