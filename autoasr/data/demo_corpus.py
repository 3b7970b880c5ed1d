"""An embedded demo corpus: spoken digits, digit strings and voice commands, synthesized offline.

``autoasr demo`` and the quickstart notebook must work with no network, so the demo data is not
downloaded but spoken on first use by eSpeak NG (the ``espeakng-loader`` wheel ships the library
and its voice data). Each "speaker" is an eSpeak voice variant with its own accent, speaking rate,
pitch and pitch range; every utterance varies these a little and gets light white/pink noise and
random leading/trailing silence, so the task is small but not trivially clean. The test split
holds out about a quarter of the *speakers*, so its voices are never heard in training.

>>> from autoasr.data.demo_corpus import prepare_demo_corpus
>>> manifest = prepare_demo_corpus()          # first call a few seconds, then cached  # doctest: +SKIP
>>> manifest.name                                                                              # doctest: +SKIP
'manifest.csv'

:func:`prepare_spoken_corpus` speaks your own sentences the same way, in any eSpeak NG language
(a closed command set, a yes/no corpus in Swahili...), for experiments and benchmarks.
"""
from __future__ import annotations

import csv
import ctypes
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from autoasr.core.paths import cache_dir
from autoasr.core.text import DIGIT_WORDS

__all__ = ["DEMO_SAMPLE_RATE", "DEMO_VOCABULARY", "prepare_demo_corpus", "prepare_spoken_corpus"]

logger = logging.getLogger(__name__)

DEMO_SAMPLE_RATE = 16000

DIGITS = DIGIT_WORDS
COMMANDS = ("yes", "no", "stop", "go", "left", "right", "up", "down", "on", "off")
DEMO_VOCABULARY: tuple[str, ...] = DIGITS + COMMANDS
"""Every word that can occur in a transcript of the demo corpus."""

# Bump whenever the content or the synthesis changes, so stale caches are rebuilt.
_CORPUS_VERSION = 1
_DIGIT_STRINGS_PER_ROUND = 6  # per speaker and repeat, next to the 10 digits and 10 commands
_TEST_SPEAKER_FRACTION = 0.25
_MIN_SECONDS, _MAX_SECONDS = 0.3, 2.5

# (accent, eSpeak variant, words per minute, pitch 0-100, pitch range 0-100). Ordered so that even
# the first four speakers mix male, female and Klatt-synthesized voices.
_VOICE_PRESETS = (
    ("en-us", "m3", 160, 40, 45),
    ("en", "f2", 175, 55, 65),
    ("en", "klatt", 165, 50, 40),
    ("en-gb-x-rp", "f4", 150, 62, 55),
    ("en-us", "m7", 185, 35, 50),
    ("en-gb-scotland", "f1", 165, 50, 70),
    ("en", "croak", 145, 45, 35),
    ("en-us", "klatt3", 180, 65, 55),
    ("en", "m2", 190, 55, 30),
    ("en-gb-x-rp", "grandma", 150, 50, 60),
    ("en-us", "Andy", 170, 45, 60),
    ("en", "f5", 160, 60, 50),
    ("en-us", "m6", 155, 50, 45),
    ("en", "klatt2", 175, 40, 55),
    ("en-gb-x-rp", "grandpa", 150, 35, 40),
    ("en-us", "f3", 185, 65, 65),
)

_INSTALL_HINT = (
    "The demo corpus is synthesized offline with eSpeak NG, which could not be loaded. "
    "Install it with `pip install espeakng-loader` (the wheel ships the eSpeak NG library and "
    "voice data)"
)


