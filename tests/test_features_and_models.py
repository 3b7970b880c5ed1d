import pytest
import torch

from autoasr.data.load import load_dataset
from autoasr.models.frontends import Frontend, FrontendConfig
from autoasr.models.registry import MODEL_FAMILIES, build_model
from autoasr.training.feature_cache import compute_features


@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_frontend_gives_normalised_frames_every_10_ms(kind):
    frames = Frontend(FrontendConfig(kind=kind, num_features=40))(torch.randn(16000))
    assert frames.shape == (101, 40)
    assert frames.mean().abs() < 1e-3 and abs(frames.std().item() - 1) < 0.05


def test_features_are_cached_on_disk_and_reused(tiny_corpus, tmp_path):
    dataset = load_dataset(tiny_corpus)
    first = compute_features(dataset, FrontendConfig(), cache_dir=tmp_path, progress=False)
    second = compute_features(dataset, FrontendConfig(), cache_dir=tmp_path, progress=False)
    assert not first.from_cache and second.from_cache
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    assert torch.allclose(first.features[3], second.features[3], atol=1e-2)  # stored as float16
    other = compute_features(dataset, FrontendConfig(kind="mfcc"), cache_dir=tmp_path, progress=False)
    assert not other.from_cache and len(list(tmp_path.glob("*.safetensors"))) == 2


@pytest.mark.parametrize("family", sorted(MODEL_FAMILIES))
@pytest.mark.parametrize("size", ["tiny", "small", "medium"])
def test_every_model_family_and_size_maps_features_to_log_probs(family, size):
    model = build_model(family, size, num_features=40, vocabulary_size=12)
    log_probs, lengths = model(torch.randn(3, 61, 40), torch.tensor([61, 40, 20]))
    assert log_probs.shape == (3, 31, 12)
    assert lengths.tolist() == [31, 20, 10]
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 31), atol=1e-4)
    log_probs.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_model_sizes_grow():
    for family in MODEL_FAMILIES:
        counts = [sum(p.numel() for p in build_model(family, size, 40, 12).parameters())
                  for size in ("tiny", "small", "medium")]
        assert counts == sorted(counts) and counts[0] < counts[2], family


def test_unknown_family_is_a_clear_error():
    with pytest.raises(ValueError, match="choose from"):
        build_model("transformer-xl", "small", 40, 12)
