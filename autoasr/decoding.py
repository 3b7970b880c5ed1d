"""Turning CTC log-probabilities into text."""
from __future__ import annotations

import torch

from autoasr.text import CharVocabulary


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
