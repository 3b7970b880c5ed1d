"""Waveform augmentations for a domain's training set (SpecAugment on frames is in
:mod:`autoasr.training.specaugment`).

The waveform augmentations (speed perturbation, additive noise, synthetic reverberation, a telephone line) make
extra training copies that sound like the audio a domain's model will hear; a recipe chains them:

>>> recipe = recipe_for_domain("telephony")
>>> copies = augmented_copies([np.zeros(16000, np.float32)], 16000, recipe, copies=2, seed=0)
>>> len(copies)
2
"""
from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torchaudio.functional as audio_functional

from autoasr.data.audio import AudioError, read_audio

# ------------------------------------------------------------------------------------------------
# Waveform augmentations: each a torch module (random settings per call, like torchaudio's
# transforms) with a functional twin (explicit settings). Waveforms are float tensors (..., samples).
# ------------------------------------------------------------------------------------------------


def speed_perturb(waveform: torch.Tensor, sample_rate: int, factor: float) -> torch.Tensor:
    """Play ``factor`` times faster (pitch moves with it, as in Kaldi's speed perturbation).

    >>> speed_perturb(torch.zeros(16000), 16000, 1.1).shape
    torch.Size([14546])
    """
    if factor == 1.0:
        return waveform
    return audio_functional.resample(waveform, int(round(sample_rate * factor)), sample_rate)


class SpeedPerturbation(torch.nn.Module):
    """Speed perturbation with a factor drawn from ``factors`` on each call.

    >>> SpeedPerturbation(16000, factors=(0.9,))(torch.zeros(1, 16000)).shape
    torch.Size([1, 17778])
    """

    def __init__(self, sample_rate: int, factors: tuple[float, ...] = (0.9, 1.0, 1.1)):
        super().__init__()
        self.sample_rate, self.factors = sample_rate, tuple(factors)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        factor = self.factors[int(torch.randint(len(self.factors), ()))]
        return speed_perturb(waveform, self.sample_rate, factor)


NOISE_KINDS = ("white", "pink", "babble")


