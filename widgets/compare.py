"""Step 4b: the trials compared in plots (pure figure builders from ``autoasr.results.plots``, shown as widgets)."""
from __future__ import annotations

import ipywidgets as ui
import plotly.graph_objects as go

from autoasr.results import plots
from widgets.session import Session
from widgets.style import message, note

MODELS_IN_BREAKDOWN = 3

EXPLANATIONS = {
    "race": "How the best WER improved as the search went on: flat stretches are time the search did not pay off.",
    "curves": "Each line is one trial; lines that stop early were stopped (plateau or worse than the median).",
    "time": "Lower-left is best: good models that trained quickly. Bigger dots are bigger models.",
    "size": "The dotted Pareto front joins the trials no other trial beats on both speed and WER: pick along it "
            "when a fast model matters (the leaderboard's latency limit picks for you).",
    "settings": "Each line is a trial through its settings, coloured by WER: look for settings the good (dark) "
                "lines share.",
    "breakdown": "Errors on the test set by kind: substitutions (a wrong word), deletions (a missed word), "
                 "insertions (an extra word). WER = (S + D + I) / number of reference words.",
}


def comparison_figures(session: Session) -> list[tuple[str, go.Figure]]:
    """(key, figure) pairs for the session's finished search."""
    predictor = session.predictor
    board, history = predictor.leaderboard(), predictor.history()
    figures = [("race", plots.search_race(history)), ("curves", plots.learning_curves(history))]
    if (board["status"] == "ok").any():
        cost = "latency_ms" if board["latency_ms"].notna().any() else "parameters"  # runs saved before latency was timed
        figures += [("time", plots.wer_vs_training_time(board)), ("size", plots.wer_vs_cost(board, cost)),
                    ("settings", plots.hyperparameters(board))]
    if session.test is not None:
        results = {}
        for trial_id in session.finished_trials()[:MODELS_IN_BREAKDOWN]:
            row = board[board["trial_id"] == trial_id].iloc[0]
            results[f"{trial_id} {row['model']}"] = session.evaluation(trial_id)
        if results:
            figure = plots.error_breakdown(results)
            figure.update_layout(title="Word errors by kind on the test set")
            figures.append(("breakdown", figure))
    return figures


class ComparePanel:
    """The comparison plots, rebuilt when a search finishes."""

    def __init__(self, session: Session):
        self.session = session
        self.figures: dict[str, go.FigureWidget] = {}
        self.box = ui.VBox([ui.HTML("<i>The plots appear when a search has finished.</i>")])
        session.on("results", lambda predictor: self.refresh())
        self.widget = ui.VBox([ui.HTML("<h3>Compare the models</h3>"), self.box])
        if session.predictor is not None:  # built around finished results (a notebook)
            self.refresh()

    def refresh(self) -> None:
        if self.session.predictor is None:
            return
        children, self.figures = [], {}
        try:
            built = comparison_figures(self.session)
        except Exception as error:
            self.box.children = [ui.HTML(message(f"Could not draw the comparison: {type(error).__name__}: {error}",
                                                 "error"))]
            return
        cards = {}
        for key, figure in built:
            wide = key == "settings"
            figure.update_layout(height=380 if wide else 420, width=1060 if wide else 530,
                                 margin={"l": 60, "r": 20, "t": 100 if wide else 50, "b": 45 if wide else 110})
            if not wide:  # legends below the plot leave the narrow plots their width
                figure.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0})
            widget = go.FigureWidget(figure)
            self.figures[key] = widget
            cards[key] = ui.VBox([widget, ui.HTML(note(EXPLANATIONS[key]))],
                                 layout=ui.Layout(width="1080px" if wide else "540px"))
        rows = [["race", "curves"], ["time", "size"], ["settings"], ["breakdown"]]
        for row in rows:
            present = [cards[key] for key in row if key in cards]
            if present:
                children.append(ui.HBox(present))
        self.box.children = children
