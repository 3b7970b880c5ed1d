"""Training and tuning splits: held-out tuning data, and the splits a fit trains and selects on."""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace

from autoasr.core.text import normalize_text
from autoasr.data.dataset import DataError, Dataset, Problem, Utterance
from autoasr.data.load import load_dataset


# a tuning set of one speaker's few takes is one voice: a model can read it perfectly and still fail every
# other voice (Spanish eSpeak digits, 6 voices x 30 clips: 0% tuning WER on the held-out voice, 71.7% on two
# unseen ones), so speakers are held out until the tuning set has two of them or this many utterances. Not a
# share of the data: on the demo corpus (9 voices x 52 clips) a second tuning voice cost training a ninth of
# its voices and read the unseen ones with 10.1% WER against 3.4% (one seed each, docs/benchmarks.md)
MIN_TUNING_SPEAKERS, MIN_TUNING_UTTERANCES = 2, 50


def split_tuning(dataset: Dataset, fraction: float = 0.15, seed: int = 0, min_speakers_for_holdout: int = 2):
    """Hold out a tuning set: whole speakers whenever there are at least two, else utterances.

    Model selection should measure what the user needs, a model that reads voices it never heard:
    held-out takes of the training speakers flatter every model (FSDD: 0.8% WER on its own
    speakers' takes, 8-10% on a sixth speaker). ``fraction`` of the speakers are held out, and more
    until the tuning set has two speakers or 50 utterances, keeping at least two training speakers (one
    of three). The held-out speakers are chosen so that every transcript stays said by
    some training speaker where possible (a command word is never only in tuning). With one speaker
    (or none named) utterances are held out within each speaker.
    """
    generator = random.Random(seed)
    speakers = dataset.speakers
    if len(speakers) >= max(2, min_speakers_for_holdout):
        held = _held_out_speakers(dataset, generator, max(1, min(len(speakers) - 1, round(len(speakers) * fraction))))
        tuning = [u for u in dataset if u.speaker in held]
        training = [u for u in dataset if u.speaker not in held]
    else:
        training, tuning = _held_out_utterances(dataset, generator, fraction)
    if not tuning or not training:
        raise DataError(f"{dataset.name}: too little data to hold out a tuning set ({len(dataset)} utterances)")
    return dataset.subset(training, f"{dataset.name}:train"), dataset.subset(tuning, f"{dataset.name}:tuning")


def _held_out_speakers(dataset: Dataset, generator: random.Random, count: int) -> set[str]:
    """At least ``count`` speakers in a seeded order, first those whose every transcript another kept speaker
    also says; more (up to all but two) until they are two or say 50 utterances."""
    shuffled = dataset.speakers[:]
    generator.shuffle(shuffled)
    sayers: dict[str, set[str | None]] = defaultdict(set)
    said: dict[str | None, set[str]] = defaultdict(set)
    takes: dict[str | None, int] = defaultdict(int)
    for utterance in dataset:
        sayers[utterance.text].add(utterance.speaker)
        said[utterance.speaker].add(utterance.text)
        takes[utterance.speaker] += 1
    most = max(count, len(shuffled) - 2)

    def enough(held: set) -> bool:
        return len(held) >= count and (len(held) >= MIN_TUNING_SPEAKERS
                                       or sum(takes[s] for s in held) >= MIN_TUNING_UTTERANCES)

    held: set[str] = set()
    for speaker in shuffled:
        if enough(held) or len(held) >= most:
            break
        if all(sayers[text] - held - {speaker} for text in said[speaker]):
            held.add(speaker)
    # sentence corpora (every text said once) cannot keep every label: the rest in the seeded order
    for speaker in shuffled:
        if enough(held) or len(held) >= most:
            break
        held.add(speaker)
    return held


def _held_out_utterances(dataset: Dataset, generator: random.Random, fraction: float):
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
    return training, tuning


# transcripts of at least this many words on average are sentences; a corpus whose distinct sentences are at
# most half its utterances is a set of read prompts
PROMPT_WORDS, PROMPT_REPEATS = 3.0, 2.0


def read_prompts(dataset: Dataset) -> bool:
    """Whether ``dataset`` is a few sentences each read several times (prompts several voices read)."""
    texts = dataset.texts
    words = sum(len(text.split()) for text in texts) / max(len(texts), 1)
    return words >= PROMPT_WORDS and len(texts) >= PROMPT_REPEATS * len(set(texts))


