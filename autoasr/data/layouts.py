"""Corpus layouts: recognise what a path holds and read it into a :class:`Dataset`.

Each layout is a small ``is_x(path)`` / ``read_x(path, domain, validate_audio)`` pair, in the spirit
of Lhotse's recipes. :func:`read_corpus` tries them in the order of :data:`LAYOUTS` (most specific
first) and names every known layout when none matches. Every layout gives speakers and splits
where the corpus says them, and turns bad rows into :class:`~autoasr.data.dataset.Problem` s (file and row;
rows count from 1 after a header, or from the first line of header-less files).

>>> dataset = read_corpus("LibriSpeech/dev-clean-2")          # doctest: +SKIP
>>> detect_layout(Path("LibriSpeech/dev-clean-2")).name        # doctest: +SKIP
'librispeech'
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from autoasr.core.text import DIGIT_WORDS
from autoasr.data.audio import AUDIO_EXTENSIONS
from autoasr.data.dataset import DataError, Dataset, Problem
from autoasr.data.manifest import (
    AUDIO_COLUMN_ALIASES,
    read_manifest_records,
    records_to_dataset,
)

MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".ndjson")
MANIFEST_NAMES = ("manifest.csv", "manifest.tsv", "manifest.jsonl")
# every format read_audio decodes: a folder of phone voice memos (m4a) or browser recordings (webm) is a corpus too
AUDIO_SUFFIXES = AUDIO_EXTENSIONS
TRANSCRIPT_SUFFIXES = (".txt", ".lab")
FSDD_NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>[A-Za-z]+)_(?P<take>\d+)$")
SPLIT_ALIASES = {"train": "train", "training": "train", "dev": "dev", "devel": "dev", "valid": "dev",
                 "validation": "dev", "val": "dev", "test": "test", "eval": "test", "evaluation": "test"}
_IGNORED_FOLDERS = ("__MACOSX",)

Record = tuple[int | None, dict]


@dataclass(frozen=True)
class Layout:
    name: str
    description: str
    detect: Callable[[Path], bool]
    read: Callable[..., Dataset]


# ---------------------------------------------------------------------------------------------
# Shared helpers


def split_name(name: str | None) -> str | None:
    """The canonical split (``train``/``dev``/``test``) a folder or file name stands for, if any.

    >>> split_name("dev-clean-2"), split_name("validation"), split_name("speaker1")
    ('dev', 'dev', None)
    """
    if not name:
        return None
    lowered = name.lower()
    if lowered in SPLIT_ALIASES:
        return SPLIT_ALIASES[lowered]
    first = re.split(r"[-_.]", lowered, maxsplit=1)[0]
    return SPLIT_ALIASES.get(first)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their line numbers (from 1)."""
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if line.strip():
            yield number, line.strip()


