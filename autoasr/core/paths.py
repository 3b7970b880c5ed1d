"""Where autoasr keeps what it can rebuild: ``$AUTOASR_CACHE``, or else ``~/.cache/autoasr``."""
from __future__ import annotations

import os
from pathlib import Path, PureWindowsPath


def cache_dir(*parts: str) -> Path:
    """The cache folder, or a sub-path of it (not created here).

    >>> cache_dir("features").name
    'features'
    """
    root = os.environ.get("AUTOASR_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "autoasr"
    return base.joinpath(*parts)


def manifest_path(value: str) -> Path:
    """A path as a manifest wrote it, on this system: ``clips\\a.wav`` written on Windows and ``clips/a.wav``
    written elsewhere both name the same file on Linux, macOS and Windows (Windows reads ``/`` natively).

    >>> manifest_path("clips\\\\a.wav").parts
    ('clips', 'a.wav')
    """
    if os.sep != "\\" and "\\" in value:
        return Path(PureWindowsPath(value).as_posix())
    return Path(value)
