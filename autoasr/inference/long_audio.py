"""Recordings of any length: voice-activity segmentation, transcription in order, word timestamps.

A long file is never held in memory whole. It is read twice in blocks with soundfile: once to
measure the energy of every 10 ms frame (a few hundred numbers per minute), once to read the
speech segments a handful at a time. Segments are cut where the energy stays low for a while
(pauses); a region of continuous speech longer than ``max_segment_seconds`` is cut at its quietest
frame. Fixed-length chunks with overlap are the fallback (``segmentation="fixed"``): a word seen
in two chunks is kept by the chunk that owns its centre.

Word timestamps come from a CTC forced alignment (``torchaudio.functional.forced_align``) of the
greedy transcript against the model's log-probabilities.

>>> result = transcribe_long(predictor.model(), "meeting.wav")             # doctest: +SKIP
>>> result.text, result.words[0]                                          # doctest: +SKIP
('four two ...', Word(word='four', start=0.42, end=0.78))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

ENERGY_FRAME_SECONDS = 0.01
LONG_AUDIO_SECONDS = 20.0  # files longer than this are segmented before transcription
SILENCE_DB = -100.0  # digital silence is treated as this level


@dataclass(frozen=True)
class SegmentationSettings:
    """How speech regions are found: an energy threshold relative to the recording's own levels.

    ``threshold_db`` fixes the threshold (dBFS) instead of deriving it from the recording: by default
    it lies ``threshold_share`` of the way from the noise floor (10th percentile) to the speech level
    (99th percentile), at least ``min_margin_db`` above the floor.
    """

    segmentation: str = "energy"  # "energy" (voice activity) or "fixed" (chunks with overlap)
    threshold_db: float | None = None
    threshold_share: float = 0.3
    min_margin_db: float = 6.0
    min_silence_seconds: float = 0.25  # shorter pauses do not end a segment
    min_speech_seconds: float = 0.08  # shorter bursts (clicks) are ignored
    padding_seconds: float = 0.15  # context kept on both sides of a speech region
    max_segment_seconds: float = 15.0
    chunk_seconds: float = 10.0  # fixed chunking
    overlap_seconds: float = 1.5
    block_seconds: float = 30.0  # how much audio is read at once
    segments_per_batch: int = 16


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds from the start of the recording
    end: float


@dataclass
class Segment:
    start: float
    end: float
    text: str = ""
    words: list[Word] = field(default_factory=list)


@dataclass
class TimedTranscript:
    """A recording's transcript with its words and segments (times in seconds)."""

    audio: str
    text: str
    duration: float
    words: list[Word] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)

    def to_dict(self, segments: bool = False) -> dict:
        payload = {"audio": self.audio, "text": self.text, "duration": round(self.duration, 3),
                   "words": [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)} for w in self.words]}
        if segments:
            payload["segments"] = [{"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text}
                                   for s in self.segments]
        return payload


# --------------------------------------------------------------------------------------------- reading


class _Source:
    """A path (read in blocks, at the file's own rate) or an array already at the model's rate."""

    def __init__(self, audio, model_rate: int):
        self.model_rate = model_rate
        if isinstance(audio, np.ndarray):
            self.path, self.array = None, audio.mean(axis=1) if audio.ndim == 2 else audio
            self.rate, self.frames = model_rate, len(self.array)
        else:
            self.path, self.array = Path(audio), None
            from autoasr.data.audio import audio_info

            self.rate, _, _ = audio_info(self.path)
            with soundfile.SoundFile(str(self.path)) as handle:
                self.frames = handle.frames
        self.name = str(audio) if self.path else "<array>"

    @property
    def duration(self) -> float:
        return self.frames / self.rate

    def blocks(self, block_frames: int):
        if self.array is not None:
            for start in range(0, self.frames, block_frames):
                yield self.array[start : start + block_frames].astype(np.float32, copy=False)
            return
        with soundfile.SoundFile(str(self.path)) as handle:
            while True:
                block = handle.read(block_frames, dtype="float32", always_2d=True)
                if len(block) == 0:
                    break
                yield block.mean(axis=1)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` (file frames), mono, at the model's rate."""
        if self.array is not None:
            return self.array[start:stop].astype(np.float32, copy=False)
        from autoasr.data.audio import resample

        with soundfile.SoundFile(str(self.path)) as handle:
            handle.seek(start)
            block = handle.read(stop - start, dtype="float32", always_2d=True).mean(axis=1)
        return resample(block, self.rate, self.model_rate)


def frame_energies(source: _Source, settings: SegmentationSettings = SegmentationSettings()) -> np.ndarray:
    """Energy (dBFS) of every 10 ms frame, read block by block."""
    frame = max(1, int(round(ENERGY_FRAME_SECONDS * source.rate)))
    block_frames = frame * max(1, int(settings.block_seconds / ENERGY_FRAME_SECONDS))
    energies = []
    for block in source.blocks(block_frames):
        usable = len(block) - len(block) % frame
        if usable:
            power = np.square(block[:usable], dtype=np.float64).reshape(-1, frame).mean(axis=1)
            energies.append(power)
        if usable < len(block):  # the last, shorter frame of the file
            energies.append(np.array([np.mean(np.square(block[usable:], dtype=np.float64))]))
    power = np.concatenate(energies) if energies else np.zeros(0)
    return np.maximum(10 * np.log10(power + 1e-20), SILENCE_DB)


# --------------------------------------------------------------------------------------------- segmentation


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of True."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    changes = np.flatnonzero(np.diff(padded))
    return list(zip(changes[0::2].tolist(), changes[1::2].tolist()))


def speech_regions(energies: np.ndarray,
                   settings: SegmentationSettings = SegmentationSettings()) -> list[tuple[int, int]]:
    """(start, stop) in 10 ms frames of each speech segment, padded, in order, none longer than the maximum.

    >>> quiet, loud = np.full(100, -70.0), np.full(50, -20.0)
    >>> speech_regions(np.concatenate([quiet, loud, quiet, loud, quiet]))
    [(85, 165), (235, 315)]
    """
    if len(energies) == 0:
        return []
    if settings.threshold_db is not None:
        threshold = settings.threshold_db
    else:
        floor, peak = np.percentile(energies, 10), np.percentile(energies, 99)
        threshold = floor + max(settings.threshold_share * (peak - floor), settings.min_margin_db)
    speech = energies > threshold
    min_silence = int(round(settings.min_silence_seconds / ENERGY_FRAME_SECONDS))
    for start, stop in _runs(~speech):  # close short pauses inside speech
        if stop - start < min_silence and start > 0 and stop < len(speech):
            speech[start:stop] = True
    min_speech = int(round(settings.min_speech_seconds / ENERGY_FRAME_SECONDS))
    regions = [(start, stop) for start, stop in _runs(speech) if stop - start >= min_speech]
    padding = int(round(settings.padding_seconds / ENERGY_FRAME_SECONDS))
    padded: list[list[int]] = []
    for start, stop in regions:
        start, stop = max(0, start - padding), min(len(energies), stop + padding)
        if padded and start <= padded[-1][1]:  # paddings overlap: one segment
            padded[-1][1] = stop
        else:
            padded.append([start, stop])
    longest = max(1, int(settings.max_segment_seconds / ENERGY_FRAME_SECONDS))
    result: list[tuple[int, int]] = []
    for start, stop in padded:
        result.extend(_split_at_quiet_points(energies, start, stop, longest))
    return result


def _split_at_quiet_points(energies: np.ndarray, start: int, stop: int, longest: int) -> list[tuple[int, int]]:
    pieces = []
    while stop - start > longest:
        # cut at the quietest frame of the second half of the allowed length (the latest, on a tie)
        window = energies[start + longest // 2 : start + longest]
        cut = start + longest // 2 + len(window) - 1 - int(np.argmin(window[::-1]))
        pieces.append((start, cut))
        start = cut
    pieces.append((start, stop))
    return pieces


def fixed_chunks(num_frames: int, settings: SegmentationSettings = SegmentationSettings()) -> list[tuple[int, int]]:
    """(start, stop) in 10 ms frames of overlapping chunks covering the recording.

    >>> fixed_chunks(2500, SegmentationSettings(chunk_seconds=10, overlap_seconds=2))
    [(0, 1000), (800, 1800), (1600, 2500)]
    """
    chunk = max(1, int(settings.chunk_seconds / ENERGY_FRAME_SECONDS))
    step = max(1, chunk - int(settings.overlap_seconds / ENERGY_FRAME_SECONDS))
    chunks, start = [], 0
    while True:
        chunks.append((start, min(start + chunk, num_frames)))
        if start + chunk >= num_frames:
            return chunks
        start += step


# --------------------------------------------------------------------------------------------- models


def _recognizer(model):
    """A TrainedModel, exported model or pretrained recognizer from whatever was given (an ASRPredictor gives its
    best model)."""
    if hasattr(model, "network") or hasattr(model, "run") or getattr(model, "reads_text_only", False):
        return model
    if hasattr(model, "model") and callable(model.model):
        return model.model()
    raise TypeError(f"cannot transcribe with {type(model).__name__}")


def _texts_without_words(model, audio: list) -> list[TimedTranscript]:
    """A pretrained recognizer used as it is writes text, not CTC frames: its transcripts (long items cut at
    pauses, as :meth:`transcribe` does), each whole item one segment, and no word times."""
    results = []
    for item, text in zip(audio, model.transcribe(list(audio))):
        duration = audio_seconds(item, model.sample_rate)  # a path's header: the audio was read once, to transcribe
        name = str(item) if not isinstance(item, np.ndarray) else "<array>"
        results.append(TimedTranscript(name, text, duration, [], [Segment(0.0, duration, text, [])]))
    return results


def _symbols(model) -> tuple[str, ...]:
    return tuple(model.vocabulary.symbols)


def segment_log_probs(model, segments: list[np.ndarray], batch_size: int = 16) -> list[np.ndarray]:
    """Log-probabilities (frames, vocabulary) of each sample array, in order."""
    if hasattr(model, "run"):  # an exported model
        return model.log_probs(segments, batch_size=batch_size)
    import torch

    from autoasr.models.batching import length_sorted_batches, pad_batch

    features = [model.features(samples) for samples in segments]
    results: list[np.ndarray] = [None] * len(features)  # type: ignore[list-item]
    model.network.eval()
    with torch.inference_mode():
        for batch in length_sorted_batches([len(f) for f in features], batch_size, shuffle=False):
            padded, lengths = pad_batch([features[i] for i in batch])
            log_probs, out_lengths = model.network(padded, lengths)
            for row, position in enumerate(batch):
                results[position] = log_probs[row, : int(out_lengths[row])].numpy()
    return results


def _hop_length(model) -> int:
    if hasattr(model, "hop_length"):
        return int(model.hop_length)
    transform = model.frontend.transform
    mel = getattr(transform, "MelSpectrogram", transform)
    return int(mel.spectrogram.hop_length)


def output_frame_seconds(model) -> float:
    """Seconds of audio per output frame of the model (its hop times its time subsampling)."""
    hop = _hop_length(model)
    probe = np.zeros(model.sample_rate, dtype=np.float32)
    frames_out = len(segment_log_probs(model, [probe])[0])
    frames_in = len(probe) // hop + 1
    return hop * max(1, int(round(frames_in / max(frames_out, 1)))) / model.sample_rate


# --------------------------------------------------------------------------------------------- alignment


def decode_segments(model, log_probs: list[np.ndarray]) -> list[str | None]:
    """Each segment's text from the model's own decoder (a lexicon + LM beam search), or None per
    segment where the model decodes greedily (the alignment then reads the greedy path)."""
    if hasattr(model, "decode_log_probs"):  # an exported model
        if getattr(model, "decoder_spec", None) is None:
            return [None] * len(log_probs)
        return model.decode_log_probs(log_probs)
    if getattr(model, "decoder", None) is None:
        return [None] * len(log_probs)
    import torch

    return [model.decode(torch.from_numpy(np.ascontiguousarray(item)).unsqueeze(0), torch.tensor([len(item)]))[0]
            for item in log_probs]


def greedy_tokens(log_probs: np.ndarray) -> list[int]:
    """The greedy CTC path, repeats merged and blanks (index 0) dropped."""
    best = log_probs.argmax(axis=-1)
    if best.size == 0:
        return []
    keep = np.ones(best.shape, dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return [int(token) for token in best[keep] if token != 0]


def _token_spans(log_probs: np.ndarray, tokens: list[int]) -> list[tuple[int, int, int]]:
    """(token, first frame, stop frame) of every token, by forced alignment (greedy path as fallback)."""
    try:
        import torch
        import torchaudio.functional as audio_functional

        alignment, scores = audio_functional.forced_align(
            torch.from_numpy(np.ascontiguousarray(log_probs, dtype=np.float32)).unsqueeze(0),
            torch.tensor([tokens], dtype=torch.int32), blank=0)
        spans = audio_functional.merge_tokens(alignment[0], scores[0].exp(), blank=0)
        return [(int(span.token), int(span.start), int(span.end)) for span in spans]
    except Exception:  # e.g. a torchaudio built without alignment: the greedy path has the same shape
        best = log_probs.argmax(axis=-1)
        spans, start = [], 0
        for position in range(1, len(best) + 1):
            if position == len(best) or best[position] != best[start]:
                if best[start] != 0:
                    spans.append((int(best[start]), start, position))
                start = position
        return spans


def align_words(log_probs: np.ndarray, symbols: tuple[str, ...], frame_seconds: float,
                offset_seconds: float = 0.0, text: str | None = None) -> tuple[str, list[Word]]:
    """The transcript of one segment and its words with start/end times (seconds).

    ``text`` is the decoder's transcript (a lexicon/LM decoder's); without it the greedy one is used.

    >>> symbols = ("<blank>", " ", "a", "b")
    >>> frames = np.log(np.eye(4)[[2, 0, 1, 3, 3, 0]] * 0.97 + 0.01)
    >>> align_words(frames, symbols, frame_seconds=0.02)
    ('a b', [Word(word='a', start=0.0, end=0.02), Word(word='b', start=0.06, end=0.1)])
    """
    separator = symbols.index(" ") if " " in symbols else -1
    if text is None:
        tokens = greedy_tokens(log_probs)
    else:
        index = {symbol: position for position, symbol in enumerate(symbols)}
        tokens = [index[character] for character in " ".join(text.split()) if character in index and index[character]]
    if not tokens:
        return "", []
    spans = _token_spans(log_probs, tokens)
    if [span[0] for span in spans] != tokens:  # the text cannot be aligned: spread its words over the segment
        words_of_text = " ".join(text.split()).split() if text else []
        step = len(log_probs) / max(len(words_of_text), 1)
        words = [Word(word, round(offset_seconds + i * step * frame_seconds, 3),
                      round(offset_seconds + (i + 1) * step * frame_seconds, 3))
                 for i, word in enumerate(words_of_text)]
        return " ".join(words_of_text), words
    words: list[Word] = []
    characters: list[str] = []
    first = last = 0

    def flush() -> None:
        if characters:
            words.append(Word("".join(characters), round(offset_seconds + first * frame_seconds, 3),
                              round(offset_seconds + last * frame_seconds, 3)))
            characters.clear()

    for token, start, stop in spans:
        if token == separator:
            flush()
            continue
        if not characters:
            first = start
        characters.append(symbols[token])
        last = stop
    flush()
    return " ".join(word.word for word in words), words


# --------------------------------------------------------------------------------------------- transcription


def audio_seconds(audio, sample_rate: int) -> float:
    """Duration of a path (from its header) or of an array at ``sample_rate``."""
    if isinstance(audio, np.ndarray):
        return len(audio) / sample_rate
    from autoasr.data.audio import audio_info

    return audio_info(audio)[2]


def transcribe_long(model, audio, settings: SegmentationSettings = SegmentationSettings()) -> TimedTranscript:
    """Transcribe a recording of any length: segment it, transcribe the segments in order, merge.

    ``model`` is a TrainedModel, an exported model (``autoasr.export.runtime.load_exported``) or an
    ASRPredictor; ``audio`` a path or a float array at the model's sample rate.
    """
    model = _recognizer(model)
    if getattr(model, "reads_text_only", False):
        return _texts_without_words(model, [audio])[0]
    source = _Source(audio, model.sample_rate)
    energies = frame_energies(source, settings)
    if settings.segmentation == "fixed":
        regions = fixed_chunks(len(energies), settings)
    elif settings.segmentation == "energy":
        regions = speech_regions(energies, settings)
    else:
        raise ValueError(f"unknown segmentation '{settings.segmentation}' (choose energy or fixed)")
    frame = max(1, int(round(ENERGY_FRAME_SECONDS * source.rate)))
    frame_seconds = output_frame_seconds(model)
    symbols = _symbols(model)
    segments: list[Segment] = []
    for batch_start in range(0, len(regions), settings.segments_per_batch):  # a few segments in memory at once
        batch = regions[batch_start : batch_start + settings.segments_per_batch]
        samples = [source.read(start * frame, min(stop * frame, source.frames)) for start, stop in batch]
        kept = [(region, s) for region, s in zip(batch, samples) if len(s) >= model.sample_rate // 50]
        outputs = segment_log_probs(model, [k[1] for k in kept])
        for (start, stop), log_probs, decoded in zip([k[0] for k in kept], outputs, decode_segments(model, outputs)):
            offset = start * frame / source.rate
            text, words = align_words(log_probs, symbols, frame_seconds, offset, text=decoded)
            segments.append(Segment(offset, min(stop * frame, source.frames) / source.rate, text, words))
    if settings.segmentation == "fixed":
        _keep_owned_words(segments, settings.overlap_seconds)
    words = [word for segment in segments for word in segment.words]
    duration = source.duration
    words = [Word(w.word, max(0.0, min(w.start, duration)), max(0.0, min(w.end, duration))) for w in words]
    return TimedTranscript(source.name, " ".join(w.word for w in words), duration, words, segments)


def _keep_owned_words(segments: list[Segment], overlap: float) -> None:
    """Overlapping chunks: each keeps the words whose centre lies in its own share of the overlap."""
    for position, segment in enumerate(segments):
        low = segment.start + overlap / 2 if position > 0 else -np.inf
        high = segment.end - overlap / 2 if position < len(segments) - 1 else np.inf
        segment.words = [w for w in segment.words if low <= (w.start + w.end) / 2 < high]
        segment.text = " ".join(w.word for w in segment.words)


def transcribe_with_words(model, audio: list, settings: SegmentationSettings = SegmentationSettings(),
                          long_audio_seconds: float = LONG_AUDIO_SECONDS) -> list[TimedTranscript]:
    """Transcripts with word timestamps for each item: long recordings are segmented, short ones
    are transcribed whole (as :meth:`TrainedModel.transcribe` does). A pretrained recognizer used as it is (a
    zero-shot row) gives its text with no word times: they come from CTC outputs, which it does not have."""
    model = _recognizer(model)
    if getattr(model, "reads_text_only", False):
        return _texts_without_words(model, audio)
    frame_seconds = output_frame_seconds(model)
    symbols = _symbols(model)
    results: list[TimedTranscript | None] = [None] * len(audio)
    short = []
    for position, item in enumerate(audio):
        if audio_seconds(item, model.sample_rate) > long_audio_seconds:
            results[position] = transcribe_long(model, item, settings)
        else:
            short.append(position)
    from autoasr.data.audio import as_samples

    for start in range(0, len(short), settings.segments_per_batch):
        positions = short[start : start + settings.segments_per_batch]
        samples = [as_samples(audio[p], model.sample_rate) for p in positions]
        outputs = segment_log_probs(model, samples)
        for position, item, log_probs, decoded in zip(positions, samples, outputs, decode_segments(model, outputs)):
            text, words = align_words(log_probs, symbols, frame_seconds, text=decoded)
            duration = len(item) / model.sample_rate
            results[position] = TimedTranscript(
                str(audio[position]) if not isinstance(audio[position], np.ndarray) else "<array>",
                text, duration, words, [Segment(0.0, duration, text, words)])
    return results  # type: ignore[return-value]


def speech_pieces(audio, sample_rate: int, settings: SegmentationSettings = SegmentationSettings()) -> list[np.ndarray]:
    """A long recording cut at its pauses, as sample arrays at ``sample_rate`` (for recognizers that read
    text, not CTC frames, from each piece: see :mod:`autoasr.inference.recognizers`)."""
    source = _Source(audio, sample_rate)
    regions = speech_regions(frame_energies(source, settings), settings)
    frame = max(1, int(round(ENERGY_FRAME_SECONDS * source.rate)))
    pieces = [source.read(start * frame, min(stop * frame, source.frames)) for start, stop in regions]
    return [piece for piece in pieces if len(piece) >= sample_rate // 50]


def transcribe_routed(model, audio: list, transcribe_short, long_audio_seconds: float = LONG_AUDIO_SECONDS,
                      settings: SegmentationSettings = SegmentationSettings()) -> list[str]:
    """Transcripts in order: items longer than ``long_audio_seconds`` through :func:`transcribe_long`,
    the rest through ``transcribe_short(items) -> list[str]`` (the model's usual batched path). A model
    without CTC outputs (a pretrained recognizer) transcribes a long item's pieces (:func:`speech_pieces`)
    with ``transcribe_short`` and joins them."""
    texts: list[str] = [""] * len(audio)
    short = []
    for position, item in enumerate(audio):
        try:
            seconds = audio_seconds(item, model.sample_rate)
        except Exception:
            seconds = 0.0  # unreadable: let the usual path report it
        if seconds > long_audio_seconds and getattr(model, "reads_text_only", False):
            pieces = transcribe_short(speech_pieces(item, model.sample_rate, settings))
            texts[position] = " ".join(text for text in pieces if text)
        elif seconds > long_audio_seconds:
            texts[position] = transcribe_long(model, item, settings).text
        else:
            short.append(position)
    if short:
        for position, text in zip(short, transcribe_short([audio[p] for p in short])):
            texts[position] = text
    return texts
