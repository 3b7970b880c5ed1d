"""Pretrained encoders as search candidates: portfolio entries outside the sampled space, and the config a
trial of one resolves to."""
from __future__ import annotations

from autoasr.models.wav2vec2 import PretrainedEncoder, PretrainedEncoders


def search_candidates(encoders: list[PretrainedEncoder]) -> list[dict]:
    """Trial configurations for the search portfolio, one per wav2vec2 encoder: fine-tuning wants a small
    learning rate, raw-waveform frames and no SpecAugment (the frames are samples, not spectra)."""
    return [{"model": "wav2vec2", "size": encoder.name, "frontend": "waveform", "learning_rate": 1e-4,
             "dropout": 0.1, "augment": 0.0, "batch_size": 8} for encoder in encoders if encoder.kind != "whisper"]


def whisper_trial_settings(encoder: PretrainedEncoder) -> dict:
    """What makes a config a head on ``encoder``: its vectors as the frontend, their width, no SpecAugment
    (the masks were made for spectra, and the frozen vectors are cached once, unaugmented)."""
    return {"model": "whisper", "frontend": "whisper", "encoder": encoder.source,
            "num_features": int(encoder.config["d_model"]), "augment": 0.0}


def whisper_candidates(encoders: list[PretrainedEncoder]) -> list[dict]:
    """Portfolio entries for the first Whisper encoder: a linear head, then a small convolutional one (which
    read FSDD's held-out speaker best in docs/benchmarks.md; the search samples the others).

    Only the head learns, from cached encoder vectors, so a larger rate than fine-tuning wants is safe and
    pays: on Speech Commands (2,152 clips, 2 busy cores) a linear head read 26% of the tuning words wrong
    (greedy) after one epoch in batches of 8 at 1e-2, where batches of 32 at 3e-3 still read 99% wrong;
    a convolution costs four times as much an epoch and a GRU head (size medium) forty."""
    whispers = [encoder for encoder in encoders if encoder.kind == "whisper"]
    if not whispers:
        return []
    settings = whisper_trial_settings(whispers[0])
    return [{**settings, "size": "tiny", "learning_rate": 1e-2, "dropout": 0.1, "batch_size": 8},
            {**settings, "size": "small", "learning_rate": 2e-3, "dropout": 0.2, "batch_size": 32}]


MAX_CLIP_LABELS, MIN_CLIPS_PER_LABEL = 50, 2
# the size names of the pooled clip heads (autoasr.models.whisper.POOLED_HEADS): the encoder's top layer frozen
# or trained with the head (a smaller rate: it keeps most of what the layer learnt)
POOLED_HEAD, TUNED_POOLED_HEAD = "pooled", "pooled_tuned"
# the frozen pooled head on every encoder layer's pooled vectors, mixed by learned weights
LAYER_MIX_HEAD = "pooled_mix"
POOLED_SIZES = (POOLED_HEAD, TUNED_POOLED_HEAD, LAYER_MIX_HEAD)


# in an open-vocabulary domain a label is a word or two: a repeated sentence is a read prompt, and a clip
# classifier would answer every new sentence with one of the training ones (espeak_en_sentences, 2026-12-03)
MAX_OPEN_VOCABULARY_LABEL_WORDS = 2


def clip_labels(texts: list[str], phrases_are_labels: bool = True) -> list[str]:
    """The labels when ``texts`` are one label per clip from a small set (commands, isolated digits): at most
    50 distinct transcripts, each seen at least twice, and unless ``phrases_are_labels`` (a domain of
    commands or a closed vocabulary) none longer than two words; otherwise ``[]`` (CTC heads only).

    >>> clip_labels(["yes", "no", "yes", "no"]), clip_labels(["yes", "no", "yes"])
    (['no', 'yes'], [])
    >>> clip_labels(["lights on", "the cat sat down"] * 2, phrases_are_labels=False)
    []
    """
    counts: dict[str, int] = {}
    for text in texts:
        counts[text] = counts.get(text, 0) + 1
    if not counts or len(counts) > MAX_CLIP_LABELS or min(counts.values()) < MIN_CLIPS_PER_LABEL:
        return []
    if not phrases_are_labels and max(len(text.split()) for text in counts) > MAX_OPEN_VOCABULARY_LABEL_WORDS:
        return []
    return sorted(counts)


