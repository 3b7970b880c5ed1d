"""One trial: train a configuration under a deadline, evaluate it regularly, keep its best weights.

The trainer knows nothing about the search: it reports metrics through ``report`` after every
evaluation and stops when the deadline passes, the stop rule (:mod:`autoasr.training.progress`) says
the trial is done, or ``should_stop`` says so. The learning rate follows :mod:`autoasr.training.schedule`.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace
from typing import Callable

import torch
from torch import nn

from autoasr.core.metrics import error_rates
from autoasr.core.resources import available_memory_bytes, estimate_training_bytes
from autoasr.core.text import CharVocabulary
from autoasr.models.batching import (
    length_sorted_batches,
    pad_batch,
    transcribe_features,
)
from autoasr.models.registry import build_network, count_parameters
from autoasr.training.progress import ProgressJudge
from autoasr.training.schedule import LearningRateSchedule, annealed_rate_scale
from autoasr.training.specaugment import SpecAugment
from autoasr.training.tensors import SplitTensors

__all__ = ["TrialOutcome", "annealed_rate_scale", "train_trial"]
MAX_NAN_BATCHES = 20


@dataclass
class TrialOutcome:
    best_wer: float
    best_cer: float
    best_epoch: int
    epochs: int
    history: list[dict]
    state_dict: dict | None
    stop_reason: str
    parameters: int
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    audio_seconds_trained: float = 0.0


def build_trial_network(config: dict, num_features: int, vocabulary: CharVocabulary, longest: int,
                        initial_state: dict | None, device: str) -> nn.Module:
    """The configuration's network (from ``initial_state`` when continuing), refused when it would not fit in memory."""
    # a pretrained encoder starts from its checkpoint; a continued trial loads its own weights below
    model = build_network(config, num_features, len(vocabulary), pretrained_weights=initial_state is None,
                          symbols=vocabulary.symbols)
    needed = estimate_training_bytes(model, int(config.get("batch_size", 32)), longest, num_features)
    if needed > 0.8 * available_memory_bytes(device):
        raise MemoryError(f"this configuration needs about {needed / 2**30:.1f} GiB to train; "
                          f"{available_memory_bytes(device) / 2**30:.1f} GiB are free")
    if initial_state is not None:
        model.load_state_dict(initial_state)
    return model.to(device)


@dataclass
class _EpochRun:
    """What one pass over the training data did."""

    losses: list
    steps: int
    audio_seconds: float
    nan_batches: int


def _batch_loss(model, ctc: nn.CTCLoss, features: torch.Tensor, lengths: torch.Tensor, targets: list[torch.Tensor],
                device: str) -> torch.Tensor:
    """The CTC loss of a batch, or a clip classifier's own (``clip_loss``: one label per clip, cross-entropy)."""
    # on a GPU the forward pass runs in bfloat16 (mixed precision); the loss always in float32
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
        if hasattr(model, "clip_loss"):
            return model.clip_loss(features, lengths, targets)
        log_probs, out_lengths = model(features, lengths)
    target_lengths = torch.tensor([len(t) for t in targets], dtype=torch.long, device=device)
    return ctc(log_probs.float().transpose(0, 1), torch.cat(targets).to(device), out_lengths, target_lengths)


def _train_epoch(model, augment, optimizer, schedule: LearningRateSchedule, train: SplitTensors, batch_size: int,
                 seed: int, epoch: int, step: int, nan_batches: int, deadline: Callable[[], float],
                 should_stop: Callable[[], bool], device: str) -> _EpochRun:
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    model.train()
    augment.train()
    losses, audio_seconds = [], 0.0
    lengths = [len(f) for f in train.features]
    for batch in length_sorted_batches(lengths, batch_size, shuffle=True, seed=seed * 10007 + epoch):
        if time.time() > deadline() or should_stop():
            break
        padded, feature_lengths = pad_batch([train.features[i] for i in batch])
        targets = [train.targets[i] for i in batch]
        loss = _batch_loss(model, ctc, augment(padded.to(device)), feature_lengths.to(device), targets, device)
        if not torch.isfinite(loss):
            nan_batches += 1
            if nan_batches > MAX_NAN_BATCHES:
                raise FloatingPointError("training diverged: the loss was NaN or infinite in 20 batches")
            optimizer.zero_grad(set_to_none=True)
            continue
        for group in optimizer.param_groups:
            group["lr"] = schedule.rate(step, time.time(), deadline())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        step += 1
        losses.append(loss.item())
        audio_seconds += float(feature_lengths.sum()) / train.frames_per_second
    return _EpochRun(losses, step, audio_seconds, nan_batches)


