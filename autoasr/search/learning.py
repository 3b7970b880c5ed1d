"""Families that cannot learn in their share: a trial that never read a tuning word right (still in the CTC
blank phase when its time ran out or it was pruned) marks its model family, and the next trial of that family
gets a configuration that learns faster; a family that stalled twice is not started again.

On the demo corpus (180 s) 5 of 9 trials were CRNN/Conformer runs that never emitted a word: ~40% of the
budget bought nothing (issue 14). A CTC model leaves the blank phase after a number of updates, so a
faster-learning configuration makes more updates per second (a smaller network, batches of 16) and larger
ones (a higher rate, still warmed up over the first 30 steps).
"""
from __future__ import annotations

# families trained from scratch; a pretrained encoder's size names the encoder, and its rate protects it
TRAINED_FROM_SCRATCH = ("crnn", "conformer", "convnet")
SMALLER = {"medium": "small", "small": "tiny", "tiny": "tiny"}
FASTER_RATE_FACTOR, FASTEST_RATE = 2.0, 5e-3
FASTER_BATCH_SIZE = 16
MAX_STALLED_PER_FAMILY = 2  # after this many trials that learned nothing the family is replaced


def learned_nothing(record: dict) -> bool:
    """True for a finished fresh trial that evaluated at least once and never read one tuning word right."""
    history = record.get("history") or []
    if record.get("status") == "running" or not history or record.get("config", {}).get("continued_from"):
        return False
    return min(row["val_wer"] for row in history) >= 1.0 - 1e-9


def faster_learning(config: dict, records: list[dict]) -> dict:
    """``config`` as the search should train it given the finished ``records``: unchanged unless earlier
    trials of its model family learned nothing. After one such trial it gets a smaller size, a doubled rate
    (at most 5e-3) and batches of 16; after two, the family of the best trial that learned replaces it
    (the other sampled settings kept), since the faster configuration did not help either.

    >>> stalled = {"status": "ok", "config": {"model": "crnn"}, "history": [{"val_wer": 1.0}]}
    >>> faster_learning({"model": "crnn", "size": "small", "learning_rate": 2e-3, "batch_size": 32}, [stalled])
    {'model': 'crnn', 'size': 'tiny', 'learning_rate': 0.004, 'batch_size': 16}
    """
    family = config.get("model")
    if family not in TRAINED_FROM_SCRATCH:
        return config
    stalled = [r for r in records if r.get("config", {}).get("model") == family and learned_nothing(r)]
    if not stalled:
        return config
    if len(stalled) >= MAX_STALLED_PER_FAMILY:
        learners = [r for r in records if r.get("status") == "ok" and r.get("history") and not learned_nothing(r)
                    and r["config"].get("model") in TRAINED_FROM_SCRATCH]
        if learners:
            best = min(learners, key=lambda r: (r["val_wer"], r.get("val_cer", 1.0)))
            return {**config, "model": best["config"]["model"]}
    return {**config, "size": SMALLER.get(config.get("size"), config.get("size")),
            "learning_rate": min(float(config["learning_rate"]) * FASTER_RATE_FACTOR, FASTEST_RATE),
            "batch_size": min(int(config.get("batch_size", 32)), FASTER_BATCH_SIZE)}
