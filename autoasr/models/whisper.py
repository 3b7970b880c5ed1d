"""Whisper's pretrained encoder as a frozen frontend, and the small heads trained on its outputs: CTC heads over
the domain's characters, and a pooled clip classifier where every transcript is one of a few labels.

The encoder (loaded with ``transformers``, safetensors only) turns a clip into 50 vectors a second that
already separate speech sounds well: a linear or small convolutional CTC head over the domain's characters
learns from them in seconds. The encoder runs on the clip's own length: Whisper's log-mel frontend, its
positional embeddings cut to the clip's frames, no padding to 30 s (a 1 s command costs 1 s of compute).
Because it stays frozen its outputs are cached like any features (:mod:`autoasr.training.feature_cache`),
so each epoch costs only the head.

>>> head = WhisperCTCHead(num_features=384, vocabulary_size=30, size="tiny")
>>> log_probs, lengths = head(torch.zeros(2, 50, 384), torch.tensor([50, 20]))
>>> log_probs.shape, lengths.tolist()
(torch.Size([2, 50, 30]), [50, 20])
"""
from __future__ import annotations

import copy
import functools
from pathlib import Path

import torch
from torch import nn

WHISPER_FAMILY = "whisper"
WHISPER_SAMPLE_RATE = 16000
MEL_HOP = 160  # Whisper's log-mel: 25 ms windows every 10 ms
WHISPER_HOP = 2 * MEL_HOP  # the encoder's second convolution halves the frame rate: 50 vectors a second
WINDOW_MEL_FRAMES = 3000  # the encoder's positional embeddings cover 30 s; longer clips are encoded in windows
# head sizes under the search's size names, so a sampled size means the same thing in every family
HEAD_SIZES = {"tiny": {"hidden": 0, "layers": 0, "recurrent": False},
              "small": {"hidden": 256, "layers": 1, "recurrent": False},
              "medium": {"hidden": 128, "layers": 1, "recurrent": True}}


class WhisperUnavailable(ValueError):
    """A Whisper model that cannot be had (offline and not cached, a wrong id, no safetensors weights)."""


def _from_pretrained(loader, source: str, **options):
    """``loader.from_pretrained(source)`` from local files first, then (a hub id) from the hub, with a plain error."""
    local = Path(source).expanduser()
    if local.is_dir():
        try:
            return loader.from_pretrained(str(local), **options)
        except Exception as error:
            raise WhisperUnavailable(f"cannot load a Whisper model from the folder {local}: {_first_line(error)} "
                                     "(it needs config.json and model.safetensors)") from None
    from autoasr.models.hub_download import ModelUnavailable, fetch_model, hub_cache

    try:
        return loader.from_pretrained(source, local_files_only=True, cache_dir=hub_cache(), **options)
    except Exception:
        pass  # not cached: fetch it the one way autoasr downloads (safetensors only, a short timeout, progress)
    try:
        fetch_model(source)
        return loader.from_pretrained(source, local_files_only=True, cache_dir=hub_cache(), **options)
    except (ModelUnavailable, OSError, ValueError) as error:
        raise WhisperUnavailable(f"cannot get the Whisper model '{source}': not a folder, not in the local Hugging "
                                 f"Face cache, and the hub did not provide it ({_first_line(error)}); give a local "
                                 "folder or a hub id reachable from here") from None


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def whisper_config(source: str):
    """The model's ``WhisperConfig`` (reads config.json only). Raises :class:`WhisperUnavailable`."""
    from transformers import WhisperConfig

    config = _from_pretrained(WhisperConfig, source)
    if getattr(config, "model_type", "") != "whisper":
        raise WhisperUnavailable(f"'{source}' is a {config.model_type} model, not Whisper")
    return config