def synthetic_noise(kind: str, num_samples: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink (1/f power) or babble-like noise (several speech-shaped noises, each switched on
    and off at a syllable rate like a distant talker), with unit RMS.

    >>> synthetic_noise("pink", 8000, 16000, np.random.default_rng(0)).shape
    (8000,)
    """
    if kind == "white":
        noise = rng.standard_normal(num_samples)
    elif kind == "pink":
        noise = _shaped_noise(num_samples, sample_rate, rng, low_hz=0.0, high_hz=sample_rate / 2)
    elif kind == "babble":
        noise = np.zeros(num_samples)
        for _ in range(int(rng.integers(4, 8))):
            talker = _shaped_noise(num_samples, sample_rate, rng, low_hz=150.0, high_hz=4000.0)
            noise += talker * _syllable_envelope(num_samples, sample_rate, rng)
    else:
        raise ValueError(f"unknown noise kind '{kind}' (choose from {', '.join(NOISE_KINDS)})")
    return (noise / (np.sqrt(np.mean(noise**2)) + 1e-12)).astype(np.float32)


def _shaped_noise(num_samples: int, sample_rate: int, rng: np.random.Generator, low_hz: float,
                  high_hz: float) -> np.ndarray:
    """Pink noise limited to ``low_hz``-``high_hz`` (shaped in the frequency domain)."""
    spectrum = np.fft.rfft(rng.standard_normal(max(num_samples, 2)))
    frequencies = np.fft.rfftfreq(max(num_samples, 2), 1.0 / sample_rate)
    shape = 1.0 / np.sqrt(np.maximum(frequencies, 20.0))
    shape[(frequencies < low_hz) | (frequencies > high_hz)] = 0.0
    return np.fft.irfft(spectrum * shape, n=max(num_samples, 2))[:num_samples]


def _syllable_envelope(num_samples: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    rate = rng.uniform(3.0, 6.0)  # syllables per second
    points = max(int(num_samples / sample_rate * rate) + 2, 2)
    levels = rng.uniform(0.0, 1.0, points) ** 2
    return np.interp(np.arange(num_samples), np.linspace(0, num_samples, points), levels)


def add_noise_at_snr(waveform: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    """``waveform`` plus ``noise`` (same length) scaled to a signal-to-noise ratio of ``snr_db``.

    >>> add_noise_at_snr(torch.ones(100), torch.ones(100), 0.0)[0]
    tensor(2.)
    """
    snr = torch.tensor([float(snr_db)], dtype=waveform.dtype)
    return audio_functional.add_noise(waveform.unsqueeze(0), noise.unsqueeze(0).to(waveform.dtype), snr)[0]


class NoiseFolder:
    """Noise recordings from a user's folder (wav/flac/ogg, read once), cut into random segments.

    >>> noises = NoiseFolder("my_noises/", 16000)               # doctest: +SKIP
    >>> noises.segment(16000, np.random.default_rng(0)).shape   # doctest: +SKIP
    (16000,)
    """

    SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")

    def __init__(self, folder: str | Path, sample_rate: int, max_seconds: float = 600.0):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"noise folder not found: {self.folder}")
        self.clips: list[np.ndarray] = []
        budget = int(max_seconds * sample_rate)
        for path in sorted(p for p in self.folder.rglob("*") if p.suffix.lower() in self.SUFFIXES):
            if budget <= 0:
                break
            try:
                clip = read_audio(path, sample_rate)[:budget]
            except AudioError:
                continue  # an unreadable file is skipped: the other noises still serve
            if np.sqrt(np.mean(clip**2)) > 1e-6:
                self.clips.append(clip)
                budget -= len(clip)
        if not self.clips:
            raise ValueError(f"no readable noise recordings (wav/flac/ogg) in {self.folder}")

    def segment(self, num_samples: int, rng: np.random.Generator) -> np.ndarray:
        """A random stretch of a random recording (looped when shorter), with unit RMS."""
        clip = self.clips[int(rng.integers(len(self.clips)))]
        if len(clip) < num_samples:
            clip = np.tile(clip, num_samples // len(clip) + 1)
        start = int(rng.integers(len(clip) - num_samples + 1))
        piece = clip[start : start + num_samples].astype(np.float64)
        return (piece / (np.sqrt(np.mean(piece**2)) + 1e-12)).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _noise_folder(folder: str, sample_rate: int) -> NoiseFolder:
    return NoiseFolder(folder, sample_rate)


class AddNoise(torch.nn.Module):
    """Add noise at an SNR drawn uniformly from ``snr_db``: synthetic kinds, or a noise folder.

    >>> AddNoise(16000, kinds=("pink",), snr_db=(10, 20))(torch.randn(16000)).shape
    torch.Size([16000])
    """

    def __init__(self, sample_rate: int, kinds: tuple[str, ...] = NOISE_KINDS, snr_db: tuple[float, float] = (10, 30),
                 noise_folder: str | Path | None = None):
        super().__init__()
        self.sample_rate, self.kinds, self.snr_db = sample_rate, tuple(kinds), snr_db
        self.noise_folder = NoiseFolder(noise_folder, sample_rate) if noise_folder else None

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        rng = np.random.default_rng(int(torch.randint(2**31 - 1, ())))
        num_samples = waveform.shape[-1]
        if self.noise_folder is not None:
            noise = self.noise_folder.segment(num_samples, rng)
        else:
            noise = synthetic_noise(self.kinds[int(rng.integers(len(self.kinds)))], num_samples, self.sample_rate, rng)
        return add_noise_at_snr(waveform, torch.from_numpy(noise), rng.uniform(*self.snr_db))


def synthetic_impulse_response(sample_rate: int, rt60_seconds: float, rng: np.random.Generator,
                               direct_to_reverberant_db: float = 3.0) -> np.ndarray:
    """A room impulse response: a direct-path click, then exponentially decaying noise that falls by
    60 dB in ``rt60_seconds`` (the room's reverberation time).

    >>> ir = synthetic_impulse_response(16000, 0.4, np.random.default_rng(0))
    >>> float(ir[0]), len(ir)
    (1.0, 7680)
    """
    length = max(int(min(rt60_seconds * 1.2, 2.0) * sample_rate), 2)
    time = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.exp(-6.9078 * time / rt60_seconds)  # ln(1000): 60 dB
    tail[: int(0.002 * sample_rate) + 1] = 0.0  # first reflections arrive a couple of milliseconds later
    tail *= 10 ** (-direct_to_reverberant_db / 20) / (np.sqrt(np.sum(tail**2)) + 1e-12)
    tail[0] = 1.0
    return tail.astype(np.float32)


def reverberate(waveform: torch.Tensor, impulse_response: torch.Tensor) -> torch.Tensor:
    """Convolve with a room impulse response; same length and loudness (RMS) as the input.

    >>> reverberate(torch.randn(16000), torch.tensor([1.0, 0.5])).shape
    torch.Size([16000])
    """
    num_samples = waveform.shape[-1]
    # the FFT product of torchaudio.functional.fftconvolve, at a power-of-two size: 4x faster here
    size = 1 << (num_samples + impulse_response.shape[-1] - 2).bit_length()
    spectrum = torch.fft.rfft(waveform, n=size) * torch.fft.rfft(impulse_response.to(waveform.dtype), n=size)
    wet = torch.fft.irfft(spectrum, n=size)[..., :num_samples]
    scale = waveform.pow(2).mean(-1, keepdim=True).sqrt() / (wet.pow(2).mean(-1, keepdim=True).sqrt() + 1e-12)
    return wet * scale


class Reverberation(torch.nn.Module):
    """Synthetic room reverberation with a reverberation time drawn from ``rt60_seconds``."""

    def __init__(self, sample_rate: int, rt60_seconds: tuple[float, float] = (0.2, 0.8)):
        super().__init__()
        self.sample_rate, self.rt60_seconds = sample_rate, rt60_seconds

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        rng = np.random.default_rng(int(torch.randint(2**31 - 1, ())))
        impulse = synthetic_impulse_response(self.sample_rate, rng.uniform(*self.rt60_seconds), rng)
        return reverberate(waveform, torch.from_numpy(impulse))


TELEPHONE_RATE = 8000


def telephone_channel(waveform: torch.Tensor, sample_rate: int, mu_law: bool = True,
                      band_hz: tuple[float, float] = (300.0, 3400.0)) -> torch.Tensor:
    """Sound like a phone line: 8 kHz narrowband, 300-3400 Hz band-pass, optionally G.711 mu-law
    8-bit companding; returned at ``sample_rate`` with the input's length.

    >>> telephone_channel(torch.randn(16000) * 0.1, 16000).shape
    torch.Size([16000])
    """
    num_samples = waveform.shape[-1]
    narrow = audio_functional.resample(waveform, sample_rate, TELEPHONE_RATE) if sample_rate != TELEPHONE_RATE \
        else waveform
    for _ in range(2):  # two biquads per edge: a steeper 24 dB/octave slope
        narrow = audio_functional.highpass_biquad(narrow, TELEPHONE_RATE, band_hz[0])
        narrow = audio_functional.lowpass_biquad(narrow, TELEPHONE_RATE, band_hz[1])
    if mu_law:
        peak = narrow.abs().amax(-1, keepdim=True).clamp(min=1e-8)
        codes = audio_functional.mu_law_encoding(narrow / peak, 256)
        narrow = audio_functional.mu_law_decoding(codes, 256) * peak
    wide = audio_functional.resample(narrow, TELEPHONE_RATE, sample_rate) if sample_rate != TELEPHONE_RATE \
        else narrow
    if wide.shape[-1] < num_samples:
        wide = torch.nn.functional.pad(wide, (0, num_samples - wide.shape[-1]))
    return wide[..., :num_samples]


class TelephoneChannel(torch.nn.Module):
    """The :func:`telephone_channel` effect as a module (mu-law with probability ``mu_law_probability``)."""

    def __init__(self, sample_rate: int, mu_law_probability: float = 0.5):
        super().__init__()
        self.sample_rate, self.mu_law_probability = sample_rate, mu_law_probability

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return telephone_channel(waveform, self.sample_rate, mu_law=bool(torch.rand(()) < self.mu_law_probability))


# ------------------------------------------------------------------------------------------------
# Recipes: which augmentations, how often and how strong; applied to numpy samples, seeded.
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AugmentationRecipe:
    """A seeded chain: speed perturbation, then reverberation, then noise, then a phone line.

    Each step happens with its probability; its strength is drawn from its range. The same ``rng``
    state always gives the same output.

    >>> recipe = RECIPES["telephony"]
    >>> out = recipe.apply(np.zeros(16000, np.float32), 16000, np.random.default_rng(0))
    >>> out.dtype
    dtype('float32')
    """

    name: str = "custom"
    speed_factors: tuple[float, ...] = (0.9, 1.0, 1.1)
    reverb_probability: float = 0.0
    rt60_seconds: tuple[float, float] = (0.2, 0.8)
    noise_probability: float = 0.0
    noise_kinds: tuple[str, ...] = NOISE_KINDS  # "folder" draws from ``noise_folder``
    snr_db: tuple[float, float] = (10.0, 30.0)
    noise_folder: str | None = None
    telephone_probability: float = 0.0
    mu_law_probability: float = 0.5
    gain_db: tuple[float, float] = (0.0, 0.0)  # a louder or quieter microphone; drawn only when the range is not 0

    def __post_init__(self):
        unknown = set(self.noise_kinds) - {*NOISE_KINDS, "folder"}
        if unknown:
            raise ValueError(f"unknown noise kinds {sorted(unknown)} (choose from {', '.join(NOISE_KINDS)}, folder)")
        if "folder" in self.noise_kinds and not self.noise_folder:
            raise ValueError("noise kind 'folder' needs noise_folder")

    def with_noise_folder(self, folder: str | Path) -> "AugmentationRecipe":
        """The same recipe drawing half of its noises from the user's recordings in ``folder``."""
        kinds = tuple(k for k in self.noise_kinds if k != "folder")
        return replace(self, noise_folder=str(folder), noise_kinds=(*kinds, *(["folder"] * max(len(kinds), 1))),
                       noise_probability=self.noise_probability or 0.5)

    def key(self) -> str:
        """A stable text key (for caching features of augmented copies)."""
        return json.dumps(asdict(self), sort_keys=True)

    @property
    def is_identity(self) -> bool:
        return (set(self.speed_factors) <= {1.0} and self.reverb_probability <= 0 and self.noise_probability <= 0
                and self.telephone_probability <= 0 and tuple(self.gain_db) == (0.0, 0.0))

    def apply(self, samples: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
        """One augmented version of mono float ``samples`` (its length changes with the speed)."""
        waveform = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
        factor = float(self.speed_factors[int(rng.integers(len(self.speed_factors)))]) if self.speed_factors else 1.0
        waveform = speed_perturb(waveform, sample_rate, factor)
        if tuple(self.gain_db) != (0.0, 0.0):  # no draw otherwise: the older recipes keep their outputs
            waveform = waveform * 10 ** (rng.uniform(*self.gain_db) / 20)
        if rng.random() < self.reverb_probability:
            impulse = synthetic_impulse_response(sample_rate, rng.uniform(*self.rt60_seconds), rng)
            waveform = reverberate(waveform, torch.from_numpy(impulse))
        if rng.random() < self.noise_probability and waveform.shape[-1] > 1:
            kind = self.noise_kinds[int(rng.integers(len(self.noise_kinds)))]
            num_samples = waveform.shape[-1]
            noise = (_noise_folder(self.noise_folder, sample_rate).segment(num_samples, rng) if kind == "folder"
                     else synthetic_noise(kind, num_samples, sample_rate, rng))
            waveform = add_noise_at_snr(waveform, torch.from_numpy(noise), rng.uniform(*self.snr_db))
        if rng.random() < self.telephone_probability:
            waveform = telephone_channel(waveform, sample_rate, mu_law=bool(rng.random() < self.mu_law_probability))
        peak = float(waveform.abs().max()) if waveform.numel() else 0.0
        if peak > 1.0:  # keep within the range audio files can hold
            waveform = waveform / peak
        return waveform.numpy().astype(np.float32, copy=False)


RECIPES: dict[str, AugmentationRecipe] = {
    "none": AugmentationRecipe("none", speed_factors=(1.0,)),
    "light": AugmentationRecipe("light", noise_probability=0.3, snr_db=(15.0, 30.0)),
    "noisy_light": AugmentationRecipe("noisy_light", noise_probability=0.5, snr_db=(10.0, 30.0),
                                      reverb_probability=0.2, rt60_seconds=(0.2, 0.5)),
    "telephony": AugmentationRecipe("telephony", noise_probability=0.4, snr_db=(15.0, 35.0),
                                    noise_kinds=("white", "pink"), telephone_probability=0.8),
    "far_field": AugmentationRecipe("far_field", reverb_probability=0.6, rt60_seconds=(0.3, 1.0),
                                    noise_probability=0.7, snr_db=(5.0, 25.0)),
}
"""Named recipes a domain's ``augmentation`` field can refer to."""


def get_recipe(recipe: str | dict | AugmentationRecipe) -> AugmentationRecipe:
    """A recipe from its name in :data:`RECIPES`, a dict of its fields, or a recipe (passed through)."""
    if isinstance(recipe, AugmentationRecipe):
        return recipe
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ValueError(f"unknown augmentation recipe '{recipe}' (choose from {', '.join(RECIPES)})")
        return RECIPES[recipe]
    fields = {key: tuple(value) if isinstance(value, list) else value for key, value in dict(recipe).items()}
    base = RECIPES.get(fields.pop("base", "none"), RECIPES["none"])
    return replace(base, **{"name": "custom", **fields})


def recipe_for_domain(domain, noise_folder: str | Path | None = None) -> AugmentationRecipe:
    """The augmentation recipe of a domain (a name of :mod:`autoasr.domains` or a ``Domain``),
    optionally drawing noise from the user's ``noise_folder`` too.

    >>> recipe_for_domain("telephony").telephone_probability
    0.8
    """
    from autoasr.domains.presets import get_domain

    recipe = get_recipe(get_domain(domain).augmentation)
    return recipe.with_noise_folder(noise_folder) if noise_folder else recipe


def augmented_copies(samples_list: Sequence[np.ndarray], sample_rate: int,
                     recipe: str | dict | AugmentationRecipe, copies: int = 1, seed: int = 0) -> list[np.ndarray]:
    """``copies`` augmented versions of every clip, copy-major: item ``c * len(samples_list) + i``
    is copy ``c`` of clip ``i`` (so the transcripts are ``texts * copies``). Deterministic: each
    clip's randomness comes from ``(seed, c, i)`` alone, whatever the order or batching.

    >>> clips = [np.zeros(16000, np.float32), np.zeros(8000, np.float32)]
    >>> len(augmented_copies(clips, 16000, "light", copies=2, seed=0))
    4
    """
    recipe = get_recipe(recipe)
    return [recipe.apply(samples, sample_rate, np.random.default_rng([seed, copy, index]))
            for copy in range(copies) for index, samples in enumerate(samples_list)]
