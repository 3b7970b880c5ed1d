"""The exportable twin of a frozen Whisper encoder and its heads: waveform (+ lengths) -> encoder vectors from
plain tensor operations, the encoder's weights inside the exported file.

:class:`autoasr.models.whisper.WhisperEncoderFrontend` encodes each clip alone at its own length; an exported
graph runs a zero-padded batch. So every step hides the padding as a lone clip never sees it: the log-mel
reflects at each row's own end and its floor is each row's own peak, mel frames and first-convolution outputs
past a row's end are zero (what the convolutions' zero padding gives a lone clip), padded frames are masked
out of every attention, and the output is zero past each row's frames (as ``pad_batch`` pads features). The
STFT is a windowed DFT as a matrix product (ONNX has no complex tensors), as in :mod:`autoasr.export.graph`.

One graph covers one 30 s window of the encoder (1500 positional embeddings): exported models transcribe
recordings over 20 s in pieces of at most 15 s (:mod:`autoasr.inference.long_audio`), so no window is cut.
"""
from __future__ import annotations

import torch
from torch import nn

from autoasr.models.whisper import MEL_HOP, WHISPER_HOP, WINDOW_MEL_FRAMES, mix_pooled_layers

# WhisperEncoderFrontend pads shorter clips with zeros to this many samples (the STFT and convolutions need them)
MIN_SAMPLES = 2 * MEL_HOP + 400
MAX_SECONDS = WINDOW_MEL_FRAMES * MEL_HOP // 16000  # one encoder window: 30 s at 16 kHz
# an additive attention mask that hides a key (as transformers builds it); finite, so no row turns into NaN
HIDDEN = float(torch.finfo(torch.float32).min)


