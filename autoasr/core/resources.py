"""What the machine lets this process use (cores, memory), and how much a configuration needs: skip what
cannot fit, start no more threads than there are cores.

Binder, Kubernetes and Docker limit a session with a cgroup (e.g. 1 CPU and 2 GB) while ``os.cpu_count()``
and ``psutil.virtual_memory()`` report the host (dozens of cores, hundreds of GB): trusting them starts one
torch thread per host core and lets the kernel be killed for memory before the guard sees a problem.
:func:`machine` reads the limits that apply to this process instead.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil
import torch

CGROUP_ROOT = Path("/sys/fs/cgroup")
# cgroup v1 writes "no limit" as a huge page-aligned number (2**63 rounded down to a page), never as "max"
_NO_LIMIT = 2**60


@dataclass(frozen=True)
class Machine:
    """Usable cores, the memory this process may grow to, and how much of it is free now (bytes)."""

    cores: int
    memory_bytes: int
    available_bytes: int
    limits: tuple[str, ...] = ()  # which limits lowered the host's figures ("affinity", "cgroup cpu", ...)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, ValueError):
        return None


def _number(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None  # "max" (cgroup v2: no limit) or garbage


def _cgroup_cores(root: Path) -> float | None:
    """The CPU quota in cores: cgroup v2 ``cpu.max`` ("quota period") or v1 ``cfs_quota_us / cfs_period_us``."""
    fields = (_read(root / "cpu.max") or "").split()
    if len(fields) == 2 and fields[0] != "max":
        quota, period = _number(fields[0]), _number(fields[1])
    else:
        quota, period = None, None
        for folder in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
            quota = _number(_read(root / folder / "cpu.cfs_quota_us"))
            period = _number(_read(root / folder / "cpu.cfs_period_us"))
            if quota is not None:
                break
    if quota is None or period is None or quota <= 0 or period <= 0:
        return None  # -1 (v1) or "max" (v2): no quota
    return quota / period


def _cgroup_memory(root: Path) -> tuple[int, int] | None:
    """(limit, in use) from cgroup v2 ``memory.max``/``memory.current`` or v1 ``memory.limit_in_bytes``/
    ``memory.usage_in_bytes``; in use without the inactive page cache, which the kernel reclaims before it
    kills (the "working set" Kubernetes itself compares with the limit)."""
    for limit_file, usage_file, stat_file, inactive_key in (
            (root / "memory.max", root / "memory.current", root / "memory.stat", "inactive_file"),
            (root / "memory" / "memory.limit_in_bytes", root / "memory" / "memory.usage_in_bytes",
             root / "memory" / "memory.stat", "total_inactive_file")):
        limit = _number(_read(limit_file))
        if limit is None or limit >= _NO_LIMIT:
            continue
        usage = _number(_read(usage_file)) or 0
        stats = dict(line.split(maxsplit=1) for line in (_read(stat_file) or "").splitlines() if " " in line)
        inactive = _number(stats.get(inactive_key)) or 0
        return limit, max(0, usage - inactive)
    return None


def affinity_cores() -> int:
    """Cores this process may be scheduled on (``taskset``, cpusets); all of them where the OS cannot say."""
    getaffinity = getattr(os, "sched_getaffinity", None)  # Linux only; macOS and Windows lack it
    if getaffinity is not None:
        try:
            return max(1, len(getaffinity(0)))
        except OSError:
            pass
    return os.cpu_count() or 1


def _own_cgroup(root: Path) -> Path:
    """This process's cgroup v2 folder under ``root``: a container sees its own cgroup at the root (cgroup
    namespace), a process on a plain Linux host sits lower (``0::/user.slice/...`` in /proc/self/cgroup)."""
    for line in (_read(Path("/proc/self/cgroup")) or "").splitlines():
        if line.startswith("0::/") and len(line) > 4:
            own = root / line[4:]
            if (own / "cpu.max").is_file() or (own / "memory.max").is_file():
                return own
    return root


def machine(cgroup_root: str | Path | None = None) -> Machine:
    """The cores and memory this process may really use: CPU affinity and the cgroup's CPU quota (rounded
    down, since a thread more than the quota waits on the others), memory from the cgroup limit where it is
    lower than the host's. ``cgroup_root`` defaults to ``$AUTOASR_CGROUP_ROOT`` or ``/sys/fs/cgroup``.

    >>> machine().cores >= 1
    True
    """
    given = cgroup_root or os.environ.get("AUTOASR_CGROUP_ROOT")
    root = Path(given) if given else _own_cgroup(CGROUP_ROOT)
    limits = []
    host_cores = os.cpu_count() or 1
    cores = affinity_cores()
    if cores < host_cores:
        limits.append("affinity")
    quota = _cgroup_cores(root)
    if quota is not None and int(quota) < cores:
        cores = max(1, int(quota))
        limits.append("cgroup cpu")
    memory = psutil.virtual_memory()
    total, available = int(memory.total), int(memory.available)
    cgroup = _cgroup_memory(root)
    if cgroup is not None and cgroup[0] < total:
        limit, used = cgroup
        total, available = limit, min(available, max(0, limit - used))
        limits.append("cgroup memory")
    return Machine(cores=cores, memory_bytes=total, available_bytes=available, limits=tuple(limits))


def available_memory_bytes(device: str = "cpu") -> int:
    if device.startswith("cuda") and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info()
        return int(free)
    return machine().available_bytes


def estimate_training_bytes(model: torch.nn.Module, batch_size: int, max_frames: int, num_features: int) -> int:
    """A rough upper bound: weights, gradients and two Adam moments, plus activations of one batch.

    Activations are estimated from a probe forward pass on one short input, scaled to the batch and
    the longest utterance, so every model family is measured rather than guessed.
    """
    parameters = sum(p.numel() for p in model.parameters())
    probe_frames = min(max_frames, 200)
    activations = 0

    def count(_module, _inputs, output):
        nonlocal activations
        tensors = output if isinstance(output, (tuple, list)) else (output,)
        activations += sum(t.numel() for t in tensors if isinstance(t, torch.Tensor))

    hooks = [module.register_forward_hook(count) for module in model.modules() if not list(module.children())]
    try:
        with torch.no_grad():
            model(torch.zeros(1, probe_frames, num_features), torch.tensor([probe_frames]))
    finally:
        for hook in hooks:
            hook.remove()
    scale = batch_size * max_frames / probe_frames
    return int(4 * (4 * parameters + 2 * activations * scale))  # float32; backward keeps about as much again


def load_average() -> float:
    """The one-minute load average; psutil emulates it on Windows, where ``os.getloadavg`` does not exist.
    0 where neither can say (no load then counts as a quiet machine)."""
    for getloadavg in (getattr(os, "getloadavg", None), getattr(psutil, "getloadavg", None)):
        if getloadavg is None:
            continue
        try:
            return float(getloadavg()[0])
        except (OSError, RuntimeError):
            continue
    return 0.0


def training_threads() -> int:
    """Threads for torch: every usable core on a quiet machine, fewer when other work already loads it.

    Measured here: with two threads on two cores that another process keeps busy, a GRU step took
    10-100 times longer than with one thread (OpenMP threads wait on each other).
    """
    cores = machine().cores
    # the load average counts the whole host; on a share of its cores, count the share of its load
    share = min(1.0, cores / (os.cpu_count() or cores))
    busy_elsewhere = max(0.0, load_average() * share - 1.0)  # our own process counts for about one
    return max(1, min(cores, round(cores - busy_elsewhere)))


def release_memory() -> None:
    """Give memory freed by a finished trial back to the system before the next one starts.

    Trials build models of different shapes one after another; glibc keeps freed blocks in its
    arenas, so without a trim the process's resident size grows with every trial.
    """
    import ctypes
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass  # not glibc (macOS, Windows, musl): their allocators return memory without being asked
