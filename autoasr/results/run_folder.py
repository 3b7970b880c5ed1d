from __future__ import annotations

from pathlib import Path

PREDICTOR_FILE = "predictor.json"
FORMAT_VERSION = 1
def _unreadable_weights(path: Path) -> str | None:
    """Why a weights file cannot be used, or None when its safetensors header reads cleanly."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            handle.keys()
    except Exception as error:  # safetensors parses a header only: no code runs, whatever the file holds
        return f"checkpoint unreadable ({path.name}: {error})"
    return None