def held_out_prompts(dataset: Dataset, fraction: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Hold out whole sentences: every reading of ``fraction`` of the distinct prompts (at least two) is tuning.

    Held-out voices saying the training sentences flatter a model that memorised them: on 30 eSpeak NG
    prompts by 6 voices the winner read two held-out voices with 0.3% WER and 10 new sentences with 80%,
    where Whisper used as it is read them with 23% (benchmarks/pretrained_heldout.py --only
    espeak_en_sentences, 2026-12-03). A user of an open-vocabulary domain will say new sentences.
    """
    prompts = sorted(set(dataset.texts))
    random.Random(seed).shuffle(prompts)
    held = set(prompts[:max(2, round(len(prompts) * fraction))])
    if len(held) >= len(prompts):
        raise DataError(f"{dataset.name}: too few distinct sentences to hold some out ({len(prompts)})")
    return (dataset.subset([u for u in dataset if u.text not in held], f"{dataset.name}:train"),
            dataset.subset([u for u in dataset if u.text in held], f"{dataset.name}:tuning"))


def speaker_folds(dataset: Dataset, num_folds: int = 5, seed: int = 0) -> list[tuple[Dataset, Dataset]]:
    """(training, tuning) pairs of k-fold cross-validation, whole speakers per fold when there are two or more.

    For corpora too small for one stable tuning set (tens of utterances), where one held-out
    speaker's few takes make the tuning WER jump by whole utterances: each model can be scored on
    every fold and the scores averaged (AutoGluon's bagging idea). Folds are grouped by speaker
    (utterances when there is one speaker) and stratified by transcript, so each fold's training part
    keeps the words where the speakers allow (scikit-learn's ``StratifiedGroupKFold``). Gives
    ``min(num_folds, groups)`` folds. Not used by ``fit`` yet: k folds cost k trainings per
    configuration, which the search's time budget does not plan for (see docs/benchmarks.md).
    """
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold

    utterances = list(dataset)
    speakers = dataset.speakers
    groups = [u.speaker or "" for u in utterances] if len(speakers) >= 2 else list(range(len(utterances)))
    num_folds = min(num_folds, len(set(groups)))
    if num_folds < 2:
        raise DataError(f"{dataset.name}: too little data for two folds ({len(utterances)} utterances)")
    splitter = StratifiedGroupKFold(n_splits=num_folds, shuffle=True, random_state=seed)
    labels = [u.text for u in utterances]
    folds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has fewer members than folds"
        for number, (train_index, tuning_index) in enumerate(splitter.split(utterances, labels, groups)):
            folds.append((dataset.subset([utterances[i] for i in train_index], f"{dataset.name}:fold{number}:train"),
                          dataset.subset([utterances[i] for i in tuning_index], f"{dataset.name}:fold{number}:tuning")))
    return folds


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


def prepare_splits(train_data, tuning_data, normalizer: str, seed: int = 0,
                   new_sentences: bool = False) -> tuple[Dataset, Dataset]:
    """The training and tuning sets of a fit: the given tuning data, else the data's own tuning split, else a
    held-out part of the training data (:func:`split_tuning`; with ``new_sentences``, an open-vocabulary domain,
    read prompts are held out whole: :func:`held_out_prompts`). Refuses data with too few usable utterances."""
    train = without_long_recordings(as_dataset(train_data, normalizer, preferred_split="train"))
    if tuning_data is not None:
        tuning = as_dataset(tuning_data, normalizer)
    else:
        tuning_rows = [u for u in train if u.split in TUNING_SPLIT_NAMES]
        if tuning_rows:
            tuning = train.subset(tuning_rows, f"{train.name}:tuning")
            train = train.subset([u for u in train if u not in tuning_rows])
        elif new_sentences and read_prompts(train):
            train, tuning = held_out_prompts(train, seed=seed)
        else:
            train, tuning = split_tuning(train, seed=seed)
    if len(train) < MIN_TRAIN_UTTERANCES:
        raise DataError(f"{train.name}: only {len(train)} usable training utterances "
                        f"(at least {MIN_TRAIN_UTTERANCES} needed); skipped rows: "
                        + "; ".join(str(p) for p in train.problems[:5]))
    return train, tuning
