"""Turning CTC log-probabilities into text."""
from __future__ import annotations

import numpy as np
import torch

from autoasr.core.text import CharVocabulary


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, vocabulary: CharVocabulary) -> list[str]:
    """Best path: take the argmax per frame, merge repeats, drop blanks, tidy spaces.

    >>> vocabulary = CharVocabulary(("<blank>", " ", "a", "b"))
    >>> frames = torch.log(torch.eye(4)[[2, 2, 0, 2, 1, 3]]).unsqueeze(0)
    >>> greedy_decode(frames, torch.tensor([6]), vocabulary)
    ['aa b']
    """
    best = log_probs.argmax(dim=-1).cpu()
    texts = []
    for row, length in zip(best, lengths.cpu().tolist()):
        path = torch.unique_consecutive(row[:length]).tolist()
        texts.append(" ".join(vocabulary.decode(path).split()))
    return texts


def greedy_decode_array(log_probs: np.ndarray, length: int, symbols: tuple[str, ...]) -> str:
    """Greedy CTC decoding of one (frames, vocabulary) array, as :func:`autoasr.decoding.greedy.greedy_decode`."""
    best = log_probs[:length].argmax(axis=-1)
    if best.size == 0:
        return ""
    keep = np.ones(best.shape, dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    text = "".join(symbols[index] for index in best[keep] if index != 0)
    return " ".join(text.split())
