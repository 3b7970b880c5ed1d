"""Which words a model gets wrong on the tuning set: (reference word, hypothesis word, count), most frequent first.

Every trial writes its tuning transcripts (references and what it heard) beside its model as
``tuning_transcripts.json``: a trained trial those of its best epoch (greedy decoding), a pretrained
recognizer's row those it was scored on. A substitution is a (reference, hypothesis) pair, a deletion has
an empty hypothesis, an insertion an empty reference.

>>> word_error_table(["one two three"], ["one too"]).to_dict("records")
[{'reference': 'three', 'hypothesis': '', 'count': 1}, {'reference': 'two', 'hypothesis': 'too', 'count': 1}]
"""
from __future__ import annotations

from collections import Counter

import pandas

WORD_ERROR_COLUMNS = ["reference", "hypothesis", "count"]


def word_error_table(references: list[str], hypotheses: list[str]) -> pandas.DataFrame:
    """Every word-level error of the alignment jiwer scores WER with, counted, most frequent first."""
    import jiwer

    pairs = [(r, h) for r, h in zip(references, hypotheses) if r.strip()]  # as error_rates: empty references out
    counts: Counter = Counter()
    if pairs:
        aligned = jiwer.process_words([r for r, _ in pairs], [h if h.strip() else "" for _, h in pairs])
        for reference, hypothesis, chunks in zip(aligned.references, aligned.hypotheses, aligned.alignments):
            for chunk in chunks:
                if chunk.type == "equal":
                    continue
                said = reference[chunk.ref_start_idx:chunk.ref_end_idx]
                heard = hypothesis[chunk.hyp_start_idx:chunk.hyp_end_idx]
                if chunk.type == "substitute":
                    counts.update(zip(said, heard))
                else:  # delete: words not heard; insert: words heard that nobody said
                    counts.update((word, "") for word in said)
                    counts.update(("", word) for word in heard)
    rows = [{"reference": r, "hypothesis": h, "count": n} for (r, h), n in counts.items()]
    frame = pandas.DataFrame(rows, columns=WORD_ERROR_COLUMNS)
    return frame.sort_values(["count", "reference", "hypothesis"], ascending=[False, True, True]).reset_index(drop=True)
