"""Feature batches for a network: padding, length-sorted batches, and greedy transcripts or log-probabilities."""
from __future__ import annotations

import random

import torch
from torch import nn

from autoasr.core.text import CharVocabulary
from autoasr.decoding.greedy import greedy_decode


def pad_batch(features: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(f) for f in features], dtype=torch.long)
    return nn.utils.rnn.pad_sequence(features, batch_first=True), lengths


def length_sorted_batches(lengths: list[int], batch_size: int, shuffle: bool, seed: int = 0) -> list[list[int]]:
    """Batches of similar length (little padding), in random order when training.

    When training, clips of equal length are also shuffled among themselves: corpora cut every clip to one
    length (Speech Commands) and list them word by word, so a stable sort would give one-word batches.
    """
    ties = random.Random(seed).sample(range(len(lengths)), len(lengths)) if shuffle else range(len(lengths))
    order = sorted(range(len(lengths)), key=lambda position: (lengths[position], ties[position]))
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if shuffle:
        random.Random(seed).shuffle(batches)
    return batches


def transcribe_features(model: nn.Module, features: list[torch.Tensor], vocabulary: CharVocabulary,
                        batch_size: int = 64, device: str = "cpu", decode=None) -> list[str]:
    """Transcripts for a list of feature matrices, in their original order.

    ``decode(log_probs, lengths) -> texts`` turns a batch of model outputs into text; greedy by default.
    """
    decode = decode or (lambda log_probs, lengths: greedy_decode(log_probs, lengths, vocabulary))
    model.eval()
    texts: list[str] = [""] * len(features)
    with torch.inference_mode():
        for batch in length_sorted_batches([len(f) for f in features], batch_size, shuffle=False):
            padded, lengths = pad_batch([features[i] for i in batch])
            log_probs, out_lengths = model(padded.to(device), lengths.to(device))
            for position, text in zip(batch, decode(log_probs.float().cpu(), out_lengths.cpu())):
                texts[position] = text
    return texts


def emissions(model: nn.Module, features: list[torch.Tensor], batch_size: int = 64) -> list[torch.Tensor]:
    """Per-utterance (time, symbols) log-probabilities, in order: the input of any decoder."""
    model.eval()
    outputs: list[torch.Tensor] = [torch.empty(0)] * len(features)
    with torch.inference_mode():
        for batch in length_sorted_batches([len(f) for f in features], batch_size, shuffle=False):
            padded, lengths = pad_batch([features[i] for i in batch])
            log_probs, out_lengths = model(padded, lengths)
            for row, position in enumerate(batch):
                outputs[position] = log_probs[row, : out_lengths[row]].clone()
    return outputs
