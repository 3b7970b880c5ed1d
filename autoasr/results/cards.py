"""Model card and run card: how a saved model was made, what it is for, how to reproduce the run.

Written by :meth:`ASRPredictor.save` into the run folder::

    MODEL_CARD.md      for people: data, budget, search, chosen model, scores, hardware, use and limits
    model_card.json    the same facts as data (for tools, dashboards, notebook 05)
    run_card.json      data fingerprints, seeds, package versions, hardware: what a rerun must match

>>> card = build_model_card(ASRPredictor.load("runs/digits"))              # doctest: +SKIP
>>> card["metrics"]["validation"]                                         # doctest: +SKIP
{'wer': 0.04, 'cer': 0.02}
"""
from __future__ import annotations

import json
import math
import platform
import sys
import time
import warnings
from importlib import metadata as package_metadata
from pathlib import Path

from autoasr.core.resources import machine
from autoasr.core.storage import read_json, write_json, write_text
from autoasr.training.trial import BOOKKEEPING_KEYS

MODEL_CARD_MD = "MODEL_CARD.md"
MODEL_CARD_JSON = "model_card.json"
RUN_CARD_JSON = "run_card.json"
EVALUATIONS_JSON = "evaluations.json"
CARD_FORMAT_VERSION = 1
TRACKED_PACKAGES = ("autoasr", "torch", "torchaudio", "autogluon.core", "numpy", "pandas", "jiwer", "soundfile",
                    "safetensors", "onnx", "onnxruntime", "plotly")

INTENDED_USE = {
    "digits": "Transcribing spoken digits and digit strings (PINs, phone numbers, codes) in the language, "
              "recording conditions and kinds of speakers of the training data.",
    "commands": "Recognising short voice commands from the closed vocabulary seen in training.",
    "general": "Transcribing speech similar to the training data (language, vocabulary, microphones, speakers).",
}

LIMITATIONS = [
    "Trained from scratch on the given data only: words, accents, noise and microphones absent from it are "
    "likely to be misrecognised.",
    "Character-level CTC with greedy decoding and no language model: spelling errors within words occur.",
    "Scores were measured on the data named in this card; they do not carry over to other recordings.",
    "Recordings longer than 20 s are cut at pauses (energy-based voice activity detection); continuous "
    "speech without pauses is cut at its quietest points.",
    "Not suitable for decisions about people (identity, health, hiring) or for safety-critical control.",
]


# the card's words for a pretrained recognizer used as it is (autoasr.inference.recognizers)
RECOGNIZER_DESCRIPTION = ("a pretrained recognizer used as it is, without training (what you would get without "
                          "training), scored on the tuning set like every trial; its model.json names where its "
                          "model comes from instead of holding its weights")


def _training_line(model: dict) -> str:
    if model.get("stop_reason") == "zero-shot":
        return "Used as it is: not trained on this data."
    if model.get("note"):  # a refit on all data: its validation scores are its parent's (autoasr.search.refit)
        return f"Frontend `{model.get('frontend')}`; {model['note']}."
    return (f"Frontend `{model.get('frontend')}`; trained {model.get('epochs')} epochs (best epoch "
            f"{model.get('best_epoch')}, stopped by {model.get('stop_reason')}).")

