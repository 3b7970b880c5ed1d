"""Atomic writes and safe loads for everything a run keeps on disk.

A write goes to a temporary file in the same folder and is renamed into place, so a crash leaves
either the old file or the new one, never half of one. Weights are safetensors (no code runs on load).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def _temporary_beside(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    return temporary


def write_json(path: str | Path, payload) -> None:
    path = Path(path)
    temporary = _temporary_beside(path)
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, default=str)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_json(path: str | Path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    temporary = _temporary_beside(path)
    Path(temporary).write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def save_weights(path: str | Path, state_dict: dict[str, torch.Tensor]) -> None:
    path = Path(path)
    temporary = _temporary_beside(path)
    save_file({name: tensor.detach().cpu().contiguous() for name, tensor in state_dict.items()}, temporary)
    os.replace(temporary, path)


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))
