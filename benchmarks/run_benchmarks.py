"""`make bench`: run the benchmark fits on FSDD and write docs/benchmarks.md.

Each fit runs in a child process so that wall time and peak memory are its own.

    python benchmarks/run_benchmarks.py --fsdd ../shared/data/fsdd --output docs/benchmarks.md
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_fit(fsdd: str, time_limit: float, presets: str, output: str) -> dict:
    command = [sys.executable, str(HERE / "fit_once.py"), "--fsdd", fsdd, "--time-limit", str(time_limit),
               "--presets", presets, "--output", output]
    started = time.time()
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark fit failed:\n{completed.stderr[-3000:]}")
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["process_seconds"] = time.time() - started
    return result


def core_table(result: dict) -> str:
    rows = [
        ("test WER (250 official test takes)", f"{result['test_wer']:.2%}", "≤ 3% (stretch ≤ 1%)"),
        ("test CER", f"{result['test_cer']:.2%}", ""),
        ("trials run (finished)", f"{result['trials']} ({result['trials_ok']})", "several"),
        ("best model", result["best_model"], ""),
        ("fit wall time", f"{result['fit_seconds']:.1f} s", "≤ 330 s"),
        ("time to first result", f"{result['first_result_seconds']:.1f} s", ""),
        ("peak RSS of the fit process", f"{result['peak_rss_mb']:.0f} MB", "≤ 2048 MB"),
        ("feature extraction (all trials share it)", f"{result['feature_seconds']:.1f} s", ""),
        ("training, summed over trials", f"{result['train_seconds']:.1f} s", ""),
        ("validation, summed over trials", f"{result['eval_seconds']:.1f} s", ""),
        ("best model real-time factor (CPU, batch)", f"{result['real_time_factor']:.4f}", "≤ 0.05"),
    ]
    lines = ["| measure | value | target |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {target} |" for name, value, target in rows]
    return "\n".join(lines)


def run_optuna(fsdd: str, time_limit: float) -> dict:
    command = [sys.executable, str(HERE / "optuna_once.py"), "--fsdd", fsdd, "--time-limit", str(time_limit)]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"optuna baseline failed:\n{completed.stderr[-3000:]}")
    return json.loads(next(l for l in completed.stdout.splitlines() if l.startswith("RESULT "))[len("RESULT "):])


def comparison_table(results: dict[str, dict]) -> str:
    lines = ["| strategy | test WER | best tuning WER | trials (finished) | time to first result | fit wall time | best model |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['test_wer']:.2%} | {r['best_val_wer']:.2%} | {r['trials']} ({r['trials_ok']}) | "
                     f"{r['first_result_seconds']:.1f} s | {r['fit_seconds']:.0f} s | {r['best_model']} |")
    return "\n".join(lines)


def budget_table(results: dict[float, dict]) -> str:
    lines = ["| time_limit | test WER | trials | fit wall time | within time_limit × 1.1 + 10 s |", "|---|---|---|---|---|"]
    for limit, r in sorted(results.items()):
        kept = "yes" if r["fit_seconds"] <= limit * 1.1 + 10 else "NO"
        lines.append(f"| {limit:.0f} s | {r['test_wer']:.2%} | {r['trials']} | {r['fit_seconds']:.1f} s | {kept} |")
    return "\n".join(lines)


def best_so_far_plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5))
    for name, r in results.items():
        points = r["best_so_far"]
        if points:
            axis.step([p[0] for p in points], [p[1] for p in points], where="post", label=name)
    axis.set_xlabel("seconds since fit started")
    axis.set_ylabel("best tuning WER so far")
    axis.set_yscale("log")
    axis.set_title("FSDD, 300 s budget: best tuning WER found so far")
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def replace_section(document: str, name: str, section: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{section}{end}"
    if start in document:
        before, rest = document.split(start, 1)
        return before + block + rest.split(end, 1)[1]
    return document.rstrip() + "\n\n" + block + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fsdd", default="../shared/data/fsdd")
    parser.add_argument("--output", default="docs/benchmarks.md")
    parser.add_argument("--time-limit", type=float, default=300)
    parser.add_argument("--cases", default="core,compare,budget,use",
                        help="comma-separated: core (default preset), compare (single/random/optuna/default), "
                             "budget, use (export and long audio on the core run's winner)")
    arguments = parser.parse_args()
    cases = set(arguments.cases.split(","))
    output = Path(arguments.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    document = output.read_text() if output.is_file() else "# Benchmarks\n"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, no GPU"
    limit = arguments.time_limit
    results: dict[str, dict] = {}

    if cases & {"core", "compare"}:
        results["autoasr default"] = run_fit(arguments.fsdd, limit, "default", "autoasr_runs/bench_default")
        core = results["autoasr default"]
        document = replace_section(document, "core", (
            f"## Core engine on FSDD (issue 3)\n\n"
            f"Command: `make bench` (= `python benchmarks/run_benchmarks.py --fsdd ../shared/data/fsdd`), presets "
            f"`default`, `time_limit={limit:.0f}`; train = takes 5-49 of the 5 speakers (a tuning set is held out of "
            f"them automatically), test = takes 0-4. Machine: {machine}. Run on {time.strftime('%Y-%m-%d')}.\n\n"
            f"{core_table(core)}\n"))
        output.write_text(document)
    if "compare" in cases:
        results["single (one config, whole budget)"] = run_fit(arguments.fsdd, limit, "single", "autoasr_runs/bench_single")
        results["plain random search"] = run_fit(arguments.fsdd, limit, "random", "autoasr_runs/bench_random")
        results["Optuna TPE + median pruner"] = run_optuna(arguments.fsdd, limit)
        best_so_far_plot(results, output.parent / "images" / "best_so_far.png")
        document = replace_section(document, "compare", (
            f"## Search strategies at equal budget (issue 6)\n\n"
            f"Command: `python benchmarks/run_benchmarks.py --cases compare`. FSDD official split, "
            f"`time_limit={limit:.0f}` each, same trainer, features and tuning split. Machine: {machine}.\n\n"
            f"{comparison_table(results)}\n\n![best so far](images/best_so_far.png)\n"))
        output.write_text(document)
    if "budget" in cases:
        budgets = {}
        for budget in (30, 60, 120, 300, 600):
            if budget == limit and "autoasr default" in results:
                budgets[budget] = results["autoasr default"]
            else:
                budgets[budget] = run_fit(arguments.fsdd, budget, "default", f"autoasr_runs/bench_budget_{budget}")
            document = replace_section(document, "budget", (  # written after each point: a long sweep shows progress
                f"## WER against budget (issue 6)\n\n"
                f"Command: `python benchmarks/run_benchmarks.py --cases budget`. FSDD official split, presets "
                f"`default`. Machine: {machine}.\n\n{budget_table(budgets)}\n"))
            output.write_text(document)
    if "use" in cases:
        command = [sys.executable, str(HERE / "use_once.py"), "--run", "autoasr_runs/bench_default",
                   "--fsdd", arguments.fsdd]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:
            raise RuntimeError(f"use benchmark failed:\n{completed.stderr[-3000:]}")
        use = json.loads(next(l for l in completed.stdout.splitlines() if l.startswith("RESULT "))[len("RESULT "):])
        rows = "\n".join(f"| {r['runtime']} | {r['real_time_factor']:.4f} | {r['median_real_time_factor']:.4f} |"
                         for r in use["runtimes"])
        document = replace_section(document, "use", (
            f"## Using the winner: export parity, runtimes, long audio (issue 8)\n\n"
            f"Command: `python benchmarks/run_benchmarks.py --cases use` (after the core case: it uses "
            f"`autoasr_runs/bench_default`, best model {use['model']}, {use['decoder']} decoding). Machine: {machine}.\n\n"
            f"- Parity on the {use['num_test']} FSDD test takes: ONNX transcripts identical to PyTorch for "
            f"{use['parity']['onnx']}/{use['num_test']}, TorchScript for {use['parity']['torchscript']}/{use['num_test']}.\n"
            f"- Long audio: a {use['long_audio_seconds']:.1f} s recording of 40 test takes with 0.3-1.0 s pauses, "
            f"transcribed through the segmenting path: WER {use['long_audio_wer']:.2%} (target ≤ 10%), "
            f"{use['long_audio_words']} words with timestamps, in order: {use['timestamps_in_order']}.\n"
            f"- Connected digit strings (issue 5): {use['num_strings']} strings of 2-6 digits ({use['string_words']} "
            f"words) spliced from the test takes, which no model heard: WER {use['strings_wer']:.2%} with the chosen "
            f"decoder, {use['strings_wer_greedy']:.2%} greedy (target ≤ 8%).\n\n"
            f"| runtime (1 thread, 250 takes) | real-time factor, best of 3 | median |\n|---|---|---|\n{rows}\n"))
        output.write_text(document)
    print(document)


if __name__ == "__main__":
    main()
