"""Scoring any recogniser (a trained model, an exported file) on labelled data, the same way."""
from __future__ import annotations

import time
from typing import Callable

from autoasr.core.metrics import error_rates
from autoasr.data.dataset import Dataset
from autoasr.data.load import load_dataset
from autoasr.data.split import as_dataset


def evaluation_dataset(data, normalizer: str) -> Dataset:
    """A Dataset with its references normalised as the domain scores them (one loaded with another
    normaliser keeps "42" where the model writes "four two"), or one read from a path — its ``test``
    split when it has one."""
    if isinstance(data, Dataset):
        return as_dataset(data, normalizer)
    dataset = load_dataset(data, domain=normalizer)
    if any(u.split == "test" for u in dataset):
        dataset = dataset.with_split("test")
    return dataset


def score(dataset: Dataset, transcribe: Callable[[list], list[str]], model_name: str,
          return_details: bool = False) -> dict:
    """jiwer rates of ``transcribe`` on ``dataset``, with its real-time factor (and per-utterance details)."""
    started = time.perf_counter()
    hypotheses = transcribe([u.audio for u in dataset])
    seconds = time.perf_counter() - started
    result = error_rates(dataset.texts, hypotheses)
    audio_seconds = sum(u.duration or 0 for u in dataset)
    result.update(real_time_factor=seconds / max(audio_seconds, 1e-9), audio_seconds=audio_seconds,
                  model=model_name, skipped_rows=len(dataset.problems))
    if return_details:
        result["utterances"] = [{"audio": str(u.audio), "speaker": u.speaker, "reference": u.text,
                                 "hypothesis": h} for u, h in zip(dataset, hypotheses)]
    return result
