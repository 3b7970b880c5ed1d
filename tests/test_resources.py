"""The machine as a container sees it (issue 16): cores from CPU affinity and the cgroup quota, memory from
the cgroup limit, read from fake cgroup files and under ``taskset -c 0``; and the same helpers on a system
without Linux's calls (macOS, Windows), emulated by taking those calls away."""
import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from autoasr.core import paths, resources
from autoasr.core.resources import machine

ROOT = Path(__file__).resolve().parents[1]
GB = 2**30


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")
    return root


def test_cgroup_v2_quota_and_memory_limit_lower_the_host_figures(tmp_path):
    # Binder's pod: one CPU (100 ms of every 100 ms) and 2 GB, of which 1.5 GB are charged but 0.5 GB is page cache
    root = write(tmp_path, {"cpu.max": "100000 100000", "memory.max": str(2 * GB),
                            "memory.current": str(int(1.5 * GB)), "memory.stat": f"anon 1\ninactive_file {GB // 2}"})
    found = machine(root)
    assert found.cores == 1
    assert found.memory_bytes == 2 * GB
    assert found.available_bytes == min(GB, psutil.virtual_memory().available)
    assert "cgroup memory" in found.limits
    assert ("cgroup cpu" in found.limits) == (resources.affinity_cores() > 1)  # under taskset -c 0 affinity says it first


def test_cgroup_v1_quota_rounds_down_and_unlimited_memory_keeps_the_host(tmp_path):
    root = write(tmp_path, {"cpu/cpu.cfs_quota_us": "150000", "cpu/cpu.cfs_period_us": "100000",
                            "memory/memory.limit_in_bytes": "9223372036854771712"})
    found = machine(root)
    assert found.cores == 1  # 1.5 CPUs of quota: one thread, not two that wait on each other
    assert found.memory_bytes == psutil.virtual_memory().total
    assert "cgroup memory" not in found.limits


def test_cgroup_v1_memory_limit_is_read(tmp_path):
    root = write(tmp_path, {"memory/memory.limit_in_bytes": str(GB), "memory/memory.usage_in_bytes": str(GB // 4),
                            "memory/memory.stat": "total_inactive_file 0"})
    found = machine(root)
    assert found.memory_bytes == GB and found.available_bytes <= GB - GB // 4


def test_no_cgroup_files_and_no_quota_mean_the_host(tmp_path):
    write(tmp_path, {"cpu.max": "max 100000", "memory.max": "max"})
    found = machine(tmp_path)
    assert found.cores == resources.affinity_cores()
    assert found.memory_bytes == psutil.virtual_memory().total
    assert machine(tmp_path / "absent").cores == found.cores


def test_the_guard_thread_count_and_forecast_follow_the_container(tmp_path, monkeypatch):
    from autoasr.search.forecast import forecast_budget

    write(tmp_path, {"cpu.max": "100000 100000", "memory.max": str(GB), "memory.current": "0"})
    monkeypatch.setenv("AUTOASR_CGROUP_ROOT", str(tmp_path))
    monkeypatch.setenv("AUTOASR_CACHE", str(tmp_path / "cache"))  # no past runs: the built-in estimate
    assert resources.training_threads() == 1
    assert resources.available_memory_bytes("cpu") <= GB
    one_core, two_cores = forecast_budget(900, 300), forecast_budget(900, 300, cpu_count=2)
    assert one_core.seconds_per_epoch == pytest.approx(2 * two_cores.seconds_per_epoch)


@pytest.mark.skipif(not shutil.which("taskset"), reason="taskset (util-linux) is not installed")
def test_one_core_affinity_gives_one_core_and_one_thread():
    code = ("from autoasr.core.resources import machine, training_threads; "
            "print(machine().cores, training_threads())")
    completed = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                               text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split() == ["1", "1"]


def test_without_linux_calls_the_helpers_still_answer(tmp_path, monkeypatch):
    """macOS/Windows: no sched_getaffinity, no os.getloadavg (Windows), no glibc to trim, no cgroups."""
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.delattr(os, "getloadavg", raising=False)
    monkeypatch.delattr(psutil, "getloadavg", raising=False)

    def no_libc(name, *args, **kwargs):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    monkeypatch.setenv("AUTOASR_CGROUP_ROOT", str(tmp_path / "no-cgroups"))
    assert machine().cores == (os.cpu_count() or 1)
    assert resources.load_average() == 0.0
    assert 1 <= resources.training_threads() <= machine().cores
    resources.release_memory()  # no glibc: nothing to trim, and no error
    monkeypatch.setenv("AUTOASR_CACHE", str(tmp_path / "cache"))
    assert paths.cache_dir("features") == tmp_path / "cache" / "features"


def test_manifest_paths_written_on_windows_or_posix_name_the_same_file():
    assert paths.manifest_path("clips\\speaker 1\\a.wav").parts[-3:] == ("clips", "speaker 1", "a.wav")
    assert paths.manifest_path("clips/speaker 1/a.wav").parts[-3:] == ("clips", "speaker 1", "a.wav")


def test_a_manifest_written_on_windows_loads_here(tmp_path):
    from audio_clips import write_audio

    from autoasr import load_dataset

    write_audio(tmp_path / "clips" / "one.wav")
    write_audio(tmp_path / "clips" / "two.wav")
    (tmp_path / "train.csv").write_text("audio,text\nclips\\one.wav,one\nclips\\two.wav,two\n")
    dataset = load_dataset(str(tmp_path / "train.csv"))
    assert sorted(Path(u.audio).name for u in dataset) == ["one.wav", "two.wav"]


def test_on_a_plain_linux_host_the_process_own_cgroup_v2_is_read(tmp_path, monkeypatch):
    write(tmp_path, {"user.slice/session-1.scope/memory.max": str(GB), "user.slice/session-1.scope/memory.current": "0"})
    real_read = resources._read
    monkeypatch.setattr(resources, "_read", lambda path: "0::/user.slice/session-1.scope"
                        if str(path) == "/proc/self/cgroup" else real_read(path))
    monkeypatch.setattr(resources, "CGROUP_ROOT", tmp_path)
    monkeypatch.delenv("AUTOASR_CGROUP_ROOT", raising=False)
    assert machine().memory_bytes == GB
