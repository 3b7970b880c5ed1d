"""Word and character error rates through jiwer."""
from __future__ import annotations

import jiwer


def error_rates(references: list[str], hypotheses: list[str]) -> dict:
    """WER, CER and the substitution/deletion/insertion counts over a set of utterances.

    Empty hypotheses count as all-deletions; empty references are left out (no words to miss).

    >>> error_rates(["one two"], ["one three"])["wer"]
    0.5
    """
    pairs = [(reference, hypothesis) for reference, hypothesis in zip(references, hypotheses) if reference.strip()]
    if not pairs:
        return {"wer": float("nan"), "cer": float("nan"), "num_utterances": 0}
    references = [reference for reference, _ in pairs]
    hypotheses = [hypothesis if hypothesis.strip() else "" for _, hypothesis in pairs]
    words = jiwer.process_words(references, hypotheses)
    characters = jiwer.process_characters(references, hypotheses)
    num_words = words.hits + words.substitutions + words.deletions
    return {
        "wer": float(words.wer),
        "cer": float(characters.cer),
        "substitutions": int(words.substitutions),
        "deletions": int(words.deletions),
        "insertions": int(words.insertions),
        "num_words": int(num_words),
        "num_utterances": len(pairs),
        "sentence_error_rate": sum(r != h for r, h in zip(references, hypotheses)) / len(pairs),
    }