@functools.lru_cache(maxsize=2)
def load_whisper(source: str):
    """The whole ``WhisperForConditionalGeneration`` in eval mode (kept once per process: trials share it)."""
    from transformers import WhisperForConditionalGeneration

    from transformers.utils import logging as transformers_logging

    whisper_config(source)  # a plain message for a non-Whisper model before any weights are read
    transformers_logging.disable_progress_bar()  # a bar per load would drown the search's own progress lines
    # float32 whatever the checkpoint stores (tiny.en keeps float16): CPUs compute it faster and exactly
    model = _from_pretrained(WhisperForConditionalGeneration, source, use_safetensors=True, dtype=torch.float32)
    return model.eval().requires_grad_(False)


def load_whisper_encoder(source: str) -> nn.Module:
    """The frozen encoder of the Whisper model at ``source`` (a hub id or a folder)."""
    return load_whisper(source).get_encoder()


class WhisperLogMel(nn.Module):
    """Whisper's log-mel spectrogram of a clip at its own length: samples (batch, S) -> (batch, mels, S // 160).

    The same arithmetic as ``WhisperFeatureExtractor`` (STFT of 400, power, Slaney mel filters, log10, a floor
    8 below the loudest value, scaled by 4), in torch so it runs batched and on a GPU.
    """

    def __init__(self, num_mel_bins: int = 80):
        super().__init__()
        from transformers import WhisperFeatureExtractor

        extractor = WhisperFeatureExtractor(feature_size=num_mel_bins)
        self.n_fft = extractor.n_fft
        self.register_buffer("filters", torch.tensor(extractor.mel_filters, dtype=torch.float32), persistent=False)
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(samples, self.n_fft, MEL_HOP, window=self.window, return_complex=True)
        power = spectrum[..., :-1].abs() ** 2
        log_mel = torch.clamp(self.filters.T @ power, min=1e-10).log10()
        floor = log_mel.amax(dim=(-2, -1), keepdim=True) - 8.0
        return (torch.maximum(log_mel, floor) + 4.0) / 4.0


def encode_log_mel(encoder: nn.Module, mel: torch.Tensor, below_top: bool = False) -> torch.Tensor:
    """The encoder's output for log-mel frames (batch, mels, frames <= 3000): its own forward pass, except
    that the positional embeddings are cut to the clip's frames instead of requiring 30 s of input.
    ``below_top``: the input of the top layer instead (a head that runs, or trains, the top layer itself)."""
    hidden = nn.functional.gelu(encoder.conv1(mel))
    hidden = nn.functional.gelu(encoder.conv2(hidden)).permute(0, 2, 1)
    hidden = hidden + encoder.embed_positions.weight[: hidden.shape[1]]
    layers = encoder.layers[:-1] if below_top else encoder.layers
    for layer in layers:
        hidden = run_layer(layer, hidden)
    return hidden if below_top else encoder.layer_norm(hidden)


