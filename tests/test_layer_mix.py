"""The layer-mixing pooled head (``pooled_mix``): its frontend caches every encoder layer's mean and max pooled
vectors (a few rows a clip), the head averages the layers (fixed softmax weights, saved with it), learns labels
by cross-entropy, and small corpora get it in the portfolio (large ones: one more encoder pass)."""
from __future__ import annotations

import pytest
import torch


def test_the_pooled_layer_rows_are_each_layers_mean_and_max_and_the_top_matches_the_frames(tiny_whisper_dir):
    from autoasr.models.frontends import Frontend, FrontendConfig
    from autoasr.models.whisper import encoder_layer_states, load_whisper_encoder

    config = {"model": "whisper", "size": "pooled_mix", "frontend": "whisper", "encoder": str(tiny_whisper_dir),
              "num_features": 32}
    frontend_config = FrontendConfig.of(config)
    assert frontend_config.pooled_layers and not frontend_config.below_top
    assert frontend_config.key() != FrontendConfig.of({**config, "size": "pooled"}).key()  # its own cache
    assert "pooled_layers" not in FrontendConfig.of({**config, "size": "tiny"}).key()  # old cache keys stay
    clip = 0.1 * torch.randn(16000, generator=torch.Generator().manual_seed(0))
    rows = Frontend(frontend_config)(clip)
    depth = len(load_whisper_encoder(str(tiny_whisper_dir)).layers) + 1  # the embeddings, then each layer
    assert rows.shape == (2 * depth, 32)
    frames = Frontend(FrontendConfig.of({**config, "size": "tiny"}))(clip)  # the top layer's frames
    torch.testing.assert_close(rows[depth - 1], frames.mean(0), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(rows[-1], frames.amax(0), atol=1e-4, rtol=1e-4)
    frontend = Frontend(frontend_config).transform
    with torch.inference_mode():
        states = encoder_layer_states(load_whisper_encoder(str(tiny_whisper_dir)), frontend.log_mel(clip[None]))
    torch.testing.assert_close(rows[0], states[0][0].mean(0), atol=1e-4, rtol=1e-4)  # the embeddings' mean


def test_the_mix_head_reads_the_layers_average_and_learns_labels(tiny_whisper_dir):
    from autoasr.core.text import CharVocabulary
    from autoasr.decoding.greedy import greedy_decode
    from autoasr.models.whisper import build_whisper_head, mix_pooled_layers

    labels = ["off", "on", "one", "yes"]
    vocabulary = CharVocabulary.from_texts(labels)
    head = build_whisper_head(32, len(vocabulary), 0.0, "pooled_mix", labels=labels, symbols=vocabulary.symbols,
                              encoder=str(tiny_whisper_dir))
    assert head.top is None and head.layer_weights.shape == (3,)  # tiny random Whisper: embeddings + 2 layers
    torch.manual_seed(0)
    rows = torch.randn(4, 6, 32)
    average = torch.cat([rows[:, :3], rows[:, 3:]], -1).mean(1)  # each layer's mean+max vector, averaged
    torch.testing.assert_close(mix_pooled_layers(rows, head.layer_weights), average)  # equal weights at first
    targets = [torch.tensor(vocabulary.encode(label)) for label in labels]
    lengths = torch.full((4,), 6)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    first = head.clip_loss(rows, lengths, targets).item()
    for _ in range(50):
        optimizer.zero_grad()
        head.clip_loss(rows, lengths, targets).backward()
        optimizer.step()
    assert head.clip_loss(rows, lengths, targets).item() < 0.1 * first
    assert torch.equal(head.layer_weights, torch.zeros(3))  # kept the average: learned, the mix fell onto one layer
    head.eval()
    assert greedy_decode(*head(rows, lengths), vocabulary) == labels
    assert any(name == "layer_weights" for name in head.state_dict())  # saved with the head


@pytest.mark.parametrize("clips, expected", [(30, True), (3000, True), (5000, False)])
def test_corpora_up_to_a_few_thousand_clips_get_the_mix_head_first(clips, expected):
    from autoasr.models.wav2vec2 import PretrainedEncoder
    from autoasr.search.candidates import with_pooled_candidate
    from autoasr.search.presets import get_preset

    encoder = PretrainedEncoder(name="tiny", path="x", kind="whisper", parameters=1, source="x",
                                config={"d_model": 32})
    preset = with_pooled_candidate(get_preset("default"), [encoder], ["yes", "no"] * (clips // 2))
    sizes = [c["size"] for c in preset.portfolio if c.get("model") == "whisper"]
    assert sizes[:3] == (["pooled_mix", "pooled", "pooled_tuned"] if expected else ["pooled", "pooled_tuned"])