def _first_line(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.readline(65536).decode("utf-8-sig", errors="replace").strip()
    except OSError:
        return ""


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES and path.is_file()


def _audio_files(folder: Path, recursive: bool = True, ordered: bool = True) -> Iterator[Path]:
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    for path in sorted(candidates) if ordered else candidates:
        if _is_audio(path) and not any(part in _IGNORED_FOLDERS for part in path.parts):
            yield path


def _find_audio(folder: Path, stem: str) -> Path:
    """``folder/stem`` with whichever audio suffix exists (``.flac`` assumed when none does)."""
    for suffix in AUDIO_SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return folder / f"{stem}.flac"


def _build_dataset(
    groups: Iterable[tuple[str, Path, list[Record]]],
    name: str,
    domain: str,
    validate_audio: bool,
    problems: Iterable[Problem] = (),
) -> Dataset:
    """Validate records grouped by the file they came from, so problems name that file."""
    utterances, all_problems = [], list(problems)
    for source, base, records in groups:
        if not records:
            continue
        part = records_to_dataset(records, base, source, domain, name=name, validate_audio=validate_audio)
        utterances.extend(part.utterances)
        all_problems.extend(part.problems)
    return Dataset(utterances, name=name, problems=all_problems)


def _record(audio: Path, text: str, speaker: str | None = None, split: str | None = None,
            utterance_id: str | None = None) -> dict:
    # absolute: callers build the path from the corpus folder, which may be relative to the working folder
    record = {"audio": str(Path(audio).absolute()), "text": text}
    if speaker:
        record["speaker"] = speaker
    if split:
        record["split"] = split
    if utterance_id:
        record["id"] = utterance_id
    return record


# ---------------------------------------------------------------------------------------------
# Plain manifests (CSV/TSV/JSON Lines)


def is_manifest(path: Path) -> bool:
    if path.is_file():
        return path.suffix.lower() in MANIFEST_SUFFIXES
    return path.is_dir() and any((path / name).is_file() for name in MANIFEST_NAMES)


def read_manifest(path: Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """A CSV/TSV with ``audio,text`` columns (``speaker``, ``duration``, ``split`` optional) or JSON Lines."""
    if path.is_dir():
        path = next(path / name for name in MANIFEST_NAMES if (path / name).is_file())
    records = read_manifest_records(path)
    return records_to_dataset(records, path.parent, str(path), domain, name=path.parent.name or path.stem,
                              validate_audio=validate_audio)


# ---------------------------------------------------------------------------------------------
# Kaldi data directory: wav.scp, text, utt2spk


def _kaldi_dirs(path: Path) -> list[Path]:
    def is_data_dir(folder: Path) -> bool:
        return (folder / "wav.scp").is_file() and (folder / "text").is_file()

    if is_data_dir(path):
        return [path]
    return [child for child in sorted(path.iterdir()) if child.is_dir() and is_data_dir(child)]


def is_kaldi(path: Path) -> bool:
    return path.is_dir() and bool(_kaldi_dirs(path))


def _kaldi_table(path: Path) -> Iterator[tuple[int, str, str]]:
    for number, line in _numbered_lines(path):
        key, _, value = line.partition(" ")
        yield number, key, value.strip()


def _resolve_kaldi_path(value: str, data_dir: Path) -> Path:
    """Kaldi paths are relative to the recipe folder; try the data folder and its parents too."""
    path = Path(value)
    if path.is_absolute():
        return path
    for base in (data_dir, data_dir.parent, data_dir.parent.parent, Path.cwd()):
        if (base / path).is_file():
            return (base / path).resolve()
    return (data_dir / path).resolve()


def read_kaldi(path: Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """A Kaldi data folder (or a folder of them, e.g. ``data/train``, ``data/test``).

    Only plain paths in ``wav.scp`` are read: a piped command (``... |``) is never executed, it is
    reported as a problem, as are archive references (``foo.ark:12``). The folder's name gives the
    split when it is one (``train``, ``dev``, ``test``).
    """
    groups, problems = [], []
    for data_dir in _kaldi_dirs(path):
        wav_scp, text_file, utt2spk = data_dir / "wav.scp", data_dir / "text", data_dir / "utt2spk"
        split = split_name(data_dir.name)
        if (data_dir / "segments").is_file():
            problems.append(Problem(str(data_dir / "segments"), None,
                                    "segments are not supported: autoasr reads whole recordings listed in wav.scp"))
        audio: dict[str, Path] = {}
        for row, key, value in _kaldi_table(wav_scp):
            if key in audio:
                problems.append(Problem(str(wav_scp), row, f"utterance '{key}' listed twice"))
            elif not value:
                problems.append(Problem(str(wav_scp), row, f"no audio path for '{key}'"))
            elif value.endswith("|") or value.startswith("|"):
                problems.append(Problem(str(wav_scp), row,
                                        f"piped command for '{key}' not run (autoasr never executes wav.scp commands); "
                                        "convert the audio to files and list their paths"))
            elif re.search(r"\.ark:\d+$", value) or value == "-":
                problems.append(Problem(str(wav_scp), row, f"'{value}' is not a plain audio file path"))
            else:
                audio[key] = _resolve_kaldi_path(value, data_dir)
        speakers = {key: value for _, key, value in _kaldi_table(utt2spk)} if utt2spk.is_file() else {}
        records: list[Record] = []
        transcribed = set()
        for row, key, text in _kaldi_table(text_file):
            transcribed.add(key)
            if key not in audio:
                problems.append(Problem(str(text_file), row, f"utterance '{key}' has no usable entry in wav.scp"))
                continue
            records.append((row, _record(audio[key], text, speakers.get(key), split, key)))
        for row, key, _ in _kaldi_table(wav_scp):
            if key in audio and key not in transcribed:
                problems.append(Problem(str(wav_scp), row, f"utterance '{key}' has no transcript in {text_file.name}"))
        groups.append((str(text_file), data_dir, records))
    return _build_dataset(groups, path.name, domain, validate_audio, problems)


# ---------------------------------------------------------------------------------------------
# LibriSpeech: {subset}/{speaker}/{chapter}/{speaker}-{chapter}.trans.txt beside .flac files


def _librispeech_transcripts(path: Path, first_only: bool = False) -> list[Path]:
    found = []
    for depth in range(5):
        pattern = "/".join(["*"] * depth + ["*.trans.txt"])
        for transcript in path.glob(pattern):
            found.append(transcript)
            if first_only:
                return found
    return sorted(found)


def is_librispeech(path: Path) -> bool:
    return path.is_dir() and bool(_librispeech_transcripts(path, first_only=True))


def read_librispeech(path: Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """LibriSpeech (or Mini LibriSpeech): speakers from the utterance ids, splits from the subset names.

    Splits (``train-clean-5`` → ``train``, ``dev-clean-2`` → ``dev``) are given only when the folder
    holds several subsets: a single subset is the user's to split.
    """
    transcripts = _librispeech_transcripts(path)
    subsets = {transcript.parent.parent.parent for transcript in transcripts}
    groups = []
    for transcript in transcripts:
        subset = transcript.parent.parent.parent
        split = split_name(subset.name) if len(subsets) > 1 else None
        records: list[Record] = []
        for row, line in _numbered_lines(transcript):
            utterance_id, _, text = line.partition(" ")
            speaker = utterance_id.split("-")[0] if "-" in utterance_id else transcript.parent.parent.name
            records.append((row, _record(_find_audio(transcript.parent, utterance_id), text, speaker, split,
                                         utterance_id)))
        groups.append((str(transcript), transcript.parent, records))
    return _build_dataset(groups, path.name, domain, validate_audio)


# ---------------------------------------------------------------------------------------------
# Common Voice: {train,dev,test,validated}.tsv with path, sentence, client_id; audio in clips/


def _tsv_header(path: Path) -> list[str]:
    return [column.strip().lower() for column in _first_line(path).split("\t")]


def _is_common_voice_tsv(path: Path) -> bool:
    header = _tsv_header(path)
    return path.suffix.lower() == ".tsv" and "path" in header and "sentence" in header


def _common_voice_tables(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    tables = [path / f"{name}.tsv" for name in ("train", "dev", "test") if (path / f"{name}.tsv").is_file()]
    if not tables and (path / "validated.tsv").is_file():
        tables = [path / "validated.tsv"]
    if not tables:
        ignored = {"invalidated.tsv", "other.tsv", "reported.tsv"}
        tables = [table for table in sorted(path.glob("*.tsv")) if table.name not in ignored]
    return [table for table in tables if _is_common_voice_tsv(table)]


def is_common_voice(path: Path) -> bool:
    if path.is_file():
        return _is_common_voice_tsv(path)
    return path.is_dir() and (path / "clips").is_dir() and bool(_common_voice_tables(path))


def read_common_voice(path: Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """Mozilla Common Voice: ``train``/``dev``/``test`` tables give the split (else ``validated.tsv``)."""
    groups = []
    for table in _common_voice_tables(path):
        clips = table.parent / "clips" if (table.parent / "clips").is_dir() else table.parent
        split = split_name(table.stem)
        reader = csv.DictReader(io.StringIO(_read_text(table), newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
        records: list[Record] = []
        for row, record in enumerate(reader, start=1):
            record = {key.strip().lower(): value for key, value in record.items() if key}
            clip = (record.get("path") or "").strip()
            entry = _record(clips / clip, record.get("sentence") or "", record.get("client_id"), split)
            if not clip:
                entry["audio"] = ""  # reported as "no audio path" rather than as the clips folder
            records.append((row, entry))
        groups.append((str(table), clips, records))
    return _build_dataset(groups, path.name if path.is_dir() else path.parent.name, domain, validate_audio)


# ---------------------------------------------------------------------------------------------
# LJSpeech: metadata.csv of id|text|normalized text, audio in wavs/


def _is_ljspeech_metadata(path: Path) -> bool:
    fields = [field.strip().lower() for field in _first_line(path).split("|")]
    looks_like_header = fields[0] in AUDIO_COLUMN_ALIASES + ("id",) or "file_name" in fields
    return (path.suffix.lower() == ".csv" and len(fields) in (2, 3) and not looks_like_header
            and (path.parent / "wavs").is_dir())


def is_ljspeech(path: Path) -> bool:
    if path.is_file():
        return _is_ljspeech_metadata(path)
    return path.is_dir() and (path / "metadata.csv").is_file() and _is_ljspeech_metadata(path / "metadata.csv")


def read_ljspeech(path: Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """LJSpeech-style single-speaker corpus: ``id|raw text|normalized text`` (the normalized text is used)."""
    metadata = path if path.is_file() else path / "metadata.csv"
    wavs = metadata.parent / "wavs"
    records: list[Record] = []
    problems = []
    for row, line in _numbered_lines(metadata):
        fields = line.split("|")
        if len(fields) < 2:
            problems.append(Problem(str(metadata), row, "expected 'id|text' or 'id|text|normalized text'"))
            continue
        text = fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]
        records.append((row, _record(wavs / f"{fields[0].strip()}.wav", text, utterance_id=fields[0].strip())))
    return _build_dataset([(str(metadata), wavs, records)], metadata.parent.name, domain, validate_audio, problems)


# ---------------------------------------------------------------------------------------------
# Hugging Face audiofolder: metadata.csv / metadata.jsonl with file_name and transcription (or text)


def _has_file_name_column(metadata: Path) -> bool:
    line = _first_line(metadata)
    if metadata.suffix == ".jsonl":
        try:
            return "file_name" in json.loads(line)
        except (json.JSONDecodeError, TypeError):
            return False
    return "file_name" in [column.strip().lower() for column in re.split(r"[,\t]", line)]


def _audiofolder_metadata(path: Path) -> list[Path]:
    found = []
    for folder in [path] + [child for child in sorted(path.iterdir()) if child.is_dir()]:
        for name in ("metadata.csv", "metadata.jsonl"):
            if (folder / name).is_file() and _has_file_name_column(folder / name):
                found.append(folder / name)
    return found


def is_audiofolder(path: Path) -> bool:
    return path.is_dir() and bool(_audiofolder_metadata(path))


def read_audiofolder(path: Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """Hugging Face ``audiofolder``: ``file_name`` plus ``transcription``/``text``; ``train/``, ``test/``
    sub-folders (each with its own metadata) give the split."""
    groups = []
    for metadata in _audiofolder_metadata(path):
        split = split_name(metadata.parent.name) if metadata.parent != path else None
        records = []
        for row, record in read_manifest_records(metadata):
            record = dict(record)
            speaker = next((record[key] for key in ("speaker_id", "client_id", "speaker") if record.get(key)), None)
            record.pop("speaker_id", None)
            record.pop("client_id", None)
            if speaker is not None:
                record["speaker"] = str(speaker)
            if split and not record.get("split"):
                record["split"] = split
            records.append((row, record))
        groups.append((str(metadata), metadata.parent, records))
    return _build_dataset(groups, path.name, domain, validate_audio)


# ---------------------------------------------------------------------------------------------
# A folder of audio files with same-name .txt / .lab transcripts


def _transcript_beside(audio: Path) -> Path | None:
    for suffix in TRANSCRIPT_SUFFIXES:
        candidate = audio.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def is_transcribed_folder(path: Path, max_files: int = 5000) -> bool:
    if not path.is_dir():
        return False
    for checked, audio in enumerate(_audio_files(path, ordered=False)):
        if _transcript_beside(audio):
            return True
        if checked >= max_files:  # a big folder without transcripts so far: not this layout
            return False
    return False


def read_transcribed_folder(path: Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """Audio files each with a same-name ``.txt`` or ``.lab`` transcript.

    A first sub-folder named like a split (``train/``, ``test/``) gives the split; the folder that
    holds a file (below that) gives its speaker.
    """
    groups, problems = [], []
    for audio in _audio_files(path):
        transcript = _transcript_beside(audio)
        if transcript is None:
            problems.append(Problem(str(audio), None, "no transcript beside it (same name, .txt or .lab)"))
            continue
        folders = audio.relative_to(path).parts[:-1]
        split = split_name(folders[0]) if folders else None
        speaker_folders = folders[1:] if split else folders
        speaker = speaker_folders[-1] if speaker_folders else None
        text = " ".join(_read_text(transcript).split())
        groups.append((str(transcript), audio.parent, [(None, _record(audio, text, speaker, split))]))
    return _build_dataset(groups, path.name, domain, validate_audio, problems)


# ---------------------------------------------------------------------------------------------
# Labels in file names, by a pattern such as "{text}_{speaker}_{take}"


@dataclass(frozen=True)
class FilenamePattern:
    """Labels read from file names.

    ``template`` names fields in braces; ``{name}`` matches anything but ``_``, ``{name:regex}``
    gives the regex (no braces inside). ``text`` is required; ``speaker`` and ``split`` are used
    when present. ``transcript`` turns the ``text`` field into words; ``split_of`` picks a split
    from all fields. ``folder`` is a sub-folder holding the files when it exists.

    >>> pattern = FilenamePattern("{text}_{speaker}_{take:\\\\d+}")
    >>> pattern.fields("yes_anna_3")
    {'text': 'yes', 'speaker': 'anna', 'take': '3'}
    """

    template: str
    transcript: Callable[[str], str] | None = None
    split_of: Callable[[Mapping[str, str]], str | None] | None = None
    folder: str | None = None

    @property
    def regex(self) -> re.Pattern:
        pieces, position = [], 0
        for match in re.finditer(r"\{(\w+)(?::([^{}]+))?\}", self.template):
            pieces.append(re.escape(self.template[position:match.start()]))
            pieces.append(f"(?P<{match[1]}>{match[2] or '[^_]+'})")
            position = match.end()
        pieces.append(re.escape(self.template[position:]))
        return re.compile("^" + "".join(pieces) + "$")

    def fields(self, stem: str) -> dict[str, str] | None:
        match = self.regex.match(stem)
        return match.groupdict() if match else None

    def files_folder(self, path: Path) -> Path:
        return path / self.folder if self.folder and (path / self.folder).is_dir() else path


def read_filename_pattern(path: str | Path, pattern: FilenamePattern | str, domain: str = "general",
                          validate_audio: bool = True, name: str | None = None) -> Dataset:
    """Read audio files whose names carry their labels; files that do not match are reported.

    >>> dataset = read_filename_pattern("recordings/", "{text}_{speaker}_{take:\\\\d+}")   # doctest: +SKIP
    """
    path = Path(path)
    pattern = FilenamePattern(pattern) if isinstance(pattern, str) else pattern
    folder = pattern.files_folder(path)
    regex = pattern.regex
    groups = []
    problems = []
    for audio in _audio_files(folder, recursive=False):
        match = regex.match(audio.stem)
        if match is None:
            problems.append(Problem(str(audio), None, f"file name does not match the pattern '{pattern.template}'"))
            continue
        fields = {key: value for key, value in match.groupdict().items() if value is not None}
        text = fields.get("text", "")
        text = pattern.transcript(text) if pattern.transcript else text
        split = pattern.split_of(fields) if pattern.split_of else split_name(fields.get("split"))
        groups.append((str(audio), folder, [(None, _record(audio, text, fields.get("speaker"), split))]))
    return _build_dataset(groups, name or path.name, domain, validate_audio, problems)


def _matches_pattern(path: Path, pattern: FilenamePattern, every_file: bool) -> bool:
    if not path.is_dir():
        return False
    folder = pattern.files_folder(path)
    regex = pattern.regex
    matched = False
    for audio in _audio_files(folder, recursive=False, ordered=False):
        if regex.match(audio.stem):
            matched = True
            if not every_file:
                return True
        elif every_file:
            return False
    return matched


def _digit_word(digit: str) -> str:
    return DIGIT_WORDS[int(digit)]


def _fsdd_split(fields: Mapping[str, str]) -> str:
    return "test" if int(fields["take"]) < 5 else "train"


def _yes_no_words(labels: str) -> str:
    return " ".join("yes" if label == "1" else "no" for label in labels.split("_"))


FSDD_PATTERN = FilenamePattern(r"{text:\d}_{speaker:[A-Za-z]+}_{take:\d+}", transcript=_digit_word,
                               split_of=_fsdd_split, folder="recordings")
YESNO_PATTERN = FilenamePattern(r"{text:[01](?:_[01])+}", transcript=_yes_no_words)
NAMED_FILES_PATTERN = FilenamePattern(r"{text}_{speaker}_{take:\d+}")


def is_fsdd(path: Path) -> bool:
    return _matches_pattern(path, FSDD_PATTERN, every_file=False)


def read_fsdd(path: Path, domain: str = "digits", validate_audio: bool = True) -> Dataset:
    """Free Spoken Digit Dataset: ``{digit}_{speaker}_{take}.wav``; takes 0-4 are the official test set."""
    return read_filename_pattern(path, FSDD_PATTERN, domain, validate_audio, name="fsdd")


def is_yesno(path: Path) -> bool:
    return _matches_pattern(path, YESNO_PATTERN, every_file=True)


def read_yesno(path: Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """The Kaldi yes/no corpus (OpenSLR 1): ``0_1_1_0_....wav``, 1 = "yes", 0 = "no"; one speaker, no split."""
    return read_filename_pattern(path, YESNO_PATTERN, domain, validate_audio, name="yesno")


def is_named_files(path: Path) -> bool:
    return _matches_pattern(path, NAMED_FILES_PATTERN, every_file=True)


def read_named_files(path: Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """Every audio file named ``{text}_{speaker}_{take}`` (e.g. ``stop_anna_3.wav``)."""
    return read_filename_pattern(path, NAMED_FILES_PATTERN, domain, validate_audio)


# ---------------------------------------------------------------------------------------------
# One folder per label (word) with its audio inside: Speech Commands, Teachable Machine, Edge Impulse,
# Keras ``audio_dataset_from_directory``


SPEECH_COMMANDS_NAME = re.compile(r"^(?P<speaker>[0-9a-fA-F]+)_nohash_(?P<take>\d+)$")
SPEECH_COMMANDS_LISTS = {"validation_list.txt": "dev", "testing_list.txt": "test"}


def _label_folders(path: Path) -> list[Path]:
    """Sub-folders holding audio directly; folders named ``_like_this`` (``_background_noise_``) are not labels."""
    if not path.is_dir():
        return []
    folders = [child for child in sorted(path.iterdir())
               if child.is_dir() and not child.name.startswith((".", "_")) and child.name not in _IGNORED_FOLDERS]
    return [folder for folder in folders if next(_audio_files(folder, recursive=False, ordered=False), None)]


def _label_text(folder_name: str) -> str:
    # folder names cannot hold spaces comfortably: "turn_on" and "turn-on" mean the words "turn on"
    return " ".join(re.split(r"[_\-\s]+", folder_name)).strip()


def is_speech_commands(path: Path) -> bool:
    """Label folders whose files are named ``<speaker hash>_nohash_<take>`` (checked on each folder's first file)."""
    folders = _label_folders(path)
    return bool(folders) and all(
        SPEECH_COMMANDS_NAME.match(next(_audio_files(folder, recursive=False)).stem) for folder in folders)


def is_label_folders(path: Path) -> bool:
    """At least two label folders with audio and no audio at the top (a top-level file means another layout)."""
    return len(_label_folders(path)) >= 2 and next(_audio_files(path, recursive=False, ordered=False), None) is None


def _listed_splits(path: Path) -> dict[str, str]:
    """``word/file.wav`` -> split, from Speech Commands' validation_list.txt and testing_list.txt when present."""
    splits = {}
    for name, split in SPEECH_COMMANDS_LISTS.items():
        if (path / name).is_file():
            splits.update((line.replace("\\", "/"), split) for _, line in _numbered_lines(path / name))
    return splits


def _read_label_folders(path: Path, domain: str, validate_audio: bool, name: str) -> Dataset:
    """Every label folder's audio, labelled by the folder; speakers from ``<speaker>_nohash_`` names when
    the files have them; splits from the list files when there are any (unlisted files then train)."""
    listed = _listed_splits(path)
    groups = []
    for folder in _label_folders(path):
        text = _label_text(folder.name)
        records: list[Record] = []
        for audio in _audio_files(folder, recursive=False):
            match = SPEECH_COMMANDS_NAME.match(audio.stem)
            split = listed.get(f"{folder.name}/{audio.name}", "train") if listed else None
            records.append((None, _record(audio, text, match["speaker"] if match else None, split,
                                          f"{folder.name}/{audio.stem}")))
        groups.append((str(folder), folder, records))
    return _build_dataset(groups, name, domain, validate_audio)


def read_speech_commands(path: Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """Google Speech Commands: ``<word>/<speaker>_nohash_<take>.wav``; ``_background_noise_`` is skipped;
    ``validation_list.txt`` / ``testing_list.txt`` give the dev and test splits when present."""
    return _read_label_folders(path, domain, validate_audio, name=path.name or "speech_commands")


def read_label_folders(path: Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """One folder per label (``yes/``, ``no/``, ``turn_on/`` ...) holding its audio; the folder name is the
    transcript (``_`` and ``-`` read as spaces). No speakers unless the files are named like Speech Commands."""
    return _read_label_folders(path, domain, validate_audio, name=path.name)


# ---------------------------------------------------------------------------------------------
# An archive (zip or tar) holding any layout above


def is_corpus_archive(path: Path) -> bool:
    from autoasr.data.archives import is_archive

    return is_archive(path)


def _unwrap_single_folder(folder: Path) -> Path:
    """Step into an archive's single top folder (``corpus.zip`` → ``corpus/``) when the root has no layout."""
    while detect_layout(folder, archives=False) is None:
        children = [child for child in folder.iterdir()
                    if not child.name.startswith(".") and child.name not in _IGNORED_FOLDERS]
        if len(children) != 1 or not children[0].is_dir():
            break
        folder = children[0]
    return folder


def read_corpus_archive(path: Path, domain: str = "general", validate_audio: bool = True) -> Dataset:
    """A zip or tar of any other layout, extracted safely into the cache (once), then detected."""
    from autoasr.data.archives import extract_to_cache

    folder = _unwrap_single_folder(extract_to_cache(path))
    layout = detect_layout(folder, archives=False)
    if layout is None:
        raise DataError(f"{path}: archive extracted to {folder}, but no known layout inside. "
                        f"Known layouts: {_known_layouts()}")
    dataset = layout.read(folder, domain=domain, validate_audio=validate_audio)
    dataset.name = Path(path.name).stem.split(".")[0] or dataset.name
    return dataset


# ---------------------------------------------------------------------------------------------
# Detection and reading


LAYOUTS: list[Layout] = [
    Layout("archive", "a .zip or .tar(.gz) of any layout below, extracted safely", is_corpus_archive,
           read_corpus_archive),
    Layout("common_voice", "Common Voice: train/dev/test.tsv (path, sentence, client_id) and clips/",
           is_common_voice, read_common_voice),
    Layout("ljspeech", "LJSpeech: metadata.csv of id|text|normalized text and wavs/", is_ljspeech, read_ljspeech),
    Layout("manifest", "CSV/TSV with audio,text columns (a file, or manifest.csv in the folder), or JSON Lines "
           "with audio_filepath,text", is_manifest, read_manifest),
    Layout("kaldi", "Kaldi data folder: wav.scp (plain paths), text, utt2spk", is_kaldi, read_kaldi),
    Layout("librispeech", "LibriSpeech: speaker/chapter/*.trans.txt beside .flac files", is_librispeech,
           read_librispeech),
    Layout("audiofolder", "Hugging Face audiofolder: metadata.csv/.jsonl with file_name, transcription or text",
           is_audiofolder, read_audiofolder),
    Layout("transcribed_folder", "audio files with same-name .txt or .lab transcripts", is_transcribed_folder,
           read_transcribed_folder),
    Layout("fsdd", "Free Spoken Digit Dataset: recordings named {digit}_{speaker}_{take}.wav", is_fsdd, read_fsdd),
    Layout("yesno", "Kaldi yes/no corpus: files named by their labels, e.g. 0_1_1_0_1_0_0_1.wav", is_yesno,
           read_yesno),
    Layout("named_files", "audio files named {text}_{speaker}_{take}, e.g. stop_anna_3.wav", is_named_files,
           read_named_files),
    Layout("speech_commands", "Speech Commands: one folder per word of <speaker>_nohash_<take>.wav files "
           "(validation_list.txt/testing_list.txt give splits)", is_speech_commands, read_speech_commands),
    Layout("label_folders", "one folder per label (word) holding its audio, as Teachable Machine, Edge Impulse "
           "or Keras audio_dataset_from_directory use", is_label_folders, read_label_folders),
]


def _known_layouts() -> str:
    return "; ".join(f"{layout.name} ({layout.description})" for layout in LAYOUTS)


def detect_layout(path: Path, archives: bool = True) -> Layout | None:
    """The first layout of :data:`LAYOUTS` that recognises ``path``, or None."""
    path = Path(path)
    for layout in LAYOUTS:
        if layout.name == "archive" and not archives:
            continue
        try:
            if layout.detect(path):
                return layout
        except OSError:
            continue
    return None









