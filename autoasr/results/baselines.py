"""Off-the-shelf recognizers scored on the same test data as the trained models: what training bought.

PocketSphinx (``pip install pocketsphinx``) bundles a US-English acoustic model and dictionary. For a
closed vocabulary (digits, commands) it is given a grammar of the words the test data uses, which is
the fairest setting for it; for open vocabulary it uses its bundled English language model.

>>> row = pocketsphinx_baseline(test, domain="digits")                     # doctest: +SKIP
>>> row["model"], round(row["test_wer"], 2)                               # doctest: +SKIP
('pocketsphinx', 0.45)
>>> leaderboard_with_baselines(predictor, test)                            # doctest: +SKIP
"""
from __future__ import annotations

import time

from autoasr.inference.recognizers import (  # noqa: F401  (kept importable from here, where it began)
    RECOGNIZER_RATE as POCKETSPHINX_RATE,
)
from autoasr.inference.recognizers import PocketSphinxRecognizer, pocketsphinx_available  # noqa: F401


def pocketsphinx_baseline(data, domain: str = "general", closed_vocabulary: bool | None = None) -> dict:
    """A leaderboard-style row for PocketSphinx on ``data`` (a Dataset or a manifest path: its test split).

    ``closed_vocabulary`` (default: for every domain but ``general``) limits PocketSphinx to the words
    of the references, as a trained model of a closed domain is limited to its training words.
    """
    from autoasr.core.metrics import error_rates
    from autoasr.data.dataset import Dataset
    from autoasr.data.load import load_dataset
    from autoasr.domains.presets import get_domain

    dataset = data if isinstance(data, Dataset) else load_dataset(data, domain=get_domain(domain).normalizer)
    if not isinstance(data, Dataset) and any(u.split == "test" for u in dataset):
        dataset = dataset.with_split("test")
    closed = domain != "general" if closed_vocabulary is None else closed_vocabulary
    words = sorted({word for text in dataset.texts for word in text.split()}) if closed else None
    recognizer = PocketSphinxRecognizer(words=words)
    started = time.perf_counter()
    hypotheses = recognizer.transcribe([u.audio for u in dataset])
    seconds = time.perf_counter() - started
    rates = error_rates(dataset.texts, hypotheses)
    audio_seconds = sum(u.duration or 0 for u in dataset)
    return {
        "trial_id": "baseline-pocketsphinx", "model": "pocketsphinx", "size": "pretrained en-us",
        "status": "baseline", "test_wer": rates["wer"], "test_cer": rates["cer"],
        "num_utterances": rates["num_utterances"], "real_time_factor": seconds / max(audio_seconds, 1e-9),
        "config": {"vocabulary": "closed (grammar of the reference words)" if closed else "open (bundled LM)",
                   "words": recognizer.words, "words_missing_from_dictionary": recognizer.unknown_words},
    }


def leaderboard_with_baselines(predictor, test_data, baselines=("pocketsphinx",)):
    """The predictor's best model scored on ``test_data`` beside off-the-shelf baselines (one row each)."""
    import pandas

    from autoasr.data.dataset import Dataset
    from autoasr.data.load import load_dataset

    dataset = test_data if isinstance(test_data, Dataset) else load_dataset(
        test_data, domain=predictor.domain_spec.normalizer)
    if not isinstance(test_data, Dataset) and any(u.split == "test" for u in dataset):
        dataset = dataset.with_split("test")
    best = predictor.leaderboard().iloc[0].to_dict()
    result = predictor.evaluate(dataset)
    rows = [{"trial_id": best["trial_id"], "model": best["model"], "size": best["size"], "status": "trained",
             "val_wer": best.get("val_wer"), "test_wer": result["wer"], "test_cer": result["cer"],
             "num_utterances": result["num_utterances"], "real_time_factor": result["real_time_factor"],
             "config": best.get("config")}]
    for name in baselines:
        if name != "pocketsphinx":
            raise ValueError(f"unknown baseline '{name}' (available: pocketsphinx)")
        rows.append(pocketsphinx_baseline(dataset, domain=predictor.domain))
    return pandas.DataFrame(rows).sort_values("test_wer").reset_index(drop=True)
