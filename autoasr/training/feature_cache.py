"""An on-disk cache of frontend features: computed once per (dataset content, frontend settings).

Stored as one safetensors file, so a search of twenty trials reads audio once and a second run reads none.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from autoasr.core.paths import cache_dir
from autoasr.data.audio import read_audio
from autoasr.data.dataset import Dataset
from autoasr.models.frontends import Frontend, FrontendConfig

FEATURE_CACHE_VERSION = 1


def default_cache_dir() -> Path:
    return cache_dir("features")


def feature_cache_key(dataset: Dataset, config: FrontendConfig) -> str:
    digest = hashlib.sha256(f"{FEATURE_CACHE_VERSION}|{dataset.fingerprint()}|{config.key()}".encode())
    return digest.hexdigest()[:20]


@dataclass


class FeatureSet:
    """Per-utterance feature matrices aligned with the dataset's utterances."""

    features: list[torch.Tensor | None]  # None: a clip a pretrained encoder had no time for (see ``deadline``)
    seconds_computing: float = 0.0
    from_cache: bool = False

    @property
    def complete(self) -> bool:
        return all(f is not None for f in self.features)

    def __len__(self) -> int:
        return len(self.features)


def compute_features(
    dataset: Dataset,
    config: FrontendConfig = FrontendConfig(),
    cache_dir: str | Path | None = None,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    deadline: float | None = None,
) -> FeatureSet:
    """Features for every utterance, from the cache when the data and settings are unchanged.

    A pretrained encoder (the "whisper" frontend) costs far more than a spectrogram: with a ``deadline``
    (a ``time.time()`` value) it encodes the clips in a random order until then and leaves the rest
    ``None``, so a time limit buys a trained head on part of the data instead of no model at all. Only a
    complete set is cached."""
    started = time.perf_counter()
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache_file = cache_dir / f"{feature_cache_key(dataset, config)}.safetensors"
    if cache_file.is_file():
        try:
            stored = load_file(str(cache_file))
            offsets = stored["offsets"].tolist()
            frames = stored["frames"].float()
            features = [frames[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
            if len(features) == len(dataset):
                if on_progress is not None:  # a cached stage is still reported, so a UI never skips a step
                    on_progress(len(features), len(features))
                return FeatureSet(features, time.perf_counter() - started, from_cache=True)
        except Exception:
            pass  # a damaged cache file is rebuilt below
    frontend = Frontend(config)
    if config.kind == "whisper":
        features = _encode_in_batches(dataset, frontend, progress, on_progress, deadline)
    else:
        features = []
        with torch.inference_mode():
            total = len(dataset.utterances)
            if on_progress is not None and total:  # said at once, so a UI shows the step before the first clip is read
                on_progress(0, total)
            for done, utterance in enumerate(tqdm(dataset.utterances, desc=f"features {dataset.name}",
                                                  disable=not progress, leave=False), 1):
                samples = torch.from_numpy(read_audio(utterance.audio, config.sample_rate))
                features.append(frontend(samples).contiguous())
                if on_progress is not None and (done % 50 == 0 or done == total):
                    on_progress(done, total)
    computed = FeatureSet(features, time.perf_counter() - started, from_cache=False)
    if computed.complete:
        _write_cache(cache_file, features)
    return computed


ENCODER_CHUNK, ENCODER_BATCH = 64, 32


def _encode_in_batches(dataset: Dataset, frontend: Frontend, progress: bool,
                       on_progress: Callable[[int, int], None] | None,
                       deadline: float | None = None) -> list[torch.Tensor | None]:
    """A pretrained encoder's outputs, clips of equal length encoded together (each still at its own length:
    no padding, which the encoder's attention would see). Recorded corpora often cut every clip to the same
    length (Speech Commands: 1 s), where batches make the encoder several times faster on a CPU.
    Clips are taken in a fixed random order, so that what a deadline leaves out is a fair sample."""
    utterances = dataset.utterances
    order = torch.randperm(len(utterances), generator=torch.Generator().manual_seed(0)).tolist()
    features: list[torch.Tensor | None] = [None] * len(utterances)
    bar = tqdm(total=len(utterances), desc=f"encoder {dataset.name}", disable=not progress, leave=False)
    if on_progress is not None and utterances:
        on_progress(0, len(utterances))
    for start in range(0, len(utterances), ENCODER_CHUNK):
        if deadline is not None and time.time() > deadline and start > 0:
            break  # the first chunk is always encoded: a head trained on 64 clips beats no trial at all
        chunk = {i: torch.from_numpy(read_audio(utterances[i].audio, frontend.config.sample_rate))
                 for i in order[start:start + ENCODER_CHUNK]}
        by_length: dict[int, list[int]] = {}
        for index, samples in chunk.items():
            by_length.setdefault(len(samples), []).append(index)
        for indexes in by_length.values():
            for first in range(0, len(indexes), ENCODER_BATCH):
                batch = indexes[first:first + ENCODER_BATCH]
                encoded = frontend(torch.stack([chunk[i] for i in batch]))
                for i, vectors in zip(batch, encoded):
                    features[i] = vectors.contiguous()
        bar.update(len(chunk))
        if on_progress is not None:
            on_progress(min(start + ENCODER_CHUNK, len(utterances)), len(utterances))
    bar.close()
    return features


def _write_cache(cache_file: Path, features: list[torch.Tensor]) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    lengths = torch.tensor([0] + [len(f) for f in features], dtype=torch.int64)
    payload = {
        "frames": torch.cat(features).half() if features else torch.zeros(0, 1),
        "offsets": torch.cumsum(lengths, dim=0),
    }
    handle, temporary = tempfile.mkstemp(dir=cache_file.parent, suffix=".tmp")
    os.close(handle)
    save_file(payload, temporary)
    os.replace(temporary, cache_file)
