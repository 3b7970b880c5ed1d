"""Step 2b: start from a pretrained listener (recommended) or from scratch, and which one.

The choice lands in ``session.pretrained``: ``"auto"`` (the teacher's ``$AUTOASR_PRETRAINED``, else a Whisper model
already on this machine, else tiny.en downloaded once), a hub id, or None (from scratch). What each costs is
said beside it; where the model already is (or that it will be downloaded) is looked up without the network.
"""
from __future__ import annotations

import os

import ipywidgets as ui

from autoasr.models.encoder_sources import AUTO, cached_whisper_source
from autoasr.models.hub_download import DEFAULT_MODEL, LISTENERS
from autoasr.models.wav2vec2 import ENVIRONMENT_VARIABLE
from widgets.session import Session
from widgets.style import escape, note

RECOMMENDED = "Start from a pretrained listener (recommended)"


def listener_options() -> list[tuple[str, str]]:
    """(label, value) for the menu: the default first (``"auto"``), then the other offered models by hub id."""
    options = []
    for listener in LISTENERS:
        value = AUTO if listener.hub_id == DEFAULT_MODEL else listener.hub_id
        options.append((f"{listener.label}: {listener.languages}, ~{listener.download_mb} MB"
                        + ("" if listener.measured else " (not measured here)"), value))
    return options


def where_it_is(choice: str | None, environ=None) -> str:
    """Where the chosen listener will come from, in words, found without touching the network."""
    environ = os.environ if environ is None else environ
    if choice is None:
        return ("Trains from scratch: models learn only from your clips. Expect several times more errors on "
                "voices the search never heard.")
    if choice == AUTO and environ.get(ENVIRONMENT_VARIABLE, "").strip():
        return f"Uses the copy your teacher set up: <code>{escape(environ[ENVIRONMENT_VARIABLE])}</code>."
    hub_id = DEFAULT_MODEL if choice == AUTO else choice
    cached = cached_whisper_source(exact=hub_id) if choice != AUTO else cached_whisper_source()
    if cached is not None:
        return f"<b>{escape(cached)}</b> is already on this machine: the search starts with it at once."
    listener = next((item for item in LISTENERS if item.hub_id == hub_id), None)
    size = f"about {listener.download_mb} MB" if listener else "its files"
    return (f"Not on this machine yet: {size} will be downloaded once when you press <b>Start</b> (before the "
            "budget's clock starts). Without a network the search says so and trains from scratch.")


class ListenerPicker:
    """A checkbox (on by default) and a menu of pretrained listeners, each with its size and CPU cost."""

    def __init__(self, session: Session):
        self.session = session
        self.enabled = ui.Checkbox(value=session.pretrained is not None, description=RECOMMENDED, indent=False,
                                   layout=ui.Layout(width="480px"))
        options = listener_options()
        start = session.pretrained if session.pretrained in [value for _, value in options] else AUTO
        self.choice = ui.Dropdown(options=options, value=start, description="Listener",
                                  layout=ui.Layout(width="620px"))
        self.details = ui.HTML()
        self.enabled.observe(self._update, names="value")
        self.choice.observe(self._update, names="value")
        explanation = note(
            "<b>Why start from a pretrained listener.</b> Whisper has heard 680,000 hours of speech. The search keeps "
            "its ears (the encoder) and trains small heads on your clips in seconds. On ten command words said by "
            "speakers the search never heard, such models read 3.4% of words wrong; models trained from scratch "
            "in the same 3 minutes read 16.5% wrong (docs/benchmarks.md).")
        self.widget = ui.VBox([ui.HTML("<h3>Pretrained listener</h3>"), ui.HTML(explanation), self.enabled,
                               self.choice, self.details])
        self._update()

    @property
    def value(self) -> str | None:
        return self.choice.value if self.enabled.value else None

    def _update(self, change=None) -> None:
        self.session.pretrained = self.value
        self.choice.disabled = not self.enabled.value
        hub_id = DEFAULT_MODEL if self.choice.value == AUTO else self.choice.value
        listener = next(item for item in LISTENERS if item.hub_id == hub_id)
        cost = note(f"{escape(listener.describe())}.") if self.enabled.value else ""
        self.details.value = note(where_it_is(self.value)) + cost
