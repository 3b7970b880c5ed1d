"""Text normalisation per domain and the character vocabulary the CTC models predict."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

BLANK = "<blank>"
WORD_SEPARATOR = " "

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def normalize_text(text: str, domain: str = "general") -> str:
    """Lowercase, strip punctuation and collapse spaces; digits become words in the digits domain.

    >>> normalize_text("Call 42, now!", domain="digits")
    'call four two now'
    """
    text = unicodedata.normalize("NFKC", text).lower()
    if domain == "digits":
        text = re.sub(r"\d", lambda match: f" {DIGIT_WORDS[int(match.group())]} ", text)
    text = re.sub(r"[^\w' ]+", " ", text)
    text = text.replace("_", " ")
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class CharVocabulary:
    """Characters a model predicts; index 0 is the CTC blank.

    >>> vocabulary = CharVocabulary.from_texts(["yes no"])
    >>> vocabulary.decode(vocabulary.encode("yes"))
    'yes'
    """

    symbols: tuple[str, ...]

    @classmethod
    def from_texts(cls, texts) -> "CharVocabulary":
        characters = sorted({character for text in texts for character in text})
        if WORD_SEPARATOR not in characters:
            characters.append(WORD_SEPARATOR)
        return cls((BLANK, *sorted(characters)))

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def index(self) -> dict[str, int]:
        return {symbol: position for position, symbol in enumerate(self.symbols)}

    def encode(self, text: str) -> list[int]:
        """Indices of the characters of ``text``; characters outside the vocabulary are dropped."""
        index = self.index
        return [index[character] for character in text if character in index and character != BLANK]

    def decode(self, indices) -> str:
        return "".join(self.symbols[position] for position in indices if position != 0)

    def unknown_characters(self, text: str) -> set[str]:
        return {character for character in text if character not in self.index}