def encoder_layer_states(encoder: nn.Module, mel: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's output for log-mel frames (batch, mels, frames <= 3000), the way Hugging Face's
    ``output_hidden_states`` gives them: the embeddings (convolutions + positions), then each layer's output,
    the last one through the final norm (so the last entry is :func:`encode_log_mel`'s output)."""
    hidden = nn.functional.gelu(encoder.conv1(mel))
    hidden = nn.functional.gelu(encoder.conv2(hidden)).permute(0, 2, 1)
    states = [hidden + encoder.embed_positions.weight[: hidden.shape[1]]]
    for layer in encoder.layers:
        states.append(run_layer(layer, states[-1]))
    states[-1] = encoder.layer_norm(states[-1])
    return states


def pooled_layer_rows(windows: list[list[torch.Tensor]]) -> torch.Tensor:
    """Every layer's vectors mean and max pooled over the clip (all its 30 s windows): (batch, 2 x layers, d_model),
    the layers' means first, then their maxima. The cache then holds a few rows a clip instead of 50 a second."""
    states = [torch.cat([window[layer] for window in windows], dim=1) for layer in range(len(windows[0]))]
    return torch.cat([torch.stack([state.mean(1) for state in states], 1),
                      torch.stack([state.amax(1) for state in states], 1)], dim=1)


def run_layer(layer: nn.Module, hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    output = layer(hidden, mask)
    return output[0] if isinstance(output, tuple) else output  # older transformers return a tuple


def whisper_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class WhisperEncoderFrontend(nn.Module):
    """The frozen encoder as a frontend: samples (S,) or (batch, S) of equal length -> (…, frames, d_model).

    Runs on the GPU when there is one and returns CPU tensors, like the other frontends.
    """

    def __init__(self, source: str, below_top: bool = False, pooled_layers: bool = False):
        super().__init__()
        self.source, self.below_top, self.pooled_layers = source, below_top, pooled_layers
        encoder = load_whisper_encoder(source)
        self.log_mel = WhisperLogMel(encoder.config.num_mel_bins)
        self.num_features = encoder.config.d_model
        self.hop_length = WHISPER_HOP
        self._encoder = [encoder]  # a plain list: the frozen encoder is shared, not a submodule saved with heads

    @property
    def encoder_module(self) -> nn.Module:
        """The frozen encoder (its weights count in the model's size)."""
        return self._encoder[0]

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        single = waveform.ndim == 1
        batch = waveform.unsqueeze(0) if single else waveform
        if batch.shape[-1] < 2 * MEL_HOP + 400:  # the STFT and two convolutions need a few frames
            batch = nn.functional.pad(batch, (0, 2 * MEL_HOP + 400 - batch.shape[-1]))
        device = whisper_device()
        encoder = self._encoder[0].to(device)
        with torch.inference_mode():
            mel = self.log_mel.to(device)(batch.to(device).float())
            windows = [mel[..., start:start + WINDOW_MEL_FRAMES] for start in range(0, mel.shape[-1], WINDOW_MEL_FRAMES)]
            if self.pooled_layers:
                encoded = pooled_layer_rows([encoder_layer_states(encoder, window) for window in windows]).float().cpu()
            else:
                encoded = torch.cat([encode_log_mel(encoder, window, self.below_top) for window in windows],
                                    dim=1).float().cpu()
        return encoded[0] if single else encoded


class WhisperCTCHead(nn.Module):
    """A CTC head over frozen encoder vectors: linear (``tiny``), a convolution then linear (``small``) or a
    bidirectional GRU then linear (``medium``: the whole clip as context, for word-level spelling).

    (features (batch, frames, d_model), lengths) -> (log-probs (batch, frames, vocabulary), lengths):
    the frame rate stays 50 a second, enough for CTC on words (a character needs one frame).
    """

    def __init__(self, num_features: int, vocabulary_size: int, dropout: float = 0.1, size: str = "small"):
        super().__init__()
        if size not in HEAD_SIZES:
            raise ValueError(f"unknown whisper head size '{size}' (choose from {', '.join(HEAD_SIZES)})")
        hidden, layers = HEAD_SIZES[size]["hidden"], HEAD_SIZES[size]["layers"]
        self.norm = nn.LayerNorm(num_features)
        blocks, width = [], num_features
        self.recurrent = None
        if HEAD_SIZES[size]["recurrent"]:
            self.recurrent = nn.GRU(num_features, hidden, num_layers=layers, batch_first=True, bidirectional=True)
            width = 2 * hidden
        else:
            for _ in range(layers):  # a little context across neighbouring frames, kept the same length
                blocks += [nn.Conv1d(width, hidden, kernel_size=3, padding=1), nn.GELU(), nn.Dropout(dropout)]
                width = hidden
        self.convolutions = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(width, vocabulary_size)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.dropout(self.norm(features))
        if self.recurrent is not None:
            packed = nn.utils.rnn.pack_padded_sequence(hidden, lengths.cpu(), batch_first=True, enforce_sorted=False)
            hidden, _ = self.recurrent(packed)
            hidden, _ = nn.utils.rnn.pad_packed_sequence(hidden, batch_first=True, total_length=features.shape[1])
            hidden = self.dropout(hidden)
        elif len(self.convolutions):
            hidden = self.convolutions(hidden.transpose(1, 2)).transpose(1, 2)
        return self.output(hidden).log_softmax(dim=-1), lengths.clamp(min=1)


# the head sizes of a clip classifier (WhisperPooledHead), beside HEAD_SIZES' CTC heads: the encoder's top layer
# frozen, or trained with the head (partial fine-tuning: the cache then holds the top layer's input)
POOLED_HEAD, TUNED_POOLED_HEAD = "pooled", "pooled_tuned"
# a frozen pooled head reading every encoder layer: the average of their pooled vectors (a softmax-weighted sum
# with equal weights, kept fixed: see WhisperPooledHead). A logistic regression on the average of the
# layers read unseen speakers better than on the top layer alone in every probe (benchmarks/smalldata_probe.py
# --probe layers): sc30 1.3% against 1.6% (20 clips), espeak_es 0.0% against 1.7%, FSDD's held-out speaker 2.0%
# against 2.2% (300 clips). Its frontend caches a few pooled rows a clip instead of frames
LAYER_MIX_HEAD = "pooled_mix"
POOLED_HEADS = (POOLED_HEAD, TUNED_POOLED_HEAD, LAYER_MIX_HEAD)


def reads_pooled_layers(config: dict) -> bool:
    """Whether a config's head reads every layer's pooled vectors (the ``pooled_mix`` head) instead of frames."""
    return config.get("size") == LAYER_MIX_HEAD


def mix_pooled_layers(rows: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(batch, 2 x layers, d) pooled rows (:func:`pooled_layer_rows`) -> (batch, 2 x d): the layers' mean+max
    vectors summed with the softmax of ``weights`` (zeros: their average). Not normalised per layer: the residual
    stream grows with depth, so the average leans on the upper layers, which is what read unseen speakers best;
    each layer standardised first read sc30's test speakers with 6.7% WER, against 1.3% for the plain average."""
    layers = weights.shape[0]
    vectors = torch.cat([rows[:, :layers], rows[:, layers:2 * layers]], dim=-1)
    return (weights.softmax(0)[None, :, None] * vectors).sum(1)


def spell_for_ctc(indices: list[int]) -> list[int]:
    """A CTC frame path that greedy decoding reads back as ``indices``: a blank between repeated symbols.

    >>> spell_for_ctc([5, 5, 3])
    [5, 0, 5, 3]
    """
    path: list[int] = []
    for index in indices:
        if path and path[-1] == index:
            path.append(0)
        path.append(index)
    return path


class WhisperPooledHead(nn.Module):
    """One label per clip from a small set (commands, isolated digits): the clip's encoder vectors, mean and
    max pooled, go through a linear layer to a label. A CTC head must learn where each letter sits; a
    pooled classifier only which of a few words was said, so it learns from far fewer clips.

    It speaks the CTC models' language, so decoding, the LM decoder, costs and saving stay as they are:
    the output is a short frame path spelling the labels, frame ``j`` the mixture of the labels' ``j``-th
    symbols weighted by their probabilities, half of its mass on the likeliest label's symbol (so greedy
    decoding reads exactly the likeliest label). Training uses :meth:`clip_loss` (cross-entropy).

    >>> head = WhisperPooledHead(8, 5, [[1, 2], [3, 3, 4]])
    >>> log_probs, lengths = head(torch.randn(2, 30, 8), torch.tensor([30, 12]))
    >>> log_probs.shape, lengths.tolist()
    (torch.Size([2, 4, 5]), [4, 4])
    """

    def __init__(self, num_features: int, vocabulary_size: int, spellings: list[list[int]], dropout: float = 0.1,
                 encoder: nn.Module | None = None, tune_top: bool = False, mixed_layers: int = 0):
        super().__init__()
        # ``mixed_layers``: the features are that many layers' pooled rows (a "pooled_layers" frontend), averaged
        # (softmax of equal weights) instead of frames pooled here. The weights are kept fixed: learned with the head
        # (SUPERB's weighted sum) they fell onto one layer within 400 steps on 20-300 clips and read unseen
        # speakers worse than the average (sc30 3.7% against 2.1%, FSDD 6.4% against 3.2%; smalldata_probe.py)
        self.layer_weights = nn.Parameter(torch.zeros(mixed_layers), requires_grad=False) if mixed_layers else None
        # with an ``encoder`` the features are its top layer's input (the "below_top" frontend) and the head runs
        # that layer: trained here when ``tune_top`` (saved with the head), else frozen (a shared reference)
        self.top = None
        if encoder is not None:
            top = nn.ModuleDict({"layer": copy.deepcopy(encoder.layers[-1]), "norm": copy.deepcopy(encoder.layer_norm)})
            self.top = top.requires_grad_(True) if tune_top else [top.requires_grad_(False)]
        paths = [spell_for_ctc(indices) for indices in spellings]
        width = max(len(path) for path in paths)
        frames = torch.zeros(len(paths), width, vocabulary_size)  # one-hot paths, blank-padded
        for label, path in enumerate(paths):
            frames[label, torch.arange(width), torch.tensor(path + [0] * (width - len(path)))] = 1.0
        self.register_buffer("paths", frames)
        self.targets = {tuple(indices): label for label, indices in enumerate(spellings)}
        self.norm = nn.LayerNorm(2 * num_features)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(2 * num_features, len(paths))

    def logits(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Label scores (batch, labels) from mean and max pooling over each clip's own frames."""
        if self.layer_weights is not None:
            return self.output(self.dropout(self.norm(mix_pooled_layers(features, self.layer_weights))))
        inside = (torch.arange(features.shape[1], device=features.device)[None, :] < lengths[:, None])[..., None]
        if self.top is not None:
            features = self._top_layer(features, inside)
        mean = (features * inside).sum(1) / lengths.clamp(min=1)[:, None].to(features.dtype)
        peak = features.masked_fill(~inside, float("-inf")).amax(1)
        return self.output(self.dropout(self.norm(torch.cat([mean, peak], dim=-1))))

    def _top_layer(self, features: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        """The encoder's top layer and final norm over the clips, padded frames hidden from the attention."""
        top = self.top if isinstance(self.top, nn.ModuleDict) else self.top[0].to(features.device)
        mask = torch.zeros(inside.shape[0], 1, 1, inside.shape[1], device=features.device, dtype=features.dtype)
        mask = mask.masked_fill(~inside[..., 0][:, None, None, :], torch.finfo(features.dtype).min)
        mask = mask.expand(-1, 1, inside.shape[1], -1)
        with torch.set_grad_enabled(torch.is_grad_enabled() and isinstance(self.top, nn.ModuleDict)):
            return top["norm"](run_layer(top["layer"], features, mask))

    def frozen_top_outputs(self, clips: list[torch.Tensor], batch_size: int = 64) -> list[torch.Tensor] | None:
        """Each clip's frames through the frozen top layer, computed once for a whole trial; None when the top
        layer is trained (``pooled_tuned``) or absent. A frozen layer gives the same output every epoch, and
        running it every epoch cost 5-9 s an epoch on 2,000-2,500 one-second clips (2 CPU cores): in a 180 s fit
        the head got 2-6 epochs where a linear probe on the same vectors needs dozens. The trial then trains
        with the top layer set aside (``self.top = None``) and puts it back when it ends."""
        if not isinstance(self.top, list):
            return None
        from autoasr.models.batching import pad_batch

        outputs = []
        with torch.no_grad():
            for start in range(0, len(clips), batch_size):
                padded, lengths = pad_batch(clips[start:start + batch_size])
                inside = (torch.arange(padded.shape[1])[None, :] < lengths[:, None])[..., None]
                frames = self._top_layer(padded, inside)
                outputs += [frames[row, :length].clone() for row, length in enumerate(lengths.tolist())]
        return outputs

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probabilities = self.logits(features, lengths).float().softmax(-1)
        best = nn.functional.one_hot(probabilities.argmax(-1), self.paths.shape[0]).to(probabilities.dtype)
        frames = torch.einsum("bk,ktv->btv", 0.5 * (probabilities + best), self.paths)
        out_lengths = torch.full_like(lengths, self.paths.shape[1])
        return frames.clamp(min=1e-8).log(), out_lengths

    def clip_loss(self, features: torch.Tensor, lengths: torch.Tensor, targets: list[torch.Tensor]) -> torch.Tensor:
        """Cross-entropy against each clip's label. A transcript outside the labels (a domain's spliced digit
        string) is left out; a batch of only such clips gives a zero loss, not NaN."""
        labels = torch.tensor([self.targets.get(tuple(t.tolist()), -100) for t in targets], device=features.device)
        logits = self.logits(features, lengths).float()
        if not bool((labels >= 0).any()):
            return logits.sum() * 0.0
        return nn.functional.cross_entropy(logits, labels, ignore_index=-100)


def build_whisper_head(num_features: int, vocabulary_size: int, dropout: float = 0.1, size: str = "small",
                       labels: list[str] | None = None, symbols: tuple[str, ...] | None = None,
                       encoder: str = "", **_) -> nn.Module:
    """The registry's builder: the encoder is the frontend, so the network is the head alone. The pooled
    heads need their ``labels`` (transcripts), the vocabulary's ``symbols`` to spell them and the ``encoder``
    whose top layer they run (``pooled``: frozen, ``pooled_tuned``: trained) or whose layers' pooled vectors
    they mix (``pooled_mix``)."""
    if size in POOLED_HEADS:
        if not labels or not symbols or not encoder:
            raise ValueError("a pooled Whisper head needs its labels, the vocabulary's symbols and its encoder")
        index = {symbol: position for position, symbol in enumerate(symbols)}
        spellings = [[index[c] for c in label if c in index and index[c] != 0] for label in labels]
        whisper = load_whisper_encoder(encoder)
        if size == LAYER_MIX_HEAD:  # the features are already pooled: no top layer to run here
            return WhisperPooledHead(num_features, vocabulary_size, spellings, dropout,
                                     mixed_layers=len(whisper.layers) + 1)
        return WhisperPooledHead(num_features, vocabulary_size, spellings, dropout, whisper,
                                 tune_top=size == TUNED_POOLED_HEAD)
    return WhisperCTCHead(num_features, vocabulary_size, dropout, size)


def save_tiny_whisper(folder: str | Path, d_model: int = 32, layers: int = 2, heads: int = 2) -> Path:
    """A tiny random Whisper (config.json + model.safetensors) in ``folder``: for tests and demos."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    config = WhisperConfig(vocab_size=100, num_mel_bins=80, d_model=d_model, encoder_layers=layers,
                           decoder_layers=1, encoder_attention_heads=heads, decoder_attention_heads=heads,
                           encoder_ffn_dim=2 * d_model, decoder_ffn_dim=2 * d_model, max_source_positions=1500,
                           max_target_positions=64, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                           decoder_start_token_id=1)
    torch.manual_seed(0)
    WhisperForConditionalGeneration(config).save_pretrained(str(folder), safe_serialization=True)
    return Path(folder)


@functools.lru_cache(maxsize=2)
def load_whisper_processor(source: str):
    """The ``WhisperProcessor`` (log-mel feature extractor and tokenizer) of the Whisper model at ``source``,
    from the same folder or hub id as its weights (no code or pickle is loaded). Raises :class:`WhisperUnavailable`."""
    from transformers import WhisperProcessor

    return _from_pretrained(WhisperProcessor, source)
