"""The wizard: data → budget & domain → run → results → errors → transcribe (→ your voice), one tab per step.

>>> app = build_app(data="demo", minutes=3)     # doctest: +SKIP
>>> app                                          # the last expression of a cell shows the wizard  # doctest: +SKIP
>>> app.run.start(); app.run.wait()              # the same clicks, from code                      # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path

import ipywidgets as ui

from widgets.budget_picker import BudgetPicker
from widgets.listener_picker import ListenerPicker
from widgets.compare import ComparePanel
from widgets.data_picker import SUGGESTED_DOMAIN, DataPicker
from widgets.domain_picker import DomainPicker
from widgets.downloads import DownloadsPanel
from widgets.error_explorer import ErrorExplorer
from widgets.glossary import glossary_widget
from widgets.leaderboard import LeaderboardPanel
from widgets.run_panel import RunPanel
from widgets.session import Session
from widgets.style import CSS, note
from widgets.transcribe_panel import TranscribePanel
from widgets.voice_panel import VoicePanel

STEPS = ("1 · Data", "2 · Budget & domain", "3 · Run", "4 · Results", "5 · Errors", "6 · Transcribe", "7 · Your voice")
RESULTS_STEP = 3


class WizardApp:
    """Every panel of the wizard, wired to one :class:`Session`; display it or drive it from code."""

    def __init__(self, data: str | os.PathLike | None = None, minutes: float | None = None,
                 presets: str | None = None, domain: str | None = None, output: str | os.PathLike = "autoasr_runs/wizard",
                 load: bool = True):
        self.session = Session(output=output)
        self.data = DataPicker(self.session, data=str(data) if data is not None else None)
        self.budget = BudgetPicker(self.session, minutes=minutes, presets=presets)
        self.domain = DomainPicker(self.session, domain=domain)
        self.listener = ListenerPicker(self.session)
        self.run = RunPanel(self.session, ensure_data=self.data.load)
        self.leaderboard = LeaderboardPanel(self.session)
        self.compare = ComparePanel(self.session)
        self.errors = ErrorExplorer(self.session)
        self.transcribe = TranscribePanel(self.session)
        # recorded takes become the data; the budget step comes next
        self.voice = VoicePanel(self.session, on_use=lambda dataset: setattr(self.tabs, "selected_index", 1))
        self.downloads = DownloadsPanel(self.session)
        self._domain_chosen = domain is not None
        self.session.on("data", self._on_data)
        self.session.on("results", self._on_results)

        next_buttons = []
        for step in (1, 2):
            button = ui.Button(description=f"Next: {STEPS[step].split('· ')[1]}", icon="arrow-right",
                               layout=ui.Layout(width="max-content"))
            button.on_click(lambda _button, step=step: setattr(self.tabs, "selected_index", step))
            next_buttons.append(button)
        pages = [
            ui.VBox([self.data.widget, next_buttons[0]]),
            ui.VBox([self.budget.widget, self.listener.widget, self.domain.widget, next_buttons[1]]),
            self.run.widget,
            ui.VBox([self.leaderboard.widget, self.compare.widget, self.downloads.widget]),
            self.errors.widget,
            self.transcribe.widget,
            self.voice.widget,
        ]
        self.tabs = ui.Tab(children=pages, titles=list(STEPS))
        header = ui.HTML(CSS + "<h2 style='margin:4px 0'>autoasr — train and compare speech recognisers</h2>"
                         + note("Three decisions: <b>data</b>, <b>time budget</b>, <b>domain</b>. Then press "
                                "<b>Start</b> in step 3 and watch the models race."))
        self.glossary = glossary_widget()
        self.widget = ui.VBox([header, self.glossary, self.tabs], layout=ui.Layout(max_width="1150px"))
        if data is not None and load:
            self.data.load()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def _on_data(self, dataset) -> None:
        if not self._domain_chosen and self.session.source in SUGGESTED_DOMAIN:
            self.domain.select(SUGGESTED_DOMAIN[self.session.source])

    def _on_results(self, predictor) -> None:
        self.tabs.selected_index = RESULTS_STEP


def build_app(data: str | os.PathLike | None = None, minutes: float | None = None, presets: str | None = None,
              domain: str | None = None, output: str | os.PathLike = "autoasr_runs/wizard") -> WizardApp:
    """The whole wizard. ``data`` ("demo", a manifest or corpus folder) is loaded at once when given.

    Defaults can come from the environment, for served apps: ``AUTOASR_APP_DATA``, ``AUTOASR_APP_MINUTES``,
    ``AUTOASR_APP_PRESETS`` and ``AUTOASR_APP_OUTPUT``.
    """
    data = data if data is not None else os.environ.get("AUTOASR_APP_DATA")
    minutes = minutes if minutes is not None else (float(os.environ["AUTOASR_APP_MINUTES"])
                                                   if os.environ.get("AUTOASR_APP_MINUTES") else None)
    presets = presets or os.environ.get("AUTOASR_APP_PRESETS") or None
    output = Path(os.environ.get("AUTOASR_APP_OUTPUT", output))
    return WizardApp(data=data, minutes=minutes, presets=presets, domain=domain, output=output)
