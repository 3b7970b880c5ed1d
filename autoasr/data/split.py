"""Training and tuning splits: held-out tuning data, and the splits a fit trains and selects on."""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace

from autoasr.core.text import normalize_text
from autoasr.data.dataset import DataError, Dataset, Problem, Utterance
from autoasr.data.load import load_dataset


def split_tuning(dataset: Dataset, fraction: float = 0.15, seed: int = 0, min_speakers_for_holdout: int = 8):
    """Hold out a tuning set: whole speakers when there are many, else utterances within each speaker.

    Holding out whole speakers measures generalisation to new voices; with few speakers that would
    waste too large a share of the voices, so utterances are held out per speaker instead.
    """
    generator = random.Random(seed)
    speakers = dataset.speakers
    if len(speakers) >= min_speakers_for_holdout:
        shuffled = speakers[:]
        generator.shuffle(shuffled)
        count = max(1, round(len(shuffled) * fraction))
        held = set(shuffled[:count])
        tuning = [u for u in dataset if u.speaker in held]
        training = [u for u in dataset if u.speaker not in held]
    else:
        groups: dict[str | None, list[Utterance]] = defaultdict(list)
        for utterance in dataset:
            groups[utterance.speaker].append(utterance)
        tuning, training = [], []
        for group in groups.values():
            group = group[:]
            generator.shuffle(group)
            count = max(1, round(len(group) * fraction)) if len(group) > 1 else 0
            tuning.extend(group[:count])
            training.extend(group[count:])
    if not tuning or not training:
        raise DataError(f"{dataset.name}: too little data to hold out a tuning set ({len(dataset)} utterances)")
    return dataset.subset(training, f"{dataset.name}:train"), dataset.subset(tuning, f"{dataset.name}:tuning")


MIN_TRAIN_UTTERANCES = 4
MAX_TRAINING_SECONDS = 30.0
TUNING_SPLIT_NAMES = ("tuning", "validation", "valid", "dev")


def without_long_recordings(dataset: Dataset) -> Dataset:
    """Recordings too long to train on whole are left out and reported, like any other skipped row."""
    too_long = [u for u in dataset if (u.duration or 0.0) > MAX_TRAINING_SECONDS]
    if not too_long:
        return dataset
    kept = dataset.subset(u for u in dataset if u not in too_long)
    kept.problems.extend(Problem(u.source, u.row, f"{u.audio.name} is {u.duration:.0f} s long: recordings over "
                                 f"{MAX_TRAINING_SECONDS:.0f} s are left out of training (transcribe reads any length)")
                         for u in too_long)
    return kept


def as_dataset(data, normalizer: str, preferred_split: str | None = None) -> Dataset:
    """``data`` (a Dataset, a path or a corpus name) with its transcripts normalised as the domain scores them.

    A Dataset loaded with another normaliser is normalised again here ("42" becomes "four two" for
    digits); rows whose text normalises to nothing are dropped. With ``preferred_split`` and split
    labels in the data, only that split (and any tuning split) is kept.
    """
    if isinstance(data, Dataset):
        normalized = (replace(u, text=normalize_text(u.text, normalizer)) for u in data)
        dataset = data.subset(u for u in normalized if u.text)
    else:
        dataset = load_dataset(data, domain=normalizer)
    if preferred_split and any(u.split == preferred_split for u in dataset):
        kept = [u for u in dataset if u.split in (preferred_split, *TUNING_SPLIT_NAMES)]
        dataset = dataset.subset(kept, f"{dataset.name}:{preferred_split}")
    return dataset


def prepare_splits(train_data, tuning_data, normalizer: str, seed: int = 0) -> tuple[Dataset, Dataset]:
    """The training and tuning sets of a fit: the given tuning data, else the data's own tuning split, else a
    held-out part of the training data (:func:`split_tuning`). Refuses data with too few usable utterances."""
    train = without_long_recordings(as_dataset(train_data, normalizer, preferred_split="train"))
    if tuning_data is not None:
        tuning = as_dataset(tuning_data, normalizer)
    else:
        tuning_rows = [u for u in train if u.split in TUNING_SPLIT_NAMES]
        if tuning_rows:
            tuning = train.subset(tuning_rows, f"{train.name}:tuning")
            train = train.subset([u for u in train if u not in tuning_rows])
        else:
            train, tuning = split_tuning(train, seed=seed)
    if len(train) < MIN_TRAIN_UTTERANCES:
        raise DataError(f"{train.name}: only {len(train)} usable training utterances "
                        f"(at least {MIN_TRAIN_UTTERANCES} needed); skipped rows: "
                        + "; ".join(str(p) for p in train.problems[:5]))
    return train, tuning
