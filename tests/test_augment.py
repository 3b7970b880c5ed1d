"""Waveform augmentations and recipes: each effect does what it says, recipes are seeded and domain-specific."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from autoasr.domains.augment import (
    RECIPES,
    AddNoise,
    AugmentationRecipe,
    NoiseFolder,
    Reverberation,
    SpeedPerturbation,
    TelephoneChannel,
    add_noise_at_snr,
    augmented_copies,
    get_recipe,
    recipe_for_domain,
    reverberate,
    speed_perturb,
    synthetic_impulse_response,
    synthetic_noise,
    telephone_channel,
)
from autoasr.domains.presets import DOMAINS

RATE = 16000


def tone(frequency: float, seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * frequency * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def peak_frequency(samples: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


def band_energy(samples: np.ndarray, low: float, high: float, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    frequencies = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(spectrum[(frequencies >= low) & (frequencies < high)].sum())


def test_speed_perturbation_shortens_the_clip_and_raises_the_pitch():
    faster = speed_perturb(torch.from_numpy(tone(440)), RATE, 1.1).numpy()
    assert abs(len(faster) - RATE / 1.1) <= 1
    assert abs(peak_frequency(faster) - 484) < 3
    slower = SpeedPerturbation(RATE, factors=(0.9,))(torch.from_numpy(tone(440)))
    assert abs(len(slower) - RATE / 0.9) <= 1


@pytest.mark.parametrize("kind", ["white", "pink", "babble"])
def test_noise_is_added_at_the_requested_snr(kind):
    clean = torch.from_numpy(tone(300))
    noise = torch.from_numpy(synthetic_noise(kind, RATE, RATE, np.random.default_rng(0)))
    noisy = add_noise_at_snr(clean, noise, 10.0)
    measured = 10 * np.log10(clean.pow(2).sum().item() / (noisy - clean).pow(2).sum().item())
    assert abs(measured - 10.0) < 0.01


def test_synthetic_noises_have_their_character():
    rng = np.random.default_rng(1)
    pink = synthetic_noise("pink", RATE, RATE, rng)
    white = synthetic_noise("white", RATE, RATE, rng)
    babble = synthetic_noise("babble", 2 * RATE, RATE, rng)
    assert band_energy(pink, 100, 200) / 100 > 20 * band_energy(pink, 4000, 8000) / 4000  # 1/f power density
    assert band_energy(babble, 5000, 8000) < 1e-3 * band_energy(babble, 150, 4000)  # speech band only
    frame_levels = lambda x: np.sqrt((x[: len(x) // 400 * 400].reshape(-1, 400) ** 2).mean(axis=1))
    assert frame_levels(babble).std() > 3 * frame_levels(white).std()  # talkers switch on and off


def test_impulse_response_decays_sixty_decibels_in_the_reverberation_time():
    impulse = synthetic_impulse_response(RATE, 0.5, np.random.default_rng(0))
    assert impulse[0] == 1.0 and len(impulse) == int(0.6 * RATE)
    early = np.sqrt(np.mean(impulse[int(0.01 * RATE) : int(0.05 * RATE)] ** 2))
    late = np.sqrt(np.mean(impulse[int(0.46 * RATE) : int(0.50 * RATE)] ** 2))
    assert 45 < 20 * np.log10(early / late) < 70


def test_reverberation_smears_a_click_but_keeps_length_and_loudness():
    click = torch.zeros(RATE)
    click[1000] = 1.0
    wet = reverberate(click, torch.from_numpy(synthetic_impulse_response(RATE, 0.4, np.random.default_rng(0))))
    assert wet.shape == click.shape
    assert torch.isclose(wet.pow(2).mean(), click.pow(2).mean(), rtol=1e-3)
    assert wet[1000 + int(0.1 * RATE)].abs() > 0 and wet[:1000].abs().max() < 1e-6  # a tail after, nothing before
    assert Reverberation(RATE)(torch.from_numpy(tone(500))).shape == (RATE,)


def test_telephone_channel_removes_what_a_phone_line_cannot_carry():
    mixture = tone(150) + tone(1000) + tone(5000)
    line = telephone_channel(torch.from_numpy(mixture), RATE, mu_law=False).numpy()
    assert len(line) == len(mixture)
    assert band_energy(line, 900, 1100) > 0.5 * band_energy(mixture, 900, 1100)
    assert band_energy(line, 4900, 5100) < 1e-4 * band_energy(mixture, 4900, 5100)
    assert band_energy(line, 100, 200) < 0.05 * band_energy(mixture, 100, 200)
    companded = telephone_channel(torch.from_numpy(tone(1000)), RATE, mu_law=True).numpy()
    assert 0 < np.abs(companded - telephone_channel(torch.from_numpy(tone(1000)), RATE, mu_law=False).numpy()).max()
    assert TelephoneChannel(8000)(torch.from_numpy(tone(1000, rate=8000))).shape == (8000,)


def test_waveform_modules_compose_like_torchaudio_transforms():
    chain = torch.nn.Sequential(SpeedPerturbation(RATE, (1.1,)), Reverberation(RATE), AddNoise(RATE), TelephoneChannel(RATE))
    torch.manual_seed(0)
    out = chain(torch.from_numpy(tone(700)))
    assert abs(out.shape[0] - RATE / 1.1) <= 1 and torch.isfinite(out).all()


def test_recipes_are_deterministic_given_the_seed_and_copy_major():
    clips = [tone(300), tone(600, 0.5), tone(900, 0.7)]
    first = augmented_copies(clips, RATE, "far_field", copies=2, seed=3)
    again = augmented_copies(clips, RATE, "far_field", copies=2, seed=3)
    other = augmented_copies(clips, RATE, "far_field", copies=2, seed=4)
    assert len(first) == 6 and all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(len(a) == len(b) and np.allclose(a, b) for a, b in zip(first, other))
    assert abs(len(first[3]) - len(clips[0]) / 1.0) <= len(clips[0]) * 0.1  # item 3 = copy 1 of clip 0
    assert all(np.abs(x).max() <= 1.0 and x.dtype == np.float32 for x in first)
    assert np.array_equal(augmented_copies(clips, RATE, "none", copies=1)[0], clips[0])


def test_every_domain_names_an_existing_recipe():
    for domain in DOMAINS.values():
        assert isinstance(recipe_for_domain(domain), AugmentationRecipe)
    assert recipe_for_domain("telephony").telephone_probability > 0
    assert recipe_for_domain("noisy").reverb_probability > 0
    assert get_recipe({"base": "light", "snr_db": [5, 10]}).snr_db == (5, 10)
    with pytest.raises(ValueError, match="unknown augmentation recipe"):
        get_recipe("loud")


def test_noise_from_a_users_folder(tmp_path):
    folder = tmp_path / "noises"
    folder.mkdir()
    hum = tone(120, 0.3) + 0.01 * np.random.default_rng(0).standard_normal(int(0.3 * RATE)).astype(np.float32)
    soundfile.write(folder / "hum.wav", hum, RATE)
    (folder / "broken.wav").write_bytes(b"not audio")
    segment = NoiseFolder(folder, RATE).segment(RATE, np.random.default_rng(0))  # looped: longer than the file
    assert len(segment) == RATE and abs(np.sqrt(np.mean(segment**2)) - 1) < 1e-3
    recipe = AugmentationRecipe(speed_factors=(1.0,), noise_probability=1.0, noise_kinds=("folder",),
                                noise_folder=str(folder), snr_db=(0.0, 0.0))
    noisy = recipe.apply(tone(2000), RATE, np.random.default_rng(0))
    assert abs(peak_frequency(noisy - tone(2000)) - 120) < 3
    assert "folder" in RECIPES["light"].with_noise_folder(folder).noise_kinds
    with pytest.raises(FileNotFoundError, match="noise folder not found"):
        NoiseFolder(tmp_path / "missing", RATE)
