"""Try it live: say something into the microphone and read what the best model (or every model) writes.

>>> live = TryLive(predictor)          # a fitted or loaded ASRPredictor                       # doctest: +SKIP
>>> live                               # press Record, speak, Stop: the words appear             # doctest: +SKIP
>>> live.feed("yes.wav")               # headless: a file instead of the microphone              # doctest: +SKIP
[('t0003', 'yes')]
"""
from __future__ import annotations

import ipywidgets as ui
import numpy as np

from widgets.recorder import Recorder
from widgets.session import Session
from widgets.style import CSS, escape, message, note, percent, table


class TryLive:
    """A recorder whose every take is transcribed by the session's best model (and, ticked, by all the others)."""

    def __init__(self, predictor=None, session: Session | None = None, every_model: bool = False):
        self.session = session or (Session.from_results(predictor) if predictor is not None else Session())
        self.recorder = Recorder(on_recorded=self.transcribe)
        self.every_model = ui.Checkbox(value=every_model, description="every trained model, not only the best",
                                       indent=False)
        self.words = ui.HTML()
        self.results = ui.HTML()
        self.outputs: list[tuple[str, str]] = []
        self.widget = ui.VBox([
            ui.HTML(CSS + "<h3>Try it live</h3>"),
            ui.HTML(note("Press <b>Record</b>, say one of the words the model learned, press <b>Stop</b>: "
                         "the model writes what it heard. Try a word it never learned, or whisper.")),
            self.recorder, self.every_model, self.words, self.results])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def feed(self, audio) -> list[tuple[str, str]]:
        """Transcribe a file (or 16 kHz array) as if it had just been recorded; returns (trial id, text) pairs."""
        self.recorder.feed(audio)
        return self.outputs

    def transcribe(self, samples: np.ndarray) -> list[tuple[str, str]]:
        """(trial id, transcript) for the best model, then the others when ``every_model`` is ticked."""
        predictor = self.session.current_predictor()  # a search in progress transcribes with its first models
        if predictor is None:
            self.words.value = message("Train a model first: there is nothing to transcribe with yet.", "error")
            self.outputs = []
            return []
        trials = self.session.finished_trials() if self.every_model.value else [predictor.best_trial_id]
        self.outputs = []
        for trial_id in trials:
            try:
                text = predictor.transcribe(samples, model=trial_id)[0]
            except Exception as error:  # one broken model must not hide what the others heard
                text = f"(failed: {type(error).__name__}: {error})"
            self.outputs.append((trial_id, text))
        best = self.outputs[0][1] if self.outputs else ""
        self.words.value = (f"<div class='autoasr-live-words' style='font-size:2em;font-weight:600;margin:6px 0'>"
                            f"{escape(best) or '<i>(nothing heard)</i>'}</div>")
        self.results.value = self._table() if len(self.outputs) > 1 else ""
        return self.outputs

    def _table(self) -> str:
        board = self.session.current_predictor().leaderboard().set_index("trial_id")
        rows = [[escape(trial_id), escape(board.loc[trial_id, "model"]) if trial_id in board.index else "",
                 percent(board.loc[trial_id, "val_wer"]) if trial_id in board.index else "",
                 f"<b>{escape(text) or '<i>(nothing)</i>'}</b>"] for trial_id, text in self.outputs]
        return table(["trial", "model", "val WER", "heard"], rows)
