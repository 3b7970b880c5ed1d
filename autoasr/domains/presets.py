"""Domain presets: what kind of speech the user has, and what that changes.

A domain bundles the decisions a non-expert cannot be expected to make: how transcripts are
normalised, which words can occur (a closed vocabulary or none), which augmentations make training
audio look like the audio the model will hear, whether to decode with a lexicon and word language
model, and which parts of the search space are worth the time budget.

>>> get_domain("digits").vocabulary[:3]
('zero', 'one', 'two')
>>> custom = Domain.custom(words=["lights", "on", "off"], sentences=["lights on", "lights off"])
>>> custom.decoder, custom.vocabulary
('lm', ('lights', 'off', 'on'))
>>> print(get_domain("telephony").explain())          # doctest: +ELLIPSIS
telephony: Phone calls: 8 kHz narrowband audio, codec artefacts and line noise. · augmentation: telephony · ...
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Iterable, Mapping

from autoasr.core.text import DIGIT_WORDS, normalize_text

DECODERS = {
    "greedy": "best path: fastest, spells any word, no knowledge of the domain's words",
    "lm": "beam search through a lexicon with a word n-gram language model: only known words come out",
    "auto": "both are tried on the tuning data after training; the lower WER is kept",
}


@dataclass(frozen=True)
class Domain:
    """What changes with the kind of speech. Every field has a one-line meaning in :data:`FIELD_HELP`.

    ``search_overrides`` maps a search-space key (``model``, ``size``, ``frontend``, ``batch_size``,
    ``augment``...) to the choices worth trying in this domain, most promising first.
    """

    name: str
    description: str
    normalizer: str = "general"  # the text.normalize_text domain rule to apply
    search_overrides: dict = field(default_factory=dict)
    vocabulary: tuple[str, ...] | None = None  # a closed word list, or None when any word may occur
    sentences: tuple[str, ...] = ()  # domain text for the language model (example phrases, prompts)
    augmentation: str | dict = "light"  # a recipe name of autoasr.domains.augment.RECIPES or its fields
    decoder: str = "auto"  # "greedy", "lm" or "auto" (compare both on tuning data)
    sample_rate_hint: int | None = None  # the rate the audio usually has (8000 for phone lines)
    splice_isolated_words: bool = False  # also train on isolated words spliced into connected strings
    lm_order: int = 3  # n-gram order of the word LM; 1 when words follow each other freely (digit strings)

    def __post_init__(self):
        if self.decoder not in DECODERS:
            raise ValueError(f"unknown decoder '{self.decoder}' (choose from {', '.join(DECODERS)})")

    @property
    def closed_vocabulary(self) -> bool:
        return self.vocabulary is not None

    @property
    def phrases_are_labels(self) -> bool:
        """Whether a transcript said again and again is a label the user will say again (commands, a closed
        vocabulary), rather than a read prompt of an open-vocabulary domain, where new sentences will come."""
        return self.closed_vocabulary or self.name == "commands"

    def language_model_text(self, transcripts: Iterable[str] = ()) -> list[str]:
        """Text to build the lexicon and word LM from: domain sentences, training transcripts and the
        vocabulary (one word per line, so every allowed word is in the lexicon)."""
        text = [normalize_text(line, self.normalizer) for line in (*self.sentences, *transcripts)]
        if self.vocabulary:
            allowed = set(self.vocabulary)
            text = [line for line in text if set(line.split()) <= allowed]  # keep the vocabulary closed
            text += list(self.vocabulary)
        return [line for line in text if line]

    def explain(self) -> str:
        """One line for the UI: what the domain is and what it changes."""
        parts = [f"{self.name}: {self.description}"]
        if self.vocabulary is not None:
            parts.append(f"closed vocabulary of {len(self.vocabulary)} words")
        recipe = self.augmentation if isinstance(self.augmentation, str) else "custom"
        parts.append(f"augmentation: {recipe}")
        parts.append({"greedy": "greedy decoding",
                      "lm": "lexicon + LM decoding" + ("" if self.vocabulary else " (words of your transcripts)"),
                      "auto": "greedy or LM decoding, whichever is better"}[self.decoder])
        if self.sample_rate_hint:
            parts.append(f"audio usually {self.sample_rate_hint // 1000} kHz")
        if self.splice_isolated_words:
            parts.append("isolated words also spliced into strings")
        return " · ".join(parts)

    def to_dict(self) -> dict:
        """JSON-friendly fields (for predictor.json); :meth:`from_dict` reverses it."""
        data = asdict(self)
        data["vocabulary"] = list(self.vocabulary) if self.vocabulary is not None else None
        data["sentences"] = list(self.sentences)
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> "Domain":
        data = dict(data)
        if data.get("vocabulary") is not None:
            data["vocabulary"] = tuple(data["vocabulary"])
        data["sentences"] = tuple(data.get("sentences") or ())
        data["search_overrides"] = {key: tuple(value) if isinstance(value, list) else value
                                    for key, value in (data.get("search_overrides") or {}).items()}
        known = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in known})

    @classmethod
    def custom(cls, words: Iterable[str] | None = None, sentences: Iterable[str] | None = None,
               name: str = "custom", base: str = "general", description: str | None = None) -> "Domain":
        """A domain from the user's vocabulary list and/or domain sentences.

        ``words`` make the vocabulary closed (only these words, plus those of ``sentences``, can be
        recognised) and turn on LM decoding; ``sentences`` alone bias the language model towards the
        domain's phrases while any word stays possible. ``base`` names the preset whose normaliser,
        augmentation and search settings are kept.

        >>> Domain.custom(sentences=["turn the oven on"]).vocabulary is None
        True
        """
        template = get_domain(base)
        normalizer = template.normalizer
        sentence_list = tuple(s for s in (normalize_text(str(t), normalizer) for t in sentences or ()) if s)
        vocabulary = None
        if words is not None:
            word_set = {w for text in words for w in normalize_text(str(text), normalizer).split()}
            word_set |= {w for s in sentence_list for w in s.split()}
            if not word_set:
                raise ValueError("Domain.custom: the word list is empty after normalisation")
            vocabulary = tuple(sorted(word_set))
        if vocabulary is None and not sentence_list:
            raise ValueError("Domain.custom needs words (a vocabulary list) or sentences (domain text)")
        if description is None:
            description = (f"Your vocabulary of {len(vocabulary)} words." if vocabulary is not None
                           else f"Your domain text ({len(sentence_list)} sentences) guides decoding.")
        return replace(template, name=name, description=description, vocabulary=vocabulary,
                       sentences=sentence_list, decoder="lm" if vocabulary is not None else "auto")


FIELD_HELP = {
    "normalizer": "how transcripts are cleaned before training (digits domain: '42' becomes 'four two')",
    "vocabulary": "the only words that can occur; LM decoding then never outputs anything else",
    "sentences": "example phrases of the domain; the language model learns which word follows which",
    "augmentation": "how training audio is varied (speed, noise, echo, phone line) to resemble real use",
    "decoder": "how model outputs become words: greedy, lexicon + language model, or whichever is better",
    "search_overrides": "which model families, sizes and settings the search tries first in this domain",
    "sample_rate_hint": "the sample rate the domain's audio usually has",
    "splice_isolated_words": "isolated recordings are also joined into strings, so connected speech is read",
    "lm_order": "how many words the language model looks at (1: any word may follow any other, as in PINs)",
}

DOMAINS: dict[str, Domain] = {
    "general": Domain(
        "general", "Any speech: dictation and everyday sentences.",
        augmentation="light", decoder="auto",
        search_overrides={"size": ("small", "medium", "tiny")}),
    "digits": Domain(
        "digits", "Spoken digits and numbers (PINs, phone numbers): written digits become words.",
        normalizer="digits", vocabulary=DIGIT_WORDS, augmentation="light", decoder="lm", lm_order=1,
        search_overrides={"size": ("small", "tiny"), "model": ("crnn", "convnet", "conformer")},
        splice_isolated_words=True),
    "commands": Domain(
        "commands", "Short voice commands from a closed vocabulary (yes, no, stop, go...).",
        augmentation="noisy_light", decoder="lm",
        search_overrides={"size": ("tiny", "small"), "model": ("crnn", "convnet", "conformer")}),
    "telephony": Domain(
        "telephony", "Phone calls: 8 kHz narrowband audio, codec artefacts and line noise.",
        augmentation="telephony", decoder="auto", sample_rate_hint=8000,
        search_overrides={"size": ("small", "tiny", "medium"), "frontend": ("logmel", "mfcc")}),
    "noisy": Domain(
        "noisy", "Far-field or noisy rooms: distant microphones, echo and background chatter.",
        augmentation="far_field", decoder="auto",
        search_overrides={"size": ("small", "medium"), "augment": (1.5, 1.0, 2.0)}),
}


def get_domain(name: str | Domain | Mapping) -> Domain:
    """The preset called ``name``; a :class:`Domain` passes through and a dict is rebuilt (``to_dict``)."""
    if isinstance(name, Domain):
        return name
    if isinstance(name, Mapping):
        return Domain.from_dict(name)
    if name not in DOMAINS:
        raise ValueError(f"unknown domain '{name}' (choose from {', '.join(DOMAINS)}, "
                         "or build one with Domain.custom(words=..., sentences=...))")
    return DOMAINS[name]


def apply_search_overrides(search_space: dict, domain: str | Domain) -> dict:
    """A copy of an AutoGluon search space with the domain's preferred choices for the keys it names.

    Only searched keys change: a fixed setting (the ``single`` preset's baseline) and keys the space
    does not have are left alone.

    >>> from autoasr.search.presets import full_space
    >>> list(apply_search_overrides(full_space(), "digits")["size"].data)
    ['small', 'tiny']
    """
    from autogluon.common import space

    overrides = get_domain(domain).search_overrides
    adjusted = dict(search_space)
    for key, choices in overrides.items():
        if isinstance(adjusted.get(key), space.Space):
            choices = tuple(choices) if isinstance(choices, (list, tuple)) else (choices,)
            adjusted[key] = space.Categorical(*choices)
    return adjusted
