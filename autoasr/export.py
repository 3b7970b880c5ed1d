"""Export a trained model to one self-contained file (ONNX or TorchScript) and run exported files.

The exported graph goes from raw waveforms to CTC log-probabilities: the frontend is rebuilt from
plain tensor operations (framing by index, a windowed DFT as a matrix product, the mel filterbank
and DCT matrices of torchaudio as constants), so nothing but ONNX operators runs at inference time.
It matches torchaudio's ``MelSpectrogram``/``MFCC`` to float precision (``tests/test_export.py``).

Graph inputs and outputs (batch and time axes are dynamic)::

    waveform          float32 (batch, samples)  mono, at the sample rate in the metadata, zero padded
    waveform_lengths  int64   (batch,)          the real number of samples of each row
    log_probs         float32 (batch, frames, vocabulary)
    frame_lengths     int64   (batch,)          valid output frames of each row

The vocabulary (index 0 is the CTC blank) and the frontend settings travel in the ONNX
``metadata_props`` (``autoasr.vocabulary``, ``autoasr.frontend``, ...) and in the TorchScript extra
file ``autoasr.json``; a lexicon + n-gram LM decoder chosen for the model travels as its plain-data
spec (``autoasr.decoder``). Conformers are exported through an equivalent attention written with
plain operations (PyTorch's own freezes the batch size into the graph). Running an exported file
needs only onnxruntime and numpy (greedy decoding)::

    >>> import json, numpy, onnxruntime                                        # doctest: +SKIP
    >>> session = onnxruntime.InferenceSession("digits.onnx")                 # doctest: +SKIP
    >>> meta = session.get_modelmeta().custom_metadata_map                    # doctest: +SKIP
    >>> symbols = json.loads(meta["autoasr.vocabulary"])                      # doctest: +SKIP
    >>> inputs = {"waveform": samples[None], "waveform_lengths": numpy.array([len(samples)])}  # doctest: +SKIP
    >>> log_probs, lengths = session.run(None, inputs)                        # doctest: +SKIP

or, with this package, ``OnnxModel("digits.onnx").transcribe(["clip.wav"])``.
"""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch
from torch import nn

from autoasr.pretrained import normalize_padded_waveform

EXPORT_FORMATS = ("onnx", "torchscript")
EXPORT_FORMAT_VERSION = 1
ONNX_OPSET = 17
METADATA_FILE = "autoasr.json"  # the TorchScript extra file holding the same metadata as the ONNX props
EXPORTED_SUFFIXES = {".onnx": "onnx", ".pt": "torchscript", ".ts": "torchscript", ".torchscript": "torchscript"}


# --------------------------------------------------------------------------------------------- frontend


