"""Issue 8 benchmark: the winner of a finished FSDD run, exported and used on long audio.

- ONNX and TorchScript transcripts against PyTorch on the 250 official test takes (parity);
- real-time factors of PyTorch, ONNX Runtime and TorchScript (1 thread, best of 3);
- a 60 s recording of 40 test takes separated by 0.3-1.0 s pauses: WER of the long-audio path;
- 200 connected digit strings (2-6 digits) spliced from the test takes: WER with the chosen decoder and greedy,
  and of off-the-shelf PocketSphinx restricted to a digits grammar (the peer the issue names).

    python benchmarks/use_once.py --run autoasr_runs/bench_default --fsdd ../shared/data/fsdd
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from autoasr import ASRPredictor, load_dataset
from autoasr.core.metrics import error_rates
from autoasr.data.audio import read_audio
from autoasr.domains.splice import make_spliced_test_set
from autoasr.export.runtime import OnnxModel, load_exported
from autoasr.export.writers import _as_trained_model, export_model
from autoasr.inference.long_audio import transcribe_with_words
from autoasr.results.baselines import pocketsphinx_available, pocketsphinx_baseline


def benchmark_runtimes(model_or_predictor, audio: list, repeats: int = 3, threads: int = 1) -> list[dict]:
    """Real-time factors of the PyTorch model and of its ONNX and TorchScript exports on the same audio
    (read beforehand; frontend, network and decoding timed), best of ``repeats``, on ``threads`` CPU threads.

    >>> benchmark_runtimes(predictor, [u.audio for u in test])                 # doctest: +SKIP
    [{'runtime': 'pytorch', 'real_time_factor': 0.0041, ...}, {'runtime': 'onnxruntime', ...}, ...]
    """
    import tempfile

    from autoasr.data.audio import as_samples

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", required=True)
    parser.add_argument("--fsdd", required=True)
    arguments = parser.parse_args()
    predictor = ASRPredictor.load(arguments.run)
    test = load_dataset(arguments.fsdd, split="test", domain="digits")
    files = [u.audio for u in test]
    reference = predictor.transcribe(files)
    parity = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, suffix in (("onnx", ".onnx"), ("torchscript", ".pt")):
            exported = load_exported(export_model(predictor, Path(folder) / f"model{suffix}", format=name))
            parity[name] = sum(a == b for a, b in zip(exported.transcribe(files), reference))
    runtimes = benchmark_runtimes(predictor, files, repeats=3, threads=1)

    generator = np.random.default_rng(0)
    chosen = [test[i] for i in generator.choice(len(test), 40, replace=False)]
    pieces = []
    for utterance in chosen:
        pieces.append(read_audio(utterance.audio))
        pieces.append(np.zeros(int(generator.uniform(0.3, 1.0) * 16000), dtype=np.float32))
    recording = np.concatenate(pieces)
    timed = transcribe_with_words(predictor, [recording])[0]
    truth = " ".join(u.text for u in chosen)
    long_audio = error_rates([truth], [timed.text])
    ordered = all(a.start <= b.start for a, b in zip(timed.words, timed.words[1:]))
    # issue 5: connected digit strings spliced from the (unseen) test takes, read by a model trained on takes
    with tempfile.TemporaryDirectory() as folder:
        strings = make_spliced_test_set(test, folder, count=200, seed=1)
        model = predictor.model()
        chosen_decoder = model.decoder
        strings_chosen = predictor.evaluate(strings, record=False)
        model.decoder = None
        strings_greedy = predictor.evaluate(strings, record=False)
        model.decoder = chosen_decoder
        strings_pocketsphinx = (pocketsphinx_baseline(strings, domain="digits")["test_wer"]
                                if pocketsphinx_available() else None)

    print("RESULT " + json.dumps({
        "strings_wer": strings_chosen["wer"], "strings_wer_greedy": strings_greedy["wer"],
        "strings_wer_pocketsphinx": strings_pocketsphinx,
        "num_strings": strings_chosen["num_utterances"], "string_words": strings_chosen["num_words"],
        "model": f"{predictor.leaderboard().iloc[0]['model']} {predictor.leaderboard().iloc[0]['size']}",
        "decoder": predictor.model().decoder is not None and "lm" or "greedy",
        "parity": parity, "num_test": len(files), "runtimes": runtimes,
        "long_audio_seconds": len(recording) / 16000, "long_audio_wer": long_audio["wer"],
        "long_audio_words": len(timed.words), "timestamps_in_order": ordered,
    }))


if __name__ == "__main__":
    main()
