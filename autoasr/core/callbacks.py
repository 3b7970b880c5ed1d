"""Events that ``ASRPredictor.fit`` emits while it works; UIs and loggers subscribe to them.

Subclass :class:`FitCallback` and override what you need; every method has a no-op default.

>>> class Printer(FitCallback):
...     def on_epoch_end(self, trial_id, metrics):
...         print(trial_id, metrics["val_wer"])
"""
from __future__ import annotations

import sys
import time

# PrintProgress repeats a preparation line at most this often, so a long corpus prints a few lines, not hundreds.
PREPARATION_PRINT_SECONDS = 10.0


class FitCallback:
    def on_preparation(self, stage: str, done: int, total: int) -> None:
        """Data preparation before (and between) trials: ``done`` of ``total`` clips of ``stage``
        (e.g. "logmel features of demo:train") are ready."""

    def on_download(self, name: str, done: int, total: int) -> None:
        """A pretrained model's file is being downloaded (once, into the Hugging Face cache): ``done`` of
        ``total`` bytes of file ``name``."""

    def on_pretrained(self, info: dict) -> None:
        """Which pretrained model the search starts from, before any data is prepared: ``info["listener"]`` (a
        sentence for the learner), ``pretrained`` (the encoders), ``pretrained_origin`` and ``pretrained_reason``
        (why none, or what was skipped)."""

    def on_search_start(self, info: dict) -> None:
        """``info``: time_limit, fit_started (Unix seconds: the budget's clock started then), presets, num_train,
        num_tuning, search_space (names to choices) and what :meth:`on_pretrained` was told."""

    def on_trial_start(self, trial_id: str, config: dict) -> None:
        pass

    def on_epoch_end(self, trial_id: str, metrics: dict) -> None:
        """``metrics``: epoch, train_loss, val_wer, val_cer, best_val_wer, epoch_seconds, time."""

    def on_trial_end(self, trial: dict) -> None:
        """``trial``: one leaderboard row as a dict (status, val_wer, config, ...)."""

    def on_search_end(self, leaderboard) -> None:
        """``leaderboard``: the final pandas DataFrame, best first."""


class PrintProgress(FitCallback):
    """One line per trial event, for terminals and logs."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self._last_preparation_line = 0.0

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def on_preparation(self, stage, done, total):
        # the first and the last line of a stage always; in between only every few seconds
        now = time.monotonic()
        if 0 < done < total and now - self._last_preparation_line < PREPARATION_PRINT_SECONDS:
            return
        self._last_preparation_line = now
        if done == 0:
            self._print(f"preparing {stage}: {total} clips")
        elif done < total:
            self._print(f"preparing {stage}: {done}/{total} clips ({done / total:.0%})")
        else:
            self._print(f"prepared {stage}: {total} clips")

    def on_search_start(self, info):
        self._print(f"search: {info['num_train']} training and {info['num_tuning']} tuning utterances, "
                    f"budget {info['time_limit']:.0f} s, presets '{info['presets']}'")
        if info.get("skipped_rows"):
            self._print(f"skipped {info['skipped_rows']} rows, e.g. " + "; ".join(info.get("skipped_examples", [])))
        if info.get("forecast_text"):
            self._print(f"forecast: {info['forecast_text']}")
        if info.get("pretrained"):
            self._print("pretrained encoders in the search: " + "; ".join(info["pretrained"]))
        if info.get("pretrained") and info.get("pretrained_reason"):
            self._print(f"pretrained: {info['pretrained_reason']}")

    def on_download(self, name, done, total):
        if total and done >= total:  # the bar itself is drawn by the hub client (tqdm)
            self._print(f"downloaded {name} ({total / 1e6:.1f} MB)")

    def on_trial_start(self, trial_id, config):
        summary = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items())
        self._print(f"trial {trial_id} started: {summary}")

    def on_trial_end(self, trial):
        self._print(f"trial {trial['trial_id']} {trial['status']}: val WER {trial['val_wer']:.3f} "
                    f"after {trial['epochs']} epochs ({trial['stop_reason']})")


def emit(callbacks, event: str, *args) -> None:
    """Call ``event`` on every callback; a failing callback is reported, never fatal to the run."""
    for callback in callbacks:
        try:
            getattr(callback, event)(*args)
        except Exception as error:  # a broken progress bar must not cost a trained model
            print(f"autoasr: callback {type(callback).__name__}.{event} failed: {error}", file=sys.stderr)
