"""Step 4a: every trial in one table, sortable, the best one highlighted."""
from __future__ import annotations

import ipywidgets as ui
import pandas

from autoasr.search.refit import REFIT_NOTE
from widgets.session import Session
from widgets.style import badge, escape, message, note, percent, table

SORT_CHOICES = [("validation WER", "val_wer"), ("validation CER", "val_cer"), ("latency", "latency_ms"),
                ("model size", "size_mb"), ("training seconds", "train_seconds"), ("parameters", "parameters"),
                ("epochs", "epochs"), ("order started", "start_time")]
CONFIG_SHOWN = ("learning_rate", "dropout", "augment", "batch_size", "frontend")


def _number(value, digits: int = 0) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if value != value else f"{value:,.{digits}f}"


def _text(value) -> str:
    return escape(value) if isinstance(value, str) else ""


# A CTC model first learns to emit only blanks: the WER of a trial stuck there is exactly 100 % and its CER
# near 100 % (the same test autoasr.training.progress uses for "still blank").
NOTHING_WER = 0.999
NOTHING_CER = 0.95


def trial_status(status: str, val_wer, val_cer, seconds) -> tuple[str, str]:
    """The status a learner sees and why: a finished trial that never emitted a word is "learned nothing"."""
    try:
        wer, cer = float(val_wer), float(val_cer)
    except (TypeError, ValueError):
        return status, ""
    if status in ("ok", "pruned") and wer >= NOTHING_WER and cer >= NOTHING_CER:
        try:
            within = f" within its {float(seconds):.0f} s"
        except (TypeError, ValueError):
            within = ""
        return "learned nothing", (f"did not learn to emit words{within}: it still writes nothing. "
                                   "A larger budget or a smaller model gets past this stage.")
    return status, ""


# what each pretrained row trained on the learner's data, in words: the sizes are jargon ("pooled_tuned")
WHAT_WAS_TRAINED = {
    "pooled": "the encoder was kept as it is; a one-layer classifier of your words was trained on its output",
    "pooled_tuned": "the encoder's top layer was retrained on your data, with a one-layer classifier of your words",
    "pooled_mix": "the encoder was kept as it is; a one-layer classifier of your words was trained on the average "
                  "of all its layers",
}
SPELLING_HEAD = "the encoder was kept as it is; a small head that spells letters was trained on its output"


def pretrained_mark(size) -> str:
    """The mark after a pretrained row's model name; its tooltip says what was trained on the learner's data."""
    trained = WHAT_WAS_TRAINED.get(str(size), SPELLING_HEAD)
    return ("<span class='autoasr-pretrained' title='started from a model pretrained on large speech corpora "
            f"(Whisper has heard 680,000 hours of speech): {escape(trained)}'> · pretrained</span>")


ZERO_SHOT_MARK = ("<span class='autoasr-pretrained' title='a pretrained recogniser used as it is, with no training "
                  "on your data: what you would get without training. A trained row has to beat it.'>"
                  " · zero-shot, no training</span>")


def _model_cell(row) -> str:
    """The model's family, marked when it started from a pretrained encoder, was not trained at all, or is the
    winner trained again on every clip (its note says which trial it copies)."""
    if row.get("stop_reason") == "zero-shot":
        return escape(row["model"]) + ZERO_SHOT_MARK
    note = row.get("note")
    refit = (f"<span class='autoasr-refit' title='{escape(note)}'> · refit on all clips</span>"
             if isinstance(note, str) and note.startswith(REFIT_NOTE) else "")
    return escape(row["model"]) + (pretrained_mark(row.get("size")) if bool(row.get("pretrained")) else "") + refit


def word_errors_html(errors: pandas.DataFrame, limit: int = 12) -> str:
    """A trial's most frequent word errors on the tuning clips: said, written (or missed / added), times."""
    if errors.empty:
        return "<i>No word of the tuning clips was read wrong.</i>"
    rows = [[escape(e.reference) or "<i>(nothing said)</i>", escape(e.hypothesis) or "<i>(missed)</i>", str(e.count)]
            for e in errors.head(limit).itertuples()]
    return table(["said", "written", "times"], rows, css_class="autoasr-table autoasr-word-errors")


def leaderboard_html(board: pandas.DataFrame, sort_by: str = "val_wer", ascending: bool = True,
                     best_trial_id: str | None = None) -> str:
    """The leaderboard as an HTML table (class ``autoasr-leaderboard``), best trial highlighted."""
    if board.empty:
        return "<i>No trials yet.</i>"
    if best_trial_id is None:
        finished = board[board["status"] == "ok"]
        best_trial_id = finished.iloc[0]["trial_id"] if not finished.empty else None
    ordered = board.sort_values(sort_by, ascending=ascending, na_position="last", kind="stable")
    rows, classes = [], []
    for _, row in ordered.iterrows():
        config = row["config"] if isinstance(row["config"], dict) else {}
        settings = ", ".join(f"{key}={config[key]:.3g}" if isinstance(config.get(key), float) else f"{key}={config[key]}"
                             for key in CONFIG_SHOWN if key in config)
        is_best = row["trial_id"] == best_trial_id
        status, reason = trial_status(str(row["status"]), row["val_wer"], row["val_cer"], row["train_seconds"])
        rows.append([
            ("★ " if is_best else "") + escape(row["trial_id"]), _model_cell(row), escape(row["size"]),
            percent(row["val_wer"]), percent(row["val_cer"]), badge(status, reason), _text(row.get("decoder")),
            _number(row.get("latency_ms"), 1), _number(row.get("size_mb"), 2), _number(row["epochs"]),
            _number(row["parameters"]), _number(row["train_seconds"], 1), escape(reason or row["stop_reason"]),
            escape(settings),
        ])
        classes.append("autoasr-best" if is_best else "")
    return table(["trial", "model", "size", "val WER", "val CER", "status", "decoder", "latency ms", "size MB",
                  "epochs", "parameters", "train s", "ended by", "settings"], rows, css_class="autoasr-table autoasr-leaderboard", row_classes=classes)