def _clean(value):
    """JSON-safe: NaN and infinities become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def package_versions(packages=TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages a model depends on (None when absent)."""
    versions = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def hardware_summary() -> dict:
    """The machine this ran on: CPU, cores, memory, GPU."""
    summary = {"platform": platform.platform(), "machine": platform.machine(),
               "processor": platform.processor() or None}
    usable = machine()  # what this process could use (container limits), which is what speed depends on
    summary["cpu_cores"], summary["memory_gb"] = usable.cores, round(usable.memory_bytes / 2**30, 1)
    try:
        import torch

        summary["torch_threads"] = torch.get_num_threads()
        summary["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:
        summary["gpu"] = None
    return summary


def _saved_run(predictor) -> dict:
    path = Path(predictor.path) / "predictor.json"
    return read_json(path) if path.is_file() else {}


def _evaluations(predictor) -> list[dict]:
    path = Path(predictor.path) / EVALUATIONS_JSON
    return read_json(path) if path.is_file() else []


def build_model_card(predictor) -> dict:
    """The model card of a predictor's best model, as JSON-ready data."""
    from autoasr.domains.presets import get_domain
    from autoasr.models.registry import MODEL_FAMILIES

    saved = _saved_run(predictor)
    leaderboard = predictor.leaderboard()
    best = predictor.trials.get(predictor.best_trial_id, {}) if predictor.best_trial_id else {}
    config = {k: v for k, v in best.get("config", {}).items() if k not in BOOKKEEPING_KEYS}
    family = MODEL_FAMILIES.get(config.get("model", ""))
    # the fit wrote what it searched into predictor.json: the card reports it without knowing the presets
    space, preset_description = saved.get("search_space") or {}, saved.get("presets_description")
    data = saved.get("data", {})
    evaluations = [e for e in _evaluations(predictor) if e.get("model") in (None, predictor.best_trial_id)]
    summary = dict(predictor.fit_summary or saved.get("fit_summary") or {})
    columns = [c for c in ("trial_id", "model", "size", "val_wer", "val_cer", "status", "decoder", "latency_ms",
                           "size_mb", "epochs", "parameters", "train_seconds") if c in leaderboard.columns]
    top = leaderboard[columns].head(5).to_dict(orient="records") if len(leaderboard) else []
    try:
        domain = get_domain(predictor.domain)
        domain_description = domain.description
    except ValueError:
        domain_description = None
    card = {
        "card_format_version": CARD_FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "run": str(predictor.path),
        "domain": {"name": predictor.domain, "description": domain_description},
        "model": {
            "trial_id": predictor.best_trial_id, "family": config.get("model"), "size": config.get("size"),
            "description": family.description if family else (
                RECOGNIZER_DESCRIPTION if best.get("recognizer") else None),
            "parameters": best.get("parameters"),
            "frontend": config.get("frontend", "its own" if best.get("recognizer") else "logmel"), "config": config,
            "vocabulary": list(predictor.vocabulary.symbols) if predictor.vocabulary else None,
            "epochs": best.get("epochs"), "best_epoch": best.get("best_epoch"), "stop_reason": best.get("stop_reason"),
            "note": best.get("note"),
            "latency_ms": best.get("latency_ms"), "real_time_factor": best.get("rtf"), "size_mb": best.get("size_mb"),
            "limits": dict(predictor.limits) or None,
            "files": ["best/model.json"] + ([] if best.get("recognizer") or best.get("ensemble")
                                            else ["best/model.safetensors"]),
        },
        "data": {"train": data.get("train"), "tuning": data.get("tuning"),
                 "skipped_rows": len(data.get("skipped_rows", []) or [])},
        "pretrained": (summary.get("pretrained") or {}).get("listener"),
        "budget": {"time_limit_seconds": summary.get("time_limit", saved.get("time_limit")),
                   "fit_seconds": summary.get("fit_seconds"), "trials": summary.get("trials", len(leaderboard)),
                   "trials_ok": summary.get("trials_ok"), "stopped_by_user": summary.get("stopped_by_user")},
        "search": {"presets": predictor.presets, "description": preset_description, "space": space,
                   "leaderboard_top": top},
        "metrics": {
            "validation": {"wer": best.get("val_wer"), "cer": best.get("val_cer"),
                           "data": (data.get("tuning") or {}).get("name")},
            "test": ({key: evaluations[-1].get(key) for key in ("wer", "cer", "num_utterances", "real_time_factor",
                                                                "data", "evaluated_at")} if evaluations else None),
        },
        "hardware": hardware_summary(),
        "software": package_versions(),
        "intended_use": INTENDED_USE.get(predictor.domain, INTENDED_USE["general"]),
        "limitations": list(LIMITATIONS),
    }
    return _clean(card)


def build_run_card(predictor) -> dict:
    """What a rerun must match: data fingerprints, seeds, versions, hardware, settings."""
    saved = _saved_run(predictor)
    data = saved.get("data", {})
    trials = {trial_id: {"status": trial.get("status"), "config": trial.get("config"),
                         "start_time": trial.get("start_time"), "end_time": trial.get("end_time")}
              for trial_id, trial in predictor.trials.items()}
    card = {
        "card_format_version": CARD_FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "run": str(predictor.path),
        "reopen": f"ASRPredictor.load({str(predictor.path)!r})",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else None,
        "data_fingerprints": saved.get("data_fingerprints") or {
            split: (data.get(split) or {}).get("fingerprint") for split in ("train", "tuning")},
        "data": {split: data.get(split) for split in ("train", "tuning")},
        "seeds": {"fit": saved.get("seed"),
                  "rule": "the searcher starts from seed + number of finished trials; each trial trains with "
                          "seed + its position"},
        "domain": predictor.domain,
        "presets": predictor.presets,
        # which pretrained model the fit started from and where it was found, or why it trained from scratch
        "pretrained": (predictor.fit_summary or saved.get("fit_summary") or {}).get("pretrained"),
        "time_limit_seconds": (predictor.fit_summary or {}).get("time_limit", saved.get("time_limit")),
        "best_trial_id": predictor.best_trial_id,
        "trials": trials,
        "evaluations": _evaluations(predictor),
        "software": package_versions(),
        "hardware": hardware_summary(),
    }
    return _clean(card)


def _percent(value) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def render_model_card(card: dict) -> str:
    """The model card as Markdown."""
    model, metrics, budget, search = card["model"], card["metrics"], card["budget"], card["search"]
    data = card["data"]
    lines = [
        f"# Model card: {Path(card['run']).name}",
        "",
        f"A {model.get('family') or '?'} ({model.get('size') or '?'}) CTC speech recognizer for the "
        f"**{card['domain']['name']}** domain, chosen by autoasr's search (trial {model.get('trial_id')}).",
        "",
        "| | |", "|---|---|",
        f"| Validation WER / CER | {_percent(metrics['validation'].get('wer'))} / "
        f"{_percent(metrics['validation'].get('cer'))} |",
    ]
    test = metrics.get("test")
    if test:
        lines.append(f"| Test WER / CER | {_percent(test.get('wer'))} / {_percent(test.get('cer'))} "
                     f"({test.get('num_utterances')} utterances of {test.get('data')}) |")
    else:
        lines.append("| Test WER / CER | not evaluated yet (`predictor.evaluate(test)`) |")
    parameters = model.get("parameters")
    lines += [
        f"| Parameters | {parameters:,} |" if isinstance(parameters, int) else "| Parameters | n/a |",
        (f"| Latency (one typical tuning clip, 1 CPU thread) | {model['latency_ms']} ms (real-time factor "
         f"{model.get('real_time_factor')}); weights {model.get('size_mb')} MB |" if model.get("latency_ms") is not None
         else "| Latency | not measured |"),
        *([f"| Pretrained listener | {card['pretrained']} |"] if card.get("pretrained") else []),
        f"| Budget | {budget.get('time_limit_seconds')} s time limit, {budget.get('trials')} trials "
        f"({budget.get('trials_ok')} finished) |",
        f"| Created | {card['created']} |",
        "",
        "## Intended use", "", card["intended_use"], "",
        "## Limitations", "", *[f"- {item}" for item in card["limitations"]], "",
        "## Data", "",
    ]
    for split in ("train", "tuning"):
        summary = data.get(split) or {}
        if summary:
            lines.append(f"- **{split}**: {summary.get('utterances')} utterances, {summary.get('hours')} h, "
                         f"{summary.get('speakers')} speakers ({summary.get('name')})")
    lines += [f"- rows skipped while reading: {data.get('skipped_rows', 0)}", "",
              "## Search", "", f"Presets `{search.get('presets')}`: {search.get('description') or ''}", "",
              "| hyperparameter | searched |", "|---|---|"]
    for name, value in (search.get("space") or {}).items():
        lines.append(f"| {name} | {value} |")
    lines += ["", "Best trials:", "", "| trial | model | size | val WER | val CER |", "|---|---|---|---|---|"]
    for row in search.get("leaderboard_top", []):
        lines.append(f"| {row.get('trial_id')} | {row.get('model')} | {row.get('size')} | "
                     f"{_percent(row.get('val_wer'))} | {_percent(row.get('val_cer'))} |")
    lines += ["", "## Chosen model", "", f"{model.get('description') or ''}", "", "```json",
              json.dumps(model.get("config"), indent=2), "```", "",
              _training_line(model), "",
              "## Hardware and software", ""]
    hardware = card["hardware"]
    lines.append(f"- {hardware.get('cpu_cores')} CPU cores, {hardware.get('memory_gb')} GB memory, "
                 f"GPU: {hardware.get('gpu') or 'none'} ({hardware.get('platform')})")
    lines.append("- " + ", ".join(f"{name} {version}" for name, version in card["software"].items() if version))
    run = card["run"]
    lines += ["", "## Use", "", "```python", "from autoasr import ASRPredictor",
              f"predictor = ASRPredictor.load({run!r})", "predictor.transcribe(['clip.wav'])", "```", "",
              "```bash", f"autoasr transcribe {run} clip.wav --json      # words with timestamps",
              f"autoasr export {run} --format onnx --output model.onnx", "```", "",
              f"Reproducing the run: see `{RUN_CARD_JSON}` (data fingerprints, seeds, versions).", ""]
    return "\n".join(lines)


def write_cards(predictor, strict: bool = False) -> list[Path]:
    """Write MODEL_CARD.md, model_card.json and run_card.json into the predictor's folder.

    A card that cannot be built is reported as a warning (``strict=True``: raised): the model and
    leaderboard are already saved, and a missing card must not cost the user the run.
    """
    folder = Path(predictor.path)
    try:
        model_card = build_model_card(predictor)
        write_json(folder / MODEL_CARD_JSON, model_card)
        write_text(folder / MODEL_CARD_MD, render_model_card(model_card))
        write_json(folder / RUN_CARD_JSON, build_run_card(predictor))
    except Exception as error:
        if strict:
            raise
        warnings.warn(f"{folder}: the model/run card could not be written ({type(error).__name__}: {error})")
        return []
    return [folder / MODEL_CARD_MD, folder / MODEL_CARD_JSON, folder / RUN_CARD_JSON]


def record_evaluation(predictor, result: dict, data=None) -> None:
    """Keep an evaluation's scores in the run (``evaluations.json``) and refresh the cards with them.

    >>> record_evaluation(predictor, predictor.evaluate(test), test)          # doctest: +SKIP
    """
    folder = Path(predictor.path)
    entry = {key: result.get(key) for key in ("wer", "cer", "substitutions", "deletions", "insertions",
                                              "num_words", "num_utterances", "real_time_factor", "audio_seconds",
                                              "model")}
    entry["data"] = getattr(data, "name", None) or (str(data) if data is not None else None)
    if data is not None and hasattr(data, "fingerprint"):
        try:
            entry["data_fingerprint"] = data.fingerprint()
        except OSError:
            entry["data_fingerprint"] = None
    entry["evaluated_at"] = time.time()
    evaluations = _evaluations(predictor) + [_clean(entry)]
    write_json(folder / EVALUATIONS_JSON, evaluations)
    if (folder / "predictor.json").is_file():
        write_cards(predictor)
