"""Step 5: listen to each test clip and see where the model went wrong, word by word (jiwer alignments).

The alignment is data (``aligned_words``); colouring it is separate (``alignment_html``).

>>> aligned_words("go left now", "go lift")
[('equal', 'go', 'go'), ('substitute', 'left', 'lift'), ('delete', 'now', None)]
"""
from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import ipywidgets as ui
import jiwer
import pandas

from widgets.session import Session
from widgets.style import escape, note, percent, table

# ui.Audio's format becomes the MIME subtype (audio/<format>) the browser plays it as.
AUDIO_FORMATS = {".wav": "wav", ".flac": "flac", ".ogg": "ogg", ".oga": "ogg", ".opus": "ogg", ".mp3": "mpeg",
                 ".m4a": "mp4", ".mp4": "mp4", ".aac": "aac", ".webm": "webm"}


def aligned_words(reference: str, hypothesis: str) -> list[tuple[str, str | None, str | None]]:
    """(kind, reference word, hypothesis word) per aligned position; kind is equal/substitute/delete/insert."""
    if not reference.split():
        return [("insert", None, word) for word in hypothesis.split()]
    output = jiwer.process_words(reference, hypothesis)
    reference_words, hypothesis_words = output.references[0], output.hypotheses[0]
    pairs = []
    for chunk in output.alignments[0]:
        kind = chunk.type
        if kind in ("equal", "substitute"):
            for offset in range(chunk.ref_end_idx - chunk.ref_start_idx):
                pairs.append((kind, reference_words[chunk.ref_start_idx + offset],
                              hypothesis_words[chunk.hyp_start_idx + offset]))
        elif kind == "delete":
            pairs += [(kind, word, None) for word in reference_words[chunk.ref_start_idx:chunk.ref_end_idx]]
        else:
            pairs += [(kind, None, word) for word in hypothesis_words[chunk.hyp_start_idx:chunk.hyp_end_idx]]
    return pairs


def alignment_html(reference: str, hypothesis: str) -> str:
    """Reference above hypothesis, one column per aligned word, coloured by the kind of error."""
    pairs = aligned_words(reference, hypothesis)
    if not pairs:
        return "<i>(empty reference and hypothesis)</i>"
    top = "".join(f"<td class='{kind}'>{escape(ref) if ref is not None else '&nbsp;'}</td>" for kind, ref, _ in pairs)
    bottom = "".join(f"<td class='{kind}'>{escape(hyp) if hyp is not None else '&nbsp;'}</td>" for kind, _, hyp in pairs)
    return (f"<table class='autoasr-align'><tr><td class='label'>reference</td>{top}</tr>"
            f"<tr><td class='label'>model heard</td>{bottom}</tr></table>")


def utterance_table(utterances: list[dict]) -> pandas.DataFrame:
    """Per utterance: audio, speaker, reference, hypothesis, word errors, reference words, WER."""
    rows = []
    for position, utterance in enumerate(utterances):
        pairs = aligned_words(utterance["reference"], utterance["hypothesis"])
        errors = sum(kind != "equal" for kind, _, _ in pairs)
        words = max(len(utterance["reference"].split()), 1)
        rows.append({**utterance, "position": position, "errors": errors, "words": words, "wer": errors / words})
    return pandas.DataFrame(rows, columns=["position", "audio", "speaker", "reference", "hypothesis", "errors",
                                           "words", "wer"])


def worst_speakers(utterances: list[dict], top: int = 5) -> pandas.DataFrame:
    """Speakers with the highest WER (errors over reference words across their utterances)."""
    frame = utterance_table(utterances)
    if frame.empty:
        return pandas.DataFrame(columns=["speaker", "utterances", "wer"])
    frame["speaker"] = frame["speaker"].fillna("(unknown)")
    grouped = frame.groupby("speaker").agg(utterances=("wer", "size"), errors=("errors", "sum"), words=("words", "sum"))
    grouped["wer"] = grouped["errors"] / grouped["words"]
    return grouped.reset_index().sort_values(["wer", "utterances"], ascending=[False, False]).head(top)[
        ["speaker", "utterances", "wer"]]


def worst_words(utterances: list[dict], top: int = 10) -> pandas.DataFrame:
    """Reference words most often missed or replaced, with what the model wrote instead."""
    said, missed = Counter(), Counter()
    heard_as: dict[str, Counter] = defaultdict(Counter)
    for utterance in utterances:
        for kind, reference, hypothesis in aligned_words(utterance["reference"], utterance["hypothesis"]):
            if reference is None:
                continue
            said[reference] += 1
            if kind != "equal":
                missed[reference] += 1
                heard_as[reference][hypothesis if hypothesis is not None else "(nothing)"] += 1
    rows = [{"word": word, "said": said[word], "errors": count, "error_rate": count / said[word],
             "often_heard_as": ", ".join(h for h, _ in heard_as[word].most_common(3))}
            for word, count in missed.items()]
    frame = pandas.DataFrame(rows, columns=["word", "said", "errors", "error_rate", "often_heard_as"])
    return frame.sort_values(["errors", "error_rate"], ascending=False).head(top)