class LeaderboardPanel:
    """The leaderboard of the session's predictor; re-drawn when a search finishes or the sort changes."""

    def __init__(self, session: Session):
        self.session = session
        self.sort_by = ui.Dropdown(options=SORT_CHOICES, value="val_wer", description="Sort by")
        self.ascending = ui.ToggleButton(value=True, description="ascending", icon="sort-amount-asc",
                                         tooltip="lowest first")
        self.table = ui.HTML("<i>No search has finished yet: start one in step 3.</i>")
        self.latency_limit = ui.BoundedFloatText(value=50.0, min=0.1, max=100000.0, step=1.0,
                                                 description="Latency ≤ (ms)", style={"description_width": "initial"})
        self.pick = ui.Button(description="Use the best model within it", icon="filter",
                              tooltip="the most accurate model that transcribes a typical clip within the limit")
        self.pick_message = ui.HTML()
        self.pick.on_click(self.pick_within_limit)
        self.errors_of = ui.Dropdown(description="Trial", options=[])
        self.word_errors = ui.HTML()
        self.errors_of.observe(self.show_word_errors, names="value")
        self.sort_by.observe(self.refresh, names="value")
        self.ascending.observe(self.refresh, names="value")
        session.on("results", lambda predictor: self.refresh())
        self.widget = ui.VBox([
            ui.HTML("<h3>Leaderboard</h3>"),
            ui.HTML(note("One row per trial. <b>val WER</b> is the word error rate on the tuning clips: the share of "
                         "reference words that were substituted, deleted or inserted. The highlighted row (★) is the "
                         "model <code>transcribe</code> uses by default. <b>latency ms</b> is the time to transcribe "
                         "one typical tuning clip on one CPU thread; <b>size</b> is the scale of the network "
                         "(tiny, small, medium), <b>size MB</b> its weights on disk. <b>learned nothing</b> marks a "
                         "trial that never wrote a word in its time (100 % WER); <b>ended by</b> says why a trial "
                         "stopped (plateau, pruned, deadline: see the glossary at the top). A model marked "
                         "<b>pretrained</b> started from a speech encoder trained on hundreds of thousands of hours "
                         "of speech; only a small head learned from your clips, which is why it reads voices it "
                         "never heard better than models that start from nothing. A <b>zero-shot</b> row is a "
                         "pretrained recogniser used as it is, with no training: what you would get without "
                         "training, the bar the trained rows have to beat.")),
            ui.HBox([self.sort_by, self.ascending]), self.table,
            ui.HBox([self.latency_limit, self.pick]), self.pick_message,
            ui.HTML("<h4>Which words does a model get wrong?</h4>"), self.errors_of, self.word_errors])
        if session.predictor is not None:  # built around finished results (a notebook)
            self.refresh()

    def refresh(self, change=None) -> None:
        self.ascending.description = "ascending" if self.ascending.value else "descending"
        predictor = self.session.predictor
        if predictor is None:
            return
        board = predictor.leaderboard()
        self.table.value = leaderboard_html(board, self.sort_by.value, self.ascending.value, predictor.best_trial_id)
        finished = board[board["status"] == "ok"]
        self.errors_of.options = [(f"{row.trial_id} {row.model} ({percent(row.val_wer)} WER)", row.trial_id)
                                  for row in finished.itertuples()]
        if predictor.best_trial_id in set(finished["trial_id"]):
            self.errors_of.value = predictor.best_trial_id
        self.show_word_errors()

    def show_word_errors(self, change=None) -> None:
        predictor, trial_id = self.session.predictor, self.errors_of.value
        if predictor is None or trial_id is None:
            self.word_errors.value = ""
            return
        try:
            self.word_errors.value = word_errors_html(predictor.word_errors(trial_id))
        except (KeyError, FileNotFoundError) as error:
            self.word_errors.value = note(escape(str(error).strip("'\"")))

    def pick_within_limit(self, button=None) -> None:
        """Make the most accurate model within the latency limit the one every later step uses."""
        predictor = self.session.predictor
        if predictor is None:
            self.pick_message.value = message("Run a search first.", "error")
            return
        try:
            chosen = predictor.select_best(max_latency_ms=self.latency_limit.value)
        except ValueError as error:
            self.pick_message.value = message(str(error), "error")
            return
        self.pick_message.value = message(f"Trial {chosen} is now the best model (saved with the run).")
        self.session.set_predictor(predictor)  # the other steps follow the new best model
