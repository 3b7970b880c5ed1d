"""``load_dataset``: one call for names ("demo", "fsdd"), manifests, corpus folders and archives."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from autoasr.data.dataset import DataError, Dataset
from autoasr.data.layouts import Layout, _known_layouts, detect_layout


def load_dataset(
    path: str | Path,
    split: str | Sequence[str] | None = None,
    domain: str = "general",
    validate_audio: bool = True,
):
    """Load a manifest file, a corpus folder (see :mod:`autoasr.layouts`) or the name ``"demo"``.

    ``split`` picks rows by their split (a name, or a sequence of names giving a tuple of datasets).

    >>> train, test = load_dataset("demo", split=("train", "test"))     # doctest: +SKIP
    """
    pass

    dataset = read_corpus(path, domain=domain, validate_audio=validate_audio)
    if split is None:
        return dataset
    if isinstance(split, str):
        return _select_split(dataset, split)
    return tuple(_select_split(dataset, name) for name in split)


def _select_split(dataset: Dataset, split: str) -> Dataset:
    selected = dataset.with_split(split)
    if not selected.utterances:
        available = sorted({u.split for u in dataset.utterances if u.split})
        raise DataError(
            f"{dataset.name}: no utterances in split '{split}' (splits present: {', '.join(available) or 'none'})"
        )
    return selected


NAMED_CORPORA = ("demo", "fsdd", "yesno", "mini_librispeech")


def _prepare_named(name: str) -> Path:
    if name == "demo":
        from autoasr.data.demo_corpus import prepare_demo_corpus

        return prepare_demo_corpus()
    from autoasr.data import downloads

    return getattr(downloads, f"prepare_{name}")()


def read_layout(path: str | Path, domain: str = "general", validate_audio: bool = True) -> tuple[Dataset, Layout]:
    """Detect and read ``path``; the dataset may be empty (its problems say why)."""
    if str(path) == "demo" or (str(path) in NAMED_CORPORA and not Path(str(path)).exists()):
        path = _prepare_named(str(path))
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    layout = detect_layout(path)
    if layout is None:
        raise DataError(f"{path}: layout not recognised. Known layouts: {_known_layouts()}")
    return layout.read(path, domain=domain, validate_audio=validate_audio), layout


def read_corpus(path: str | Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """Read a manifest, a corpus folder or archive in a known layout, or a named corpus.

    Named corpora: ``"demo"`` (synthesized offline) and, downloaded on first use, ``"fsdd"``,
    ``"yesno"`` and ``"mini_librispeech"`` (see :mod:`autoasr.downloads`).

    >>> dataset = read_corpus("corpus.zip")        # doctest: +SKIP
    """
    dataset, _ = read_layout(path, domain=domain, validate_audio=validate_audio)
    if not dataset.utterances:
        details = "; ".join(str(problem) for problem in dataset.problems[:5])
        raise DataError(f"{path}: no usable utterances" + (f" ({details})" if details else ""))
    return dataset
