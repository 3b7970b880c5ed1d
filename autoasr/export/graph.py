"""The exportable twins of autoasr's frontends and networks: plain tensor operations that ONNX and TorchScript trace
with dynamic batch and time axes (the package docstring describes the exported graph)."""
from __future__ import annotations

import copy
from typing import Optional, Tuple

import torch
from torch import nn

from autoasr.models.wav2vec2 import normalize_padded_waveform

# --------------------------------------------------------------------------------------------- frontend


class PortableFrontend(nn.Module):
    """torchaudio's log-mel/MFCC frontend (as configured in :class:`autoasr.models.frontends.Frontend`) from
    exportable operations, for a zero-padded batch of waveforms with their lengths.

    Each row gives exactly what ``Frontend`` gives for that waveform alone (reflect padding at the
    row's own end, normalisation over its own frames), with frames past its end set to zero, as
    :func:`autoasr.models.batching.pad_batch` pads features.

    >>> from autoasr.models.frontends import Frontend, FrontendConfig
    >>> portable = PortableFrontend(Frontend(FrontendConfig()))
    >>> features, lengths = portable(torch.zeros(2, 16000), torch.tensor([16000, 8000]))
    >>> features.shape, lengths.tolist()
    (torch.Size([2, 101, 40]), [101, 51])
    """

    def __init__(self, frontend):
        super().__init__()
        config = frontend.config
        self.kind = config.kind
        if config.kind == "logmel":
            mel = frontend.transform
        elif config.kind == "mfcc":
            mel = frontend.transform.MelSpectrogram
        else:
            raise ValueError(f"cannot export frontend '{config.kind}'")
        spectrogram = mel.spectrogram
        if not (spectrogram.center and spectrogram.pad_mode == "reflect" and spectrogram.power == 2.0
                and not spectrogram.normalized and spectrogram.pad == 0 and spectrogram.onesided):
            raise ValueError("only centred, reflect-padded, one-sided power spectrograms can be exported")
        self.n_fft = int(spectrogram.n_fft)
        self.hop_length = int(spectrogram.hop_length)
        self.win_length = int(spectrogram.win_length)
        # torch.stft pads the window with zeros to n_fft, centred
        window = torch.zeros(self.n_fft, dtype=torch.float64)
        left = (self.n_fft - self.win_length) // 2
        window[left : left + self.win_length] = spectrogram.window.to(torch.float64)
        bins = self.n_fft // 2 + 1
        samples = torch.arange(self.n_fft, dtype=torch.float64)
        angle = 2 * torch.pi * samples[:, None] * torch.arange(bins, dtype=torch.float64)[None, :] / self.n_fft
        dft = torch.cat([torch.cos(angle), -torch.sin(angle)], dim=1) * window[:, None]  # (n_fft, 2 * bins)
        # only the samples under the window contribute: frame and multiply those alone
        self.register_buffer("dft", dft[left : left + self.win_length].float().contiguous())
        self.register_buffer("mel_filterbank", mel.mel_scale.fb.detach().clone().float())  # (bins, n_mels)
        self.register_buffer("frame_offsets", torch.arange(left, left + self.win_length, dtype=torch.long))
        self.bins = bins
        if config.kind == "mfcc":
            to_db = frontend.transform.amplitude_to_DB
            self.register_buffer("dct", frontend.transform.dct_mat.detach().clone().float())  # (n_mels, n_mfcc)
            self.db_multiplier = float(to_db.multiplier)
            self.db_amin = float(to_db.amin)
            self.db_reference = float(to_db.db_multiplier)
            self.top_db = float(to_db.top_db) if to_db.top_db is not None else -1.0
        else:
            self.register_buffer("dct", torch.zeros(1, 1))
            self.db_multiplier, self.db_amin, self.db_reference, self.top_db = 10.0, 1e-10, 0.0, -1.0

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pad = self.n_fft // 2
        num_samples = waveform.shape[1]
        lengths = lengths.to(torch.long)
        # reflect padding at each row's own ends, by index (rows are zero padded to the longest)
        positions = torch.arange(-pad, num_samples + pad, dtype=torch.long, device=waveform.device).unsqueeze(0)
        ends = lengths.unsqueeze(1)
        index = torch.where(positions < 0, -positions, positions)
        index = torch.where(index >= ends, 2 * (ends - 1) - index, index)
        index = torch.clamp(index, min=0)
        index = torch.minimum(index, torch.full_like(index, 1) * (num_samples - 1))
        padded = torch.gather(waveform, 1, index)
        num_frames = num_samples // self.hop_length + 1
        starts = torch.arange(num_frames, dtype=torch.long, device=waveform.device) * self.hop_length
        frames = padded[:, starts.unsqueeze(1) + self.frame_offsets.unsqueeze(0)]  # (batch, frames, window)
        spectrum = torch.matmul(frames, self.dft)
        power = spectrum[..., : self.bins] ** 2 + spectrum[..., self.bins :] ** 2
        mel = torch.matmul(power, self.mel_filterbank)  # (batch, frames, n_mels)

        frame_lengths = torch.div(lengths, self.hop_length, rounding_mode="floor") + 1
        valid = (torch.arange(num_frames, device=waveform.device).unsqueeze(0) < frame_lengths.unsqueeze(1))
        valid = valid.unsqueeze(2).to(mel.dtype)  # (batch, frames, 1)
        if self.kind == "logmel":
            features = torch.log(mel + 1e-6)
        else:
            decibels = self.db_multiplier * torch.log10(torch.clamp(mel, min=self.db_amin))
            decibels = decibels - self.db_multiplier * self.db_reference
            if self.top_db >= 0:
                # torchaudio's cut-off: top_db below the loudest value of the utterance
                loudest = (decibels * valid + (valid - 1.0) * 1e30).amax(dim=(1, 2), keepdim=True)
                decibels = torch.maximum(decibels, loudest - self.top_db)
            features = torch.matmul(decibels, self.dct)
        count = frame_lengths.to(features.dtype).view(-1, 1, 1)
        mean = (features * valid).sum(dim=1, keepdim=True) / count
        variance = (((features - mean) * valid) ** 2).sum(dim=1, keepdim=True) / torch.clamp(count - 1, min=1.0)
        std = torch.where(count > 1, torch.sqrt(variance), torch.ones_like(variance))
        return (features - mean) / (std + 1e-5) * valid, frame_lengths


