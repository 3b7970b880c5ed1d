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
RESULTS = HERE / "results"  # every fit's RESULT line, kept so that tables can be rebuilt and checked


REUSE = {"enabled": False}  # --reuse: a run whose result is already kept is read back, not run again


def keep_result(name: str, result: dict) -> dict:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def kept_result(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if REUSE["enabled"] and path.is_file() else None


def run_fit(fsdd: str, time_limit: float, presets: str, output: str, seed: int = 0) -> dict:
    name = f"fit_{presets}_{time_limit:g}s_seed{seed}"
    if (kept := kept_result(name)) is not None:
        return kept
    command = [sys.executable, str(HERE / "fit_once.py"), "--fsdd", fsdd, "--time-limit", str(time_limit),
               "--presets", presets, "--output", output, "--seed", str(seed)]
    started = time.time()
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark fit failed:\n{completed.stderr[-3000:]}")
    line = next(line for line in completed.stdout.splitlines() if line.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    result["process_seconds"] = time.time() - started
    return keep_result(name, result)


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
        ("best model latency, one typical take alone, 1 thread", f"{result['best_latency_ms']:.1f} ms "
         f"({result['best_decoder']} decoding), {result['best_size_mb']:.2f} MB", ""),
    ]
    lines = ["| measure | value | target |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {target} |" for name, value, target in rows]
    lines += ["", "Pareto front of that run on latency (`predictor.pareto_front(\"latency_ms\")`; "
              "`autoasr select RUN --max-latency-ms MS` picks along it):", "",
              "| trial | model | decoder | tuning WER | latency (ms, 1 thread) | RTF | size (MB) |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['trial_id']} | {r['model']} {r['size']} | {r['decoder']} | {r['val_wer']:.2%} | {r['latency_ms']:.1f} | "
              f"{r['rtf']:.4f} | {r['size_mb']:.2f} |" for r in result["pareto_latency"]]
    return "\n".join(lines)


def run_optuna(fsdd: str, time_limit: float, seed: int = 0) -> dict:
    if (kept := kept_result(f"optuna_{time_limit:g}s_seed{seed}")) is not None:
        return kept
    command = [sys.executable, str(HERE / "optuna_once.py"), "--fsdd", fsdd, "--time-limit", str(time_limit),
               "--seed", str(seed)]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"optuna baseline failed:\n{completed.stderr[-3000:]}")
    result = json.loads(next(l for l in completed.stdout.splitlines() if l.startswith("RESULT "))[len("RESULT "):])
    return keep_result(f"optuna_{time_limit:g}s_seed{seed}", result)


def comparison_table(results: dict[str, list[dict]]) -> str:
    """One row per strategy: test WER of every seed and their mean, then means of the other figures."""
    lines = ["| strategy | test WER per seed | mean test WER | mean best tuning WER | trials (finished), mean | "
             "time to first result, mean | fit wall time, max | best models |", "|---|---|---|---|---|---|---|---|"]

    def mean(runs, key):
        return sum(r[key] for r in runs) / len(runs)

    for name, runs in results.items():
        per_seed = " / ".join(f"{r['test_wer']:.2%}" for r in runs)
        models = ", ".join(sorted({r["best_model"] for r in runs}))
        lines.append(f"| {name} | {per_seed} | **{mean(runs, 'test_wer'):.2%}** | {mean(runs, 'best_val_wer'):.2%} | "
                     f"{mean(runs, 'trials'):.1f} ({mean(runs, 'trials_ok'):.1f}) | "
                     f"{mean(runs, 'first_result_seconds'):.1f} s | {max(r['fit_seconds'] for r in runs):.0f} s | "
                     f"{models} |")
    return "\n".join(lines)


def budget_table(results: dict[float, dict]) -> str:
    lines = ["| time_limit | test WER | trials | fit wall time | within time_limit × 1.1 + 10 s |", "|---|---|---|---|---|"]
    for limit, r in sorted(results.items()):
        kept = "yes" if r["fit_seconds"] <= limit * 1.1 + 10 else "NO"
        lines.append(f"| {limit:.0f} s | {r['test_wer']:.2%} | {r['trials']} | {r['fit_seconds']:.1f} s | {kept} |")
    return "\n".join(lines)


