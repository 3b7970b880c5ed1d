"""Peak memory of a learner's session as Binder gives it: a kernel running a guided notebook (papermill,
the notebook's own default budget) pinned to one core, plus an idle JupyterLab server beside it.

    python benchmarks/binder_memory.py --notebook notebooks/01_quickstart.ipynb --cpus 0 \
        --output benchmarks/results/binder_memory.json

Binder's limit (~2 GB) counts every process of the session, so the kernel's whole process tree is sampled
with psutil twice a second: RSS (what the cgroup is charged, shared libraries included) and USS (pages
only this tree holds; what closing the kernel gives back). ``taskset -c CPUS`` pins papermill, the kernel
and the server the way a 1-CPU Binder pod's quota does (Linux only; elsewhere it runs unpinned and says so).
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


class TreeSampler(threading.Thread):
    """Samples the summed RSS/USS of the processes ``select`` picks from ``root``'s descendants."""

    def __init__(self, root: psutil.Process, select, interval: float = 0.5, include_root: bool = False):
        super().__init__(daemon=True)
        self.root, self.select, self.interval, self.include_root = root, select, interval, include_root
        self.peak_rss = self.peak_uss = 0
        self.samples, self.peak_load, self.affinity = 0, 0.0, None
        self.stop = threading.Event()

    def _tree(self) -> list[psutil.Process]:
        try:
            chosen = [self.root] * self.include_root + [p for p in self.root.children(recursive=True) if self.select(p)]
        except psutil.NoSuchProcess:
            return []
        tree = {p.pid: p for p in chosen}
        for process in chosen:  # the kernel's own helpers (e.g. a Ray or AutoGluon worker) count too
            try:
                tree.update({child.pid: child for child in process.children(recursive=True)})
            except psutil.NoSuchProcess:
                pass
        return list(tree.values())

    def run(self) -> None:
        while not self.stop.is_set():
            rss = uss = 0
            tree = self._tree()
            if tree and self.affinity is None and hasattr(tree[0], "cpu_affinity"):
                try:
                    self.affinity = tree[0].cpu_affinity()  # proof the kernel inherited the pinning
                except psutil.Error:
                    pass
            self.peak_load = max(self.peak_load, psutil.getloadavg()[0])  # the host's, other work included
            for process in tree:
                try:
                    info = process.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                rss, uss = rss + info.rss, uss + info.uss
            self.peak_rss, self.peak_uss = max(self.peak_rss, rss), max(self.peak_uss, uss)
            self.samples += 1
            self.stop.wait(self.interval)


def _pinned(command: list[str], cpus: str | None) -> list[str]:
    if cpus and shutil.which("taskset"):
        return ["taskset", "-c", cpus, *command]
    return command


def _is_kernel(process: psutil.Process) -> bool:
    try:
        return "ipykernel" in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def measure_kernel(notebook: Path, cpus: str | None, workdir: Path) -> dict:
    """Run ``notebook`` with its default parameters; the peak of the kernel's process tree."""
    output = workdir / notebook.name
    command = _pinned([sys.executable, "-m", "papermill", str(notebook), str(output), "--cwd", str(workdir),
                       "-k", "python3", "--no-progress-bar"], cpus)
    started = time.time()
    process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = TreeSampler(psutil.Process(process.pid), _is_kernel)
    sampler.start()
    log = process.communicate()[0]
    sampler.stop.set()
    sampler.join()
    errors = [o for cell in json.loads(output.read_text())["cells"] for o in cell.get("outputs", [])
              if o.get("output_type") == "error"] if output.is_file() else ["no output notebook"]
    return {"returncode": process.returncode, "seconds": round(time.time() - started, 1), "errors": len(errors),
            "kernel_peak_rss_mb": round(sampler.peak_rss / 2**20), "kernel_peak_uss_mb": round(sampler.peak_uss / 2**20),
            "samples": sampler.samples, "kernel_cpu_affinity": sampler.affinity,
            "peak_load_average_1min": round(sampler.peak_load, 2), "log_tail": log[-1500:] if process.returncode else ""}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
            return response.status == 200
    except OSError:
        return False


def measure_lab(cpus: str | None, workdir: Path, sample_seconds: float = 15, start_timeout: float = 180) -> dict:
    """An idle JupyterLab server (no kernel): started, its lab page requested once (as a browser would, which
    loads the extensions' settings), then sampled; the peak of its process tree."""
    port = _free_port()
    command = _pinned([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                       "--ServerApp.token=", "--ServerApp.open_browser=False",
                       "--allow-root"], cpus)  # containers often run as root; the server refuses that otherwise
    server = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sampler = TreeSampler(psutil.Process(server.pid), lambda process: True, include_root=True)
    sampler.start()
    started = time.time()
    try:
        answered = False
        while not answered and time.time() - started < start_timeout and server.poll() is None:
            answered = _get(f"http://127.0.0.1:{port}/api/status")
            time.sleep(0 if answered else 1)
        ready = time.time() - started
        for path in ("lab", "lab/api/settings", "api/kernelspecs"):
            _get(f"http://127.0.0.1:{port}/{path}")
        time.sleep(sample_seconds)
    finally:
        sampler.stop.set()
        sampler.join()
        server.terminate()
        server.wait(timeout=30)
    if not answered:  # a server that never answered (or exited) was not measured
        return {"lab_server_error": f"no answer within {ready:.0f} s (exit code {server.returncode})"}
    return {"lab_server_start_seconds": round(ready, 1), "lab_server_peak_rss_mb": round(sampler.peak_rss / 2**20),
            "lab_server_peak_uss_mb": round(sampler.peak_uss / 2**20)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", default=str(ROOT / "notebooks" / "01_quickstart.ipynb"))
    parser.add_argument("--cpus", default="0", help="taskset CPU list; '' for no pinning")
    parser.add_argument("--output", default=None, help="JSON file for the result")
    parser.add_argument("--skip-lab", action="store_true")
    arguments = parser.parse_args()

    import torch

    with tempfile.TemporaryDirectory(prefix="binder_memory_") as folder:
        result = {"notebook": Path(arguments.notebook).name, "cpus": arguments.cpus or None,
                  "pinned": bool(arguments.cpus and shutil.which("taskset")), "torch": torch.__version__,
                  "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, Python {platform.python_version()}",
                  "load_average_before": [round(x, 2) for x in psutil.getloadavg()]}
        result.update(measure_kernel(Path(arguments.notebook).resolve(), arguments.cpus, Path(folder)))
        if not arguments.skip_lab:
            result.update(measure_lab(arguments.cpus, Path(folder)))
        if "lab_server_peak_rss_mb" in result:
            result["session_peak_rss_mb"] = result["kernel_peak_rss_mb"] + result["lab_server_peak_rss_mb"]
        result["load_average_after"] = [round(x, 2) for x in psutil.getloadavg()]
    print(json.dumps(result, indent=1))
    if arguments.output:
        Path(arguments.output).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