class PortableFrontend(nn.Module):
    """torchaudio's log-mel/MFCC frontend (as configured in :class:`autoasr.features.Frontend`) from
    exportable operations, for a zero-padded batch of waveforms with their lengths.

    Each row gives exactly what ``Frontend`` gives for that waveform alone (reflect padding at the
    row's own end, normalisation over its own frames), with frames past its end set to zero, as
    :func:`autoasr.trainer.pad_batch` pads features.

    >>> from autoasr.features import Frontend, FrontendConfig
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
    (batch, frames, 160), samples past a row's end set to zero, as :class:`autoasr.pretrained.WaveformFrames`
    and :func:`autoasr.trainer.pad_batch` give them.

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
    """The exportable twin of an :class:`autoasr.features.Frontend` (log-mel, MFCC or raw waveform frames)."""
    if frontend.config.kind == "waveform":
        return PortableWaveformFrames(frontend.config.num_features)
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
    """:class:`autoasr.models.ConformerCTC` with the same weights, its padding mask built from the
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
    """:class:`autoasr.pretrained.Wav2Vec2CTC` with the same weights, its padding mask built by
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
    from autoasr.models import ConformerCTC
    from autoasr.pretrained import Wav2Vec2CTC

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


def _as_trained_model(model_or_predictor):
    """(TrainedModel, domain or None) from a TrainedModel, an ASRPredictor (its best model), a run
    folder or a model folder (``run/best``, ``run/trials/<id>``). The domain is its full spec where
    known, so a custom domain (a name ``get_domain`` cannot look up) travels with the file."""
    from autoasr.inference import MODEL_SPEC_FILE, TrainedModel

    if isinstance(model_or_predictor, TrainedModel):
        return model_or_predictor, None
    if hasattr(model_or_predictor, "model") and callable(model_or_predictor.model):
        spec = getattr(model_or_predictor, "domain_spec", None)
        return model_or_predictor.model(), spec.to_dict() if spec is not None else None
    folder = Path(model_or_predictor)
    if (folder / MODEL_SPEC_FILE).is_file():
        run = next((parent for parent in folder.parents[:2] if (parent / "predictor.json").is_file()), None)
        saved = json.loads((run / "predictor.json").read_text()) if run else {}
        domain = saved.get("domain_spec") or saved.get("domain")
        return TrainedModel.load(folder), domain
    if (folder / "predictor.json").is_file():
        from autoasr.predictor import ASRPredictor

        predictor = ASRPredictor.load(folder)
        return predictor.model(), predictor.domain_spec.to_dict()
    raise FileNotFoundError(f"{folder}: neither an autoasr run (predictor.json) nor a model folder ({MODEL_SPEC_FILE})")


def export_metadata(trained, domain: str | dict | None = None) -> dict[str, str]:
    """String metadata that makes an exported file self-describing."""
    import autoasr

    portable = portable_frontend(trained.frontend)
    frontend = {"kind": trained.frontend.config.kind, "num_features": trained.frontend.config.num_features,
                "sample_rate": trained.frontend.config.sample_rate, "n_fft": portable.n_fft,
                "hop_length": portable.hop_length, "win_length": portable.win_length,
                "window": "hann", "normalisation": "per-utterance mean and variance"}
    if portable.kind == "waveform":  # raw samples in 10 ms frames: the encoder reads the waveform itself
        frontend.update(window="none", normalisation="none (inside the network where the encoder expects it)")
    metadata = {
        "autoasr.format_version": str(EXPORT_FORMAT_VERSION),
        "autoasr.version": getattr(autoasr, "__version__", "unknown"),
        "autoasr.vocabulary": json.dumps(list(trained.vocabulary.symbols)),
        "autoasr.blank_index": "0",
        "autoasr.frontend": json.dumps(frontend),
        "autoasr.config": json.dumps(trained.config, default=str),
        # how references are normalised when evaluating: the name, and the whole spec of a custom domain
        "autoasr.domain": (domain.get("name") if isinstance(domain, dict) else domain) or "general",
        "autoasr.domain_spec": json.dumps(domain if isinstance(domain, dict) else None),
        "autoasr.inputs": "waveform float32 (batch, samples) zero padded mono; waveform_lengths int64 (batch,)",
        "autoasr.outputs": "log_probs float32 (batch, frames, vocabulary); frame_lengths int64 (batch,)",
        "autoasr.decoding": "greedy CTC: argmax per frame, merge repeats, drop blank (index 0)",
    }
    decoder = getattr(trained, "decoder", None)
    if decoder is not None:  # the lexicon + n-gram LM beam search chosen for this model, as plain data
        metadata["autoasr.decoder"] = json.dumps(decoder.spec())
        metadata["autoasr.decoding"] = ("lexicon + word n-gram LM beam search (autoasr.lm_decoding.LexiconDecoder."
                                        "from_spec(autoasr.decoder)); greedy CTC where it is unavailable")
    return metadata


def _example_inputs(sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    waveform = 0.1 * torch.randn(2, sample_rate, generator=generator)
    return waveform, torch.tensor([sample_rate, sample_rate * 3 // 4], dtype=torch.long)


def export_model(model_or_predictor, path: str | Path, format: str = "onnx") -> Path:
    """Write ``model_or_predictor`` (an ASRPredictor's best model, a TrainedModel, or a run/model
    folder) to one self-contained file: waveform in, CTC log-probabilities out.

    >>> export_model(predictor, "digits.onnx", format="onnx")                 # doctest: +SKIP
    PosixPath('digits.onnx')
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format '{format}' (choose from {', '.join(EXPORT_FORMATS)})")
    trained, domain = _as_trained_model(model_or_predictor)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = WaveformToLogProbs(trained).eval()
    metadata = export_metadata(trained, domain)
    example = _example_inputs(trained.sample_rate)
    if format == "onnx":
        _export_onnx(module, example, path, metadata)
    else:
        _export_torchscript(module, example, path, metadata)
    return path


