"""Step 2b: what kind of speech this is (the engine's domain presets) and an optional custom vocabulary."""
from __future__ import annotations

import ipywidgets as ui

from autoasr.domains.presets import DOMAINS, Domain
from widgets.session import Session
from widgets.style import escape, note


def parse_vocabulary(text: str) -> list[str]:
    """Non-empty, stripped lines of the vocabulary box (words, phrases or whole domain sentences)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def domain_for_run(name: str, vocabulary: list[str]):
    """What ``ASRPredictor(domain=...)`` gets: the preset's name, or — when the user typed domain text — a
    custom domain built on that preset whose language model is biased towards the typed lines (any word
    stays possible)."""
    if vocabulary:
        return Domain.custom(sentences=vocabulary, base=name, name=f"{name}+custom")
    return name


def explain(name: str) -> str:
    return DOMAINS[name].explain()


class DomainPicker:
    """Radio buttons for ``autoasr.domains.presets.DOMAINS`` with their explanations, and a vocabulary box."""

    def __init__(self, session: Session, domain: str | None = None):
        self.session = session
        self.domain = ui.RadioButtons(options=[(f"{name} — {d.description}", name) for name, d in DOMAINS.items()],
                                      value=domain or session.domain, layout=ui.Layout(width="auto"))
        self.vocabulary = ui.Textarea(placeholder="Optional: words or sentences typical of your audio, one per line "
                                                  "(product names, commands, place names…)",
                                      layout=ui.Layout(width="620px", height="90px"))
        self.explanation = ui.HTML()
        self.domain.observe(self._update, names="value")
        self.vocabulary.observe(self._update, names="value")
        self.widget = ui.VBox([
            ui.HTML("<h3>Domain</h3>"),
            ui.HTML(note("The domain tells autoasr how to normalise transcripts (for example, <i>digits</i> turns "
                         "“42” into “four two”) and which settings suit the speech. Pick the closest one.")),
            self.domain, self.explanation, ui.HTML(note("Custom vocabulary or domain sentences:")), self.vocabulary,
        ])
        self._update()

    def select(self, name: str) -> None:
        if name in DOMAINS:
            self.domain.value = name

    def _update(self, change=None) -> None:
        self.session.domain = self.domain.value
        self.session.custom_vocabulary = parse_vocabulary(self.vocabulary.value)
        self.explanation.value = note(f"<i>{escape(explain(self.domain.value))}</i>")


def describe_domains() -> str:
    """An HTML list of the domains and what each one is for (for notebooks)."""
    return "<ul>" + "".join(f"<li><b>{escape(name)}</b>: {escape(d.description)}</li>" for name, d in DOMAINS.items()) + "</ul>"
