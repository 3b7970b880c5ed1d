"""An upload button without the websocket's size limit: the browser sends the file in 1 MiB pieces.

ipywidgets' ``FileUpload`` sends a whole file as one message over the kernel's websocket; the server
(tornado) closes the connection when a message exceeds ``websocket_max_message_size`` — 10 MiB by default,
measured in docs/uploads.md — and the kernel never hears of the file. Here the page reads the file in
slices and sends each as its own message; the kernel appends them to a file on disk (never the whole
file in memory) and sets ``value`` when the last piece is in. A file over ``max_bytes`` is refused in the
page, before anything is sent, with a message that says so.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import anywidget
import traitlets

CHUNK_BYTES = 2**20  # well below the 10 MiB websocket limit, large enough to keep messages few

_ESM = """
function human(bytes) { return bytes >= 1e9 ? (bytes / 1e9).toFixed(2) + " GB" : (bytes / 1e6).toFixed(1) + " MB"; }
export default {
  render({ model, el }) {
    const input = document.createElement("input");
    input.type = "file";
    input.accept = model.get("accept");
    input.className = "autoasr-chunked-upload";
    const status = document.createElement("span");
    status.className = "autoasr-note autoasr-upload-status";
    status.style.marginLeft = "8px";
    const show = () => { status.textContent = model.get("status"); };
    model.on("change:status", show);
    show();
    input.addEventListener("change", async () => {
      const file = input.files[0];
      if (!file) return;
      const limit = model.get("max_bytes");
      if (file.size > limit) {
        model.send({ kind: "refused", name: file.name, size: file.size });
        return;
      }
      const chunk = model.get("chunk_bytes");
      input.disabled = true;
      model.send({ kind: "start", name: file.name, size: file.size });
      for (let offset = 0; offset < file.size; offset += chunk) {
        const piece = await file.slice(offset, offset + chunk).arrayBuffer();
        model.send({ kind: "chunk", offset: offset }, undefined, [piece]);
        status.textContent = "sending " + file.name + ": " + human(Math.min(offset + chunk, file.size)) + " of " + human(file.size);
      }
      model.send({ kind: "end", name: file.name, size: file.size });
      input.disabled = false;
      input.value = "";
    });
    el.append(input, status);
  },
};
"""


class ChunkedUpload(anywidget.AnyWidget):
    """A file chooser whose file arrives on disk in ``folder``; ``value`` is ``({"name", "size", "path"},)``."""

    _esm = _ESM
    accept = traitlets.Unicode("").tag(sync=True)
    max_bytes = traitlets.Int(2 * 1024**3).tag(sync=True)
    chunk_bytes = traitlets.Int(CHUNK_BYTES).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    value = traitlets.Tuple()

    def __init__(self, folder: str | Path | None = None, **kwargs):
        super().__init__(**kwargs)
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="autoasr-upload-"))
        self._partial: Path | None = None
        self._expected = 0
        self.on_msg(self._on_message)

    def _on_message(self, _widget, content: dict, buffers: list) -> None:
        kind = content.get("kind")
        name = Path(str(content.get("name", "upload"))).name or "upload"
        if kind == "refused":
            self.status = (f"{name} is {content['size'] / 1e6:,.0f} MB: more than the {self.max_bytes / 1e6:,.0f} MB "
                           "this page accepts. Give its path on this machine instead.")
        elif kind == "start":
            self.folder.mkdir(parents=True, exist_ok=True)
            self._partial = self.folder / f".{name}.partial"
            self._partial.write_bytes(b"")
            self._expected = int(content["size"])
            self.status = f"receiving {name} ({self._expected / 1e6:.1f} MB)…"
        elif kind == "chunk" and self._partial is not None:
            with open(self._partial, "r+b") as handle:  # by offset, so the file is right whatever the order
                handle.seek(int(content["offset"]))
                handle.write(bytes(buffers[0]) if buffers else b"")
        elif kind == "end" and self._partial is not None:
            self._finish(name)

    def _finish(self, name: str) -> None:
        size = self._partial.stat().st_size
        if size != self._expected:
            self.status = f"{name} arrived incomplete ({size} of {self._expected} bytes); please upload it again"
            self._partial.unlink(missing_ok=True)
        else:
            path = self._partial.with_name(name)
            self._partial.replace(path)
            self.status = f"received {name} ({size / 1e6:.1f} MB)"
            self.value = ({"name": name, "size": size, "path": str(path)},)
        self._partial = None
