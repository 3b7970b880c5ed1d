"""Fetching a pretrained model from the Hugging Face hub, once, into the local Hugging Face cache.

Only what autoasr loads is fetched: safetensors weights, the config and the tokenizer's files (a hub repo
also holds TensorFlow, Flax and pickled PyTorch copies of the same weights). A repo whose weights exist only
pickled (``pytorch_model.bin``) is refused: unpickling runs code. The hub client (``huggingface_hub``) does
the transfer: it honours ``HF_ENDPOINT`` (a mirror, or the tests' loopback hub), resumes an interrupted file
from its ``.incomplete`` part, and keeps the files in ``HF_HUB_CACHE`` where ``from_pretrained`` finds them
offline afterwards.

The network is asked first with a short timeout (:data:`CONNECT_TIMEOUT_SECONDS`), so a classroom without
internet loses seconds, not the learner's budget; ``HF_HUB_OFFLINE=1`` asks nothing at all.

>>> fetch_model("openai/whisper-tiny.en", environ={"HF_HUB_OFFLINE": "1"})   # doctest: +ELLIPSIS
Traceback (most recent call last):
autoasr.models.hub_download.ModelUnavailable: offline: HF_HUB_OFFLINE is set, ...
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

DEFAULT_MODEL = "openai/whisper-tiny.en"
CONNECT_TIMEOUT_SECONDS = 4.0
# weights, config, tokenizer and feature-extractor files; never pickles, TensorFlow or Flax copies
FETCHED_PATTERNS = ("*.safetensors", "*.safetensors.index.json", "config.json", "generation_config.json",
                    "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json",
                    "merges.txt", "added_tokens.json", "special_tokens_map.json", "normalizer.json")
PICKLED_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")

# called with (file name, bytes done, bytes in that file)
DownloadProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Listener:
    """A pretrained model offered to learners: what it is, what it costs to fetch and to run."""

    hub_id: str
    label: str
    languages: str
    download_mb: int
    cpu_note: str
    measured: bool  # measured by this project (docs/benchmarks.md), or only offered

    def describe(self) -> str:
        return (f"{self.label} ({self.hub_id}): {self.languages}, about {self.download_mb} MB to download once, "
                f"{self.cpu_note}" + ("" if self.measured else "; offered, not measured by autoasr"))


# Download sizes are the weights' 32-bit size on the hub (parameters x 4 bytes) plus about 3 MB of tokenizer
# files; the shared development copy of tiny.en is stored in 16-bit floats (78 MB).
LISTENERS = (
    Listener("openai/whisper-tiny.en", "Whisper tiny.en", "English", 155,
             "39 M parameters; its encoder reads 10-20 one-second clips a second on 2 busy CPU cores", measured=True),
    Listener("openai/whisper-tiny", "Whisper tiny", "99 languages (for other languages' zero-shot rows)", 155,
             "39 M parameters, the same network as tiny.en", measured=False),
    Listener("openai/whisper-base", "Whisper base", "99 languages", 295,
             "74 M parameters, a wider and deeper encoder: expect 2-3x tiny's CPU time", measured=False),
)


class ModelUnavailable(RuntimeError):
    """The model could not be fetched; the message says why in plain words (offline, unreachable, refused)."""


def _offline(environ) -> bool:
    return str(environ.get("HF_HUB_OFFLINE", "")).strip().lower() in ("1", "true", "yes", "on")


def hub_endpoint(environ=None) -> str:
    environ = os.environ if environ is None else environ
    return (environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def hub_cache(environ=None) -> str:
    """The Hugging Face cache folder, read now (``huggingface_hub`` reads ``HF_HUB_CACHE`` once, at import)."""
    from huggingface_hub import constants

    environ = os.environ if environ is None else environ
    return environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE


def fetched_files(repo_files: list[str]) -> list[str]:
    """The files of a repo autoasr fetches (see :data:`FETCHED_PATTERNS`)."""
    return [name for name in repo_files
            if "/" not in name and any(fnmatch.fnmatch(name, pattern) for pattern in FETCHED_PATTERNS)]


def check_safetensors(repo_id: str, repo_files: list[str]) -> None:
    """Refuse a repo without safetensors weights, naming the pickled files it has instead."""
    if any(name.endswith(".safetensors") for name in repo_files):
        return
    pickled = [name for name in repo_files if name.endswith(PICKLED_SUFFIXES)]
    if pickled:
        raise ModelUnavailable(f"refused: {repo_id} holds its weights only as pickles ({', '.join(pickled[:3])}); "
                               "autoasr loads safetensors only, because unpickling a file can run any code")
    raise ModelUnavailable(f"refused: {repo_id} holds no safetensors weights")


def _reporting_bar(on_progress: DownloadProgress | None):
    """A tqdm class that draws as usual (terminal or notebook) and also reports each update to ``on_progress``."""
    from tqdm.auto import tqdm

    class ReportingBar(tqdm):
        def update(self, n=1):
            shown = super().update(n)
            if on_progress is not None:
                # the client's label is a shortened cache path, "(…)<commit>/model.safetensors"
                on_progress(str(self.desc or "").strip().rsplit("/", 1)[-1], int(self.n), int(self.total or 0))
            return shown

    return ReportingBar


def fetch_model(repo_id: str = DEFAULT_MODEL, on_progress: DownloadProgress | None = None,
                timeout: float = CONNECT_TIMEOUT_SECONDS, environ=None) -> Path:
    """Download ``repo_id``'s safetensors weights, config and tokenizer into the Hugging Face cache (files
    already there are not fetched again); returns the snapshot folder.

    Raises :class:`ModelUnavailable` with the reason when offline, unreachable within ``timeout`` seconds,
    the repo is unknown, or it holds only pickled weights.
    """
    environ = os.environ if environ is None else environ
    if _offline(environ):
        raise ModelUnavailable("offline: HF_HUB_OFFLINE is set, so nothing is downloaded "
                               f"(fetch {repo_id} where the network allows: `autoasr models`)")
    from huggingface_hub import HfApi, hf_hub_download

    endpoint = hub_endpoint(environ)
    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, timeout=timeout)
    except Exception as error:  # connection refused, DNS failure, timeout, 404, proxy page...
        raise ModelUnavailable(f"could not reach {endpoint} for {repo_id} within {timeout:g} s "
                               f"({type(error).__name__}: {str(error).splitlines()[0][:160] if str(error) else ''})"
                               ) from None
    repo_files = [sibling.rfilename for sibling in (info.siblings or [])]
    check_safetensors(repo_id, repo_files)
    wanted = fetched_files(repo_files)
    if not any(name.endswith(".safetensors") for name in wanted):
        raise ModelUnavailable(f"refused: {repo_id} keeps its safetensors weights only in subfolders "
                               f"({', '.join(n for n in repo_files if n.endswith('.safetensors'))[:160]})")
    bar = _reporting_bar(on_progress)
    try:
        for name in wanted:
            # the default revision ("main"), so the cache records the ref that offline lookups by hub id follow
            folder = Path(hf_hub_download(repo_id, name, endpoint=endpoint, tqdm_class=bar, etag_timeout=timeout,
                                          cache_dir=hub_cache(environ))).parent
    except Exception as error:
        raise ModelUnavailable(f"the download of {repo_id} from {endpoint} stopped ({type(error).__name__}: "
                               f"{str(error).splitlines()[0][:160] if str(error) else ''}); run it again to "
                               "resume where it stopped") from None
    return folder
