"""Step 6: upload or pick a clip, hear it, and read what each chosen model writes, side by side."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import ipywidgets as ui

from autoasr.data.audio import AUDIO_EXTENSIONS
from widgets.chunked_upload import ChunkedUpload
from widgets.error_explorer import audio_widget
from widgets.session import Session
from widgets.style import escape, message, note, percent, table

MAX_CLIP_BYTES = 200 * 10**6  # a recording of an hour or so; longer ones are better given by path
MODELS_PRESELECTED = 3
CLIPS_LISTED = 200


def save_uploaded_clip(upload: dict, folder: Path) -> Path:
    """Write an uploaded audio file under ``folder`` (named by its content, so re-uploads are no-ops).

    ``upload`` holds the bytes (``content``) or, from a :class:`ChunkedUpload`, the file it wrote (``path``).
    """
    name = Path(upload["name"]).name or "clip.wav"
    received = Path(upload["path"]) if upload.get("path") else None
    content = received.read_bytes() if received else bytes(upload["content"])
    path = folder / f"{hashlib.sha256(content).hexdigest()[:10]}-{name}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if received and not path.exists():
        shutil.move(received, path)
    elif not path.exists():
        path.write_bytes(content)
    return path


class TranscribePanel:
    """Transcribe one clip with several models and compare the transcripts."""

    def __init__(self, session: Session):
        self.session = session
        self.clip = ui.Dropdown(description="Test clip", options=[], layout=ui.Layout(width="520px"))
        self.upload = ChunkedUpload(accept=",".join(AUDIO_EXTENSIONS), max_bytes=MAX_CLIP_BYTES,
                                    folder=session.output / "uploads" / "incoming")
        self.models = ui.SelectMultiple(description="Models", options=[], rows=5, layout=ui.Layout(width="520px"))
        self.transcribe_button = ui.Button(description="Transcribe", button_style="primary", icon="comment")
        self.player = ui.Box()
        self.results = ui.HTML()
        self.references: dict[str, str] = {}
        self.clip.observe(self._on_clip, names="value")
        self.upload.observe(self._on_upload, names="value")
        self.transcribe_button.on_click(self.transcribe)
        session.on("results", lambda predictor: self.refresh())
        session.on("trial", lambda predictor: self.refresh())  # the first models, while the search goes on
        session.on("data", lambda dataset: self._fill_clips())
        self.widget = ui.VBox([
            ui.HTML("<h3>Transcribe</h3>"),
            ui.HTML(note("Pick a clip the models never heard (from the test set) or upload your own (WAV, FLAC, OGG, MP3, "
                         "a phone's M4A voice memo or a browser's WebM recording; any sample rate; up to 200 MB), choose models, and compare what each one writes.")),
            ui.HBox([self.clip, self.upload]), self.player, self.models, self.transcribe_button, self.results])
        if session.test is not None:
            self._fill_clips()
        if session.predictor is not None:  # built around finished results (a notebook)
            self.refresh()

    def _fill_clips(self) -> None:
        test = self.session.test
        self.references = {str(u.audio): u.text for u in test} if test is not None else {}
        self.clip.options = [(f"{Path(u.audio).name} — “{u.text}”", str(u.audio)) for u in list(test or [])[:CLIPS_LISTED]]
        if self.clip.options and self.clip.value is None:
            self.clip.value = self.clip.options[0][1]

    def _predictor(self):
        return self.session.current_predictor()

    def refresh(self) -> None:
        if self._predictor() is None:
            return
        board = self._predictor().leaderboard()
        finished = board[board["status"] == "ok"]
        self.models.options = [(f"{r.trial_id} {r.model} {r.size} (val WER {percent(r.val_wer)})", r.trial_id)
                               for r in finished.itertuples()]
        self.models.value = tuple(finished["trial_id"][:MODELS_PRESELECTED])
        if not self.clip.options:
            self._fill_clips()

    def _on_clip(self, change=None) -> None:
        if self.clip.value:
            self.player.children = [audio_widget(self.clip.value)]
            self.results.value = ""

    def _on_upload(self, change=None) -> None:
        if not self.upload.value:
            return
        path = save_uploaded_clip(self.upload.value[0], self.session.output / "uploads" / "clips")
        options = [option for option in self.clip.options if option[1] != str(path)]
        self.clip.options = [(f"{Path(self.upload.value[0]['name']).name} (uploaded)", str(path))] + options
        self.clip.value = str(path)

    def transcribe(self, _button=None) -> list[tuple[str, str]]:
        """Transcripts of the selected clip by each selected model, as (trial id, text) pairs."""
        predictor = self._predictor()
        if predictor is None or predictor.best_trial_id is None:
            self.results.value = message("Run a search first (step 3): its first model appears here within seconds.",
                                         "error")
            return []
        if not self.clip.value or not self.models.value:
            self.results.value = message("Choose a clip and at least one model.", "error")
            return []
        board = predictor.leaderboard().set_index("trial_id")
        outputs, rows = [], []
        reference = self.references.get(self.clip.value)
        for trial_id in self.models.value:
            try:
                text = predictor.transcribe([self.clip.value], model=trial_id)[0]
            except Exception as error:
                text = f"(failed: {type(error).__name__}: {error})"
            outputs.append((trial_id, text))
            marker = "" if reference is None else (" ✓" if text == reference else " ✗")
            rows.append([escape(trial_id), escape(board.loc[trial_id, "model"]), percent(board.loc[trial_id, "val_wer"]),
                         f"<b>{escape(text) or '<i>(nothing)</i>'}</b>{marker}"])
        header = f"Reference: <b>{escape(reference)}</b>" if reference is not None else "No reference for this clip."
        self.results.value = note(header) + table(["trial", "model", "val WER", "transcript"], rows)
        return outputs