def best_so_far_plot(results: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(8, 4.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (name, runs) in enumerate(results.items()):
        for seed, r in enumerate(runs):  # one line per seed, one colour per strategy
            points = r["best_so_far"]
            if points:
                axis.step([p[0] for p in points], [p[1] for p in points], where="post", color=colours[index],
                          alpha=0.9 if seed == 0 else 0.45, label=name if seed == 0 else None)
    axis.set_xlabel("seconds since fit started")
    axis.set_ylabel("best tuning WER so far")
    axis.set_yscale("log")
    axis.set_title("FSDD, 300 s budget: best tuning WER found so far (one line per seed)")
    axis.grid(True, alpha=0.3)
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def run_domains(time_limit: float) -> dict:
    """The issue 5 domain fits (benchmarks/domains_once.py) in a child process."""
    if (kept := kept_result(f"domains_{time_limit:g}s")) is not None:
        return kept
    command = [sys.executable, str(HERE / "domains_once.py"), "--time-limit", f"{time_limit:g}",
               "--output", "autoasr_runs/bench_domains"]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"domains benchmark failed:\n{completed.stderr[-3000:]}")
    result = json.loads(next(l for l in completed.stdout.splitlines() if l.startswith("RESULT "))[len("RESULT "):])
    return keep_result(f"domains_{time_limit:g}s", result)


def domains_section(result: dict, time_limit: float, machine: str) -> str:
    commands, language = result["commands"], result["language"]
    return (
        f"## Domains: custom vocabulary and an unseen language (issue 5)\n\n"
        f"Command: `python benchmarks/run_benchmarks.py --cases domains --domains-time-limit {time_limit:g}` (runs "
        f"`python benchmarks/domains_once.py --time-limit {time_limit:g}` in a child process), presets `default`, "
        f"`time_limit={time_limit:g}` per fit, a tuning set held out of the train voices automatically. Both corpora are "
        f"spoken offline by eSpeak NG (`autoasr.data.demo_corpus.prepare_spoken_corpus`); the test voices are never heard "
        f"in training. Machine: {machine}. Run on {time.strftime('%Y-%m-%d')}.\n\n"
        f"- Closed command set: {commands['num_commands']} home commands ({commands['vocabulary_size']} words), "
        f"{commands['num_train']} train utterances by {commands['train_speakers']} voices, {commands['num_test']} test "
        f"utterances ({commands['num_test_words']} words) by {commands['test_speakers']} other voices; "
        f"`Domain.custom(words=commands, sentences=commands, base=\"commands\")`. Same model ({commands['best_model']}, "
        f"fit {commands['fit_seconds']:.0f} s), same outputs, two decoders: test WER **{commands['test_wer_greedy']:.2%} "
        f"greedy**, **{commands['test_wer_lm']:.2%} with the lexicon + n-gram LM** (LM weight {commands['lm_weight']}, "
        f"word score {commands['word_score']}; the run chose {commands['decoder_chosen']} on its tuning set). "
        f"Target: LM lower than greedy.\n"
        f"- Unseen language: {language['language']} yes/no (`ndiyo`, `hapana`; utterances of one to three words), "
        f"{language['num_train']} train utterances by {language['train_speakers']} voices, {language['num_test']} test "
        f"utterances by {language['test_speakers']} other voices: test WER **{language['test_wer']:.2%}** with the "
        f"chosen decoder ({language['decoder_chosen']}; greedy {language['test_wer_greedy']:.2%}, "
        f"LM {language['test_wer_lm']:.2%}), fit wall time "
        f"{language['fit_seconds']:.1f} s, best model {language['best_model']}, {language['trials']} trials. "
        f"Target: about 0% within 2 minutes.\n")


def _percent(value) -> str:
    return "not run (pip install pocketsphinx)" if value is None else f"{value:.2%}"


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
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds for the compare case")
    parser.add_argument("--domains-time-limit", type=float, default=120, help="seconds for each fit of the domains case")
    parser.add_argument("--cases", default="core,compare,budget,use,domains",
                        help="comma-separated: core (default preset), compare (single/random/optuna/default), "
                             "budget, use (export and long audio on the core run's winner), "
                             "domains (custom-vocabulary LM decoding; a tiny corpus in an unseen language)")
    parser.add_argument("--reuse", action="store_true",
                        help="read back fits already kept in benchmarks/results/ instead of running them again")
    arguments = parser.parse_args()
    REUSE["enabled"] = arguments.reuse
    cases = set(arguments.cases.split(","))
    output = Path(arguments.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    document = output.read_text() if output.is_file() else "# Benchmarks\n"
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {gpu}"
    limit = arguments.time_limit
    seeds = [int(seed) for seed in arguments.seeds.split(",")]
    results: dict[str, list[dict]] = {}

    if cases & {"core", "compare"}:
        results["autoasr default"] = [run_fit(arguments.fsdd, limit, "default", "autoasr_runs/bench_default")]
        core = results["autoasr default"][0]
        document = replace_section(document, "core", (
            f"## Core engine on FSDD (issue 3)\n\n"
            f"Command: `make bench` (= `python benchmarks/run_benchmarks.py --fsdd ../shared/data/fsdd`), presets "
            f"`default`, `time_limit={limit:.0f}`; train = takes 5-49 of the 5 speakers (a tuning set is held out of "
            f"them automatically), test = takes 0-4. Machine: {machine}. Run on {time.strftime('%Y-%m-%d')}.\n\n"
            f"{core_table(core)}\n"))
        output.write_text(document)
    if "compare" in cases:
        for seed in seeds:
            if seed != 0:
                results["autoasr default"].append(run_fit(arguments.fsdd, limit, "default",
                                                          f"autoasr_runs/bench_default_seed{seed}", seed))
            for name, presets in (("single (one config, whole budget)", "single"), ("plain random search", "random")):
                results.setdefault(name, []).append(run_fit(arguments.fsdd, limit, presets,
                                                            f"autoasr_runs/bench_{presets}_seed{seed}", seed))
            results.setdefault("Optuna TPE + median pruner", []).append(run_optuna(arguments.fsdd, limit, seed))
        best_so_far_plot(results, output.parent / "images" / "best_so_far.png")
        document = replace_section(document, "compare", (
            f"## Search strategies at equal budget (issue 6)\n\n"
            f"Command: `python benchmarks/run_benchmarks.py --cases compare --seeds {arguments.seeds}`. FSDD official "
            f"split, `time_limit={limit:.0f}` each, same trainer, features and tuning split; each seed changes the "
            f"tuning split, the searcher's samples and the weight initialisation. Every run's figures are kept in "
            f"`benchmarks/results/`. Machine: {machine}. Run on {time.strftime('%Y-%m-%d')}.\n\n"
            f"{comparison_table(results)}\n\n![best so far](images/best_so_far.png)\n"))
        output.write_text(document)
    if "budget" in cases:
        budgets = {}
        for budget in (30, 60, 120, 300, 600):
            if budget == limit and "autoasr default" in results:
                budgets[budget] = results["autoasr default"][0]
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
            f"decoder, {use['strings_wer_greedy']:.2%} greedy (target ≤ 8%); off-the-shelf PocketSphinx with a "
            f"grammar of the ten digits on the same strings: {_percent(use.get('strings_wer_pocketsphinx'))}.\n\n"
            f"| runtime (1 thread, 250 takes) | real-time factor, best of 3 | median |\n|---|---|---|\n{rows}\n"))
        output.write_text(document)
    if "domains" in cases:
        domains = run_domains(arguments.domains_time_limit)
        document = replace_section(document, "domains", domains_section(domains, arguments.domains_time_limit, machine))
        output.write_text(document)
    print(document)


if __name__ == "__main__":
    main()
