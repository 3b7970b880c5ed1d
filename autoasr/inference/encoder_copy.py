"""A saved model that reads a pretrained encoder from a folder keeps a copy of that folder in its run.

A trial's config names the encoder as the user gave it (a hub id or a folder). A hub id reloads from the
Hugging Face cache; a folder may be moved or deleted after the fit, so the run keeps its own copy in
``<run>/encoders/<folder name>/`` (files hard-linked where the file system allows, copied otherwise; up to
:data:`MAX_COPY_BYTES`, tiny.en is 78 MB) and a reload uses that copy whenever the original folder is gone.
The same holds for the whole Whisper model a zero-shot row transcribes with (its ``source``).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

WHISPER_ZERO_SHOT = "whisper-zero-shot"  # recognizers.py's kind, spelled here: this module needs no torch
ENCODERS_FOLDER = "encoders"
MAX_COPY_BYTES = 500 * 2**20  # larger encoders stay where they are: the run then says the folder must stay


def encoder_copy_path(run_path: str | Path, source: str) -> Path:
    return Path(run_path) / ENCODERS_FOLDER / Path(source).expanduser().name


def pretrained_source(config: dict) -> str:
    """The pretrained model a saved config reads: a ``whisper`` frontend's ``encoder``, a zero-shot Whisper
    row's ``source`` (its model folder or hub id), else ""."""
    if config.get("frontend") == "whisper":
        return str(config.get("encoder") or "")
    if config.get("kind") == WHISPER_ZERO_SHOT:
        return str(config.get("source") or "")
    return ""


def keep_encoder_copy(run_path: str | Path, config: dict) -> Path | None:
    """Copy the folder ``config`` reads (:func:`pretrained_source`) into the run; returns the copy, or None
    where there is nothing to copy (no folder, a hub id, too large, already copied)."""
    source = pretrained_source(config)
    folder = Path(source).expanduser()
    if not source or not folder.is_dir():
        return None
    files = [path for path in folder.iterdir() if path.is_file()]
    if sum(path.stat().st_size for path in files) > MAX_COPY_BYTES:
        return None
    target = encoder_copy_path(run_path, source)
    if target.resolve() == folder.resolve():
        return None
    target.mkdir(parents=True, exist_ok=True)
    for path in files:
        copied = target / path.name
        if copied.is_file() and copied.stat().st_size == path.stat().st_size:
            continue
        copied.unlink(missing_ok=True)
        try:
            os.link(path, copied)  # same file system: no second 78 MB on disk
        except OSError:
            shutil.copyfile(path, copied)
    return target


def encoder_at_hand(source: str, model_folder: str | Path) -> str:
    """The encoder a saved model in ``model_folder`` (``<run>/trials/<id>`` or ``<run>/best``) should load:
    ``source`` while that folder exists (or it is a hub id), else the run's copy when there is one."""
    if not source or Path(source).expanduser().is_dir():
        return source
    model_folder = Path(model_folder)
    for run in (model_folder.parent, model_folder.parent.parent, model_folder):
        copy = encoder_copy_path(run, source)
        if (copy / "config.json").is_file():
            return str(copy)
    return source
