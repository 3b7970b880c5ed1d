"""Record your own dataset: type a few words, say each one N times, get WAV files + a manifest to train on.

Takes are asked for in rounds (every word once, then every word again...), so the takes of one word are
spread over the session instead of five identical ones in a row. Each take is written at once as a 16 kHz
WAV in ``folder/wav`` and the manifest (``folder/manifest.csv``: audio, text, speaker, split) is rewritten,
so a kernel restart loses nothing. With three or more takes per word the last round is the ``test``
split: the words are then scored on takes the model never trained on.

>>> recording = RecordDataset("autoasr_runs/my_voice", prompts=["yes", "no", "stop"], takes=5)  # doctest: +SKIP
>>> recording                        # press Record, say the word shown, Stop; repeat     # doctest: +SKIP
>>> recording.fill_from("clips/manifest.csv")   # headless: the clips of each word instead   # doctest: +SKIP
>>> train = load_dataset(recording.manifest, split="train")                              # doctest: +SKIP
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Callable

import ipywidgets as ui
import numpy as np
import pandas as pd

from autoasr.core.text import normalize_text
from widgets.recorder import Recorder, write_wav
from widgets.style import CSS, escape, message, note

DEFAULT_PROMPTS = ("yes", "no", "left", "right", "stop", "go")
DEFAULT_TAKES = 5
MIN_TAKES_FOR_TEST = 3  # fewer takes per word are all needed for training
SPEAKER = "you"
FIELDS = ["audio", "text", "speaker", "split"]


def parse_prompts(text: str) -> list[str]:
    """The words or phrases typed by the learner (one per line or comma-separated), each once, normalised as
    the model will read them (lower case, no punctuation), so the manifest holds exactly what is learned."""
    prompts = [normalize_text(part) for part in re.split(r"[,\n;]", text)]
    return list(dict.fromkeys(prompt for prompt in prompts if prompt))


def plan_takes(prompts: list[str], takes: int) -> list[tuple[str, int]]:
    """(prompt, take number from 1) in the order they are asked for: round by round."""
    return [(prompt, take) for take in range(1, takes + 1) for prompt in prompts]


def file_name(prompt: str, take: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", prompt.lower()).strip("_") or "clip"
    return f"{slug}_{take}.wav"


def confusions(evaluation: dict) -> pd.DataFrame:
    """Counts of what each said word was written as (rows: said, columns: written), from
    ``predictor.evaluate(..., return_details=True)``; the diagonal is right, the rest shows the confusions."""
    pairs = pd.DataFrame([(u["reference"], u["hypothesis"] or "(nothing)") for u in evaluation["utterances"]],
                         columns=["said", "written"])
    return pd.crosstab(pairs["said"], pairs["written"])


class RecordDataset:
    """The recording session: prompts, takes, the files written so far and the manifest."""

    def __init__(self, folder: str | Path, prompts=DEFAULT_PROMPTS, takes: int = DEFAULT_TAKES,
                 on_complete: Callable[[Path], None] | None = None):
        self.folder = Path(folder)
        self.on_complete = on_complete
        self.rows: list[dict] = []
        self.words = ui.Textarea(value=", ".join(prompts), description="Words", placeholder="yes, no, stop, …",
                                 layout=ui.Layout(width="380px", height="60px"))
        self.takes = ui.BoundedIntText(value=takes, min=1, max=30, description="Takes each",
                                       layout=ui.Layout(width="180px"))
        self.restart_button = ui.Button(description="Start over", icon="refresh",
                                        tooltip="Forget the takes recorded so far and use the words above")
        self.redo_button = ui.Button(description="Redo last take", icon="undo")
        self.recorder = Recorder(on_recorded=self.add_take)
        self.progress = ui.HTML()
        self.restart_button.on_click(lambda _button: self.restart())
        self.redo_button.on_click(lambda _button: self.redo())
        self.widget = ui.VBox([
            ui.HTML(CSS + "<h3>Record your own dataset</h3>"),
            ui.HTML(note("Choose 5–10 short words, then say the word shown, one take per recording: press "
                         "<b>Record</b>, say it, press <b>Stop</b>. Vary your voice a little between takes (louder, "
                         "softer, faster) so the model learns the word, not one recording of it.")),
            ui.HBox([self.words, self.takes, self.restart_button]), self.recorder,
            ui.HBox([self.redo_button]), self.progress])
        self.restart()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    @property
    def manifest(self) -> Path:
        return self.folder / "manifest.csv"

    @property
    def plan(self) -> list[tuple[str, int]]:
        return plan_takes(parse_prompts(self.words.value), int(self.takes.value))

    @property
    def complete(self) -> bool:
        return len(self.rows) >= len(self.plan)

    def restart(self) -> None:
        """Start a new recording session with the words and take count shown (files are overwritten)."""
        self.rows = []
        self._show()

    def add_take(self, samples: np.ndarray) -> Path | None:
        """Save ``samples`` (16 kHz) as the take asked for now; returns its file (None once all are done)."""
        if self.complete:
            self.progress.value = message("All takes are recorded: press Start over to record again.", "error")
            return None
        if len(samples) < 1600:  # under 0.1 s: a click of the button, not a word
            self.progress.value = message("That take was too short; say the word again.", "error")
            return None
        prompt, take = self.plan[len(self.rows)]
        path = write_wav(self.folder / "wav" / file_name(prompt, take), samples)
        test = int(self.takes.value) >= MIN_TAKES_FOR_TEST and take == int(self.takes.value)
        self.rows.append({"audio": f"wav/{path.name}", "text": prompt, "speaker": SPEAKER,
                          "split": "test" if test else "train"})
        self._write_manifest()
        self._show()
        if self.complete and self.on_complete is not None:
            self.on_complete(self.manifest)
        return path

    def redo(self) -> None:
        """Forget the latest take: the same word is asked for again."""
        if self.rows:
            self.rows.pop()
            self._write_manifest()
        self._show()

    def fill_from(self, source: str | Path) -> Path:
        """Headless runs: feed the recorder, take by take, with clips of each word from a manifest or corpus
        folder (the ``k``-th clip whose text is the word serves as take ``k``). Returns the manifest."""
        from autoasr import load_dataset

        clips: dict[str, list] = {}
        for utterance in load_dataset(source):
            clips.setdefault(utterance.text, []).append(utterance.audio)
        self.restart()
        for prompt, take in self.plan:
            if len(clips.get(prompt, [])) < take:
                raise ValueError(f"{source} has {len(clips.get(prompt, []))} clips of '{prompt}', {take} are needed")
            self.recorder.feed(clips[prompt][take - 1])
        return self.manifest

    def _write_manifest(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.manifest, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(self.rows)

    def _show(self) -> None:
        plan = self.plan
        done = len(self.rows)
        if not plan:
            self.recorder.prompt = ""
            self.progress.value = message("Type at least one word above.", "error")
            return
        if done < len(plan):
            prompt, take = plan[done]
            self.recorder.prompt = f"Say: “{escape(prompt)}” <small>(take {take} of {self.takes.value})</small>"
        else:
            self.recorder.prompt = "All takes recorded ✓"
        per_word = {prompt: sum(row["text"] == prompt for row in self.rows) for prompt in parse_prompts(self.words.value)}
        chips = " ".join(f"<span class='autoasr-chip'>{escape(word)} {count}/{self.takes.value}</span>"
                         for word, count in per_word.items())
        self.progress.value = note(f"{done} of {len(plan)} takes recorded, saved in <code>{escape(self.folder)}</code>"
                                   f"<br>{chips}")
