"""Step 3: Start and Stop the search; it runs in a background thread so the page stays live."""
from __future__ import annotations

import threading
from typing import Callable

import ipywidgets as ui

from autoasr.core.callbacks import FitCallback
from autoasr.export.bundle import write_run_report
from widgets.domain_picker import domain_for_run
from widgets.live_progress import LiveProgress
from widgets.session import Session
from widgets.style import escape, message, note, percent


class _FirstModels(FitCallback):
    """Tells the session when a trial has a usable model while the search goes on (event ``"trial"``), so the
    Transcribe step works with the first model within seconds instead of after the whole budget."""

    def __init__(self, session: Session, predictor):
        self.session, self.predictor = session, predictor

    def on_trial_end(self, trial: dict) -> None:
        if trial.get("status") == "ok":
            self.session.emit("trial", self.predictor)


class RunPanel:
    """Start runs ``ASRPredictor.fit`` in a thread with a :class:`LiveProgress`; Stop asks it to end gracefully."""

    def __init__(self, session: Session, ensure_data: Callable[[], object] | None = None):
        self.session = session
        self.ensure_data = ensure_data
        self.start_button = ui.Button(description="Start search", button_style="success", icon="play")
        self.stop_button = ui.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.status = ui.HTML()
        self.live = LiveProgress()
        self.predictor = None
        self.thread: threading.Thread | None = None
        self.error: str | None = None
        self.start_button.on_click(self.start)
        self.stop_button.on_click(self.stop)
        explanation = note(
            "<b>What a search does.</b> Each <i>trial</i> trains one model configuration (a model family, its "
            "size, learning rate, features…) and measures its <b>word error rate</b> (WER) on held-out tuning clips "
            "after every epoch: the share of words it gets wrong, so lower is better. Trials that stall stop early and "
            "their time goes to new configurations. <b>Stop</b> ends the search after the current epoch and keeps "
            "the best model found so far.")
        self.widget = ui.VBox([ui.HTML(explanation), ui.HBox([self.start_button, self.stop_button]), self.status,
                               self.live.widget])

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self, _button=None) -> bool:
        """Begin a search with the session's data, budget, presets and domain; False when it cannot start."""
        from autoasr import ASRPredictor

        if self.running:
            return False
        if self.session.train is None and self.ensure_data is not None:
            self.ensure_data()
        if self.session.train is None:
            self.status.value = message("Load data first (step 1).", "error")
            return False
        self.error = None
        self.live.reset()
        path = self.session.new_run_path()
        try:  # typed domain text needs an autoasr whose predictor takes a custom Domain
            self.predictor = ASRPredictor(path=path, verbosity=0,
                                          domain=domain_for_run(self.session.domain, self.session.custom_vocabulary))
        except (TypeError, ValueError):
            self.predictor = ASRPredictor(path=path, domain=self.session.domain, verbosity=0)
        self.session.normalize_for_run(self.predictor.domain_spec.normalizer)
        self.start_button.disabled = True
        self.stop_button.disabled = False
        self.status.value = message(f"Running for up to {self.session.time_limit:.0f} s with presets "
                                    f"'{self.session.presets}' in {self.predictor.path} …")
        self.thread = threading.Thread(target=self._fit, args=(self.predictor,), name="autoasr-fit", daemon=True)
        self.thread.start()
        return True

    def _fit(self, predictor) -> None:
        try:
            self.session.running = predictor
            predictor.fit(self.session.train, time_limit=self.session.time_limit, presets=self.session.presets,
                          pretrained=self.session.pretrained,
                          callbacks=[self.live, _FirstModels(self.session, predictor)])
        except Exception as error:  # shown in the page, never a traceback
            self.error = f"{type(error).__name__}: {error}"
            self.status.value = message(f"The search ended without a model: {self.error}", "error")
        else:
            stopped = predictor.fit_summary.get("stopped_by_user")
            best = predictor.leaderboard().iloc[0]
            try:  # every wizard run leaves its report beside the model; a failed report never costs the model
                report = write_run_report(predictor)
                report_note = f" with its report <code>{escape(report.name)}</code> (download it in step 4)"
            except Exception as error:
                report_note = f" (the report could not be written: {escape(type(error).__name__)}: {escape(error)})"
            self.status.value = (message("Stopped by you; the best model so far is kept. " if stopped else "Finished. ")
                                 + f"Best trial <b>{escape(best['trial_id'])}</b> ({escape(best['model'])}, "
                                 f"{escape(best['size'])}), validation WER <b>{percent(best['val_wer'])}</b>. "
                                 f"Saved in <code>{escape(predictor.path)}</code>{report_note}."
                                 + "".join(f"<br>{escape(line)}" for line in listener_steps(predictor.fit_summary)
                                           + small_data_steps(predictor.fit_summary)))
            self.session.set_predictor(predictor)
        finally:
            self.session.running = None
            self.start_button.disabled = False
            self.stop_button.disabled = True

    def stop(self, _button=None) -> None:
        if self.running and self.predictor is not None:
            self.predictor.stop()
            self.stop_button.disabled = True
            self.status.value = message("Stopping after the current epoch; the best model so far is kept…")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the search thread ends (for scripts and tests); True when it has ended."""
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.running


def listener_steps(summary: dict) -> list[str]:
    """Which pretrained listener the search started from, or why it trained from scratch, and why it ended before
    its budget when it did (a sentence each)."""
    listener = (summary.get("pretrained") or {}).get("listener")
    ended = summary.get("ended_early")
    return ([listener] if listener else []) + ([f"It finished before its budget: {ended}."] if ended else [])


def small_data_steps(summary: dict) -> list[str]:
    """What the search did because the data was small, in a sentence each: a learner who recorded a few dozen
    clips sees why a "refit" row leads the table and where the extra clips came from."""
    lines = []
    copies = summary.get("speaker_augmentation") or {}
    if copies.get("clips_added"):
        lines.append(f"Your training clips were few, so the search also learned from {copies['clips_added']} copies "
                     "of them played slower and faster, louder and softer: they sound like more voices.")
    kfold = (summary.get("refit") or {}).get("kfold") or {}
    if kfold.get("done"):
        lines.append(f"Your tuning clips were too few to tell the best models apart, so each was also trained "
                     f"{kfold['folds']} times, each time holding out other speakers, and judged on all of them.")
    refit = summary.get("refit") or {}
    if refit.get("done"):
        lines.append(f"The winner (trial {refit['refit_of']}) was then trained again on all your clips, the tuning "
                     f"clips too, as trial {refit['trial_id']}: that is the model you keep. Its validation WER is that of "
                     "the trial it copies, since it has now heard the tuning clips.")
    return lines