# the layer-mixing pooled head reads its own pooled rows, from its own pass of the encoder over the corpus: seconds on
# a few hundred clips, 35-60 s on Speech Commands' 3,239 (2 cores), paid for by its accuracy (the frozen encoder's
# layers averaged read the suite's held-out Speech Commands speakers with 2.95% errors against 4.07% for the top
# layer, FSDD's george 4.4% against 7.4%; docs/benchmarks.md, "Every encoder layer on large corpora"); past this
# many clips the pass would crowd out the search
MAX_LAYER_MIX_CLIPS = 4000


def pooled_candidate(encoders: list[PretrainedEncoder], labels: list[str], layer_mix: bool = False) -> list[dict]:
    """The pooled clip heads on the first Whisper encoder (:class:`autoasr.models.whisper.WhisperPooledHead`),
    where the training transcripts are clip labels: a linear layer over pooled vectors learns in seconds. With
    ``layer_mix`` the frozen head on the average of every layer's pooled vectors (``pooled_mix``) comes first: it
    read unseen speakers better than the top layer on every corpus probed (8 corpus/split cells,
    docs/benchmarks.md), and at equal tuning WER the earlier trial leads. Then the head on the top layer's vectors, frozen (``pooled``) and trained
    with the top layer (``pooled_tuned``: 2.1% against 3.0% wrong on one Speech Commands split after 6 epochs,
    16 s an epoch on 2 cores; no gain on the suite's split; ranked with the others by k-fold on a tiny tuning set)."""
    whispers = [encoder for encoder in encoders if encoder.kind == "whisper"]
    if not whispers or not labels:
        return []
    settings = whisper_trial_settings(whispers[0])
    return (([{**settings, "size": LAYER_MIX_HEAD, "learning_rate": 3e-3, "dropout": 0.2, "batch_size": 32}]
             if layer_mix else [])
            + [{**settings, "size": POOLED_HEAD, "learning_rate": 3e-3, "dropout": 0.2, "batch_size": 32},
               {**settings, "size": TUNED_POOLED_HEAD, "learning_rate": 3e-4, "dropout": 0.2, "batch_size": 32}])


def with_pooled_candidate(preset, encoders: list[PretrainedEncoder], texts: list[str], phrases_are_labels: bool = True):
    """``preset`` with the pooled clip head first in its portfolio when ``texts`` (the training transcripts)
    are clip labels (:func:`clip_labels`) and a Whisper encoder is at hand; otherwise unchanged. The labels
    travel in ``preset.extra["clip_labels"]`` (a searcher keeps only the space's keys of a configuration;
    :func:`resolve_trial_config` adds them back)."""
    from dataclasses import replace

    labels = clip_labels(texts, phrases_are_labels)
    candidates = pooled_candidate(encoders, labels, layer_mix=len(texts) <= MAX_LAYER_MIX_CLIPS)
    if not candidates or not preset.portfolio:
        return preset
    return replace(preset, portfolio=tuple(candidates) + tuple(preset.portfolio),
                   extra={**preset.extra, "clip_labels": labels})


def trains_encoder_weights(config: dict) -> bool:
    """Whether a trial trains pretrained encoder weights (a wav2vec2 encoder, or Whisper's top layer with the
    ``pooled_tuned`` head), not only a head on cached vectors: its epochs cost a multiple of a head's.

    >>> trains_encoder_weights({"model": "whisper", "size": "pooled_tuned"}), trains_encoder_weights({"model": "whisper", "size": "pooled"})
    (True, False)
    """
    return config.get("model") == "wav2vec2" or (config.get("model") == "whisper"
                                                  and config.get("size") == TUNED_POOLED_HEAD)


FINE_TUNING_MAX_LEARNING_RATE = 3e-4  # the search's rates (5e-4 to 5e-3) would wipe out what an encoder learnt
SIZE_ORDER = ("tiny", "small", "medium")


def searches_model_families(preset) -> bool:
    """Whether ``preset`` chooses among model families (and so can try a pretrained encoder's): not ``single``."""
    from autogluon.common import space

    return isinstance(preset.space.get("model"), space.Categorical)


