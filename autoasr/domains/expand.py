"""What a domain adds to the training set before the search: spliced word strings, augmented copies, and
speed-perturbed copies that stand in for more speakers when a corpus is small.

Both are written once as audio files in the cache (keyed by the data's fingerprint and the recipe),
so every trial, every later run and the feature cache treat them like any other recording.
"""
from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import replace
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

# Kaldi's speed perturbation: 0.9x and 1.1x move pitch and formants together, like a longer or shorter vocal
# tract, so a few speakers sound like more; a gain of +-6 dB stands in for another microphone's level.
SPEAKER_FACTORS = (0.9, 1.1)
SPEAKER_RECIPE = AugmentationRecipe("speakers", speed_factors=(1.0,), gain_db=(-6.0, 6.0))
# every feature pass, encoder pass and epoch pays for the copies: they are made only where clips are few. Measured
# (docs/benchmarks.md, "Speaker augmentation"): 50 clips of 3 speakers read 21.3% instead of 24.0% of unseen speakers'
# words; 416 clips of 9 voices (the demo corpus) read 3.37% with or without them, so they stop well below that.
SPEAKER_COPY_MAX_CLIPS = 200
SPEAKER_SWITCH = "AUTOASR_AUGMENT_SPEAKERS"  # "0"/"off" or "1"/"on" where the fit's argument is left at auto


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


def plan_speaker_copies(num_clips: int, choice="auto") -> dict:
    """How many speed-perturbed copies of each training clip to add, and why (``fit_summary["speaker_augmentation"]``).

    >>> plan_speaker_copies(120)["copies"], plan_speaker_copies(5000)["copies"], plan_speaker_copies(120, False)["copies"]
    (2, 0, 0)
    """
    configured = os.environ.get(SPEAKER_SWITCH, "").strip().lower()
    if choice == "auto" and configured:
        choice = configured not in ("0", "off", "false", "no")
    if choice not in (True, False, "auto"):
        raise ValueError(f"augment_speakers must be True, False or 'auto', not {choice!r}")
    if choice is False:
        return {"copies": 0, "clips_added": 0, "reason": "switched off (augment_speakers=False)"}
    if choice == "auto" and num_clips > SPEAKER_COPY_MAX_CLIPS:
        return {"copies": 0, "clips_added": 0, "reason": f"{num_clips} training clips (over {SPEAKER_COPY_MAX_CLIPS}):"
                " voices enough, and copies would multiply every feature pass and epoch"}
    copies = len(SPEAKER_FACTORS)
    return {"copies": copies, "clips_added": copies * num_clips, "speed_factors": list(SPEAKER_FACTORS),
            "gain_db": list(SPEAKER_RECIPE.gain_db),
            "reason": f"{num_clips} training clips" + ("" if choice is True else f" (at most {SPEAKER_COPY_MAX_CLIPS})")
            + ": speed-perturbed copies stand in for more voices"}


def speaker_copies(train: Dataset, copies: int, seed: int = 0) -> list[Dataset]:
    """One copy of every training clip per speed factor (the first ``copies`` of :data:`SPEAKER_FACTORS`), cached."""
    return [augmented(train, replace(SPEAKER_RECIPE, speed_factors=(factor,)), 1, seed)
            for factor in SPEAKER_FACTORS[:copies]]


def expand_training_set(train: Dataset, domain: Domain, seed: int = 0, speaker_copies_per_clip: int = 0) -> Dataset:
    """``train`` plus the domain's spliced strings and augmented copies, and ``speaker_copies_per_clip``
    speed-perturbed copies of the real clips (see :func:`plan_speaker_copies`); the tuning set is left as it is."""
    extra = []
    if domain.splice_isolated_words:
        strings = spliced_strings(train, seed)
        if strings is not None:
            extra.append(strings)
    recipe = recipe_for_domain(domain)
    copies = AUGMENTED_COPIES.get(recipe.name, 0)
    if copies and not recipe.is_identity:
        extra.append(augmented(train, recipe, copies, seed))
    if speaker_copies_per_clip:  # last: where an encoder's deadline cuts the training set, these go first
        extra += speaker_copies(train, speaker_copies_per_clip, seed)
    if not extra:
        return train
    return train.subset(list(train) + [u for dataset in extra for u in dataset], train.name)
