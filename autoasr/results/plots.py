"""Figure builders: a leaderboard or history DataFrame in, a plotly Figure out (no widgets here).

>>> figure = learning_curves(predictor.history())        # doctest: +SKIP
>>> figure.show()                                         # doctest: +SKIP
"""
from __future__ import annotations

import pandas
import plotly.express as px
import plotly.graph_objects as go

from autoasr.results.model_costs import pareto_front

WER_AXIS = {"tickformat": ".0%", "rangemode": "tozero"}


def learning_curves(history: pandas.DataFrame, metric: str = "val_wer") -> go.Figure:
    """Validation WER per epoch, one line per trial."""
    if history.empty:
        return go.Figure(layout={"title": "Learning curves (no epochs yet)"})
    frame = history.assign(trial=history["trial_id"] + " " + history["model"])
    figure = px.line(frame, x="epoch", y=metric, color="trial", markers=True,
                     title="Learning curves: validation WER per epoch",
                     labels={metric: "validation WER", "epoch": "epoch"})
    figure.update_yaxes(**WER_AXIS)
    return figure


def search_race(history: pandas.DataFrame) -> go.Figure:
    """Best validation WER found so far against seconds since the search started."""
    if history.empty:
        return go.Figure(layout={"title": "Search progress (no results yet)"})
    frame = history.sort_values("time")
    frame = frame.assign(seconds=frame["time"] - frame["time"].min() + frame["epoch_seconds"].iloc[0],
                         best_so_far=frame["val_wer"].cummin())
    figure = px.line(frame, x="seconds", y="best_so_far", line_shape="hv", markers=True,
                     hover_data=["trial_id", "model", "epoch", "val_wer"],
                     title="Search race: best validation WER so far",
                     labels={"seconds": "seconds into the search", "best_so_far": "best validation WER"})
    figure.add_scatter(x=frame["seconds"], y=frame["val_wer"], mode="markers", name="each evaluation",
                       marker={"size": 5, "opacity": 0.4})
    figure.update_yaxes(**WER_AXIS)
    return figure


def wer_vs_training_time(leaderboard: pandas.DataFrame) -> go.Figure:
    """Each finished trial as a point: training seconds against validation WER, sized by parameters."""
    # a trial cut off mid-way (an interrupted run, reopened) has a model but no measured time or size
    finished = leaderboard[leaderboard["status"] == "ok"].dropna(subset=["train_seconds", "parameters"])
    figure = px.scatter(finished, x="train_seconds", y="val_wer", color="model", size="parameters",
                        hover_data=["trial_id", "size", "epochs"], size_max=30,
                        title="Validation WER against training time",
                        labels={"train_seconds": "training seconds", "val_wer": "validation WER"})
    figure.update_yaxes(**WER_AXIS)
    return figure


# cost column: (axis label, what the title calls it)
COST_LABELS = {"parameters": ("parameters", "model size"),
               "latency_ms": ("latency per utterance (ms, 1 CPU thread)", "latency"),
               "size_mb": ("model size (MB)", "model size"), "rtf": ("real-time factor", "real-time factor")}


def wer_vs_cost(leaderboard: pandas.DataFrame, cost: str = "latency_ms") -> go.Figure:
    """Validation WER against a cost of using the model, with the Pareto front through the best trade-offs."""
    finished = leaderboard[(leaderboard["status"] == "ok") & leaderboard[cost].notna()]
    label, noun = COST_LABELS.get(cost, (cost, cost))
    figure = px.scatter(finished, x=cost, y="val_wer", color="model", log_x=True,
                        hover_data=["trial_id", "size", "decoder"], title=f"Validation WER against {noun}",
                        labels={cost: label, "val_wer": "validation WER"})
    front = pareto_front(leaderboard, cost)
    if not front.empty:
        figure.add_scatter(x=front[cost], y=front["val_wer"], mode="lines", name="Pareto front",
                           line={"dash": "dot", "color": "black"})
    figure.update_yaxes(**WER_AXIS)
    return figure


def wer_vs_size(leaderboard: pandas.DataFrame) -> go.Figure:
    """Validation WER against parameter count, with the Pareto front drawn through the best trade-offs."""
    return wer_vs_cost(leaderboard, "parameters")


def error_breakdown(results: dict[str, dict]) -> go.Figure:
    """Substitutions, deletions and insertions per model, from ``evaluate`` results keyed by name."""
    rows = [{"model": name, "kind": kind, "count": result.get(kind, 0)}
            for name, result in results.items() for kind in ("substitutions", "deletions", "insertions")]
    return px.bar(pandas.DataFrame(rows), x="model", y="count", color="kind", barmode="stack",
                  title="Word errors by kind")


def hyperparameters(leaderboard: pandas.DataFrame) -> go.Figure:
    """Parallel coordinates of the searched settings, coloured by validation WER."""
    finished = leaderboard[leaderboard["status"] == "ok"]
    settings = pandas.DataFrame(list(finished["config"])).reset_index(drop=True)
    frame = settings.assign(val_wer=finished["val_wer"].to_numpy())
    dimensions = []
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object:
            categories = sorted(values.astype(str).unique())
            dimensions.append({"label": column, "values": values.astype(str).map(categories.index),
                               "tickvals": list(range(len(categories))), "ticktext": categories})
        else:
            dimensions.append({"label": column, "values": values})
    figure = go.Figure(go.Parcoords(line={"color": frame["val_wer"], "colorscale": "Viridis_r", "showscale": True},
                                    dimensions=dimensions))
    figure.update_layout(title="Searched settings (colour: validation WER)")
    return figure
