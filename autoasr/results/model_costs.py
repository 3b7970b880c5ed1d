"""What a model costs to use — latency on one utterance, real-time factor, size — and choosing under limits.

Latency is measured the way a deployed recogniser meets audio: one utterance at a time, features,
network and decoder included, on one CPU thread (so figures compare across trials and machines
with more cores only get faster). The clip is a typical utterance of the run's own tuning data.

>>> costs = measure_inference_cost(model, clip)                          # doctest: +SKIP
>>> costs                                                                 # doctest: +SKIP
{'latency_ms': 4.1, 'rtf': 0.0026, 'size_mb': 0.61}
>>> best_within(predictor.leaderboard(), max_latency_ms=10)               # doctest: +SKIP
'004'
"""
from __future__ import annotations

import statistics
import time

import numpy as np
import pandas
import torch

LATENCY_REPEATS = 5
COST_COLUMNS = ("latency_ms", "rtf", "size_mb")


def weights_megabytes(network: torch.nn.Module) -> float:
    """Size of the network's weights as stored (safetensors holds the tensors and a small header)."""
    return sum(t.numel() * t.element_size() for t in network.state_dict().values()) / 1e6


def measure_inference_cost(model, clip: np.ndarray, repeats: int = LATENCY_REPEATS) -> dict:
    """Median latency (ms) to transcribe ``clip`` (16 kHz samples) alone on one thread, its RTF and the model size.

    ``model`` is an :class:`autoasr.inference.model.TrainedModel` (with its chosen decoder) or a pretrained
    recognizer (:mod:`autoasr.inference.recognizers`).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.transcribe([clip])  # first call warms up allocations and the decoder
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            model.transcribe([clip])
            timings.append(time.perf_counter() - started)
    finally:
        torch.set_num_threads(threads)
    latency = statistics.median(timings)
    duration = max(len(clip) / model.sample_rate, 1e-9)
    if hasattr(model, "weights_megabytes"):  # a pretrained recognizer used as it is sizes its own model
        size = model.weights_megabytes()
    else:  # a frozen pretrained encoder is part of the model a user deploys, though it is stored beside the head
        encoder = getattr(model.frontend.transform, "encoder_module", None)
        size = weights_megabytes(model.network) + (weights_megabytes(encoder) if encoder is not None else 0.0)
    return {"latency_ms": round(latency * 1000, 2), "rtf": round(latency / duration, 5), "size_mb": round(size, 3)}


def within_limits(leaderboard: pandas.DataFrame, max_latency_ms: float | None = None,
                  max_size_mb: float | None = None) -> pandas.Series:
    """True for finished trials whose measured costs keep to the limits (an unmeasured cost never does)."""
    keep = leaderboard["status"] == "ok"
    for column, limit in (("latency_ms", max_latency_ms), ("size_mb", max_size_mb)):
        if limit is not None:
            keep &= pandas.to_numeric(leaderboard[column], errors="coerce").le(limit)
    return keep


def best_within(leaderboard: pandas.DataFrame, max_latency_ms: float | None = None,
                max_size_mb: float | None = None) -> str | None:
    """The trial with the lowest tuning WER among those within the limits (None when none is)."""
    allowed = leaderboard[within_limits(leaderboard, max_latency_ms, max_size_mb)]
    if allowed.empty:
        return None
    # at equal WER a single model beats an ensemble (autoasr.search.ensemble_row): as accurate, smaller, faster;
    # a refit on all data beats its parent and the rows tied with it: it is the one the search chose among them
    # (autoasr.search.refit). The same order as TrialBook.refresh_best's, so select_best() keeps the fit's choice
    refit = allowed["config"].map(lambda c: isinstance(c, dict) and bool(c.get("refit"))) if "config" in allowed else False
    allowed = allowed.assign(_ensemble=allowed["model"] == "ensemble", _not_refit=~pandas.Series(refit, index=allowed.index))
    order = ["val_wer", "_ensemble", "_not_refit", "val_cer", "start_time"]
    return str(allowed.sort_values(order).iloc[0]["trial_id"])


def pareto_front(leaderboard: pandas.DataFrame, cost: str = "latency_ms") -> pandas.DataFrame:
    """Finished trials no other trial beats on both WER and ``cost`` (lower is better for both), cheapest first."""
    finished = leaderboard[(leaderboard["status"] == "ok") & leaderboard[cost].notna()].sort_values([cost, "val_wer"])
    front, best = [], float("inf")
    for _, row in finished.iterrows():
        if row["val_wer"] < best:
            front.append(row)
            best = row["val_wer"]
    return pandas.DataFrame(front, columns=leaderboard.columns)