class PortableWaveformFrames(nn.Module):
    """The ``waveform`` frontend of pretrained wav2vec2 models for a zero-padded batch: raw 10 ms frames
    (batch, frames, 160), samples past a row's end set to zero, as :class:`autoasr.models.frontends.WaveformFrames`
    and :func:`autoasr.models.batching.pad_batch` give them.

    >>> frames, lengths = PortableWaveformFrames()(torch.ones(2, 16000), torch.tensor([16000, 8080]))
    >>> frames.shape, lengths.tolist()
    (torch.Size([2, 100, 160]), [100, 51])
    """

    def __init__(self, samples_per_frame: int = 160):
        super().__init__()
        self.kind = "waveform"
        self.n_fft = self.hop_length = self.win_length = int(samples_per_frame)

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = lengths.to(torch.long)
        frame_lengths = torch.div(lengths + self.hop_length - 1, self.hop_length, rounding_mode="floor")
        num_samples = waveform.shape[1]
        num_frames = (num_samples + self.hop_length - 1) // self.hop_length
        # padding by index (the batch and time axes stay dynamic in an exported graph)
        positions = torch.arange(num_frames * self.hop_length, dtype=torch.long, device=waveform.device)
        index = torch.minimum(positions, torch.full_like(positions, 1) * (num_samples - 1))
        padded = waveform[:, index] * (positions.unsqueeze(0) < lengths.unsqueeze(1)).to(waveform.dtype)
        return padded.reshape(padded.shape[0], -1, self.hop_length), frame_lengths


def portable_frontend(frontend) -> nn.Module:
    """The exportable twin of an :class:`autoasr.models.frontends.Frontend` (log-mel, MFCC, raw waveform frames
    or a frozen Whisper encoder)."""
    if frontend.config.kind == "waveform":
        return PortableWaveformFrames(frontend.config.num_features)
    if frontend.config.kind == "whisper":  # the frozen encoder, its weights in the file
        from autoasr.export.whisper_graph import PortableWhisperEncoder

        return PortableWhisperEncoder(frontend.transform)
    return PortableFrontend(frontend)


class ExportableSelfAttention(nn.Module):
    """``nn.MultiheadAttention`` (self-attention, sequence-first, eval mode) from plain operations with
    the same weights: PyTorch's implementation freezes the batch size into an exported graph."""

    def __init__(self, attention: nn.MultiheadAttention):
        super().__init__()
        if not attention._qkv_same_embed_dim or attention.batch_first:
            raise ValueError("only sequence-first self-attention with one input projection can be exported")
        self.heads = int(attention.num_heads)
        self.head_dim = int(attention.head_dim)
        self.in_proj_weight = attention.in_proj_weight
        self.in_proj_bias = attention.in_proj_bias
        self.out_proj = attention.out_proj

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: Optional[torch.Tensor] = None,
                need_weights: bool = False) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        hidden = query.transpose(0, 1)  # (batch, time, dim); key and value are the query (self-attention)
        batch = hidden.shape[0]
        projected = nn.functional.linear(hidden, self.in_proj_weight, self.in_proj_bias)
        queries, keys, values = projected.chunk(3, dim=-1)
        queries = queries.reshape(batch, -1, self.heads, self.head_dim).transpose(1, 2)
        keys = keys.reshape(batch, -1, self.heads, self.head_dim).transpose(1, 2)
        values = values.reshape(batch, -1, self.heads, self.head_dim).transpose(1, 2)
        scores = torch.matmul(queries, keys.transpose(-1, -2)) * (self.head_dim ** -0.5)
        if key_padding_mask is not None:
            scores = scores.masked_fill(key_padding_mask.unsqueeze(1).unsqueeze(2), float("-inf"))
        attended = torch.matmul(torch.softmax(scores, dim=-1), values)  # (batch, heads, time, head_dim)
        attended = attended.transpose(1, 2).reshape(batch, -1, self.heads * self.head_dim)
        return self.out_proj(attended).transpose(0, 1), None


