"""An ensemble of a run's best trained CTC models as one model (AutoGluon's weighted ensemble, for speech).

Members may read audio at different frame rates (10 ms convnets, 20 ms Whisper heads, subsampled
conformers) or not frame by frame at all (a pooled Whisper clip head gives a short CTC-shaped path), so
their outputs are combined in one of two ways:

- **transcript scores** (a closed set of transcripts: commands, isolated digits): each member's CTC
  log-likelihood of every candidate transcript (``torch.nn.functional.ctc_loss``), turned into a
  posterior over the candidates, weighted and summed across members; the best candidate wins. A
  likelihood needs no alignment between members, so any frame rates mix, pooled heads included.
- **posterior average** (an open vocabulary): each frame-aligned member's posteriors, resampled to the
  longest member's frame count by linear interpolation in time, weighted and averaged, then decoded
  greedily. Pooled heads are not frame-aligned and never join this kind.

Saved as a ``model.json`` of kind ``ensemble`` naming its member trial folders (no weights of its own);
:meth:`TrainedModel.load <autoasr.inference.model.TrainedModel.load>` dispatches on the kind. It has no
single CTC output, so it is not exported (:attr:`EnsembleModel.export_refusal`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from autoasr.core.storage import read_json
from autoasr.data.audio import as_samples
from autoasr.inference.speed import real_time_factor
from autoasr.decoding.greedy import greedy_decode_array
from autoasr.inference.model_files import ENSEMBLE_KIND, MODEL_SPEC_FILE
from autoasr.models.batching import emissions
from autoasr.models.frontends import FrontendConfig

TRANSCRIPT_SCORES, POSTERIOR_AVERAGE = "transcript scores", "posterior average"
# CTC's -log p of a transcript the frames cannot spell (too long for them): finite, so a posterior still exists
UNSPELLABLE = 1e4


def transcript_log_likelihoods(log_probs: torch.Tensor, targets: list[torch.Tensor]) -> torch.Tensor:
    """log p(transcript | frames) under CTC for each of ``targets`` (symbol indices), given one utterance's
    (frames, symbols) ``log_probs``: a (len(targets),) tensor."""
    count = len(targets)
    lengths = torch.tensor([len(t) for t in targets], dtype=torch.long)
    padded = torch.nn.utils.rnn.pad_sequence([t if len(t) else torch.zeros(0, dtype=torch.long) for t in targets],
                                             batch_first=True)
    frames = log_probs.float().unsqueeze(1).expand(-1, count, -1)
    loss = torch.nn.functional.ctc_loss(frames, padded, torch.full((count,), len(log_probs), dtype=torch.long),
                                        lengths, blank=0, reduction="none", zero_infinity=False)
    return -torch.nan_to_num(loss, posinf=UNSPELLABLE)


def candidate_posteriors(log_probs: torch.Tensor, targets: list[torch.Tensor]) -> torch.Tensor:
    """log p(candidate | audio) of one member over the candidates (uniform prior): the likelihoods normalised.

    Normalising puts members on one scale whatever their frame count (a 100 fps member sums twice the
    frames of a 50 fps one), so a weighted sum across members is a product of experts."""
    return transcript_log_likelihoods(log_probs, targets).log_softmax(dim=0)


def combine_transcript_scores(member_scores: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
    """Weighted sum of members' (utterances, candidates) log-posteriors; argmax over dim 1 picks each transcript."""
    return sum(w * s for w, s in zip(weights, member_scores) if w > 0)


def resample_frames(probabilities: torch.Tensor, frames: int) -> torch.Tensor:
    """(T, V) probabilities stretched or squeezed to (frames, V) by linear interpolation in time."""
    if len(probabilities) == frames:
        return probabilities
    if len(probabilities) == 1:
        return probabilities.expand(frames, -1)
    stretched = torch.nn.functional.interpolate(probabilities.T.unsqueeze(0), size=frames, mode="linear",
                                                align_corners=True)
    return stretched[0].T


def average_posteriors(member_log_probs: list[torch.Tensor], weights: list[float]) -> torch.Tensor:
    """One utterance's weighted average of members' posteriors at the longest member's frame count, as log-probs."""
    used = [(w, lp) for w, lp in zip(weights, member_log_probs) if w > 0]
    frames = max(len(lp) for _, lp in used)
    total = sum(w for w, _ in used)
    mixed = sum(w * resample_frames(lp.float().exp(), frames) for w, lp in used) / total
    return mixed.clamp(min=1e-12).log()


