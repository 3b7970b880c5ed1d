"""`make bench`: run the benchmark fits on FSDD and write docs/benchmarks.md.

Each fit runs in a child process so that wall time and peak memory are its own.

    python benchmarks/run_benchmarks.py --fsdd ../shared/data/fsdd --output docs/benchmarks.md
"""
from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fsdd", default="../shared/data/fsdd")
    parser.add_argument("--output", default="docs/benchmarks.md")
    parser.add_argument("--time-limit", type=float, default=300)
    arguments = parser.parse_args()

    core = run_fit(arguments.fsdd, arguments.time_limit, "default", "autoasr_runs/bench_default")
    machine = f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}"
    section = (
        f"## Core engine on FSDD (issue 3)\n\n"
        f"Command: `make bench` (runs `python benchmarks/run_benchmarks.py --fsdd ../shared/data/fsdd`), "
        f"presets `default`, `time_limit={arguments.time_limit:.0f}`; train = takes 5-49 of the 5 speakers "
        f"(a tuning set is held out of them automatically), test = takes 0-4. Machine: {machine}, no GPU. "
        f"Run on {time.strftime('%Y-%m-%d')}.\n\n{core_table(core)}\n"
    )
    output = Path(arguments.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    existing = output.read_text() if output.is_file() else "# Benchmarks\n\n"
    marker_start, marker_end = "<!-- core:start -->", "<!-- core:end -->"
    block = f"{marker_start}\n{section}{marker_end}"
    if marker_start in existing:
        before, rest = existing.split(marker_start, 1)
        existing = before + block + rest.split(marker_end, 1)[1]
    else:
        existing = existing.rstrip() + "\n\n" + block + "\n"
    output.write_text(existing)
    print(section)
    print(json.dumps(core))


if __name__ == "__main__":
    main()