class ExportableConformerCTC(nn.Module):
    """:class:`autoasr.models.networks.ConformerCTC` with the same weights, its padding mask built from the
    tensor's shape: torchaudio's Conformer reads the longest length as a Python number, which a
    trace would freeze into the graph."""

    def __init__(self, network):
        super().__init__()
        self.subsampling = network.subsampling
        self.layers = copy.deepcopy(network.encoder.conformer_layers)  # the trained model is left as it was
        for layer in self.layers:
            layer.self_attn = ExportableSelfAttention(layer.self_attn)
        self.output = network.output

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden, lengths = self.subsampling(features, lengths)
        steps = torch.arange(hidden.shape[1], device=hidden.device, dtype=lengths.dtype)
        lengths = torch.minimum(lengths, torch.full_like(lengths, 1) * hidden.shape[1])
        padding_mask = steps.unsqueeze(0) >= lengths.unsqueeze(1)
        hidden = hidden.transpose(0, 1)
        for layer in self.layers:
            hidden = layer(hidden, padding_mask)
        return self.output(hidden.transpose(0, 1)).log_softmax(dim=-1), lengths


class ExportableWav2Vec2CTC(nn.Module):
    """:class:`autoasr.models.wav2vec2.Wav2Vec2CTC` with the same weights, its padding mask built by
    broadcasting: torchaudio's encoder expands the mask to the batch and time sizes (and zeroes padded
    frames by boolean indexing), which an ONNX trace freezes to the example's shapes."""

    def __init__(self, network):
        super().__init__()
        network = copy.deepcopy(network)
        # the positional convolution's weight norm folded into a plain convolution: scripting would strip it
        # from torchaudio's layer in place, and the class a deep copy shares with the trained model with it
        position = network.encoder.encoder.transformer.pos_conv_embed
        if nn.utils.parametrize.is_parametrized(position.conv):
            weighted = position.conv
            plain = nn.Conv1d(weighted.in_channels, weighted.out_channels, weighted.kernel_size,
                              padding=weighted.padding, groups=weighted.groups, bias=weighted.bias is not None)
            with torch.no_grad():
                plain.weight.copy_(weighted.weight)
                if weighted.bias is not None:
                    plain.bias.copy_(weighted.bias)
            position.conv = plain
        self.feature_extractor = network.encoder.feature_extractor
        self.feature_projection = network.encoder.encoder.feature_projection
        self.transformer = network.encoder.encoder.transformer
        self.output = network.output
        self.normalize_waveform = bool(network.normalize_waveform)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        waveform = features.reshape(features.shape[0], -1)  # (batch, frames, 160) -> (batch, samples)
        sample_lengths = lengths * features.shape[-1]
        if self.normalize_waveform:
            waveform = normalize_padded_waveform(waveform, sample_lengths)
        hidden, out_lengths = self.feature_extractor(waveform, sample_lengths)
        hidden = self.feature_projection(hidden)
        steps = torch.arange(hidden.shape[1], device=hidden.device, dtype=out_lengths.dtype)
        padding = steps.unsqueeze(0) >= out_lengths.unsqueeze(1)  # (batch, time)
        hidden = hidden * (~padding).unsqueeze(2).to(hidden.dtype)
        bias = -10000.0 * padding.to(hidden.dtype)[:, None, None, :]  # (batch, 1, 1, time)
        attention_mask = bias + torch.zeros_like(hidden[:, :, :1]).unsqueeze(1)  # (batch, 1, time, time)
        hidden = self.transformer(hidden, attention_mask=attention_mask)
        return self.output(hidden).log_softmax(dim=-1), out_lengths.clamp(min=1)


def exportable_network(network: nn.Module) -> nn.Module:
    """The network itself, or an equivalent module sharing its weights where export needs one."""
    from autoasr.models.networks import ConformerCTC
    from autoasr.models.wav2vec2 import Wav2Vec2CTC
    from autoasr.models.whisper import WhisperPooledHead

    if isinstance(network, WhisperPooledHead):
        from autoasr.export.whisper_graph import ExportableWhisperPooledHead

        return ExportableWhisperPooledHead(network)
    if isinstance(network, ConformerCTC):
        return ExportableConformerCTC(network)
    if isinstance(network, Wav2Vec2CTC):
        return ExportableWav2Vec2CTC(network)
    return network


class WaveformToLogProbs(nn.Module):
    """Frontend and network in one module: (waveform, waveform_lengths) -> (log_probs, frame_lengths)."""

    def __init__(self, trained):
        super().__init__()
        self.frontend = portable_frontend(trained.frontend)
        self.network = exportable_network(trained.network)

    def forward(self, waveform: torch.Tensor, waveform_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, feature_lengths = self.frontend(waveform, waveform_lengths)
        log_probs, frame_lengths = self.network(features, feature_lengths)
        return log_probs, frame_lengths.to(torch.long)


# --------------------------------------------------------------------------------------------- export


# --------------------------------------------------------------------------------------------- running
