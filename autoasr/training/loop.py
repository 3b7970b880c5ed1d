"""One trial: train a configuration under a deadline, evaluate it regularly, keep its best weights.

The trainer knows nothing about the search: it reports metrics through ``report`` after every
evaluation and stops when the deadline passes, the metric plateaus, or ``should_stop`` says so.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
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
from autoasr.training.specaugment import SpecAugment
from autoasr.training.tensors import SplitTensors

# a plateau is only judged after this many updates: on tens of clips an epoch is a few steps, and a
# CTC model needs on the order of a hundred before it emits anything but blanks
MIN_STEPS_BEFORE_PLATEAU = 100
# an annealed run ends at this fraction of its starting rate rather than at zero
ANNEAL_FLOOR = 0.02


def annealed_rate_scale(elapsed: float, span: float) -> float:
    """The cosine decay of a learning rate over a run of ``span`` seconds, ``elapsed`` seconds in.

    A time-based schedule: the trainer knows its deadline, not how many epochs fit before it.

    >>> annealed_rate_scale(0.0, 100.0), round(annealed_rate_scale(50.0, 100.0), 2), annealed_rate_scale(100.0, 100.0)
    (1.0, 0.51, 0.02)
    """
    progress = min(max(elapsed / span, 0.0), 1.0) if span > 0 else 1.0
    return ANNEAL_FLOOR + (1.0 - ANNEAL_FLOOR) * 0.5 * (1.0 + math.cos(math.pi * progress))




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
    seconds_training: float = 0.0
    seconds_evaluating: float = 0.0
    audio_seconds_trained: float = 0.0
    extra: dict = field(default_factory=dict)










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
    so that a caller can extend a trial once it knows how long epochs take), plateau or a stop request.

    ``config`` keys: model, size, dropout, learning_rate, batch_size, augment, patience and
    optionally max_epochs and anneal. ``report`` receives one dict per evaluation. ``initial_state``
    continues from saved weights (no warm-up then: the model is already trained). With ``anneal`` the
    rate follows a cosine from ``learning_rate`` down to the deadline and no plateau ends the run:
    the last, lowest-rate epochs are the ones that settle a model.
    """
    torch.manual_seed(seed)
    current_deadline = deadline if callable(deadline) else (lambda: deadline)
    num_features = train.features[0].shape[1]
    # a pretrained encoder starts from its checkpoint; a continued trial loads its own weights below
    model = build_network(config, num_features, len(vocabulary), pretrained_weights=initial_state is None)
    needed = estimate_training_bytes(model, int(config.get("batch_size", 32)), max(len(f) for f in train.features),
                                     num_features)
    if needed > 0.8 * available_memory_bytes(device):
        raise MemoryError(f"this configuration needs about {needed / 2**30:.1f} GiB to train; "
                          f"{available_memory_bytes(device) / 2**30:.1f} GiB are free")
    if initial_state is not None:
        model.load_state_dict(initial_state)
    model.to(device)
    augment = SpecAugment(config.get("augment", 1.0), num_features).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["learning_rate"], weight_decay=1e-3)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    # a tiny corpus (tens of clips) still gets several updates an epoch
    batch_size = min(int(config.get("batch_size", 32)), max(4, len(train.features) // 8))
    patience = int(config.get("patience", 4))
    max_epochs = int(config.get("max_epochs", 1000))
    warmup_steps = 1 if initial_state is not None else 30
    anneal = bool(config.get("anneal", False))
    started = time.time()

    lengths = [len(f) for f in train.features]
    history: list[dict] = []
    best = {"wer": math.inf, "cer": math.inf, "epoch": 0, "state": None}
    step = 0
    evaluations_without_gain = 0
    seconds_training = seconds_evaluating = audio_seconds = 0.0
    stop_reason = "max_epochs"
    epoch = 0
    last_epoch_seconds = 0.0
    nan_batches = 0
    best_cer_seen = best_train_loss = math.inf

    for epoch in range(1, max_epochs + 1):
        if should_stop():
            stop_reason = "stopped"
            break
        if time.time() + last_epoch_seconds * 0.8 > current_deadline() and epoch > 1:
            stop_reason = "deadline"
            break
        model.train()
        augment.train()
        epoch_started = time.time()
        losses = []
        for batch in length_sorted_batches(lengths, batch_size, shuffle=True, seed=seed * 10007 + epoch):
            if time.time() > current_deadline() or should_stop():
                break
            padded, feature_lengths = pad_batch([train.features[i] for i in batch])
            targets = [train.targets[i] for i in batch]
            target_lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
            # on a GPU the forward pass runs in bfloat16 (mixed precision); the CTC loss always in float32
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.startswith("cuda")):
                log_probs, out_lengths = model(augment(padded.to(device)), feature_lengths.to(device))
            loss = ctc(log_probs.float().transpose(0, 1), torch.cat(targets).to(device), out_lengths,
                       target_lengths.to(device))
            if not torch.isfinite(loss):
                nan_batches += 1
                if nan_batches > 20:
                    raise FloatingPointError("training diverged: the loss was NaN or infinite in 20 batches")
                optimizer.zero_grad(set_to_none=True)
                continue
            rate = config["learning_rate"] * min(1.0, (step + 1) / warmup_steps)  # warm-up keeps early steps from diverging
            if anneal:
                rate *= annealed_rate_scale(time.time() - started, current_deadline() - started)
            for group in optimizer.param_groups:
                group["lr"] = rate * group.get("scale", 1.0)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            step += 1
            losses.append(loss.item())
            audio_seconds += float(feature_lengths.sum()) / 100.0
        seconds_training += time.time() - epoch_started

        evaluation_started = time.time()
        hypotheses = transcribe_features(model, tuning.features, vocabulary, device=device)
        rates = error_rates(tuning.texts, hypotheses)
        seconds_evaluating += time.time() - evaluation_started
        last_epoch_seconds = time.time() - epoch_started

        improved = rates["wer"] < best["wer"] - 1e-9 or (rates["wer"] == best["wer"] and rates["cer"] < best["cer"])
        # early in training WER often sits at 100% while CER falls, and before that a CTC model emits
        # only blanks while its loss falls: count each of these as progress
        train_loss = sum(losses) / max(len(losses), 1)
        still_blank = best_cer_seen >= 0.95 and rates["cer"] >= 0.95
        progressed = (improved or rates["cer"] < best_cer_seen - 1e-9
                      or (still_blank and train_loss < best_train_loss * 0.98))
        best_cer_seen = min(best_cer_seen, rates["cer"])
        best_train_loss = min(best_train_loss, train_loss)
        if improved:
            best.update(wer=rates["wer"], cer=rates["cer"], epoch=epoch,
                        state=copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()}))
        if progressed or step < MIN_STEPS_BEFORE_PLATEAU or anneal:
            evaluations_without_gain = 0
        else:
            evaluations_without_gain += 1
            if evaluations_without_gain % 2 == 0:  # halve the rate on a plateau before giving up
                for group in optimizer.param_groups:
                    group["scale"] = group.get("scale", 1.0) * 0.5
        metrics = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_wer": rates["wer"],
            "val_cer": rates["cer"],
            "best_val_wer": best["wer"],
            "epoch_seconds": last_epoch_seconds,
            "learning_rate": optimizer.param_groups[0]["lr"],
            "time": time.time(),
        }
        history.append(metrics)
        if improved:
            on_improvement(best["state"], metrics)
        report(metrics)
        if best["wer"] == 0.0 and best["cer"] == 0.0 and epoch >= 2:
            stop_reason = "perfect"
            break
        if evaluations_without_gain >= patience:
            stop_reason = "plateau"
            break
        if time.time() > current_deadline():
            stop_reason = "deadline"
            break

    return TrialOutcome(
        best_wer=best["wer"], best_cer=best["cer"], best_epoch=best["epoch"], epochs=len(history),
        history=history, state_dict=best["state"], stop_reason=stop_reason, parameters=count_parameters(model),
        seconds_training=seconds_training, seconds_evaluating=seconds_evaluating, audio_seconds_trained=audio_seconds,
    )
