"""The search, live: a data-preparation bar, a budget bar, a table of trials and learning curves, fed only by fit callbacks.

>>> progress = LiveProgress()
>>> display(progress)                                                      # doctest: +SKIP
>>> predictor.fit(train, time_limit=120, callbacks=[progress])             # doctest: +SKIP

Callbacks arrive on whatever thread runs ``fit``; ipywidgets sends each change to the page as it
happens, so the table and the curves move while the search runs (also while a cell is blocked on fit).
"""
from __future__ import annotations

import threading
import time

import ipywidgets as ui
import plotly.graph_objects as go

from autoasr.core.callbacks import FitCallback
from widgets.leaderboard import trial_status
from widgets.style import badge, escape, percent, table

TICK_SECONDS = 1.0


def _curves_layout() -> dict:
    return {
        "title": {"text": "Learning curves: validation WER per epoch (one line per trial)"},
        "xaxis": {"title": {"text": "epoch"}, "rangemode": "tozero"},
        "yaxis": {"title": {"text": "validation WER"}, "tickformat": ".0%", "rangemode": "tozero"},
        "height": 380, "margin": {"l": 60, "r": 20, "t": 50, "b": 45}, "legend": {"title": {"text": "trial"}},
        "showlegend": True,
    }


class LiveProgress(FitCallback):
    """A ``FitCallback`` that draws itself: display it, then pass it to ``fit(callbacks=[...])``."""

    def __init__(self):
        self.progress = ui.FloatProgress(value=0, min=0, max=1, description="Budget", bar_style="info",
                                         layout=ui.Layout(width="480px"))
        self.progress_text = ui.Label()
        # Features are computed before the search starts (a minute on a big corpus): without this bar the
        # page shows nothing in that time and a learner thinks it hung. Hidden until preparation begins.
        self.preparation = ui.IntProgress(value=0, min=0, max=1, description="Preparing", bar_style="info",
                                          layout=ui.Layout(width="480px"))
        self.preparation_text = ui.Label()
        self.preparation_row = ui.HBox([self.preparation, self.preparation_text], layout=ui.Layout(display="none"))
        self.preparations: dict[str, tuple[int, int]] = {}
        self.headline = ui.HTML()
        self.listener = ui.HTML()  # which pretrained model the search starts from, or why it trains from scratch
        self.table = ui.HTML()
        self.figure = go.FigureWidget(layout=_curves_layout())
        self.trials: dict[str, dict] = {}
        self.events: list[str] = []
        self._curves: dict[str, tuple[list, list]] = {}
        self._trace_index: dict[str, int] = {}
        self._lock = threading.RLock()
        self._started: float | None = None
        self._time_limit = 1.0
        self._finished = threading.Event()
        self.widget = ui.VBox([self.listener, self.preparation_row, ui.HBox([self.progress, self.progress_text]),
                               self.headline, self.table, self.figure])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    # ------------------------------------------------------------------ state

    def reset(self) -> None:
        with self._lock:
            self.trials.clear()
            self.events.clear()
            self._curves.clear()
            self._trace_index.clear()
            self.figure.data = []
            self.table.value = ""
            self.headline.value = ""
            self.listener.value = ""
            self.progress.value = 0
            self.progress.bar_style = "info"
            self.progress_text.value = ""
            self.preparations.clear()
            self.preparation_row.layout.display = "none"
            self._started = None
            self._finished.clear()

    @property
    def best(self) -> dict | None:
        finished = [t for t in self.trials.values() if t.get("best_val_wer") is not None]
        return min(finished, key=lambda t: t["best_val_wer"]) if finished else None

    # ------------------------------------------------------------------ callbacks

    def on_preparation(self, stage: str, done: int, total: int) -> None:
        with self._lock:
            self.preparations[stage] = (done, total)
            self.preparation_row.layout.display = "flex"
            self.preparation.max = max(total, 1)
            self.preparation.value = done
            self.preparation.bar_style = "success" if done >= total else "info"
            self.preparation_text.value = (f"{stage}: {total} clips ready" if done >= total
                                           else f"{stage}: {done} of {total} clips")

    def on_pretrained(self, info: dict) -> None:
        scratch = not info.get("pretrained")
        self.listener.value = badge("from scratch" if scratch else "pretrained") + " " + escape(info.get("listener", ""))

    def on_download(self, name: str, done: int, total: int) -> None:
        with self._lock:
            self.preparation_row.layout.display = "flex"
            self.preparation.max = max(total, 1)
            self.preparation.value = min(done, max(total, 1))
            self.preparation.bar_style = "success" if total and done >= total else "info"
            self.preparation_text.value = (f"downloading the pretrained listener once: {name}, "
                                           f"{done / 1e6:.1f} of {total / 1e6:.1f} MB")

    def on_search_start(self, info: dict) -> None:
        # the budget's clock started with fit (data preparation and the encoder pass count), not now
        self._started = float(info.get("fit_started") or time.time())
        self._time_limit = max(float(info["time_limit"]), 1.0)
        self._finished.clear()
        self.progress.max = self._time_limit
        self.events.append("search_start")
        self.headline.value = (f"Searching with presets <b>{escape(info['presets'])}</b> on {info['num_train']} "
                               f"training and {info['num_tuning']} tuning utterances"
                               + (f" ({info['skipped_rows']} rows skipped)" if info.get("skipped_rows") else "") + "."
                               + (f"<br><i>Forecast: {escape(info['forecast_text'])}.</i>" if info.get("forecast_text") else ""))
        threading.Thread(target=self._tick, name="autoasr-budget-bar", daemon=True).start()

    def on_trial_start(self, trial_id: str, config: dict) -> None:
        with self._lock:
            self.events.append(f"trial_start {trial_id}")
            self.trials[trial_id] = {"trial_id": trial_id, "model": config.get("model"), "size": config.get("size"),
                                     "config": dict(config), "status": "running", "epoch": 0, "val_wer": None,
                                     "best_val_wer": None, "started": time.time(), "seconds": 0.0}
            self._curves[trial_id] = ([], [])
            self.figure.add_scatter(x=[], y=[], mode="lines+markers",
                                    name=f"{trial_id} {config.get('model')} {config.get('size')}")
            self._trace_index[trial_id] = len(self.figure.data) - 1
            self._render_table()

    def on_epoch_end(self, trial_id: str, metrics: dict) -> None:
        with self._lock:
            trial = self.trials.get(trial_id)
            if trial is None:
                return
            trial.update(epoch=metrics["epoch"], val_wer=metrics["val_wer"], best_val_wer=metrics["best_val_wer"],
                         seconds=time.time() - trial["started"])
            xs, ys = self._curves[trial_id]
            xs.append(metrics["epoch"])
            ys.append(metrics["val_wer"])
            trace = self.figure.data[self._trace_index[trial_id]]
            last_epoch = max(max(c[0], default=0) for c in self._curves.values())
            with self.figure.batch_update():
                trace.x, trace.y = list(xs), list(ys)
                if last_epoch <= 12:  # whole epochs only, until the axis gets crowded
                    self.figure.layout.xaxis.update(tickmode="linear", tick0=0, dtick=1)
                else:
                    self.figure.layout.xaxis.tickmode = "auto"
            self._render_table()

    def on_trial_end(self, trial: dict) -> None:
        with self._lock:
            self.events.append(f"trial_end {trial['trial_id']}")
            row = self.trials.setdefault(trial["trial_id"], {"trial_id": trial["trial_id"], "started": time.time(),
                                                             "config": trial.get("config") or {}})
            status = trial.get("status") or "ok"
            if status == "ok" and trial.get("stop_reason") == "pruned":
                status = "pruned"
            row.update(status=status, model=trial.get("model"), size=trial.get("size"),
                       epoch=trial.get("epochs") or row.get("epoch", 0), stop_reason=trial.get("stop_reason"),
                       seconds=(trial.get("end_time") or time.time()) - (trial.get("start_time") or row["started"]),
                       error=trial.get("error"), val_cer=trial.get("val_cer"),
                       train_seconds=trial.get("train_seconds"))
            if status != "failed" and trial.get("val_wer") == trial.get("val_wer"):  # not NaN
                row["best_val_wer"] = trial.get("val_wer")
            self._render_table()

    def on_search_end(self, leaderboard) -> None:
        self._finished.set()
        self.events.append("search_end")
        with self._lock:  # the final leaderboard is authoritative (e.g. WER after choosing the decoder)
            for row in leaderboard.to_dict("records") if leaderboard is not None and len(leaderboard) else []:
                trial = self.trials.get(row.get("trial_id"))
                if trial is not None and row.get("status") == "ok" and row.get("val_wer") == row.get("val_wer"):
                    trial["best_val_wer"] = row["val_wer"]
            self._render_table()
        elapsed = time.time() - (self._started or time.time())
        self.progress.value = min(elapsed, self._time_limit)
        self.progress.bar_style = "success"
        self.progress_text.value = f"done: {elapsed:.0f} s of {self._time_limit:.0f} s"
        best = self.best
        ok = sum(t.get("status") in ("ok", "pruned") for t in self.trials.values())
        self.headline.value = (f"Search finished: {len(self.trials)} trials ({ok} with a model)"
                               + (f"; best <b>{escape(best['trial_id'])} {escape(best['model'])}</b> with validation WER "
                                  f"<b>{percent(best['best_val_wer'])}</b>." if best else "."))

    # ------------------------------------------------------------------ drawing

    def _tick(self) -> None:
        while not self._finished.wait(TICK_SECONDS):
            elapsed = time.time() - (self._started or time.time())
            self.progress.value = min(elapsed, self._time_limit)
            self.progress_text.value = f"{elapsed:.0f} s of {self._time_limit:.0f} s"

    def _render_table(self) -> None:
        best = self.best
        rows, classes = [], []
        for trial in self.trials.values():
            config = trial.get("config") or {}
            status, reason = trial.get("status", ""), ""
            if status != "running":
                status, reason = trial_status(status, trial.get("best_val_wer"), trial.get("val_cer"),
                                              trial.get("train_seconds") or trial.get("seconds"))
            rows.append([
                escape(trial["trial_id"]), escape(trial.get("model")), escape(trial.get("size")),
                escape(f"{config['learning_rate']:.2g}" if isinstance(config.get("learning_rate"), float) else ""),
                escape(config.get("batch_size", "")), escape(config.get("frontend", "")),
                badge(status, reason), escape(trial.get("epoch", "")),
                percent(trial.get("val_wer")), percent(trial.get("best_val_wer")), f"{trial.get('seconds', 0):.0f}",
            ])
            classes.append("autoasr-best" if best is not None and trial is best else "")
        self.table.value = table(["trial", "model", "size", "learning rate", "batch", "features", "status", "epoch",
                                  "val WER (last)", "val WER (best)", "seconds"], rows, row_classes=classes)
