"""Plain manifests (CSV/TSV with audio and text columns, JSON Lines in NeMo style) read into a :class:`Dataset`,
bad rows turned into problems that name the file and row."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Iterable, Sequence

from autoasr.core.paths import manifest_path
from autoasr.core.text import normalize_text
from autoasr.data.audio import AudioError, audio_info
from autoasr.data.dataset import DataError, Dataset, Problem, Utterance

AUDIO_COLUMN_ALIASES = ("audio", "audio_filepath", "path", "file", "file_name", "filename", "wav")
TEXT_COLUMN_ALIASES = ("text", "transcript", "transcription", "sentence", "label")


def _decode_manifest(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # latin-1 never fails: a manifest saved by an old spreadsheet still reads
        return raw.decode("latin-1")


def _pick_column(columns: Sequence[str], aliases: Sequence[str]) -> str | None:
    lowered = {column.strip().lower(): column for column in columns}
    for alias in aliases:
        if alias in lowered:
            return lowered[alias]
    return None


def _closest(name: str, candidates: Sequence[str]) -> str:
    import difflib

    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.0)
    return match[0] if match else ""


def read_manifest_records(path: Path) -> list[tuple[int, dict]]:
    """Rows of a CSV/TSV (header) or JSON Lines manifest as (row number, record) pairs."""
    content = _decode_manifest(path)
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        records = []
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except json.JSONDecodeError as error:
                records.append((number, {"__error__": f"not valid JSON ({error.msg})"}))
        return records
    first_line = content.splitlines()[0] if content.strip() else ""
    delimiter = "\t" if path.suffix.lower() == ".tsv" or "\t" in first_line else ","
    if "|" in first_line and delimiter == "," and "," not in first_line:
        delimiter = "|"
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
    return [(number, dict(record)) for number, record in enumerate(reader, start=1)]


def records_to_dataset(
    records: Iterable[tuple[int, dict]],
    base: Path,
    source: str,
    domain: str = "general",
    name: str = "dataset",
    validate_audio: bool = True,
) -> Dataset:
    """Turn manifest records into a validated :class:`Dataset`; bad rows become problems."""
    utterances: list[Utterance] = []
    problems: list[Problem] = []
    records = list(records)
    columns = sorted({key for _, record in records for key in record if key != "__error__"})
    audio_column = _pick_column(columns, AUDIO_COLUMN_ALIASES)
    text_column = _pick_column(columns, TEXT_COLUMN_ALIASES)
    if records and (audio_column is None or text_column is None):
        missing = "audio" if audio_column is None else "text"
        hint = _closest(missing, columns)
        raise DataError(
            f"{source}: no '{missing}' column (found: {', '.join(columns) or 'none'})"
            + (f"; did you mean '{hint}'?" if hint else "")
        )
    seen_ids: set[str] = set()
    for row, record in records:
        if "__error__" in record:
            problems.append(Problem(source, row, record["__error__"]))
            continue
        audio_value = str(record.get(audio_column) or "").strip()
        if not audio_value:
            problems.append(Problem(source, row, "no audio path"))
            continue
        audio_path = manifest_path(audio_value)
        if not audio_path.is_absolute():
            audio_path = (base / audio_path).resolve()
        text = normalize_text(str(record.get(text_column) or ""), domain)
        if not text:
            problems.append(Problem(source, row, f"empty transcript for {audio_value}"))
            continue
        utterance_id = str(record.get("id") or record.get("utterance_id") or audio_path.stem)
        if utterance_id in seen_ids:
            utterance_id = f"{utterance_id}#{row}"
        seen_ids.add(utterance_id)
        duration = record.get("duration")
        try:
            duration = float(duration) if duration not in (None, "") else None
        except (TypeError, ValueError):
            problems.append(Problem(source, row, f"duration '{duration}' is not a number"))
            continue
        if validate_audio:
            try:
                _, _, duration = audio_info(audio_path)
            except AudioError as error:
                problems.append(Problem(source, row, str(error)))
                continue
            if duration <= 0:
                problems.append(Problem(source, row, f"audio file is empty: {audio_path}"))
                continue
        utterances.append(
            Utterance(
                audio=audio_path,
                text=text,
                speaker=(str(record["speaker"]) if record.get("speaker") not in (None, "") else None),
                duration=duration,
                split=(str(record["split"]).strip().lower() if record.get("split") else None),
                utterance_id=utterance_id,
                source=source,
                row=row,
            )
        )
    return Dataset(utterances, name=name, problems=problems)
