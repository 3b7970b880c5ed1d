from __future__ import annotations

LEADERBOARD_COLUMNS = ["trial_id", "model", "size", "val_wer", "val_cer", "status", "decoder", "latency_ms", "rtf",
                       "size_mb", "epochs", "best_epoch",
                       "parameters", "train_seconds", "eval_seconds", "start_time", "end_time", "stop_reason",
                       "config", "error"]
def _limits(max_latency_ms: float | None, max_size_mb: float | None) -> dict:
    limits = {"max_latency_ms": max_latency_ms, "max_size_mb": max_size_mb}
    for name, value in limits.items():
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be a positive number, not {value!r}")
    return {name: float(value) for name, value in limits.items() if value is not None}
def _describe_limits(limits: dict) -> str:
    units = {"max_latency_ms": "ms latency", "max_size_mb": "MB"}
    return " and ".join(f"{value:g} {units[name]}" for name, value in limits.items()) or "no limits"