class PortableWhisperLogMel(nn.Module):
    """:class:`autoasr.models.whisper.WhisperLogMel` for a zero-padded batch: (waveform, lengths) ->
    (log-mel (batch, mels, frames), mel_lengths), zero past each row's frames."""

    def __init__(self, log_mel):
        super().__init__()
        self.n_fft = int(log_mel.n_fft)
        bins = self.n_fft // 2 + 1
        samples = torch.arange(self.n_fft, dtype=torch.float64)
        angle = 2 * torch.pi * samples[:, None] * torch.arange(bins, dtype=torch.float64)[None, :] / self.n_fft
        window = log_mel.window.to(torch.float64)[:, None]
        self.register_buffer("dft", (torch.cat([torch.cos(angle), -torch.sin(angle)], dim=1) * window).float())
        self.register_buffer("filters", log_mel.filters.detach().clone().float())  # (bins, mels)
        self.register_buffer("offsets", torch.arange(self.n_fft, dtype=torch.long) - self.n_fft // 2)
        self.bins = bins

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = lengths.to(torch.long)
        padded_lengths = torch.clamp(lengths, min=MIN_SAMPLES)  # zeros up to MIN_SAMPLES belong to the clip
        mel_lengths = torch.div(padded_lengths, MEL_HOP, rounding_mode="floor")  # torch.stft's last frame dropped
        steps = torch.arange(mel_lengths.max(), dtype=torch.long, device=waveform.device)
        positions = (steps * MEL_HOP).unsqueeze(1) + self.offsets.unsqueeze(0)  # (frames, n_fft), centred
        positions = positions.reshape(1, -1)
        ends = padded_lengths.unsqueeze(1)
        index = torch.abs(positions)  # reflect padding at each row's own ends
        index = torch.where(index >= ends, 2 * (ends - 1) - index, index)
        index = torch.clamp(index, min=0)
        inside = (index < lengths.unsqueeze(1)).to(waveform.dtype)  # past the real samples: the zero padding
        index = torch.minimum(index, torch.full_like(index, 1) * (waveform.shape[1] - 1))
        frames = (torch.gather(waveform, 1, index) * inside).reshape(waveform.shape[0], -1, self.n_fft)
        spectrum = torch.matmul(frames, self.dft)
        power = spectrum[..., : self.bins] ** 2 + spectrum[..., self.bins :] ** 2
        log_mel = torch.log10(torch.clamp(torch.matmul(power, self.filters), min=1e-10))  # (batch, frames, mels)
        valid = (steps.unsqueeze(0) < mel_lengths.unsqueeze(1)).unsqueeze(2)
        peak = torch.where(valid, log_mel, torch.full_like(log_mel, -1e30)).amax(dim=(1, 2), keepdim=True)
        log_mel = (torch.maximum(log_mel, peak - 8.0) + 4.0) / 4.0
        return (log_mel * valid.to(log_mel.dtype)).transpose(1, 2), mel_lengths


def padding_bias(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """An additive attention mask (batch, 1, 1, steps) hiding each row's frames past its length."""
    positions = torch.arange(steps, device=lengths.device).unsqueeze(0)
    return (positions >= lengths.unsqueeze(1)).to(torch.float32).mul(HIDDEN)[:, None, None, :]


class PlainWhisperLayer(nn.Module):
    """A transformers ``WhisperEncoderLayer`` (eval mode) from plain operations with the same weights:
    transformers' attention dispatch and shape handling do not script, and an additive padding mask is
    all an exported batch needs."""

    def __init__(self, layer):
        super().__init__()
        attention = layer.self_attn
        activation = getattr(getattr(attention, "config", None), "activation_function", "gelu")
        if activation != "gelu":
            raise ValueError(f"cannot export a Whisper encoder with activation '{activation}' (only gelu)")
        self.heads, self.head_dim = int(attention.num_heads), int(attention.head_dim)
        self.scaling = float(attention.scaling)
        self.q_proj, self.k_proj, self.v_proj = attention.q_proj, attention.k_proj, attention.v_proj
        self.out_proj = attention.out_proj
        self.attention_norm, self.final_norm = layer.self_attn_layer_norm, layer.final_layer_norm
        self.fc1, self.fc2 = layer.fc1, layer.fc2

    def forward(self, hidden: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        batch = hidden.shape[0]
        normed = self.attention_norm(hidden)
        # the query scaled before the product, as transformers does (Whisper is sensitive to the order)
        queries = (self.q_proj(normed) * self.scaling).reshape(batch, -1, self.heads, self.head_dim).transpose(1, 2)
        keys = self.k_proj(normed).reshape(batch, -1, self.heads, self.head_dim).transpose(1, 2)
        values = self.v_proj(normed).reshape(batch, -1, self.heads, self.head_dim).transpose(1, 2)
        weights = torch.softmax(torch.matmul(queries, keys.transpose(-1, -2)) + bias, dim=-1)
        attended = torch.matmul(weights, values).transpose(1, 2).reshape(batch, -1, self.heads * self.head_dim)
        hidden = hidden + self.out_proj(attended)
        return hidden + self.fc2(nn.functional.gelu(self.fc1(self.final_norm(hidden))))


class PortableWhisperEncoder(nn.Module):
    """:class:`autoasr.models.whisper.WhisperEncoderFrontend` for a zero-padded batch: (waveform, lengths) ->
    (encoder vectors (batch, frames, d_model) zero past each row's frames, frame_lengths), 50 frames a second.
    ``below_top``: the top layer's input, as the frontend of a pooled head gives it; ``pooled_layers``: every
    layer's mean and max pooled over each row's own frames, (batch, 2 x layers, d_model), as a layer-mixing
    pooled head reads them (:func:`autoasr.models.whisper.pooled_layer_rows`)."""

    def __init__(self, frontend):
        super().__init__()
        encoder = frontend.encoder_module
        self.kind = "whisper"
        self.below_top = bool(frontend.below_top)
        self.pooled_layers = bool(getattr(frontend, "pooled_layers", False))
        self.log_mel = PortableWhisperLogMel(frontend.log_mel)
        self.n_fft = self.win_length = self.log_mel.n_fft
        self.hop_length = WHISPER_HOP  # samples per output frame: what the runtime counts frames by
        self.conv1, self.conv2 = encoder.conv1, encoder.conv2
        self.register_buffer("positions", encoder.embed_positions.weight.detach().clone().float())
        layers = encoder.layers[:-1] if self.below_top else encoder.layers
        self.layers = nn.ModuleList([PlainWhisperLayer(layer) for layer in layers])
        self.final_norm = nn.Identity() if self.below_top else encoder.layer_norm

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mel, mel_lengths = self.log_mel(waveform, lengths)
        hidden = nn.functional.gelu(self.conv1(mel))
        steps = torch.arange(hidden.shape[2], device=hidden.device)
        hidden = hidden * (steps.unsqueeze(0) < mel_lengths.unsqueeze(1)).unsqueeze(1).to(hidden.dtype)
        hidden = nn.functional.gelu(self.conv2(hidden)).transpose(1, 2)  # (batch, frames, d_model)
        frame_lengths = torch.div(mel_lengths + 1, 2, rounding_mode="floor")  # the stride-2 convolution
        hidden = hidden + self.positions[: hidden.shape[1]]  # the embeddings cut to the clip, as encode_log_mel
        bias = padding_bias(frame_lengths, hidden.shape[1])
        inside = torch.arange(hidden.shape[1], device=hidden.device).unsqueeze(0) < frame_lengths.unsqueeze(1)
        states = [hidden]
        for layer in self.layers:
            hidden = layer(hidden, bias)
            states.append(hidden)
        hidden = self.final_norm(hidden)
        if self.pooled_layers:
            states[-1] = hidden
            return self._pooled(states, inside.unsqueeze(2), frame_lengths)
        return hidden * inside.unsqueeze(2).to(hidden.dtype), frame_lengths

    @staticmethod
    def _pooled(states: list, inside: torch.Tensor, frame_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each layer's mean and max over each row's own frames: the rows a layer-mixing pooled head reads."""
        count = frame_lengths.clamp(min=1).unsqueeze(1).to(states[0].dtype)
        means = [(state * inside.to(state.dtype)).sum(1) / count for state in states]
        peaks = [torch.where(inside, state, torch.full_like(state, -1e30)).amax(1) for state in states]
        rows = torch.stack(means + peaks, dim=1)
        return rows, torch.zeros_like(frame_lengths) + rows.shape[1]


class ExportableWhisperPooledHead(nn.Module):
    """:class:`autoasr.models.whisper.WhisperPooledHead` (eval mode) with the same weights: its top encoder layer
    (frozen and shared, or trained) as a :class:`PlainWhisperLayer`, the likeliest label picked by comparison."""

    def __init__(self, head):
        super().__init__()
        self.layer_weights = head.layer_weights  # a head mixing the layers' pooled rows (the encoder pooled them)
        if head.top is None and self.layer_weights is None:
            raise ValueError("a pooled Whisper head without its top encoder layer cannot be exported")
        if head.top is not None:
            top = head.top if isinstance(head.top, nn.ModuleDict) else head.top[0]  # frozen: now saved in the file
            self.top_layer, self.top_norm = PlainWhisperLayer(top["layer"]), top["norm"]
        self.norm, self.output = head.norm, head.output
        self.register_buffer("paths", head.paths.detach().clone())  # (labels, path frames, vocabulary)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.layer_weights is not None:
            pooled = mix_pooled_layers(features, self.layer_weights)
        else:
            pooled = self._pool_top(features, lengths)
        probabilities = self.output(self.norm(pooled)).softmax(-1)
        labels, width, size = self.paths.shape[0], self.paths.shape[1], self.paths.shape[2]
        best = torch.arange(labels, device=features.device).unsqueeze(0) == probabilities.argmax(-1, keepdim=True)
        weights = 0.5 * (probabilities + best.to(probabilities.dtype))
        frames = torch.matmul(weights, self.paths.reshape(labels, width * size)).reshape(-1, width, size)
        return frames.clamp(min=1e-8).log(), torch.zeros_like(lengths) + width

    def _pool_top(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The top layer over each row's own frames, then its mean and max."""
        inside = (torch.arange(features.shape[1], device=features.device).unsqueeze(0) < lengths.unsqueeze(1))
        inside = inside.unsqueeze(2)
        features = self.top_norm(self.top_layer(features, padding_bias(lengths, features.shape[1])))
        mean = (features * inside.to(features.dtype)).sum(1) / lengths.clamp(min=1).unsqueeze(1).to(features.dtype)
        peak = torch.where(inside, features, torch.full_like(features, -1e30)).amax(1)
        return torch.cat([mean, peak], dim=-1)