def with_pretrained_candidates(preset, encoders: list[PretrainedEncoder]):
    """``preset`` (an :class:`autoasr.search.presets.Preset`) with the encoders in its search: ``wav2vec2`` /
    ``whisper`` among the searched model families and, where the preset has a portfolio, the Whisper heads
    first (the strongest family, cheap once the encoder's vectors are cached), then its first configuration
    (a quick result), then one candidate per wav2vec2 encoder. A preset that searches nothing (``single``)
    and an empty ``encoders`` leave it as it was.

    The checkpoints travel in ``preset.extra["pretrained_checkpoints"]`` for backends in other processes.
    """
    from dataclasses import replace

    from autogluon.common import space

    models = preset.space.get("model")
    if not encoders or not searches_model_families(preset):
        return preset
    kinds = {"whisper" if encoder.kind == "whisper" else "wav2vec2" for encoder in encoders}
    choices = list(models.data) + [kind for kind in ("whisper", "wav2vec2") if kind in kinds and kind not in models.data]
    portfolio = tuple(preset.portfolio)
    if portfolio:
        portfolio = (tuple(whisper_candidates(encoders)) + portfolio[:1] + tuple(search_candidates(encoders))
                     + portfolio[1:])
    return replace(preset, space={**preset.space, "model": space.Categorical(*choices)}, portfolio=portfolio,
                   extra={**preset.extra, "pretrained_checkpoints": [encoder.source or str(encoder.path)
                                                                     for encoder in encoders]})


def pretrained_search_info(preset, encoders: PretrainedEncoders) -> dict:
    """What a search says about pretrained encoders: ``pretrained`` (the encoders it may fine-tune),
    ``pretrained_reason`` (why none, or what was skipped), ``pretrained_origin`` (where they were found) and
    ``listener`` (one sentence for the learner: which pretrained model the search starts from, or why none). ``preset`` is the one after
    :func:`with_pretrained_candidates`.
    """
    searched = bool(encoders) and "pretrained_checkpoints" in preset.extra
    if encoders and not searched:
        reason = (f"the '{preset.name}' preset trains one fixed configuration, so the pretrained encoders "
                  f"({', '.join(encoder.name for encoder in encoders)}) are not tried: use presets 'default'")
    else:
        reason = getattr(encoders, "reason", "")
    origin = getattr(encoders, "origin", "")
    if searched:
        names = ", ".join(encoder.name for encoder in encoders)
        listener = f"Starting from the pretrained listener {names}" + (f" ({origin})" if origin else "") + "."
    else:
        listener = f"Training from scratch: {reason or 'no pretrained encoder'}."
    return {"pretrained": [encoder.describe() for encoder in encoders] if searched else [],
            "pretrained_reason": reason, "pretrained_origin": origin if searched else "", "listener": listener}


def resolve_trial_config(config: dict, encoders: list[PretrainedEncoder], labels: list[str] = ()) -> dict:
    """A searched configuration made trainable: a ``wav2vec2`` one gets its encoder's ``checkpoint``, the
    ``waveform`` frontend, no SpecAugment and a fine-tuning learning rate; its ``size`` names the encoder
    (a size preset drawn by the searcher picks among the encoders by their parameter count). Other
    configurations are returned unchanged.

    A ``whisper`` configuration gets the first Whisper encoder's settings (:func:`whisper_trial_settings`);
    its size is the head's; a pooled head's (``size`` "pooled") also gets the clip ``labels`` it chooses from.

    >>> resolve_trial_config({"model": "crnn", "size": "tiny"}, [])
    {'model': 'crnn', 'size': 'tiny'}
    """
    if config.get("model") == "whisper":
        whispers = [encoder for encoder in encoders if encoder.kind == "whisper"]
        if config.get("size") in POOLED_SIZES and not config.get("labels"):
            if not labels:
                raise ValueError("a pooled Whisper head was proposed but the transcripts are not clip labels")
            config = {**config, "labels": list(labels)}
        if config.get("encoder"):
            return config
        if not whispers:
            raise ValueError("a whisper configuration was proposed but no Whisper encoder is at hand")
        return {**config, **whisper_trial_settings(whispers[0])}
    if config.get("model") != "wav2vec2":
        return config
    encoders = [encoder for encoder in encoders if encoder.kind != "whisper"]
    if not encoders:
        raise ValueError("a wav2vec2 configuration was proposed but no pretrained encoder is at hand")
    by_name = {encoder.name: encoder for encoder in encoders}
    encoder = by_name.get(config.get("size"))
    if encoder is None:
        ranked = sorted(encoders, key=lambda e: e.parameters)
        position = SIZE_ORDER.index(config["size"]) if config.get("size") in SIZE_ORDER else 0
        encoder = ranked[round(position * (len(ranked) - 1) / (len(SIZE_ORDER) - 1))]
    return {**config, "size": encoder.name, "frontend": "waveform", "augment": 0.0,
            "learning_rate": min(float(config.get("learning_rate", 1e-4)), FINE_TUNING_MAX_LEARNING_RATE),
            "checkpoint": str(encoder.path)}
