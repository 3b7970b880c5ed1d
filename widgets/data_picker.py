"""Step 1 of the wizard: choose the data (demo corpus, FSDD, a path, an uploaded zip) and see a summary."""
from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter
from pathlib import Path

import ipywidgets as ui
import plotly.express as px
import plotly.graph_objects as go

from autoasr import DataError, Dataset, load_dataset
from autoasr.data.archives import safe_extract
from autoasr.data.layouts import LAYOUTS, detect_layout
from widgets.chunked_upload import ChunkedUpload
from widgets.session import Session
from widgets.style import escape, message, note, table

SOURCES = [
    ("Demo corpus: spoken digits and commands, synthesized offline", "demo"),
    ("Free Spoken Digit Dataset (FSDD) folder", "fsdd"),
    ("A manifest file or corpus folder on this machine", "path"),
    ("Upload a zip (audio files + manifest, or FSDD recordings)", "zip"),
]
SUGGESTED_DOMAIN = {"demo": "commands", "fsdd": "digits"}
MAX_PROBLEMS_SHOWN = 50
MAX_UPLOAD_BYTES = 2 * 1024**3  # extracted size of an uploaded zip
_EXTRACTED_MARKER = ".complete"


def default_fsdd_path() -> str:
    """``$AUTOASR_FSDD``, else ``../shared/data/fsdd`` beside the repository when it exists."""
    if os.environ.get("AUTOASR_FSDD"):
        return os.environ["AUTOASR_FSDD"]
    candidate = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd"
    return str(candidate) if candidate.is_dir() else ""


def find_corpus_root(folder: Path, max_depth: int = 3) -> Path:
    """The folder itself or the shallowest folder below it that holds a known corpus layout."""
    frontier = [folder]
    for _ in range(max_depth + 1):
        for candidate in frontier:
            if detect_layout(candidate, archives=False) is not None:
                return candidate
        frontier = sorted(p for c in frontier for p in c.iterdir()
                          if p.is_dir() and not p.name.startswith((".", "_")))
    known = "; ".join(f"{layout.name} ({layout.description})" for layout in LAYOUTS)
    raise DataError(f"{folder}: no corpus found in the archive. Known layouts: {known}")


