"""Domain presets: what kind of speech the user has, and what that changes."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Domain:
    name: str
    description: str
    normalizer: str = "general"  # the text.normalize_text domain rule to apply
    search_overrides: dict = field(default_factory=dict)


DOMAINS: dict[str, Domain] = {
    "general": Domain("general", "Any speech: dictation and everyday sentences."),
    "digits": Domain("digits", "Spoken digits and numbers (PINs, phone numbers): written digits become words.",
                     normalizer="digits"),
    "commands": Domain("commands", "Short voice commands from a closed vocabulary (yes, no, stop, go...)."),
}


def get_domain(name: str) -> Domain:
    if name not in DOMAINS:
        raise ValueError(f"unknown domain '{name}' (choose from {', '.join(DOMAINS)})")
    return DOMAINS[name]
