"""Take the results home: download links for the report, the best model (zip) and the ONNX file.

In a Binder or Voilà page the learner cannot reach the kernel's folders (a ``FileLink`` points at a URL
Voilà does not serve), so each file travels inside the page as a ``data:`` URI in an ``<a download>`` link:
it works in JupyterLab, Voilà and an exported notebook alike. Files beyond ``MAX_LINK_BYTES`` would make
the page itself heavy; for those the path on disk is shown instead.
"""
from __future__ import annotations

import base64
from pathlib import Path

import ipywidgets as ui

from autoasr.export.bundle import write_run_report, zip_best_model
from autoasr.export.writers import export_model, half_precision_copy
from widgets.session import Session
from widgets.style import escape, message, note

MAX_LINK_BYTES = 50 * 2**20  # of the link as the page carries it: base64 makes 4 bytes of every 3
# an ONNX file beyond this (a pretrained encoder inside: 32 MB for Whisper tiny) is handed over with its weights in
# half precision (16 MB; the same computation: log-probabilities within 0.003 of the full file's)
LARGE_ONNX_BYTES = 16 * 2**20
MIME_TYPES = {".html": "text/html", ".zip": "application/zip", ".onnx": "application/octet-stream"}


def download_link(path: Path, label: str) -> str:
    """An ``<a download>`` link carrying the file as a data URI (or, when too large, where it is on disk)."""
    size = path.stat().st_size
    if 4 * -(-size // 3) > MAX_LINK_BYTES:
        return (f"{escape(label)}: {size / 1e6:.0f} MB, too large to hand over through the page; it is saved at "
                f"<code>{escape(path)}</code>")
    payload = base64.b64encode(path.read_bytes()).decode("ascii")
    mime = MIME_TYPES.get(path.suffix, "application/octet-stream")
    return (f"<a class='autoasr-download' download='{escape(path.name)}' href='data:{mime};base64,{payload}'>"
            f"⬇ {escape(label)}</a> <span class='autoasr-note'>({escape(path.name)}, {size / 1e6:.1f} MB)</span>")


class DownloadsPanel:
    """A button that writes the deliverables of the session's run and shows a download link for each."""

    def __init__(self, session: Session):
        self.session = session
        self.prepare_button = ui.Button(description="Prepare downloads", icon="download",
                                        tooltip="write the report, zip the best model, export it to ONNX",
                                        layout=ui.Layout(width="max-content"))
        self.links = ui.HTML()
        self.files: dict[str, Path] = {}
        self.prepare_button.on_click(self.prepare)
        session.on("results", lambda predictor: self._forget())
        self.widget = ui.VBox([
            ui.HTML("<h3>Take it with you</h3>"),
            ui.HTML(note("The <b>report</b> (one HTML page: leaderboard and plots, opens offline), the <b>best "
                         "model</b> as a zip (unzip it and <code>ASRPredictor.load(folder)</code> transcribes), and an "
                         "<b>ONNX</b> file that runs with onnxruntime alone.")),
            self.prepare_button, self.links])

    def _forget(self) -> None:
        """A new run (or a new best model) makes earlier links stale."""
        self.files = {}
        self.links.value = ""

    def prepare(self, _button=None) -> dict[str, Path]:
        """Write report.html, the model zip and model.onnx of the current run; show their links."""
        predictor = self.session.predictor
        if predictor is None or predictor.best_trial_id is None:
            self.links.value = message("Run a search first: there is no model to download yet.", "error")
            return {}
        self.prepare_button.disabled = True
        self.links.value = message("Preparing the report, the model zip and the ONNX file…")
        files, lines = {}, []
        try:
            files["report"] = write_run_report(predictor)
            files["model"] = zip_best_model(predictor)
            try:
                files["onnx"] = self._onnx_file(predictor, lines)
            except ValueError as error:  # a model with no ONNX form (a zero-shot row) says why in plain words
                lines.append(message(f"No ONNX file: {error}", "error"))
            except Exception as error:  # the other downloads still count
                lines.append(message(f"No ONNX file: {type(error).__name__}: {error}", "error"))
        finally:
            self.prepare_button.disabled = False
        labels = {"report": "Report (HTML)", "model": "Best model (zip)",
                  "onnx": "ONNX file" + (" (half-precision weights)" if files.get("onnx", Path()).name.endswith(".fp16.onnx") else "")}
        lines = [download_link(path, labels[kind]) for kind, path in files.items()] + lines
        self.files = files
        self.links.value = "<br>".join(lines)
        return files

    @staticmethod
    def _onnx_file(predictor, lines: list[str]) -> Path:
        """model.onnx, or when a pretrained encoder makes it large, its twin with half-precision weights (half the
        size); the full-precision file stays in the run folder and ``lines`` says where."""
        full = export_model(predictor, Path(predictor.path) / "model.onnx", format="onnx")
        if full.stat().st_size <= LARGE_ONNX_BYTES:
            return full
        small = half_precision_copy(full, full.with_name("model.fp16.onnx"))  # the graph traced once
        lines.append(note(f"The ONNX file carries its pretrained encoder, so it is offered with half-precision weights "
                          f"({small.stat().st_size / 1e6:.0f} MB instead of {full.stat().st_size / 1e6:.0f} MB); the "
                          f"full-precision file is saved at <code>{escape(full)}</code>."))
        return small