def save_upload(upload: dict, folder: Path, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """Write an uploaded zip into a folder of its own, extract it safely there; return the corpus path.

    The folder is named after the file and a digest of its content, so uploading the same zip again
    reuses it. Extraction goes through :func:`autoasr.data.archives.safe_extract`: entries with absolute
    paths, ``..`` or links, and more than ``max_bytes`` once extracted, refuse the whole archive.
    """
    name = Path(upload["name"]).name or "upload.zip"
    received = Path(upload["path"]) if upload.get("path") else None  # a ChunkedUpload already wrote it to disk
    content = None if received else bytes(upload["content"])
    digest = (_file_digest(received) if received else hashlib.sha256(content).hexdigest())[:10]
    own_folder = folder / f"{Path(name).stem}-{digest}"
    extracted = own_folder / "extracted"
    if not (own_folder / _EXTRACTED_MARKER).is_file():
        shutil.rmtree(own_folder, ignore_errors=True)
        own_folder.mkdir(parents=True)
        if received:
            shutil.move(received, own_folder / name)
        else:
            (own_folder / name).write_bytes(content)
        try:
            safe_extract(own_folder / name, extracted, max_total_bytes=max_bytes)
        except Exception:
            shutil.rmtree(own_folder, ignore_errors=True)  # a refused archive leaves nothing behind
            raise
        (own_folder / _EXTRACTED_MARKER).write_text(name)
    return find_corpus_root(extracted)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def duration_histogram(dataset: Dataset) -> go.Figure:
    frame = dataset.to_frame()
    frame["split"] = frame["split"].fillna("(none)")
    figure = px.histogram(frame, x="duration", color="split", nbins=30, barmode="stack",
                          title="How long are the clips?", labels={"duration": "seconds"})
    figure.update_layout(height=300, margin={"l": 40, "r": 20, "t": 50, "b": 40}, yaxis_title="clips")
    return figure


def summary_html(dataset: Dataset, train: Dataset, test: Dataset | None) -> str:
    summary = dataset.summary()
    characters = "".join(f"<span class='autoasr-chip'>{escape(c) if c != ' ' else '␣'}</span>"
                         for c in summary["characters"])
    words = Counter(word for text in dataset.texts for word in text.split())
    common = ", ".join(f"{escape(word)} ({count})" for word, count in words.most_common(12))
    rows = [
        ["utterances", f"{summary['utterances']}"],
        ["hours of audio", f"{summary['hours']:.3f} ({summary['hours'] * 60:.1f} minutes)"],
        ["speakers", f"{summary['speakers']}"],
        ["mean clip length", f"{summary['mean_duration_s']:.2f} s"],
        ["for training / testing", f"{len(train)} / {len(test) if test is not None else 0} utterances"
                                   + (f" (test speakers: {escape(', '.join(test.speakers[:8]))})" if test is not None and test.speakers else "")],
        ["different words", f"{len(words)} — most common: {common}"],
        ["character set", characters],
        ["problems (rows skipped)", f"{len(dataset.problems)}"],
    ]
    return table(["", escape(dataset.name)], rows)


def problems_html(dataset: Dataset) -> str:
    if not dataset.problems:
        return message("No problems found: every row has readable audio and a transcript.")
    rows = [[escape(Path(p.source).name), escape(p.row if p.row is not None else ""), escape(p.message)]
            for p in dataset.problems[:MAX_PROBLEMS_SHOWN]]
    more = len(dataset.problems) - len(rows)
    return (f"<b>{len(dataset.problems)} rows were skipped</b> (the rest is used):"
            + table(["file", "row", "problem"], rows)
            + (f"<i>… and {more} more</i>" if more > 0 else ""))


class DataPicker:
    """Pick a corpus, load it, and show what is in it (and what is wrong with it)."""

    def __init__(self, session: Session, data: str | None = None):
        self.session = session
        self.upload_folder = session.output / "uploads"
        self.source = ui.RadioButtons(options=SOURCES, value="demo", layout=ui.Layout(width="auto"))
        self.path = ui.Text(placeholder="path to manifest.csv / .jsonl or a corpus folder",
                            layout=ui.Layout(width="560px"), description="Path")
        # sent in pieces: ipywidgets' FileUpload loses anything over the 10 MiB websocket limit without a word
        self.upload = ChunkedUpload(accept=".zip", max_bytes=MAX_UPLOAD_BYTES, folder=self.upload_folder / "incoming")
        self.load_button = ui.Button(description="Load data", button_style="primary", icon="folder-open")
        self.status = ui.HTML()
        self.summary = ui.HTML()
        self.problems = ui.HTML()
        self.histogram = ui.Box()
        self.figure: go.FigureWidget | None = None
        intro = note("Speech recognition learns from <b>audio clips with their transcripts</b>. Start with the "
                     "demo corpus (spoken offline by eSpeak NG), point at the Free Spoken Digit Dataset, a manifest "
                     "(CSV with <code>audio,text</code> columns, optional <code>speaker,split</code>), or upload a "
                     "zip. Rows with problems are skipped and listed below by file and row.")
        self.source.observe(self._on_source, names="value")
        self.load_button.on_click(self.load)
        self.upload.observe(self._on_upload, names="value")
        self.options = ui.VBox([self.path])
        self.widget = ui.VBox([ui.HTML(intro), self.source, self.options, self.load_button, self.status, self.summary,
                               self.histogram, self.problems])
        if data:
            self.choose(data)
        self._on_source()

    def choose(self, data: str | os.PathLike) -> None:
        """Select a source from a value as given in code: ``"demo"``, an FSDD folder or any path."""
        data = str(data)
        if data == "demo":
            self.source.value = "demo"
        else:
            path = Path(data)
            is_fsdd = path.is_dir() and not (path / "manifest.csv").exists() and detect_layout(path) is not None \
                and detect_layout(path).name == "fsdd"
            self.source.value = "fsdd" if is_fsdd else "path"
            self.path.value = data

    def _on_source(self, change=None) -> None:
        source = self.source.value
        if source == "fsdd" and not self.path.value:
            self.path.value = default_fsdd_path()
        if source == "fsdd":
            self.options.children = [self.path, ui.HTML(note(
                "The folder holding <code>recordings/</code>. Leave it empty to download FSDD once "
                "(about 10 MB, CC BY-SA 4.0) with autoasr's downloader."))]
        elif source == "path":
            self.options.children = [self.path]
        elif source == "zip":
            self.options.children = [self.upload, ui.HTML(note(
                f"Up to {MAX_UPLOAD_BYTES / 1e9:.0f} GB; the page sends it in 1 MB pieces and shows how far it got "
                "(a few hundred MB take minutes; a larger corpus is better given by its path on this machine). The zip "
                f"is saved and extracted in a folder of its own under <code>{escape(self.upload_folder)}</code>; "
                "entries with absolute paths, <code>..</code> or links are refused, and so is more than "
                f"{MAX_UPLOAD_BYTES / 1e9:.0f} GB once extracted."))]
        else:
            self.options.children = []

    def _on_upload(self, change) -> None:
        if self.upload.value:
            self.load()

    def selected_path(self) -> str:
        """What :func:`autoasr.load_dataset` is given for the current choice (extracting an upload)."""
        source = self.source.value
        if source == "demo":
            return "demo"
        if source == "zip":
            if not self.upload.value:
                raise DataError("choose a zip file first")
            return str(save_upload(self.upload.value[0], self.upload_folder))
        if not self.path.value.strip():
            if source == "fsdd":  # no local copy: the project's downloader fetches it (checksummed) once
                return "fsdd"
            raise DataError("type the path of a manifest or corpus folder first")
        return self.path.value.strip()

    def load(self, _button=None) -> Dataset | None:
        """Load the chosen data and show its summary; problems are shown, never raised."""
        self.status.value = message("Loading… (the demo corpus is synthesized on first use, a few seconds)")
        self.load_button.disabled = True
        try:
            path = self.selected_path()
            dataset = load_dataset(path, domain="digits" if self.source.value == "fsdd" else "general")
        except (DataError, OSError) as error:  # UnsafeArchiveError is a DataError
            self.status.value = message(f"Could not load the data: {error}", "error")
            return None
        except Exception as error:  # still a message, never a traceback in the page
            self.status.value = message(f"Could not load the data: {type(error).__name__}: {error}", "error")
            return None
        finally:
            self.load_button.disabled = False
        self.session.set_data(dataset, self.source.value)
        self.status.value = message(f"Loaded {len(dataset)} utterances from {path}.")
        self.summary.value = summary_html(dataset, self.session.train, self.session.test)
        self.figure = go.FigureWidget(duration_histogram(dataset))
        self.histogram.children = [self.figure]
        self.problems.value = problems_html(dataset)
        return dataset
