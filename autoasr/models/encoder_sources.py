"""Where pretrained encoders come from: one resolver for wav2vec2 checkpoints and Whisper models.

The order, first match wins: the ``pretrained`` argument (CLI ``--pretrained``), else ``$AUTOASR_PRETRAINED``
(entries separated by ``os.pathsep``), else a Whisper model already in the local Hugging Face cache (looked
up offline), else the default model (``openai/whisper-tiny.en``) downloaded once into that cache where the
network allows (:mod:`autoasr.models.hub_download`), else none, with the reason: the search then trains from
scratch. ``pretrained=None`` opts out of all of it.

Each entry is a wav2vec2 checkpoint (a ``.safetensors`` file or a folder of them, see
:mod:`autoasr.models.wav2vec2`), a Whisper model folder (``config.json`` + ``model.safetensors``, the
``transformers`` layout) or a Hugging Face hub id such as ``openai/whisper-tiny.en``.

>>> available_pretrained_encoders("/nowhere").reason           # doctest: +ELLIPSIS
'no usable pretrained encoder: /nowhere: no such file or folder'
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from autoasr.models.wav2vec2 import (
    ENVIRONMENT_VARIABLE,
    PretrainedEncoder,
    PretrainedEncoders,
)
from autoasr.models.hub_download import DEFAULT_MODEL, DownloadProgress, ModelUnavailable, fetch_model, hub_cache
from autoasr.models.wav2vec2 import available_pretrained_encoders as wav2vec2_encoders

WHISPER_KIND = "whisper"


def _is_whisper_folder(path: Path) -> bool:
    config = path / "config.json"
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text()).get("model_type") == "whisper"
    except (OSError, ValueError):
        return False


def _looks_like_hub_id(entry: str) -> bool:
    return entry.count("/") == 1 and not entry.startswith((".", "/", "~")) and not Path(entry).exists()


def _safetensors_parameters(folder: Path, prefix: str = "model.encoder.") -> int:
    """The encoder's parameter count from the weights file's header alone (no tensor is read)."""
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    total = 0
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                if key.startswith(prefix):
                    count = 1
                    for size in handle.get_slice(key).get_shape():
                        count *= size
                    total += count
    return total


def whisper_encoder(source: str) -> PretrainedEncoder:
    """Describe the Whisper model at ``source`` (a folder or a hub id; config only, no weights are read).

    Raises :class:`autoasr.models.whisper.WhisperUnavailable` (a ValueError) with a plain reason.
    """
    from autoasr.models.whisper import WhisperUnavailable, whisper_config

    local = Path(source).expanduser()
    if local.is_dir():
        source = str(local.resolve())  # a saved model must find it again from any working folder
        if not list(local.glob("*.safetensors")):
            raise WhisperUnavailable(f"{local}: a Whisper folder without safetensors weights (pickled weights are "
                                     "never loaded; save the model with safe_serialization=True)")
    config = whisper_config(source)
    parameters = _safetensors_parameters(local) if local.is_dir() else 0
    name = source.rstrip("/").rsplit("/", 1)[-1]
    if local.is_dir() and local.resolve().parent.name == "snapshots":  # a copied Hugging Face cache snapshot
        name = local.resolve().parent.parent.name.split("--")[-1]
    return PretrainedEncoder(name, Path(source), {"d_model": config.d_model, "encoder_layers": config.encoder_layers,
                                                  "num_mel_bins": config.num_mel_bins},
                             parameters=parameters, kind=WHISPER_KIND, source=source)


def cached_whisper_source(cache: str | None = None, exact: str | None = None) -> str | None:
    """The smallest Whisper model with safetensors weights in the local Hugging Face cache (offline lookup);
    with ``exact``, that hub id or None."""
    try:
        from huggingface_hub import scan_cache_dir

        info = scan_cache_dir(cache or hub_cache())
    except Exception:  # no cache folder yet
        return None
    found = []
    for repo in info.repos:
        if repo.repo_type != "model" or "whisper" not in repo.repo_id.lower() or exact not in (None, repo.repo_id):
            continue
        if any(file.file_name.endswith(".safetensors") for revision in repo.revisions for file in revision.files):
            found.append((repo.size_on_disk, repo.repo_id))
    return min(found)[1] if found else None


def _resolve_entry(entry: str, on_download: DownloadProgress | None = None) -> tuple[list[PretrainedEncoder], list[str]]:
    """The encoders one entry names, and the problems met. A hub id not in the local cache is fetched first
    (safetensors only, with progress), so no weights are downloaded later inside the budget."""
    path = Path(entry).expanduser()
    if _looks_like_hub_id(entry) and cached_whisper_source(exact=entry) is None:
        try:
            fetch_model(entry, on_progress=on_download)
        except ModelUnavailable as error:
            return [], [f"{entry}: {error}"]
    if (path.is_dir() and _is_whisper_folder(path)) or _looks_like_hub_id(entry):
        try:
            return [whisper_encoder(entry)], []
        except ValueError as error:
            return [], [str(error)]
    found = wav2vec2_encoders(path)
    problems = [found.reason.removeprefix("no usable pretrained encoder: ")] if not found else []
    if found and found.reason:
        problems += [p.removeprefix("skipped ") for p in found.reason.split("; ")]
    return list(found), problems


AUTO = "auto"


def _opted_out(pretrained) -> bool:
    return pretrained is None or pretrained is False or pretrained == [] or pretrained == () or (
        isinstance(pretrained, str) and pretrained.strip().lower() in ("", "none", "no", "off"))


def _automatic_entries(on_download: DownloadProgress | None) -> tuple[list[str], str, str]:
    """(entries, origin, reason) of the automatic choice: ``$AUTOASR_PRETRAINED``, else the smallest Whisper
    model in the local Hugging Face cache, else the default model, downloaded once where the network allows."""
    configured = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if configured:
        return [p for p in configured.split(os.pathsep) if p], f"${ENVIRONMENT_VARIABLE}", ""
    cached = cached_whisper_source()
    if cached is not None:
        return [cached], "the local Hugging Face cache", ""
    try:
        fetch_model(DEFAULT_MODEL, on_progress=on_download)
    except ModelUnavailable as error:
        return [], "", (f"no pretrained listener: {DEFAULT_MODEL} is not on this machine and could not be "
                        f"downloaded ({error}); set {ENVIRONMENT_VARIABLE} to a copy of its folder")
    return [DEFAULT_MODEL], "downloaded once into the local Hugging Face cache", ""


def available_pretrained_encoders(pretrained: str | Path | list | None = AUTO,
                                  on_download: DownloadProgress | None = None) -> PretrainedEncoders:
    """Every encoder at hand (see the module's docstring for the order). Empty, with ``.reason``, when none is.

    ``pretrained="auto"`` (the default) looks in ``$AUTOASR_PRETRAINED``, then the local Hugging Face cache, then
    downloads :data:`~autoasr.models.hub_download.DEFAULT_MODEL` (``on_download`` hears its progress);
    ``None`` (or ``[]``, ``"none"``) asks for no pretrained encoder. ``.origin`` says where the encoders came from.
    """
    if _opted_out(pretrained):
        return PretrainedEncoders(reason="not asked for: pretrained=None (--no-pretrained) trains from scratch")
    origin = "named by the caller"
    if isinstance(pretrained, str) and pretrained.strip().lower() == AUTO:
        entries, origin, reason = _automatic_entries(on_download)
        if not entries:
            return PretrainedEncoders(reason=reason)
    else:
        entries = [str(p) for p in (pretrained if isinstance(pretrained, (list, tuple)) else [pretrained])]
    encoders, problems = [], []
    for entry in entries:
        found, met = _resolve_entry(entry, on_download)
        encoders += found
        problems += met
    if not encoders:
        return PretrainedEncoders(reason="no usable pretrained encoder: " + "; ".join(problems))
    return PretrainedEncoders(encoders, reason="; ".join(f"skipped {p}" for p in problems), origin=origin)