def _export_onnx(module: nn.Module, example, path: Path, metadata: dict[str, str]) -> None:
    import warnings

    import onnx

    temporary = path.with_name(f".{path.name}.tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter warns about itself and about GRU batch sizes
        torch.onnx.export(
            module, example, str(temporary), dynamo=False, opset_version=ONNX_OPSET,
            input_names=["waveform", "waveform_lengths"], output_names=["log_probs", "frame_lengths"],
            dynamic_axes={"waveform": {0: "batch", 1: "samples"}, "waveform_lengths": {0: "batch"},
                          "log_probs": {0: "batch", 1: "frames"}, "frame_lengths": {0: "batch"}},
        )
    graph = onnx.load(str(temporary))
    del graph.metadata_props[:]
    for key, value in metadata.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    graph.doc_string = "autoasr CTC speech recognizer: waveform -> log-probabilities (see metadata_props)"
    onnx.checker.check_model(graph)
    onnx.save(graph, str(temporary))
    temporary.replace(path)


def _export_torchscript(module: nn.Module, example, path: Path, metadata: dict[str, str]) -> None:
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            scripted = torch.jit.script(module)
        except Exception:  # some network layers do not script; a trace keeps batch and time dynamic for them
            scripted = torch.jit.trace(module, example, check_trace=False)
    temporary = path.with_name(f".{path.name}.tmp")
    torch.jit.save(scripted, str(temporary), _extra_files={METADATA_FILE: json.dumps(metadata)})
    temporary.replace(path)


# --------------------------------------------------------------------------------------------- running


def greedy_decode_array(log_probs: np.ndarray, length: int, symbols: tuple[str, ...]) -> str:
    """Greedy CTC decoding of one (frames, vocabulary) array, as :func:`autoasr.decoding.greedy_decode`."""
    best = log_probs[:length].argmax(axis=-1)
    if best.size == 0:
        return ""
    keep = np.ones(best.shape, dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    text = "".join(symbols[index] for index in best[keep] if index != 0)
    return " ".join(text.split())


class ExportedModel:
    """An exported file ready to transcribe and evaluate, with the interface of a trained model.

    Use :func:`load_exported` (chooses the runtime from the file's suffix).
    """

    def __init__(self, path: str | Path, metadata: dict[str, str]):
        self.path = Path(path)
        self.metadata = dict(metadata)
        self.symbols: tuple[str, ...] = tuple(json.loads(metadata["autoasr.vocabulary"]))
        self.frontend_settings: dict = json.loads(metadata["autoasr.frontend"])
        self.config: dict = json.loads(metadata.get("autoasr.config", "{}"))
        self.sample_rate = int(self.frontend_settings["sample_rate"])
        self.hop_length = int(self.frontend_settings["hop_length"])
        decoder = metadata.get("autoasr.decoder")
        self.decoder_spec: dict | None = json.loads(decoder) if decoder else None
        self._decoder = None
        self.best_trial_id = None

    @property
    def vocabulary(self):
        from autoasr.text import CharVocabulary

        return CharVocabulary(self.symbols)

    @property
    def decoder(self):
        """The model's lexicon + LM decoder rebuilt from the metadata (None: greedy decoding)."""
        if self.decoder_spec is not None and self._decoder is None:
            from autoasr.lm_decoding import LexiconDecoder

            self._decoder = LexiconDecoder.from_spec(self.decoder_spec)
        return self._decoder

    def decode_log_probs(self, log_probs: list[np.ndarray]) -> list[str]:
        """Text for each (frames, vocabulary) array, with the model's decoder (greedy without one)."""
        if self.decoder_spec is None:
            return [greedy_decode_array(item, len(item), self.symbols) for item in log_probs]
        return self.decoder.decode_each([torch.from_numpy(np.ascontiguousarray(item)) for item in log_probs])

    def leaderboard(self):
        raise ValueError(f"{self.path} is an exported model: it has no leaderboard (give the run folder)")

    def model(self, trial_id: str | None = None) -> "ExportedModel":
        return self

    def run(self, waveform: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(batch, samples) float32 and (batch,) int64 -> log-probs (batch, frames, vocabulary), lengths."""
        raise NotImplementedError

    def log_probs(self, audio: list, batch_size: int = 32) -> list[np.ndarray]:
        """Per item, its valid (frames, vocabulary) log-probabilities, in order."""
        from autoasr.audio import as_samples
        from autoasr.trainer import length_sorted_batches

        samples = [as_samples(item, self.sample_rate) for item in audio]
        results: list[np.ndarray] = [np.zeros((0, len(self.symbols)), np.float32)] * len(samples)
        # the same batches as the PyTorch model forms (sorted by frame count), so padding matches too
        frame_counts = [len(s) // self.hop_length + 1 for s in samples]
        for batch in length_sorted_batches(frame_counts, batch_size, shuffle=False):
            longest = max(len(samples[i]) for i in batch)
            waveform = np.zeros((len(batch), longest), dtype=np.float32)
            for row, position in enumerate(batch):
                waveform[row, : len(samples[position])] = samples[position]
            lengths = np.array([len(samples[i]) for i in batch], dtype=np.int64)
            log_probs, out_lengths = self.run(waveform, lengths)
            for row, position in enumerate(batch):
                results[position] = log_probs[row, : int(out_lengths[row])]
        return results

    def transcribe(self, audio, batch_size: int = 32) -> list[str]:
        """Transcripts for paths or float arrays (already at ``sample_rate``), in order."""
        from autoasr.long_audio import transcribe_routed

        items = list(audio) if isinstance(audio, (list, tuple)) else [audio]

        def transcribe_short(short: list) -> list[str]:
            return self.decode_log_probs(self.log_probs(short, batch_size))

        return transcribe_routed(self, items, transcribe_short)  # recordings over 20 s are segmented

    def real_time_factor(self, audio: list) -> float:
        """Seconds of computing per second of audio (frontend and decoding included)."""
        from autoasr.audio import as_samples

        samples = [as_samples(item, self.sample_rate) for item in audio]
        started = time.perf_counter()
        self.transcribe(samples)
        return (time.perf_counter() - started) / max(sum(len(s) for s in samples) / self.sample_rate, 1e-9)

    def evaluate(self, data, domain: str | None = None, return_details: bool = False) -> dict:
        """WER, CER, S/D/I counts on labelled data (the ``test`` split of a path when it has one)."""
        from autoasr.domains import get_domain
        from autoasr.evaluation import evaluation_dataset, score

        saved_spec = json.loads(self.metadata.get("autoasr.domain_spec") or "null")
        domain = domain or saved_spec or self.metadata.get("autoasr.domain") or "general"
        dataset = evaluation_dataset(data, get_domain(domain).normalizer)
        return score(dataset, self.transcribe, str(self.path), return_details)


class OnnxModel(ExportedModel):
    """An exported ``.onnx`` file run by onnxruntime (CPU).

    >>> OnnxModel("digits.onnx").transcribe(["clip.wav"])                      # doctest: +SKIP
    ['four two']
    """

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        metadata = self.session.get_modelmeta().custom_metadata_map
        if "autoasr.vocabulary" not in metadata:
            raise ValueError(f"{path}: not an autoasr export (no autoasr.vocabulary in its metadata)")
        super().__init__(path, metadata)

    def run(self, waveform: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        log_probs, out_lengths = self.session.run(
            ["log_probs", "frame_lengths"], {"waveform": waveform, "waveform_lengths": lengths})
        return log_probs, out_lengths


class TorchScriptModel(ExportedModel):
    """An exported TorchScript file (``.pt``). Loading TorchScript runs its code: load trusted files only."""

    def __init__(self, path: str | Path):
        extra = {METADATA_FILE: ""}
        self.module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        self.module.eval()
        if not extra[METADATA_FILE]:
            raise ValueError(f"{path}: not an autoasr export (no {METADATA_FILE} inside)")
        super().__init__(path, json.loads(extra[METADATA_FILE]))

    def run(self, waveform: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            log_probs, out_lengths = self.module(torch.from_numpy(waveform), torch.from_numpy(lengths))
        return log_probs.numpy(), out_lengths.numpy()


def is_exported_file(path: str | Path) -> bool:
    """True for a file whose suffix names an export format (``.onnx``, ``.pt``, ``.ts``)."""
    path = Path(path)
    return path.suffix.lower() in EXPORTED_SUFFIXES and not path.is_dir()


def load_exported(path: str | Path) -> ExportedModel:
    """Open an exported file with the runtime its suffix names (onnxruntime for ``.onnx``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"exported model not found: {path}")
    if EXPORTED_SUFFIXES.get(path.suffix.lower()) == "onnx":
        return OnnxModel(path)
    return TorchScriptModel(path)


def benchmark_runtimes(model_or_predictor, audio: list, repeats: int = 3, threads: int = 1) -> list[dict]:
    """Real-time factors of the PyTorch model and of its ONNX and TorchScript exports on the same audio
    (read beforehand; frontend, network and decoding timed), best of ``repeats``, on ``threads`` CPU threads.

    >>> benchmark_runtimes(predictor, [u.audio for u in test])                 # doctest: +SKIP
    [{'runtime': 'pytorch', 'real_time_factor': 0.0041, ...}, {'runtime': 'onnxruntime', ...}, ...]
    """
    import tempfile

    from autoasr.audio import as_samples

    trained, _ = _as_trained_model(model_or_predictor)
    samples = [as_samples(item, trained.sample_rate) for item in audio]
    audio_seconds = sum(len(s) for s in samples) / trained.sample_rate
    previous_threads = torch.get_num_threads()
    rows = []
    try:
        torch.set_num_threads(threads)
        with tempfile.TemporaryDirectory() as folder:
            onnx_file = export_model(trained, Path(folder) / "model.onnx")
            script_file = export_model(trained, Path(folder) / "model.pt", "torchscript")
            runners = {"pytorch": trained.transcribe, "onnxruntime": OnnxModel(onnx_file, threads=threads).transcribe,
                       "torchscript": load_exported(script_file).transcribe}
            for name, transcribe in runners.items():
                transcribe(samples[:8])  # warm-up
                timings = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    transcribe(samples)
                    timings.append(time.perf_counter() - started)
                rows.append({"runtime": name, "real_time_factor": min(timings) / audio_seconds,
                             "median_real_time_factor": float(np.median(timings)) / audio_seconds,
                             "audio_seconds": audio_seconds, "utterances": len(samples), "threads": threads,
                             "model": trained.config.get("model"), "size": trained.config.get("size")})
    finally:
        torch.set_num_threads(previous_threads)
    return rows
