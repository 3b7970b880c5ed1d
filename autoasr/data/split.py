from __future__ import annotations

import random
from collections import defaultdict

from autoasr.data.dataset import DataError, Dataset, Problem, Utterance


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
def _without_long_recordings(dataset: Dataset) -> Dataset:
    """Recordings too long to train on whole are left out and reported, like any other skipped row."""
    too_long = [u for u in dataset if (u.duration or 0.0) > MAX_TRAINING_SECONDS]
    if not too_long:
        return dataset
    kept = dataset.subset(u for u in dataset if u not in too_long)
    kept.problems.extend(Problem(u.source, u.row, f"{u.audio.name} is {u.duration:.0f} s long: recordings over "
                                 f"{MAX_TRAINING_SECONDS:.0f} s are left out of training (transcribe reads any length)")
                         for u in too_long)
    return kept
