"""The ``autoasr`` command line: demo, models, fit, evaluate, transcribe, leaderboard, select, inspect, export.

Errors about the user's input are printed as one clear line and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from autoasr.data.dataset import DataError
from autoasr.predictor import FitError


def _print_json(payload) -> None:
    print(json.dumps(payload, indent=2, default=_json_default))


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _leaderboard_records(predictor) -> list[dict]:
    frame = predictor.leaderboard()
    records = []
    for row in frame.to_dict(orient="records"):
        records.append({key: (None if isinstance(value, float) and value != value else value)
                        for key, value in row.items()})
    return records


def _format_leaderboard(predictor) -> str:
    frame = predictor.leaderboard()
    if frame.empty:
        return "(no trials)"
    return _format_rows(frame, ["trial_id", "model", "size", "val_wer", "val_cer", "status", "decoder", "latency_ms",
                                "size_mb", "epochs", "train_seconds", "stop_reason"])


def _format_rows(frame, columns: list[str]) -> str:
    return frame[columns].to_string(index=False, float_format=lambda value: f"{value:.3f}")


def command_fit(arguments) -> int:
    from autoasr.export.bundle import write_run_report
    from autoasr.predictor import ASRPredictor

    if arguments.resume and (Path(arguments.output) / "predictor.json").is_file():
        predictor = ASRPredictor.load(arguments.output)
        predictor.domain = arguments.domain or predictor.domain
    else:
        predictor = ASRPredictor(path=arguments.output, domain=arguments.domain or "general")
    predictor.fit(arguments.data, tuning_data=arguments.tuning_data, time_limit=arguments.time_limit,
                  presets=arguments.presets, resume=arguments.resume, backend=arguments.backend,
                  num_workers=arguments.num_workers, ray_address=arguments.ray_address,
                  searcher=arguments.searcher, scheduler=arguments.scheduler,
                  max_latency_ms=arguments.max_latency_ms, max_size_mb=arguments.max_size_mb,
                  pretrained=_pretrained_choice(arguments), zero_shot=arguments.zero_shot,
                  refit={"auto": "auto", "always": True, "never": False}[arguments.refit])
    print(_format_leaderboard(predictor))
    if predictor.fit_summary.get("limits_note"):
        print(f"\nnote: {predictor.fit_summary['limits_note']}")
    if predictor.fit_summary.get("refit", {}).get("done"):
        refit = predictor.fit_summary["refit"]
        print(f"\nrefit on all data: trial {refit['trial_id']} is trial {refit['refit_of']}'s configuration trained "
              f"on the training and tuning data; its val_wer is trial {refit['refit_of']}'s")
    if predictor.fit_summary.get("ended_early"):
        print(f"\nended before the budget: {predictor.fit_summary['ended_early']}")
    print(f"\nbest model: trial {predictor.best_trial_id}; saved in {predictor.path}")
    test_result = predictor.evaluate(arguments.test_data, return_details=True) if arguments.test_data else None
    if test_result is not None:
        print(f"test WER {test_result['wer']:.2%} (CER {test_result['cer']:.2%}) on "
              f"{test_result['num_utterances']} utterances")
    print(f"report: {write_run_report(predictor, test_result)}")
    return 0


def _pretrained_choice(arguments):
    """``--no-pretrained``: None (from scratch); ``--pretrained`` given: those; neither: "auto"."""
    if arguments.no_pretrained:
        return None
    return arguments.pretrained or "auto"


def _add_pretrained_arguments(parser) -> None:
    parser.add_argument("--pretrained", action="append", default=None, metavar="ID_OR_PATH",
                        help="a Whisper model (hub id such as openai/whisper-tiny.en, or its folder) whose frozen "
                             "encoder gets trained heads, or a wav2vec2 checkpoint (.safetensors) or a folder of them "
                             "to fine-tune; repeat for more (default: $AUTOASR_PRETRAINED, else a Whisper model in "
                             "the local Hugging Face cache, else openai/whisper-tiny.en downloaded once where the "
                             "network allows)")
    parser.add_argument("--no-pretrained", action="store_true",
                        help="train from scratch: no pretrained encoder, nothing downloaded")


def command_models(arguments) -> int:
    """Fetch a pretrained listener into the Hugging Face cache now (what `make models` and Binder's build run)."""
    from autoasr.models.encoder_sources import cached_whisper_source
    from autoasr.models.hub_download import LISTENERS, ModelUnavailable, fetch_model, hub_endpoint

    if arguments.list:
        for listener in LISTENERS:
            print(listener.describe())
        return 0
    cached = cached_whisper_source(exact=arguments.model)
    if cached is not None:
        print(f"{arguments.model} is already in the local Hugging Face cache: nothing to download")
        return 0
    print(f"downloading {arguments.model} from {hub_endpoint()} into the local Hugging Face cache "
          "(safetensors weights, config and tokenizer only; once)", flush=True)
    try:
        folder = fetch_model(arguments.model)
    except ModelUnavailable as error:
        print(f"autoasr models: {arguments.model} not downloaded: {error}.\nWithout it autoasr trains from scratch; "
              "for a classroom without internet, copy the model folder onto each machine and set "
              "AUTOASR_PRETRAINED to it (README: Pretrained listeners)", file=sys.stderr)
        return 1
    size = sum(path.stat().st_size for path in folder.iterdir() if path.is_file())
    print(f"{arguments.model}: {size / 1e6:.0f} MB in {folder}")
    return 0


def _add_models_command(commands) -> None:
    models = commands.add_parser("models", help="download a pretrained listener once into the Hugging Face cache")
    models.add_argument("--model", default="openai/whisper-tiny.en", help="hub id (default: openai/whisper-tiny.en)")
    models.add_argument("--list", action="store_true", help="the listeners offered, their sizes and costs")
    models.set_defaults(handler=command_models)


def command_demo(arguments) -> int:
    from autoasr.demo import run_demo

    report = run_demo(output=arguments.output, time_limit=arguments.time_limit, pretrained=_pretrained_choice(arguments))
    print(f"\nreport: {report}")
    return 0


def _load_model(model_path: str):
    """A saved run (a folder with predictor.json) or an exported file (.onnx via onnxruntime, .pt TorchScript)."""
    from autoasr.export.runtime import is_exported_file, load_exported

    if is_exported_file(model_path):
        return load_exported(model_path)
    from autoasr.predictor import ASRPredictor

    return ASRPredictor.load(model_path)


def command_evaluate(arguments) -> int:
    result = _load_model(arguments.model_dir).evaluate(arguments.data)
    if arguments.json:
        _print_json(result)
    else:
        print(f"WER {result['wer']:.2%}  CER {result['cer']:.2%}  on {result['num_utterances']} utterances "
              f"(S {result['substitutions']}, D {result['deletions']}, I {result['insertions']}); "
              f"real-time factor {result['real_time_factor']:.4f}")
    return 0


def command_transcribe(arguments) -> int:
    model = _load_model(arguments.model_dir)
    if arguments.json:  # with word timestamps from CTC alignment; long recordings are segmented at pauses
        from autoasr.inference.long_audio import transcribe_with_words

        _print_json([result.to_dict() for result in transcribe_with_words(model, list(arguments.audio))])
        return 0
    for audio, text in zip(arguments.audio, model.transcribe(list(arguments.audio))):
        print(f"{audio}\t{text}")
    return 0


def command_export(arguments) -> int:
    from autoasr.export.writers import export_model

    default_name = "model.onnx" if arguments.format == "onnx" else "model.pt"
    output = Path(arguments.output) if arguments.output else Path(arguments.model_dir) / default_name
    path = export_model(arguments.model_dir, output, format=arguments.format, quantize=arguments.quantize)
    print(f"exported {arguments.model_dir} as {arguments.format}: {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def command_leaderboard(arguments) -> int:
    predictor = _load_model(arguments.model_dir)
    if arguments.json:
        _print_json(_leaderboard_records(predictor))
    else:
        print(_format_leaderboard(predictor))
    return 0


def command_select(arguments) -> int:
    from autoasr.predictor import ASRPredictor

    predictor = ASRPredictor.load(arguments.model_dir)
    print(f"Pareto front on {arguments.cost} (no other model is both more accurate and cheaper):")
    print(_format_rows(predictor.pareto_front(arguments.cost), ["trial_id", "model", "size", "val_wer", "decoder",
                                                                "latency_ms", "rtf", "size_mb"]))
    chosen = predictor.select_best(max_latency_ms=arguments.max_latency_ms, max_size_mb=arguments.max_size_mb)
    row = predictor.leaderboard().set_index("trial_id").loc[chosen]
    print(f"\nbest model now: trial {chosen} ({row['model']} {row['size']}, validation WER {row['val_wer']:.2%}, "
          f"{row['latency_ms']} ms, {row['size_mb']} MB); saved in {predictor.path}")
    return 0


def _add_limit_arguments(parser) -> None:
    parser.add_argument("--max-latency-ms", type=float, default=None,
                        help="the best model must transcribe a typical utterance within this many ms (1 CPU thread)")
    parser.add_argument("--max-size-mb", type=float, default=None, help="the best model's weights must fit in this many MB")


def command_inspect(arguments) -> int:
    from autoasr.data.inspection import inspect_dataset
    from autoasr.domains.presets import get_domain

    try:
        report = inspect_dataset(arguments.data, domain=get_domain(arguments.domain), against=arguments.vocabulary)
    except OSError as error:  # unreadable file or folder: one line, like every other input error
        raise DataError(f"{getattr(error, 'filename', None) or arguments.data}: {error.strerror or error}") from None
    if arguments.json:
        _print_json(report.to_dict())
    else:
        print(report.to_text())
    return 0 if report.num_utterances else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autoasr", description="Low-code AutoML for speech recognition.")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="search on the embedded demo corpus and write a report")
    demo.add_argument("--time-limit", type=float, default=180)
    demo.add_argument("--output", default="autoasr_runs/demo")
    _add_pretrained_arguments(demo)
    demo.set_defaults(handler=command_demo)
    _add_models_command(commands)

    fit = commands.add_parser("fit", help="train and compare models on DATA within a time limit")
    fit.add_argument("data")
    fit.add_argument("--tuning-data")
    fit.add_argument("--test-data", help="held-out data scored after the search; its results go into report.html")
    fit.add_argument("--time-limit", type=float, default=300)
    fit.add_argument("--domain", default=None)
    fit.add_argument("--presets", default="default")
    fit.add_argument("--backend", default="local", choices=["local", "ray"],
                     help="local: trials one after another in this process; ray: trials in parallel on Ray")
    fit.add_argument("--num-workers", type=int, default=2, help="trials run at once with --backend ray")
    fit.add_argument("--ray-address", default=None, help="an existing Ray cluster (default: start a local one)")
    fit.add_argument("--searcher", default="random", choices=["random", "bayes"], help="Ray Tune searcher")
    fit.add_argument("--scheduler", default="ASHA", choices=["ASHA", "FIFO"], help="Ray Tune trial scheduler")
    fit.add_argument("--output", default="autoasr_runs/model")
    fit.add_argument("--resume", action="store_true")
    _add_pretrained_arguments(fit)
    fit.add_argument("--zero-shot", default="auto", choices=["auto", "none", "whisper", "pocketsphinx"],
                     help="leaderboard rows for pretrained recognizers used as they are, scored before training "
                          "(auto: Whisper zero-shot when --pretrained names a Whisper model, and PocketSphinx when "
                          "installed and the words are English; default $AUTOASR_ZERO_SHOT, else auto)")
    fit.add_argument("--refit", default="auto", choices=["auto", "always", "never"],
                     help="train the winner's configuration again on training + tuning data and use that model "
                          "(auto: corpora of at most 1,000 utterances)")
    _add_limit_arguments(fit)
    fit.set_defaults(handler=command_fit)

    evaluate = commands.add_parser("evaluate", help="WER/CER of a trained model on labelled DATA")
    evaluate.add_argument("model_dir")
    evaluate.add_argument("data")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(handler=command_evaluate)

    transcribe = commands.add_parser("transcribe", help="transcribe audio files")
    transcribe.add_argument("model_dir")
    transcribe.add_argument("audio", nargs="+")
    transcribe.add_argument("--json", action="store_true")
    transcribe.set_defaults(handler=command_transcribe)

    leaderboard = commands.add_parser("leaderboard", help="the trials of a run, best first")
    leaderboard.add_argument("model_dir")
    leaderboard.add_argument("--json", action="store_true")
    leaderboard.set_defaults(handler=command_leaderboard)

    select = commands.add_parser("select", help="make the most accurate model within latency/size limits the best one")
    select.add_argument("model_dir")
    _add_limit_arguments(select)
    select.add_argument("--cost", default="latency_ms", choices=["latency_ms", "size_mb", "rtf", "parameters"],
                        help="the cost the printed Pareto front trades against WER")
    select.set_defaults(handler=command_select)

    export = commands.add_parser("export", help="write the best model as one self-contained ONNX or TorchScript file")
    export.add_argument("model_dir", help="a saved run, or one model folder (run/best, run/trials/<id>)")
    export.add_argument("--format", choices=["onnx", "torchscript"], default="onnx")
    export.add_argument("--quantize", choices=["fp16", "int8"], default=None,
                        help="ONNX only: fp16 stores weights in half precision (half the file, same computation); "
                             "int8 quantizes matrix products (a third of the file, faster, less exact)")
    export.add_argument("--output", default=None, help="file to write (default: MODEL_DIR/model.onnx or model.pt)")
    export.set_defaults(handler=command_export)

    inspect = commands.add_parser("inspect", help="summarise DATA and list its problems by file and row")
    inspect.add_argument("data", help="a manifest, a corpus folder or archive in a known layout, or 'demo'")
    inspect.add_argument("--domain", default="general")
    inspect.add_argument("--vocabulary", default=None,
                         help="word list (or dataset) to report out-of-vocabulary words against")
    inspect.add_argument("--json", action="store_true")
    inspect.set_defaults(handler=command_inspect)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.handler(arguments)
    except (DataError, FileNotFoundError, ValueError, FitError) as error:
        print(f"autoasr: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("autoasr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
