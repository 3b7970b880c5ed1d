"""The wizard's "Your voice" step: record a small dataset of your own words, train on it, then try it live.

The recordings become the session's data (as if chosen in step 1), so the budget, domain, run and results
steps work on them unchanged; the live test uses whatever model the session holds last.
"""
from __future__ import annotations

import ipywidgets as ui

from autoasr import DataError, load_dataset
from widgets.record_dataset import RecordDataset
from widgets.session import Session
from widgets.style import message, note
from widgets.try_live import TryLive

SOURCE = "recorded"


class VoicePanel:
    """Record → use as data → (run in step 3) → try live, on one :class:`Session`."""

    def __init__(self, session: Session, on_use=None):
        self.session = session
        self.on_use = on_use
        self.recording = RecordDataset(session.output / "recordings")
        self.use_button = ui.Button(description="Train on my recordings", button_style="primary", icon="check",
                                    layout=ui.Layout(width="max-content"))
        self.status = ui.HTML()
        self.live = TryLive(session=session)
        self.use_button.on_click(self.use_recordings)
        self.widget = ui.VBox([
            self.recording.widget, ui.HBox([self.use_button]), self.status,
            ui.HTML(note("Then set a budget of 2–3 minutes in step 2 and press <b>Start search</b> in step 3; "
                         "come back here to test the winner with your microphone.")),
            self.live.widget])

    def use_recordings(self, _button=None):
        """Make the recorded takes the session's data; returns the dataset (None with a message if unusable)."""
        if not self.recording.rows:
            self.status.value = message("Record some takes first.", "error")
            return None
        try:
            dataset = load_dataset(self.recording.manifest)
        except DataError as error:
            self.status.value = message(f"Could not read the recordings: {error}", "error")
            return None
        self.session.set_data(dataset, SOURCE)
        self.status.value = message(f"Using {len(dataset)} recorded takes as the data "
                                    f"({sum(u.split == 'test' for u in dataset)} kept aside to test).")
        if self.on_use is not None:
            self.on_use(dataset)
        return dataset