def audio_widget(path: str | Path) -> ui.Audio:
    path = Path(path)
    return ui.Audio(value=path.read_bytes(), format=AUDIO_FORMATS.get(path.suffix.lower(), "wav"), autoplay=False,
                    controls=True, loop=False)


class ErrorExplorer:
    """Pick a model and an utterance; hear it; see reference vs hypothesis aligned; worst speakers and words."""

    def __init__(self, session: Session):
        self.session = session
        self.model = ui.Dropdown(description="Model", options=[], layout=ui.Layout(width="360px"))
        self.only_errors = ui.Checkbox(value=True, description="only utterances with errors")
        self.utterance = ui.Select(options=[], rows=8, layout=ui.Layout(width="620px"), description="Utterance")
        self.player = ui.Box()
        self.alignment = ui.HTML()
        self.overview = ui.HTML("<i>Errors can be explored once a search has finished and the data has a test set.</i>")
        self.speakers = ui.HTML()
        self.words = ui.HTML()
        self.frame = utterance_table([])
        self.model.observe(self._on_model, names="value")
        self.only_errors.observe(self._fill_utterances, names="value")
        self.utterance.observe(self._on_utterance, names="value")
        session.on("results", lambda predictor: self.refresh())
        legend = note("<span class='autoasr-align'><span class='substitute'>&nbsp;substituted&nbsp;</span> "
                      "<span class='delete'>&nbsp;deleted&nbsp;</span> <span class='insert'>&nbsp;inserted&nbsp;</span></span>"
                      " — the alignment is computed by jiwer, the same way WER counts errors.")
        self.widget = ui.VBox([
            ui.HTML("<h3>Error explorer</h3>"), self.overview, ui.HBox([self.model, self.only_errors]),
            self.utterance, self.player, self.alignment, ui.HTML(legend),
            ui.HBox([ui.VBox([ui.HTML("<b>Hardest speakers</b>"), self.speakers], layout=ui.Layout(margin="0 40px 0 0")),
                     ui.VBox([ui.HTML("<b>Most missed words</b>"), self.words])])])
        if session.predictor is not None:  # built around finished results (a notebook)
            self.refresh()

    def refresh(self) -> None:
        trials = self.session.finished_trials()
        board = self.session.predictor.leaderboard() if self.session.predictor is not None else None
        labels = []
        for trial_id in trials:
            row = board[board["trial_id"] == trial_id].iloc[0]
            labels.append((f"{trial_id} {row['model']} {row['size']} (val WER {percent(row['val_wer'])})", trial_id))
        self.model.options = labels
        if trials:
            self.model.value = self.session.predictor.best_trial_id if self.session.predictor.best_trial_id in trials \
                else trials[0]
            self._on_model()

    def _on_model(self, change=None) -> None:
        if not self.model.value:
            return
        evaluation = self.session.evaluation(self.model.value)
        if evaluation is None:
            self.overview.value = note("This data has no test set, so there is nothing to explore.")
            return
        utterances = evaluation["utterances"]
        self.frame = utterance_table(utterances)
        self.overview.value = note(
            f"On {evaluation['num_utterances']} test utterances this model has WER <b>{percent(evaluation['wer'])}</b> "
            f"(CER {percent(evaluation['cer'])}): {evaluation['substitutions']} substitutions, "
            f"{evaluation['deletions']} deletions, {evaluation['insertions']} insertions; "
            f"{int((self.frame['errors'] > 0).sum())} utterances have at least one error.")
        speakers = worst_speakers(utterances)
        self.speakers.value = table(["speaker", "utterances", "WER"],
                                    [[escape(r.speaker), str(r.utterances), percent(r.wer)] for r in speakers.itertuples()])
        words = worst_words(utterances)
        self.words.value = table(["word", "said", "errors", "often heard as"],
                                 [[escape(r.word), str(r.said), str(r.errors), escape(r.often_heard_as)]
                                  for r in words.itertuples()]) if not words.empty else "<i>none</i>"
        self._fill_utterances()

    def _fill_utterances(self, change=None) -> None:
        frame = self.frame
        if self.only_errors.value:
            frame = frame[frame["errors"] > 0]
        frame = frame.sort_values(["wer", "position"], ascending=[False, True])
        self.utterance.options = [(f"{Path(r.audio).name} · {r.speaker or ''} · WER {percent(r.wer)} · "
                                   f"“{r.reference}” → “{r.hypothesis}”", int(r.position)) for r in frame.itertuples()]
        if self.utterance.options:
            self.utterance.value = self.utterance.options[0][1]
        else:
            self.player.children, self.alignment.value = [], "<i>No utterances to show.</i>"

    def _on_utterance(self, change=None) -> None:
        if self.utterance.value is None:
            return
        row = self.frame[self.frame["position"] == self.utterance.value].iloc[0]
        try:
            self.player.children = [audio_widget(row["audio"])]
        except OSError:
            self.player.children = []
        self.alignment.value = alignment_html(row["reference"], row["hypothesis"])