def prepare_demo_corpus(
    root: str | Path | None = None,
    *,
    num_speakers: int = 12,
    repeats: int = 2,
    seed: int = 0,
    force: bool = False,
) -> Path:
    """Synthesize (once) and return the path of the manifest CSV of the demo corpus.

    Each speaker says the ten digits, the ten commands (``DEMO_VOCABULARY``) and six random
    strings of two or three digits, ``repeats`` times; the defaults give 624 utterances of
    0.3-2.5 s. Files are 16 kHz mono 16-bit WAVs in ``root/wav``; the manifest has the columns
    ``audio,text,speaker,duration,split`` with ``audio`` relative to ``root``. The result is a
    function of the arguments only, so a folder whose ``corpus.json`` records the same
    arguments is returned as it is, unless ``force`` is set.

    Args:
        root: folder of the corpus; default ``$AUTOASR_CACHE/demo_corpus``, or else
            ``~/.cache/autoasr/demo_corpus``.
        num_speakers: synthetic voices (at least 2); about a quarter of them form the test split.
        repeats: how many times each speaker says the word list.
        seed: chooses voice details, digit strings, noise, silences and the test speakers.
        force: synthesize again even if the cached corpus matches.

    Raises:
        RuntimeError: eSpeak NG (``espeakng-loader``) cannot be loaded.

    >>> import pandas as pd
    >>> manifest = prepare_demo_corpus("/tmp/demo", num_speakers=4, repeats=1)  # doctest: +SKIP
    >>> pd.read_csv(manifest).groupby("split").size().to_dict()                 # doctest: +SKIP
    {'test': 26, 'train': 78}
    """
    if num_speakers < 2:
        raise ValueError(f"num_speakers must be at least 2 (one train, one test), got {num_speakers}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    root = _default_root() if root is None else Path(root).expanduser()
    manifest = root / "manifest.csv"
    params = {
        "num_speakers": int(num_speakers),
        "repeats": int(repeats),
        "seed": int(seed),
        "sample_rate": DEMO_SAMPLE_RATE,
    }
    if not force and _is_cached(root, params):
        return manifest

    data_path = _espeak_data_path()
    speakers = _design_speakers(num_speakers, seed, data_path)

    def texts_of_round(rng: np.random.Generator) -> list[str]:
        strings = [" ".join(rng.choice(DIGITS, size=rng.integers(2, 4)).tolist())
                   for _ in range(_DIGIT_STRINGS_PER_ROUND)]
        return [*DIGITS, *COMMANDS, *strings]

    utterances = _design_utterances(speakers, repeats, seed, texts_of_round)
    return _build(root, params, speakers, utterances, seed, data_path)


def prepare_spoken_corpus(
    root: str | Path,
    texts: Sequence[str],
    *,
    language: str | None = None,
    num_speakers: int = 8,
    num_test_speakers: int = 2,
    repeats: int = 1,
    seed: int = 0,
    force: bool = False,
) -> Path:
    """Synthesize (once) a corpus of your own sentences; return the path of its manifest CSV.

    Every synthetic speaker says every text ``repeats`` times, with the demo corpus's voice
    variants, per-utterance jitter, noise and silences (see :func:`prepare_demo_corpus` for the
    files and the caching). ``num_test_speakers`` of the speakers form the ``test`` split, so its
    voices are never heard in training.

    Args:
        root: folder of the corpus.
        texts: what each speaker says (any characters; eSpeak reads them in ``language``).
        language: an eSpeak NG language such as ``"sw"`` (Swahili), ``"fi"`` or ``"en-us"``;
            ``None`` keeps the English accents of the demo voices.
        num_speakers: synthetic voices; the first 16 use distinct eSpeak voice variants.
        num_test_speakers: how many of them form the test split (at least 1, fewer than all).
        repeats: how many times each speaker says the texts.
        seed: chooses voice details, noise, silences and the test speakers.
        force: synthesize again even if the cached corpus matches.

    Raises:
        RuntimeError: eSpeak NG (``espeakng-loader``) cannot be loaded.
        ValueError: no text, an unknown language or an impossible speaker split.

    >>> import pandas as pd
    >>> manifest = prepare_spoken_corpus("/tmp/yes_no", ["ndiyo", "hapana"], language="sw",
    ...                                  num_speakers=6, num_test_speakers=2)  # doctest: +SKIP
    >>> pd.read_csv(manifest).groupby("split").size().to_dict()              # doctest: +SKIP
    {'test': 4, 'train': 8}
    """
    texts = [" ".join(str(text).split()) for text in texts]
    if not texts or not all(texts):
        raise ValueError("texts must be a non-empty list of non-empty sentences")
    if not 1 <= num_test_speakers < num_speakers:
        raise ValueError(f"num_test_speakers must be at least 1 and below num_speakers ({num_speakers}), "
                         f"got {num_test_speakers}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    root = Path(root).expanduser()
    params = {"texts": texts, "language": language, "num_speakers": int(num_speakers),
              "num_test_speakers": int(num_test_speakers), "repeats": int(repeats), "seed": int(seed),
              "sample_rate": DEMO_SAMPLE_RATE}
    if not force and _is_cached(root, params):
        return root / "manifest.csv"

    data_path = _espeak_data_path()
    if language is not None:
        known = {path.name.lower() for path in (Path(data_path) / "lang").rglob("*") if path.is_file()}
        if language.lower() not in known:
            raise ValueError(f"eSpeak NG has no language '{language}' (it has {', '.join(sorted(known))})")
    speakers = _design_speakers(num_speakers, seed, data_path, language=language, num_test=num_test_speakers)
    utterances = _design_utterances(speakers, repeats, seed, lambda rng: texts)
    return _build(root, params, speakers, utterances, seed, data_path)


def _build(root: Path, params: dict, speakers: list[dict], utterances: list[dict], seed: int,
           data_path: str) -> Path:
    """Speak the designed utterances into ``root/wav``; write ``corpus.json`` and the manifest last."""
    manifest = root / "manifest.csv"
    root.mkdir(parents=True, exist_ok=True)
    # An interrupted rebuild must not leave a manifest that looks valid next to missing files.
    manifest.unlink(missing_ok=True)
    logger.info("Synthesizing %d utterances into %s", len(utterances), root)
    clips = _synthesize(utterances, data_path)

    build_dir = Path(tempfile.mkdtemp(prefix=".wav-", dir=root))
    try:
        rows = _render(utterances, clips, build_dir, seed)
        _swap_dir(build_dir, root / "wav")
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)

    info = {
        "version": _CORPUS_VERSION,
        "params": params,
        "num_utterances": len(rows),
        "total_seconds": round(sum(row["duration"] for row in rows), 2),
        "speakers": speakers,
    }
    _write_atomic(root / "corpus.json", json.dumps(info, indent=2) + "\n")
    _write_atomic(manifest, _manifest_text(rows))
    return manifest


def _default_root() -> Path:
    return cache_dir("demo_corpus")


def _is_cached(root: Path, params: dict) -> bool:
    try:
        info = json.loads((root / "corpus.json").read_text())
        with open(root / "manifest.csv", newline="") as handle:
            audio = [row["audio"] for row in csv.DictReader(handle)]
    except (OSError, ValueError, KeyError):
        return False
    return (
        info.get("version") == _CORPUS_VERSION
        and info.get("params") == params
        and len(audio) == info.get("num_utterances")
        and all((root / path).is_file() for path in audio)
    )


def _espeak_data_path() -> str:
    try:
        import espeakng_loader
    except ImportError as error:
        raise RuntimeError(f"{_INSTALL_HINT}: {error}") from error
    library = Path(espeakng_loader.get_library_path())
    if not library.is_file():
        raise RuntimeError(f"{_INSTALL_HINT}: no library at {library}")
    try:
        return espeakng_loader.get_data_path()
    except RuntimeError as error:
        raise RuntimeError(f"{_INSTALL_HINT}: {error}") from error


def _design_speakers(num_speakers: int, seed: int, data_path: str, language: str | None = None,
                     num_test: int | None = None) -> list[dict]:
    rng = np.random.default_rng([seed, 1])
    # eSpeak accepts an unknown variant name silently (and speaks the plain voice), so only
    # variants whose file is in the shipped data count as distinct voices.
    variant_dir = Path(data_path) / "voices" / "!v"
    presets = [p for p in _VOICE_PRESETS if (variant_dir / p[1]).is_file()]
    if not presets:
        presets = [("en", "", 170, 50, 50)]
    if language is not None:  # the same voice variants speaking another language
        presets = [(language, *preset[1:]) for preset in presets]
    accents = sorted({p[0] for p in presets})
    variants = sorted({p[1] for p in presets})
    speakers = []
    for index in range(num_speakers):
        if index < len(presets):
            accent, variant, rate, pitch, pitch_range = presets[index]
        else:  # more speakers than presets: new combinations of the same ingredients
            accent, variant = accents[rng.integers(len(accents))], variants[rng.integers(len(variants))]
            rate, pitch, pitch_range = rng.uniform(140, 190), rng.uniform(30, 70), rng.uniform(30, 70)
        speakers.append(
            {
                "speaker": f"spk{index + 1:02d}",
                "voice": f"{accent}+{variant}" if variant else accent,
                "rate": int(round(rate * rng.uniform(0.95, 1.05))),
                "pitch": int(np.clip(round(pitch + rng.uniform(-5, 5)), 0, 100)),
                "range": int(np.clip(round(pitch_range + rng.uniform(-5, 5)), 0, 100)),
            }
        )
    if num_test is None:
        num_test = min(num_speakers - 1, max(1, round(num_speakers * _TEST_SPEAKER_FRACTION)))
    test = set(rng.permutation(num_speakers)[:num_test].tolist())
    for index, speaker in enumerate(speakers):
        speaker["split"] = "test" if index in test else "train"
    return speakers


def _design_utterances(speakers: list[dict], repeats: int, seed: int,
                       texts_of_round: Callable[[np.random.Generator], list[str]]) -> list[dict]:
    """Each speaker says ``texts_of_round(rng)`` ``repeats`` times, rate and pitch varied a little."""
    utterances = []
    for speaker_index, speaker in enumerate(speakers):
        rng = np.random.default_rng([seed, 2, speaker_index])
        for _ in range(repeats):
            for text in texts_of_round(rng):
                utterances.append(
                    {
                        "speaker": speaker["speaker"],
                        "split": speaker["split"],
                        "text": text,
                        "voice": speaker["voice"],
                        "rate": int(round(speaker["rate"] * rng.uniform(0.92, 1.08))),
                        "pitch": int(np.clip(speaker["pitch"] + rng.integers(-6, 7), 0, 100)),
                        "range": int(np.clip(speaker["range"] + rng.integers(-8, 9), 0, 100)),
                        "seed": int(rng.integers(2**31 - 1)),
                    }
                )
    return utterances


# --- eSpeak NG through ctypes --------------------------------------------------------------------
# eSpeak keeps global state between utterances (its pitch "flutter" phase runs on), so the same
# request gives slightly different audio depending on what was spoken before. Synthesizing every
# build in a fresh child process makes the corpus a function of `seed` alone, and a crash inside
# the C library cannot take down the caller's Python (a Jupyter kernel, say).

_AUDIO_OUTPUT_SYNCHRONOUS = 2  # espeak_Synth returns once every sample went through the callback
_INITIALIZE_DONT_EXIT = 0x8000  # without it eSpeak calls exit() when its data folder is missing
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_PITCH, _PARAM_RANGE = 1, 3, 4

_WORKER_BOOTSTRAP = (
    # -c instead of running this file as a script: a script's folder goes first on sys.path, and
    # this package's module names must not shadow the standard library's in the child.
    "import runpy, sys; runpy.run_path(sys.argv[1], run_name='_espeak_worker')['_worker_main']"
    "(*sys.argv[2:])"
)


def _synthesize(utterances: list[dict], data_path: str) -> tuple[list[np.ndarray], int]:
    """Speak every utterance in a child process; return int16 clips and eSpeak's sample rate."""
    keys = ("text", "voice", "rate", "pitch", "range", "seed")
    jobs = [{key: u[key] for key in keys} for u in utterances]
    with tempfile.TemporaryDirectory(prefix="autoasr-espeak-") as scratch:
        jobs_path, out_path = Path(scratch) / "jobs.json", Path(scratch) / "clips.npz"
        jobs_path.write_text(json.dumps({"data_path": data_path, "jobs": jobs}))
        command = [sys.executable, "-c", _WORKER_BOOTSTRAP, str(Path(__file__).resolve()),
                   str(jobs_path), str(out_path)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not out_path.is_file():
            detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"{_INSTALL_HINT}. The synthesis process failed: " + " | ".join(detail))
        with np.load(out_path) as saved:
            audio, lengths, rate = saved["audio"], saved["lengths"], int(saved["sample_rate"])
    clips = np.split(audio, np.cumsum(lengths)[:-1])
    return clips, rate


def _worker_main(jobs_path: str, out_path: str) -> None:
    """Entry point of the child process: speak the jobs, save the clips as one .npz."""
    request = json.loads(Path(jobs_path).read_text())
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    # buflength 0 = eSpeak's default chunk size (the callback gets ~60 ms at a time)
    sample_rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                        os.fsencode(request["data_path"]), _INITIALIZE_DONT_EXIT)
    if sample_rate <= 0:
        sys.exit(f"espeak_Initialize failed with data folder {request['data_path']}")

    chunks: list[np.ndarray] = []

    # int callback(short *wav, int numsamples, espeak_EVENT *events); the buffer is reused by
    # eSpeak after we return, hence the copy. Returning 0 means "go on".
    @ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
    def on_audio(wav, num_samples, events):
        if num_samples > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0

    lib.espeak_SetSynthCallback(on_audio)  # `on_audio` stays referenced until the loop ends
    # eSpeak seeds its noise generator (breathy voices) from the clock at initialization.
    set_seed = getattr(lib, "espeak_ng_SetRandSeed", None)
    if set_seed is not None:
        set_seed.argtypes = [ctypes.c_long]
    clips = []
    for job in request["jobs"]:
        if lib.espeak_SetVoiceByName(job["voice"].encode()) != 0:
            sys.exit(f"eSpeak has no voice {job['voice']!r}")
        # set after the voice: selecting a voice may reset them
        lib.espeak_SetParameter(_PARAM_RATE, job["rate"], 0)
        lib.espeak_SetParameter(_PARAM_PITCH, job["pitch"], 0)
        lib.espeak_SetParameter(_PARAM_RANGE, job["range"], 0)
        if set_seed is not None:
            set_seed(job["seed"])
        text = job["text"].encode("utf-8") + b"\0"
        chunks.clear()
        error = lib.espeak_Synth(text, len(text), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if error != 0 or not chunks:
            sys.exit(f"espeak_Synth failed ({error}) for {job}")
        clips.append(np.concatenate(chunks))
    lib.espeak_Terminate()
    lengths = np.array([len(clip) for clip in clips], dtype=np.int64)
    np.savez(out_path, audio=np.concatenate(clips), lengths=lengths, sample_rate=sample_rate)


# --- from raw eSpeak output to corpus files ------------------------------------------------------

def _render(utterances: list[dict], synthesized: tuple[list[np.ndarray], int], wav_dir: Path,
            seed: int) -> list[dict]:
    import soundfile
    import torch
    import torchaudio.functional as audio_functional

    clips, native_rate = synthesized
    rows = []
    counters: dict[str, int] = {}
    for index, (utterance, clip) in enumerate(zip(utterances, clips)):
        rng = np.random.default_rng([seed, 3, index])
        speech = _trim(clip.astype(np.float32) / 32768.0)
        speech = audio_functional.resample(torch.from_numpy(speech), native_rate,
                                           DEMO_SAMPLE_RATE).numpy()
        speech *= rng.uniform(0.3, 0.9) / max(float(np.abs(speech).max()), 1e-6)
        samples = _pad_and_add_noise(speech, rng)
        speaker = utterance["speaker"]
        counters[speaker] = counters.get(speaker, 0) + 1
        name = f"{speaker}-{counters[speaker]:03d}.wav"
        soundfile.write(wav_dir / name, samples, DEMO_SAMPLE_RATE, subtype="PCM_16")
        rows.append(
            {
                "audio": f"wav/{name}",
                "text": utterance["text"],
                "speaker": speaker,
                "duration": round(len(samples) / DEMO_SAMPLE_RATE, 3),
                "split": utterance["split"],
            }
        )
    return rows


def _trim(samples: np.ndarray, margin: int = 220) -> np.ndarray:
    """Cut eSpeak's own leading/trailing silence (below -40 dB of the peak), keeping ~10 ms."""
    loud = np.flatnonzero(np.abs(samples) > 0.01 * np.abs(samples).max())
    if loud.size == 0:
        return samples
    return samples[max(loud[0] - margin, 0): loud[-1] + margin]


def _pad_and_add_noise(speech: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rate = DEMO_SAMPLE_RATE
    lead, trail = (int(rng.uniform(0.05, 0.3) * rate) for _ in range(2))
    total = len(speech) + lead + trail
    if total < _MIN_SECONDS * rate:
        trail += int(_MIN_SECONDS * rate) - total
    elif total > _MAX_SECONDS * rate:  # shrink the silences, never the speech
        spare = max(int(_MAX_SECONDS * rate) - len(speech), 0)
        lead, trail = lead * spare // (lead + trail), trail * spare // (lead + trail)
    samples = np.concatenate([np.zeros(lead, np.float32), speech, np.zeros(trail, np.float32)])

    noise = rng.standard_normal(len(samples))
    if rng.random() < 0.5:  # pink: 1/f power, shaped in the frequency domain
        spectrum = np.fft.rfft(noise)
        spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
        noise = np.fft.irfft(spectrum, len(noise))
    snr_db = rng.uniform(20, 40)
    speech_power = float(np.mean(speech.astype(np.float64) ** 2))
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10) / max(float(np.mean(noise ** 2)), 1e-12))
    return np.clip(samples + noise, -1.0, 1.0).astype(np.float32)


def _swap_dir(new: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}-old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _manifest_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")  # quotes a text with a comma (your own sentences)
    writer.writerow(["audio", "text", "speaker", "duration", "split"])
    writer.writerows([r["audio"], r["text"], r["speaker"], f"{r['duration']:.3f}", r["split"]] for r in rows)
    return buffer.getvalue()


def _write_atomic(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