def frozen_layers_once(model, train: SplitTensors, tuning: SplitTensors):
    """(train, tuning, put_back): when ``model`` runs a frozen pretrained layer on its features (a pooled Whisper
    head's top layer), the features through that layer, computed once, and the model reading them directly
    until ``put_back()``; otherwise the splits unchanged."""
    outputs = getattr(model, "frozen_top_outputs", None)
    train_frames = outputs(train.features) if outputs else None
    if train_frames is None:
        return train, tuning, lambda: None
    tuning_frames, top = outputs(tuning.features), model.top
    model.top = None

    def put_back() -> None:
        model.top = top

    return replace(train, features=train_frames), replace(tuning, features=tuning_frames), put_back


def train_trial(
    config: dict,
    train: SplitTensors,
    tuning: SplitTensors,
    vocabulary: CharVocabulary,
    deadline: float | Callable[[], float],
    report: Callable[[dict], None] = lambda metrics: None,
    should_stop: Callable[[], bool] = lambda: False,
    on_improvement: Callable[[dict, dict], None] = lambda state, metrics: None,
    device: str = "cpu",
    seed: int = 0,
    initial_state: dict | None = None,
) -> TrialOutcome:
    """Train ``config`` until ``deadline`` (a ``time.time()`` value, or a function giving the current one,
    so that a caller can extend a trial once it knows how long epochs take), the stop rule or a stop request.

    ``config`` keys: model, size, dropout, learning_rate, batch_size, augment, patience and optionally max_epochs,
    anneal and refit. ``report`` receives one dict per evaluation. ``initial_state`` continues from saved weights
    (no warm-up then). With ``anneal`` the rate follows a cosine down to the deadline and no plateau ends the run;
    a ``refit`` (trained on the tuning data too) keeps its last epoch and runs to ``max_epochs``."""
    torch.manual_seed(seed)
    current_deadline = deadline if callable(deadline) else (lambda: deadline)
    num_features = train.features[0].shape[1]
    model = build_trial_network(config, num_features, vocabulary, max(len(f) for f in train.features),
                                initial_state, device)
    augment = SpecAugment(config.get("augment", 1.0), num_features).to(device)
    train, tuning, put_back = frozen_layers_once(model, train, tuning)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["learning_rate"], weight_decay=1e-3)
    # a tiny corpus (tens of clips) still gets several updates an epoch
    batch_size = min(int(config.get("batch_size", 32)), max(4, len(train.features) // 8))
    anneal = bool(config.get("anneal", False))
    started = time.time()
    schedule = LearningRateSchedule(config["learning_rate"], 1 if initial_state is not None else 30, anneal, started)
    judge = ProgressJudge(int(config.get("patience", 4)), anneal, len(tuning.texts), bool(config.get("refit")))
    history, best_state, step, nan_batches, stop_reason = [], None, 0, 0, "max_epochs"
    train_seconds = eval_seconds = audio_seconds = last_epoch_seconds = 0.0

    for epoch in range(1, int(config.get("max_epochs", 1000)) + 1):
        if should_stop():
            stop_reason = "stopped"
            break
        if time.time() + last_epoch_seconds * 0.8 > current_deadline() and epoch > 1:
            stop_reason = "deadline"
            break
        epoch_started = time.time()
        ran = _train_epoch(model, augment, optimizer, schedule, train, batch_size, seed, epoch, step, nan_batches,
                           current_deadline, should_stop, device)
        step, nan_batches = ran.steps, ran.nan_batches
        audio_seconds += ran.audio_seconds
        train_seconds += time.time() - epoch_started

        evaluation_started = time.time()
        hypotheses = transcribe_features(model, tuning.features, vocabulary, device=device)
        rates = error_rates(tuning.texts, hypotheses)
        eval_seconds += time.time() - evaluation_started
        last_epoch_seconds = time.time() - epoch_started
        train_loss = sum(ran.losses) / max(len(ran.losses), 1)
        improved, halve_rate = judge.judge(epoch, rates["wer"], rates["cer"], train_loss, step)
        if halve_rate:
            schedule.halve()
        if improved:
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        metrics = {"epoch": epoch, "train_loss": train_loss, "val_wer": rates["wer"], "val_cer": rates["cer"],
                   "best_val_wer": judge.best_wer, "epoch_seconds": last_epoch_seconds,
                   "learning_rate": optimizer.param_groups[0]["lr"], "time": time.time(), "steps": step}
        history.append(metrics)
        if improved:
            on_improvement(best_state, {**metrics, "hypotheses": hypotheses})  # what the best epoch heard
        report(metrics)
        stop_reason = judge.stop_reason(epoch) or ("deadline" if time.time() > current_deadline() else None)
        if stop_reason:
            break
        stop_reason = "max_epochs"

    put_back()
    return TrialOutcome(
        best_wer=judge.best_wer, best_cer=judge.best_cer, best_epoch=judge.best_epoch, epochs=len(history),
        history=history, state_dict=best_state, stop_reason=stop_reason, parameters=count_parameters(model),
        train_seconds=train_seconds, eval_seconds=eval_seconds, audio_seconds_trained=audio_seconds,
    )