class EnsembleModel:
    """Trained members (:class:`~autoasr.inference.model.TrainedModel`) with weights, transcribing as one model.

    ``candidates``: the closed set of transcripts scored by :data:`TRANSCRIPT_SCORES`; None averages
    posteriors (:data:`POSTERIOR_AVERAGE`).
    """

    kind = ENSEMBLE_KIND
    # no one CTC path to cut at pauses or align words to: a long recording is cut into speech pieces first
    reads_text_only = True
    decoder = None

    def __init__(self, members: list, weights: list[float], candidates: list[str] | None = None,
                 member_ids: list[str] | None = None):
        rates = {member.sample_rate for member in members}
        if len(rates) != 1:
            raise ValueError(f"ensemble members read audio at different sample rates: {sorted(rates)}")
        self.members, self.weights = list(members), [float(w) for w in weights]
        self.candidates = list(candidates) if candidates is not None else None
        self.member_ids = list(member_ids or [str(i) for i in range(len(members))])
        self.vocabulary = members[0].vocabulary
        self.targets = ([torch.tensor(self.vocabulary.encode(text), dtype=torch.long) for text in self.candidates]
                        if self.candidates is not None else None)

    @property
    def combination(self) -> str:
        return TRANSCRIPT_SCORES if self.candidates is not None else POSTERIOR_AVERAGE

    @property
    def config(self) -> dict:
        return {"model": ENSEMBLE_KIND, "size": f"{len(self.members)} members", "members": self.member_ids,
                "weights": self.weights, "combination": self.combination}

    @property
    def sample_rate(self) -> int:
        return self.members[0].sample_rate

    @property
    def export_refusal(self) -> str:
        return ("the ensemble row combines several models' outputs (" + self.combination + "), which one "
                "ONNX/TorchScript graph of waveform-to-CTC does not carry; export one of its members instead ("
                + ", ".join(self.member_ids) + ")")

    def spec(self) -> dict:
        return {"kind": ENSEMBLE_KIND, "config": self.config, "candidates": self.candidates}

    @classmethod
    def load(cls, folder: str | Path, load_member, spec: dict | None = None) -> "EnsembleModel":
        """The ensemble a ``model.json`` of kind ``ensemble`` describes; members are found beside it
        (``trials/<id>`` next to ``trials/<ensemble id>``, or under ``trials/`` from the run's ``best/``) and
        read by ``load_member(folder)`` (``TrainedModel.load``, handed down: this module sits beside it)."""
        folder = Path(folder)
        spec = spec or read_json(folder / MODEL_SPEC_FILE)
        members = [load_member(member_folder(folder, trial_id)) for trial_id in spec["config"]["members"]]
        return cls(members, spec["config"]["weights"], spec.get("candidates"), spec["config"]["members"])

    def member_outputs(self, samples: list[np.ndarray]) -> list[list[torch.Tensor]]:
        """Per member, each clip's (frames, symbols) log-probs; members reading the same frontend (one Whisper
        encoder under two heads) share its features, so the encoder runs once."""
        features: dict[str, list[torch.Tensor]] = {}
        outputs = []
        for member in self.members:
            key = FrontendConfig.of(member.config).key()
            if key not in features:
                features[key] = [member.features(clip) for clip in samples]
            outputs.append(emissions(member.network, features[key]))
        return outputs

    def member_scores(self, outputs: list[list[torch.Tensor]]) -> list:
        """What :meth:`decide` weighs, per member: (clips, candidates) log-posteriors for transcript scores, the
        clips' log-probs themselves for a posterior average. Computed once, so weightings are cheap to try."""
        if self.targets is None:
            return outputs
        return [torch.stack([candidate_posteriors(clip, self.targets) for clip in out]) if out
                else torch.empty(0, len(self.targets)) for out in outputs]

    def decide(self, scores: list) -> list[str]:
        """Transcripts from :meth:`member_scores` under the current ``weights``."""
        if self.targets is not None:
            return [self.candidates[int(i)] for i in combine_transcript_scores(scores, self.weights).argmax(dim=1)]
        symbols = tuple(self.vocabulary.symbols)
        return [greedy_decode_array(average_posteriors([out[i] for out in scores], self.weights).numpy(), 10 ** 9,
                                    symbols) for i in range(len(scores[0]) if scores else 0)]

    def transcribe(self, audio: list, batch_size: int = 32) -> list[str]:
        """Transcripts of paths or float arrays (at ``sample_rate``), in order; recordings over 20 s are cut."""
        from autoasr.inference.long_audio import transcribe_routed

        def short(items: list) -> list[str]:
            samples = [as_samples(item, self.sample_rate) for item in items]
            return self.decide(self.member_scores(self.member_outputs(samples))) if samples else []

        return transcribe_routed(self, list(audio), short)

    def real_time_factor(self, audio: list) -> float:
        return real_time_factor(self.transcribe, audio, self.sample_rate)

    def weights_megabytes(self) -> float:
        """Every member's network, and each distinct pretrained encoder once (members share it when deployed)."""
        size, encoders = 0.0, {}
        for member in self.members:
            size += weights_megabytes(member.network)
            encoder = getattr(member.frontend.transform, "encoder_module", None)
            if encoder is not None:
                encoders[FrontendConfig.of(member.config).encoder] = weights_megabytes(encoder)
        return size + sum(encoders.values())

    def parameters(self) -> int:
        return sum(p.numel() for member in self.members for p in member.network.parameters())


def weights_megabytes(network: torch.nn.Module) -> float:
    """Stored size of a network's weights (as :func:`autoasr.results.model_costs.weights_megabytes`, a layer up)."""
    return sum(t.numel() * t.element_size() for t in network.state_dict().values()) / 1e6


def member_folder(folder: Path, trial_id: str) -> Path:
    """A member's trial folder seen from an ensemble's folder (``trials/<id>`` or the run's ``best``)."""
    for candidate in (folder.parent / trial_id, folder.parent / "trials" / trial_id):
        if (candidate / MODEL_SPEC_FILE).is_file():
            return candidate
    raise FileNotFoundError(f"ensemble member {trial_id} not found beside {folder} (its trial folder was removed?)")
