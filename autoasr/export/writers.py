"""Writing a trained model to one ONNX or TorchScript file, with its vocabulary, frontend and decoder as metadata."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from autoasr.export.graph import WaveformToLogProbs, portable_frontend

EXPORT_FORMATS = ("onnx", "torchscript")
EXPORT_FORMAT_VERSION = 1
ONNX_OPSET = 17
QUANTIZATIONS = ("fp16", "int8")
METADATA_FILE = "autoasr.json"  # the TorchScript extra file holding the same metadata as the ONNX props


def _as_trained_model(model_or_predictor):
    """(TrainedModel, domain or None) from a TrainedModel, an ASRPredictor (its best model), a run
    folder or a model folder (``run/best``, ``run/trials/<id>``). The domain is its full spec where
    known, so a custom domain (a name ``get_domain`` cannot look up) travels with the file."""
    from autoasr.inference.model import TrainedModel
    from autoasr.inference.model_files import MODEL_SPEC_FILE

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
    if portable.kind == "whisper":  # a frozen Whisper encoder inside the graph, on one 30 s window
        from autoasr.export.whisper_graph import MAX_SECONDS, MIN_SAMPLES

        frontend.update(normalisation="Whisper log-mel: log10, floored 8 below the clip's peak, (x + 4) / 4",
                        mel_hop_length=160, min_samples=MIN_SAMPLES, max_seconds=MAX_SECONDS,
                        encoder=Path(str(trained.frontend.config.encoder)).name, below_top=portable.below_top,
                        pooled_layers=portable.pooled_layers,
                        long_audio="clips over max_seconds need cutting first (autoasr's runtime cuts recordings "
                                   "over 20 s at pauses into pieces of at most 15 s)")
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
        metadata["autoasr.decoding"] = ("lexicon + word n-gram LM beam search (autoasr.decoding.lm.LexiconDecoder."
                                        "from_spec(autoasr.decoder)); greedy CTC where it is unavailable")
    return metadata


def _example_inputs(sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    waveform = 0.1 * torch.randn(2, sample_rate, generator=generator)
    return waveform, torch.tensor([sample_rate, sample_rate * 3 // 4], dtype=torch.long)


def export_model(model_or_predictor, path: str | Path, format: str = "onnx", quantize: str | None = None) -> Path:
    """Write ``model_or_predictor`` (an ASRPredictor's best model, a TrainedModel, or a run/model
    folder) to one self-contained file: waveform in, CTC log-probabilities out.

    ``quantize`` (ONNX only) makes a file with a pretrained encoder inside smaller: ``"fp16"`` stores every
    weight matrix in half precision, turned back to float when the file is loaded (half the size, the same
    computation); ``"int8"`` quantizes the matrix products to 8-bit integers (onnxruntime's dynamic
    quantization: about a third of the size, faster on a CPU, but measured to change transcripts of weak
    CTC heads); the frontend's spectrum and filterbank products stay in float either way.

    >>> export_model(predictor, "digits.onnx", format="onnx")                 # doctest: +SKIP
    PosixPath('digits.onnx')
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format '{format}' (choose from {', '.join(EXPORT_FORMATS)})")
    if quantize not in (None, *QUANTIZATIONS) or (quantize and format != "onnx"):
        raise ValueError(f"cannot quantize to '{quantize}' in {format}: quantization ({', '.join(QUANTIZATIONS)}) "
                         "is for ONNX files")
    trained, domain = _as_trained_model(model_or_predictor)
    refusal = getattr(trained, "export_refusal", None)
    if refusal:  # a pretrained recognizer used as it is (autoasr.inference.recognizers) writes text, not CTC outputs
        raise ValueError(f"cannot export: {refusal}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # on the CPU: a Whisper frontend moves its shared encoder to the GPU where there is one (it moves it back itself)
    module = WaveformToLogProbs(trained).eval().cpu()
    metadata = export_metadata(trained, domain)
    example = _example_inputs(trained.sample_rate)
    if format == "onnx":
        _export_onnx(module, example, path, {**metadata, **({"autoasr.quantized": quantize} if quantize else {})})
        if quantize == "int8":
            _quantize_int8(path)
        elif quantize == "fp16":
            half_precision_copy(path, path)
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


def half_precision_copy(source: str | Path, target: str | Path, min_elements: int = 1024) -> Path:
    """An exported ONNX file rewritten with every float weight of at least ``min_elements`` stored as float16 and
    cast back to float32 by a Cast node at the top of the graph (``target`` may be ``source``): the file halves,
    every operation still runs in float32, and nothing is traced again."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    target = Path(target)
    graph = onnx.load(str(source))
    casts, kept = [], []
    for tensor in graph.graph.initializer:
        if tensor.data_type != onnx.TensorProto.FLOAT or int(np.prod(tensor.dims)) < min_elements:
            kept.append(tensor)
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float16), f"{tensor.name}.fp16")
        kept.append(half)
        casts.append(helper.make_node("Cast", [half.name], [tensor.name], to=onnx.TensorProto.FLOAT,
                                      name=f"{tensor.name}.to_float"))
    del graph.graph.initializer[:]
    graph.graph.initializer.extend(kept)
    nodes = casts + list(graph.graph.node)
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)
    for entry in graph.metadata_props:
        if entry.key == "autoasr.quantized":
            break
    else:
        entry = graph.metadata_props.add()
        entry.key = "autoasr.quantized"
    entry.value = "fp16"
    onnx.checker.check_model(graph)
    temporary = target.with_name(f".{target.name}.fp16.tmp")
    onnx.save(graph, str(temporary))
    temporary.replace(target)
    return target


def _quantize_int8(path: Path) -> None:
    """Dynamic int8 quantization of the graph's matrix products, in place; the frontend's feature computation
    (DFT, mel and DCT matrices on raw spectra) is left in float, a Whisper encoder's layers are quantized."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(path))
    features = [node.name for node in graph.graph.node
                if node.name.startswith("/frontend/") and not node.name.startswith("/frontend/layers.")]
    temporary = path.with_name(f".{path.name}.int8.tmp")
    logging.disable(logging.WARNING)  # it advises a pre-processing pass on the root logger; the graph is final
    try:
        quantize_dynamic(str(path), str(temporary), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gemm"], nodes_to_exclude=features)
    finally:
        logging.disable(logging.NOTSET)
    quantized = onnx.load(str(temporary))
    if not quantized.metadata_props:  # the quantizer may drop them: the runtime needs the vocabulary and frontend
        quantized.metadata_props.extend(graph.metadata_props)
    onnx.save(quantized, str(temporary))
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
