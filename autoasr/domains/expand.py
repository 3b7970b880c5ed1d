"""What a domain adds to the training set before the search: spliced word strings and augmented copies.

Both are written once as audio files in the cache (keyed by the data's fingerprint and the recipe),
so every trial, every later run and the feature cache treat them like any other recording.
"""
from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import numpy as np
import soundfile

from autoasr.core.paths import cache_dir
from autoasr.data.audio import MODEL_SAMPLE_RATE, read_audio
from autoasr.data.dataset import Dataset
from autoasr.data.load import load_dataset
from autoasr.domains.augment import (
    AugmentationRecipe,
    augmented_copies,
    recipe_for_domain,
)
from autoasr.domains.presets import Domain
from autoasr.domains.splice import write_spliced_dataset

# domains whose real audio differs from clean training audio get one augmented copy of each clip
AUGMENTED_COPIES = {"telephony": 1, "far_field": 1}
SPLICED_SHARE = 0.25  # spliced strings per isolated take


def cache_root() -> Path:
    return cache_dir("training_data")


def _key(*parts) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def spliced_strings(train: Dataset, seed: int = 0) -> Dataset | None:
    """Connected strings made of isolated single-word takes (cached), or None when there are none."""
    isolated = [u for u in train if len(u.text.split()) == 1]
    count = int(len(isolated) * SPLICED_SHARE)
    if count < 4:
        return None
    folder = cache_root() / f"spliced_{_key(train.fingerprint(), count, seed)}"
    if (folder / "manifest.csv").is_file():
        return load_dataset(folder / "manifest.csv")
    return write_spliced_dataset(train.subset(isolated), folder, count=count, seed=seed, split="train")


def augmented(train: Dataset, recipe: AugmentationRecipe, copies: int, seed: int = 0) -> Dataset:
    """``copies`` augmented versions of every training clip, written once and read back as a Dataset."""
    folder = cache_root() / f"augmented_{_key(train.fingerprint(), recipe.key(), copies, seed)}"
    manifest = folder / "manifest.csv"
    if manifest.is_file():
        return load_dataset(manifest)
    folder.mkdir(parents=True, exist_ok=True)
    clips = [read_audio(u.audio, MODEL_SAMPLE_RATE) for u in train]
    outputs = augmented_copies(clips, MODEL_SAMPLE_RATE, recipe, copies=copies, seed=seed)
    rows = []
    for index, samples in enumerate(outputs):
        source = train[index % len(train)]
        name = f"augmented_{index:06d}.wav"
        soundfile.write(folder / name, np.clip(samples, -1, 1), MODEL_SAMPLE_RATE, subtype="PCM_16")
        rows.append({"audio": name, "text": source.text, "speaker": source.speaker or "", "split": "train"})
    temporary = folder / "manifest.csv.tmp"
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["audio", "text", "speaker", "split"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, manifest)  # the manifest last: a half-written folder is rebuilt next time
    return load_dataset(manifest)


def expand_training_set(train: Dataset, domain: Domain, seed: int = 0) -> Dataset:
    """``train`` plus the domain's spliced strings and augmented copies (the tuning set is left as it is)."""
    extra = []
    if domain.splice_isolated_words:
        strings = spliced_strings(train, seed)
        if strings is not None:
            extra.append(strings)
    recipe = recipe_for_domain(domain)
    copies = AUGMENTED_COPIES.get(recipe.name, 0)
    if copies and not recipe.is_identity():
        extra.append(augmented(train, recipe, copies, seed))
    if not extra:
        return train
    return train.subset(list(train) + [u for dataset in extra for u in dataset], train.name)
