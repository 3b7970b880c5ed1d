"""Exported Whisper encoder rows against PyTorch: file size, agreement and latency; prints Markdown lines.

    PYTHONPATH=$PWD flock /work/cpu.lock python benchmarks/whisper_export.py \\
        --fsdd ../shared/data/fsdd --pretrained ../shared/models/whisper-tiny.en --clips 100 --latency

Each Whisper row type (CTC heads tiny/small/medium, pooled, pooled_tuned) is built on the real encoder and its
head trained for a few seconds on cached encoder vectors of FSDD takes 5-9 (so its outputs are a trained
model's, not noise), then exported to ONNX and TorchScript and run through autoasr's runtime on ``--clips``
test takes (takes 0-4, all speakers). Agreement: identical transcripts and the largest |log-prob| difference
(PyTorch and the export both batch the clips alike, 16 at a time). Latency: a test take cut or zero-padded to exactly 1 s, one clip per call,
median of 20 after a warm-up, onnxruntime (1 thread) against the PyTorch model (1 thread).
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from autoasr.core.text import DIGIT_WORDS, CharVocabulary
from autoasr.data.audio import read_audio
from autoasr.export.runtime import OnnxModel, load_exported
from autoasr.export.writers import export_model
from autoasr.inference.long_audio import segment_log_probs
from autoasr.inference.model import TrainedModel

ROWS = ("tiny", "small", "medium", "pooled", "pooled_tuned")


def takes(fsdd: Path, wanted) -> list[tuple[Path, str]]:
    found = []
    for file in sorted((fsdd / "recordings").glob("*.wav")):
        digit, _, take = file.stem.split("_")
        if int(take) in wanted:
            found.append((file, DIGIT_WORDS[int(digit)]))
    return found


def train_head(model: TrainedModel, train: list[tuple[Path, str]], steps: int = 150) -> None:
    """A few full-batch Adam steps on the head alone (cross-entropy for pooled heads, CTC otherwise)."""
    from autoasr.models.batching import pad_batch

    features, lengths = pad_batch([model.features(read_audio(path)) for path, _ in train])
    targets = [torch.tensor(model.vocabulary.encode(text)) for _, text in train]
    network = model.network.train()
    optimizer = torch.optim.Adam([p for p in network.parameters() if p.requires_grad], lr=3e-3)
    for _ in range(steps):
        optimizer.zero_grad()
        if hasattr(network, "clip_loss"):
            loss = network.clip_loss(features, lengths, targets)
        else:
            log_probs, out_lengths = network(features, lengths)
            loss = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), torch.cat(targets), out_lengths,
                                                torch.tensor([len(t) for t in targets]), zero_infinity=True)
        loss.backward()
        optimizer.step()
    network.eval()


def median_seconds(call, runs: int = 20) -> float:
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(size: str, encoder: str, train, test, folder: Path) -> dict:
    vocabulary = CharVocabulary.from_texts(DIGIT_WORDS)
    config = {"model": "whisper", "size": size, "frontend": "whisper", "encoder": encoder, "num_features": 384}
    if size.startswith("pooled"):
        config["labels"] = sorted(DIGIT_WORDS)
    torch.manual_seed(0)
    model = TrainedModel.build(config, vocabulary)
    train_head(model, train)
    audio = [read_audio(path) for path, _ in test]
    expected = model.transcribe(audio, batch_size=16)
    reference = segment_log_probs(model, audio, batch_size=16)
    result = {"row": f"whisper {size}", "clips": len(audio),
              "pytorch_correct": sum(t == text for t, (_, text) in zip(expected, test))}
    for export_format, suffix, quantize in (("onnx", "onnx", None), ("torchscript", "pt", None),
                                            ("onnx_fp16", "fp16.onnx", "fp16"), ("onnx_int8", "int8.onnx", "int8")):
        path = export_model(model, folder / f"{size}.{suffix}", format=export_format.split("_")[0], quantize=quantize)
        exported = load_exported(path)
        transcripts = exported.transcribe(audio, batch_size=16)
        log_probs = exported.log_probs(audio, batch_size=16)
        result[export_format] = {
            "megabytes": round(path.stat().st_size / 2**20, 1),
            "identical": sum(a == b for a, b in zip(expected, transcripts)),
            "max_log_prob_difference": max(float(np.abs(a - b).max()) for a, b in zip(reference, log_probs))}
    return result


def latency(encoder: str, clip: np.ndarray, folder: Path) -> dict:
    torch.set_num_threads(1)
    model = TrainedModel.build({"model": "whisper", "size": "pooled", "frontend": "whisper", "encoder": encoder,
                                "num_features": 384, "labels": sorted(DIGIT_WORDS)},
                               CharVocabulary.from_texts(DIGIT_WORDS))
    onnx_model = OnnxModel(export_model(model, folder / "latency.onnx"), threads=1)
    int8_model = OnnxModel(export_model(model, folder / "latency.int8.onnx", quantize="int8"), threads=1)
    half_model = OnnxModel(export_model(model, folder / "latency.fp16.onnx", quantize="fp16"), threads=1)
    return {"clip_seconds": round(len(clip) / 16000, 2),
            "pytorch_ms": round(1000 * median_seconds(lambda: model.transcribe([clip])), 1),
            "onnxruntime_ms": round(1000 * median_seconds(lambda: onnx_model.transcribe([clip])), 1),
            "onnxruntime_fp16_weights_ms": round(1000 * median_seconds(lambda: half_model.transcribe([clip])), 1),
            "onnxruntime_int8_ms": round(1000 * median_seconds(lambda: int8_model.transcribe([clip])), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fsdd", type=Path, required=True)
    parser.add_argument("--pretrained", required=True)
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--rows", nargs="*", default=list(ROWS))
    parser.add_argument("--latency", action="store_true", help="also time the pooled row on a 1 s clip")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/whisper_export.json"))
    options = parser.parse_args()
    train = takes(options.fsdd, range(5, 8))[::3]
    test = takes(options.fsdd, range(0, 5))[:: max(1, len(takes(options.fsdd, range(0, 5))) // options.clips)]
    test = test[: options.clips]
    results = {"rows": [], "train_clips": len(train)}
    with tempfile.TemporaryDirectory() as folder:
        for size in options.rows:
            row = measure(size, options.pretrained, train, test, Path(folder))
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
        if options.latency:
            nearest = min((read_audio(path) for path, _ in test), key=lambda a: abs(len(a) - 16000))
            one_second = np.pad(nearest, (0, max(0, 16000 - len(nearest))))[:16000]  # exactly 1 s
            results["latency"] = latency(options.pretrained, one_second, Path(folder))
            print(json.dumps(results["latency"]))
    options.output.write_text(json.dumps(results, indent=1))
    for row in results["rows"]:
        print(f"| {row['row']} | {row['onnx']['megabytes']} MB | {row['torchscript']['megabytes']} MB | "
              f"{row['onnx']['identical']}/{row['clips']} ({row['onnx']['max_log_prob_difference']:.1e}) | "
              f"{row['torchscript']['identical']}/{row['clips']} "
              f"({row['torchscript']['max_log_prob_difference']:.1e}) | {row['onnx_fp16']['megabytes']} MB | "
              f"{row['onnx_fp16']['identical']}/{row['clips']} ({row['onnx_fp16']['max_log_prob_difference']:.1e}) | "
              f"{row['onnx_int8']['megabytes']} MB | "
              f"{row['onnx_int8']['identical']}/{row['clips']} ({row['onnx_int8']['max_log_prob_difference']:.1e}) | "
              f"{row['pytorch_correct']}/{row['clips']} |")


if __name__ == "__main__":
    main()
