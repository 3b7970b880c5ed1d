"""Where autoasr keeps what it can rebuild: ``$AUTOASR_CACHE``, or else ``~/.cache/autoasr``."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """The cache folder, or a sub-path of it (not created here).

    >>> cache_dir("features").name
    'features'
    """
    root = os.environ.get("AUTOASR_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "autoasr"
    return base.joinpath(*parts)
