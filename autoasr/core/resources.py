"""How much memory a configuration needs, and how much the machine has: skip what cannot fit."""
from __future__ import annotations

import psutil
import torch


def available_memory_bytes(device: str = "cpu") -> int:
    if device.startswith("cuda") and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info()
        return int(free)
    return int(psutil.virtual_memory().available)


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


def training_threads() -> int:
    """Threads for torch: every core on a quiet machine, fewer when other work already loads it.

    Measured here: with two threads on two cores that another process keeps busy, a GRU step took
    10-100 times longer than with one thread (OpenMP threads wait on each other).
    """
    import os

    cores = os.cpu_count() or 1
    busy_elsewhere = max(0.0, os.getloadavg()[0] - 1.0)  # our own process counts for about one
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
    except (OSError, AttributeError):
        pass  # not glibc (macOS, musl): nothing to trim
