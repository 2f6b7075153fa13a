"""Job manifests in: a table of jobs (CSV, Parquet or JSON Lines), or HeyGem's batch shortcuts.

A manifest row names a `template` and an `audio` (required), and optionally an `output`, a
`job_id` and any `GenerateOptions` field (engine, tracker, device, face, still_fps, video_fps, max_size, chunk_frames,
preset, crf, checkpoint, checkpoint_dir, bbox_shift, extra_margin, parsing_mode, loop, text: the words
spoken); empty cells take
the defaults. Other columns are ignored (with a warning), so a manifest may carry the caller's own bookkeeping.

Paths: template, audio, checkpoint and checkpoint_dir resolve against the manifest's folder; an output resolves
against the output folder and must stay inside it. With no output, the name is
``<template stem>__<audio stem>__<10 hex of the job id>.mp4``: readable, unique and stable.

A row that cannot become a job (missing file, bad option, output outside the folder) becomes a
`JobSpecError`, to be recorded as that job's failed attempt; only a manifest that cannot be read
at all, or lacks a required column, raises `InputError` for the whole batch.
"""

from __future__ import annotations

import dataclasses
import glob
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from heygem_ops.constants import ID_CHARS, frame_rate
from heygem_ops.errors import HeyGemError, InputError, OutputPathError
from heygem_ops.hashing import file_digest, value_digest
from heygem_ops.i18n import N_, Message
from heygem_ops.logs import get_logger
from heygem_ops.options import GenerateOptions
from heygem_ops.plan import job_identity, require_mp4_name
from heygem_ops.results import JobResult, utc_now
from heygem_ops.results_store import RESULTS_DIRNAME

log = get_logger(__name__)

REQUIRED_COLUMNS = ("template", "audio")
JOB_COLUMNS = (*REQUIRED_COLUMNS, "output", "job_id")
OPTION_COLUMNS = tuple(field.name for field in dataclasses.fields(GenerateOptions))
MANIFEST_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"})
TEMPLATE_SUFFIXES = VIDEO_SUFFIXES | {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".heic", ".heif", ".avif"}
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus", ".webm", ".amr", ".awb"})
SHORT_ID_CHARS = 10  # hex of the job-id hash in default output names: 40 bits, no clash in millions of jobs


@dataclass(frozen=True)
class JobSpec:
    """One job to run: resolved absolute paths, its options, and where it came from (1-based row)."""

    job_id: str  # given in the manifest, else job_identity(template hash, audio hash, options)
    template: Path
    audio: Path
    output: Path  # inside the output folder; its parent folder may not exist yet
    options: GenerateOptions
    row: int

    def skipped(self) -> JobResult:
        """The results row of a rerun that found this job already done."""
        now = utc_now()
        result = JobResult(self.job_id, str(self.template), str(self.audio), str(self.output), status="skipped")
        result.engine, result.tracker, result.started_at, result.finished_at = (
            self.options.engine, self.options.tracker, now, now,
        )  # fmt: skip
        return result


@dataclass(frozen=True)
class JobSpecError:
    """A manifest row that cannot become a job; `as_result()` is its recorded failed attempt.

    job_id is the row's own, else its content identity when the inputs could be hashed, else a
    hash of the row's cells: stable across reruns, and never the id of a different, valid job.
    """

    job_id: str
    template: str
    audio: str
    output: str
    row: int
    source: str  # the manifest's file name, or "pairs"
    error: HeyGemError

    def as_result(self) -> JobResult:
        """A failed results row naming the manifest row, for the batch to record and go on."""
        result = JobResult(self.job_id, self.template, self.audio, self.output)
        result.fail(self.error)
        where = Message("{source} row {row}: {error}", source=self.source, row=self.row, error=self.error)
        result.error_message, result.error_i18n = str(where), where.to_json()
        result.started_at = result.finished_at or utc_now()
        return result


Job = JobSpec | JobSpecError


@dataclass(frozen=True)
class _Context:
    """Where one batch of rows resolves its paths, and what it defaults to."""

    base: Path  # folder that relative template/audio/checkpoint paths start from
    out_dir: Path
    defaults: GenerateOptions
    source: str


def read_jobs(path: str | Path, out_dir: str | Path, defaults: GenerateOptions | None = None) -> list[Job]:
    """The jobs of the manifest at `path`, one per distinct job, in row order.

    Raises InputError (naming the file) when the manifest cannot be read, has an unknown suffix
    or lacks the template/audio columns; every per-row problem is a `JobSpecError` in the list.
    """
    path = Path(path).expanduser().resolve()
    frame = _read_table(path)
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise InputError(
            "job manifest lacks the column(s) {missing} (it has: {columns})",
            missing=", ".join(missing),
            columns=", ".join(map(str, frame.columns)),
            path=path,
            hint="add them: each row needs a template and an audio path",
        )
    unknown = sorted(set(map(str, frame.columns)) - set(JOB_COLUMNS) - set(OPTION_COLUMNS))
    if unknown:
        log.warning("%s: ignoring columns %s (job columns: %s)", path, unknown, JOB_COLUMNS + OPTION_COLUMNS)
    context = _Context(path.parent, _out_dir(out_dir), defaults or GenerateOptions.from_settings(), path.name)
    return build_jobs(frame.to_dict("records"), context)


def jobs_from_pairs(
    templates: Sequence[str | Path],
    audios: Sequence[str | Path],
    out_dir: str | Path,
    defaults: GenerateOptions | None = None,
) -> list[Job]:
    """HeyGem's batch mode: one audio with many templates, or one template with many audios.

    Each entry may be a file, a folder (its template or audio files, by suffix) or a glob. Relative
    paths start from the current folder. Raises InputError when an entry matches nothing or when
    both sides have several files (write a manifest for arbitrary pairings).
    """
    template_files = [file for item in templates for file in expand_media(item, TEMPLATE_SUFFIXES, "template")]
    audio_files = [file for item in audios for file in expand_media(item, AUDIO_SUFFIXES, "audio")]
    records = pair_records(
        template_files,
        audio_files,
        missing_hint=N_("e.g. --audio a.wav --templates dir/"),
        manifest_hint=N_("write a job manifest (CSV with template,audio columns) for other pairings"),
    )
    context = _Context(Path.cwd(), _out_dir(out_dir), defaults or GenerateOptions.from_settings(), "pairs")
    return build_jobs(records, context)


def pair_records(
    templates: Sequence[Path], audios: Sequence[Path], *, missing_hint: str, manifest_hint: str
) -> list[dict[str, str]]:
    """Manifest records pairing one audio with many templates, or one template with many audios.

    The hints say how the caller's user supplies files (CLI flags, browser uploads).
    """
    if not templates or not audios:
        raise InputError("give at least one template and one audio", hint=Message(missing_hint))
    if len(templates) > 1 and len(audios) > 1:
        raise InputError(
            "{templates} templates and {audios} audios: pair one audio with many templates, "
            "or one template with many audios",
            hint=Message(manifest_hint),
            templates=len(templates),
            audios=len(audios),
        )
    return [{"template": str(t), "audio": str(a)} for t in templates for a in audios]


def expand_media(item: str | Path, suffixes: frozenset[str], kind: str) -> list[Path]:
    """A file as itself; a folder as its files with `suffixes` (sorted); a glob as its matching files."""
    text = str(Path(item).expanduser())
    if Path(text).is_dir():
        found = sorted(p for p in Path(text).iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    elif glob.has_magic(text):
        found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
    else:
        return [Path(text)]  # a missing file fails its own job, with the row recorded
    if not found:
        raise InputError(
            "matches no {kind} files",
            path=item,
            hint="{kind} suffixes are {suffixes}",
            kind=Message(kind),  # "template" or "audio": catalogue ids
            suffixes=", ".join(sorted(suffixes)),
        )
    return found


def pending(jobs: Iterable[JobSpec], finished: Mapping[str, Path]) -> list[JobSpec]:
    """The jobs still to run, given `ResultsStore.succeeded()`: done means same id AND same output."""
    return [job for job in jobs if finished.get(job.job_id) != job.output]


def default_output_name(template: Path, audio: Path, job_id: str) -> str:
    """``<template stem>__<audio stem>__<hash>.mp4``, safe on every filesystem."""
    return f"{_safe_stem(template)}__{_safe_stem(audio)}__{value_digest(job_id)[:SHORT_ID_CHARS]}.mp4"


def build_jobs(records: Iterable[Mapping[str, Any]], context: _Context) -> list[Job]:
    """Rows (dicts of cells) to jobs: per-row errors kept, duplicates collapsed, output clashes refused."""
    jobs = [_job_from_row(number, record, context) for number, record in enumerate(records, start=1)]
    return _refuse_shared_outputs(_collapse_duplicates(jobs), context.source)


def _read_table(path: Path) -> pd.DataFrame:
    """The manifest as a DataFrame; CSV cells stay strings so '007' or '18' are parsed per option."""
    kind = MANIFEST_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(
            "is not a job manifest format",
            path=path,
            hint="use one of {formats}",
            formats=", ".join(sorted(MANIFEST_FORMATS)),
        )
    try:
        if kind == "csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_json(path, lines=True, dtype=False)
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError) as err:
        raise InputError(
            "cannot be read as a {kind} job manifest ({error})",
            kind=kind,
            error=f"{type(err).__name__}: {err}",
            path=path,
            hint="check the file exists and is complete",
        ) from err


def _job_from_row(number: int, record: Mapping[str, Any], context: _Context) -> Job:
    """One row to a JobSpec, or to a JobSpecError carrying the first problem found."""
    cells = {column: _cell(record.get(column)) for column in JOB_COLUMNS}
    job_id = cells["job_id"]
    try:
        template = _input_path(cells["template"], "template", context.base)
        audio = _input_path(cells["audio"], "audio", context.base)
        options = _row_options(record, context)
        job_id = job_id or job_identity(file_digest(template), file_digest(audio), options)
        output = _output_path(cells["output"], template, audio, job_id, context.out_dir)
    except HeyGemError as err:
        return _row_error(number, cells, job_id or _row_identity(record), context.source, err)
    except OSError as err:  # a path that vanished or turned unreadable between the checks and hashing
        error = InputError(
            "cannot be read ({reason})", path=err.filename, hint="check the file", reason=err.strerror or err
        )
        return _row_error(number, cells, job_id or _row_identity(record), context.source, error)
    return JobSpec(job_id, template, audio, output, options, number)


def _row_error(number: int, cells: Mapping[str, str | None], job_id: str, source: str, err: HeyGemError) -> Job:
    text = {column: cells.get(column) or "" for column in ("template", "audio", "output")}
    return JobSpecError(job_id, text["template"], text["audio"], text["output"], number, source, err)


def _cell(value: Any) -> str | None:
    """A manifest cell as stripped text; empty, None and NaN (pandas' missing) are None."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def _input_path(text: str | None, column: str, base: Path) -> Path:
    """An existing input file, relative paths taken from `base`."""
    if text is None:
        raise InputError("no {column} given", hint="fill the {column} column", column=column)
    path = (base / Path(text).expanduser()).resolve()
    if not path.is_file():
        raise InputError(
            "{column} file does not exist", path=path, hint="check the path (relative to the manifest)", column=column
        )
    return path


def _output_path(text: str | None, template: Path, audio: Path, job_id: str, out_dir: Path) -> Path:
    """The job's output: given (relative to `out_dir`) or the default name; never outside `out_dir`."""
    if text is None:
        return out_dir / default_output_name(template, audio, job_id)
    output = (out_dir / Path(text).expanduser()).resolve()
    if not output.is_relative_to(out_dir) or output.is_relative_to(out_dir / RESULTS_DIRNAME):
        raise OutputPathError(
            "is outside the output folder {folder}",
            folder=out_dir,
            path=output,
            hint="give a path inside it, or leave output empty for a default name",
        )
    require_mp4_name(output)
    return output


def _row_options(record: Mapping[str, Any], context: _Context) -> GenerateOptions:
    """The defaults overridden by the row's non-empty option cells (validated by GenerateOptions)."""
    overrides: dict[str, Any] = {}
    for name in OPTION_COLUMNS:
        text = _cell(record.get(name))
        if text is not None:
            overrides[name] = _option_value(name, text, context.base)
    return dataclasses.replace(context.defaults, **overrides) if overrides else context.defaults


def _option_value(name: str, text: str, base: Path) -> Any:
    """Parse one option cell to the type its GenerateOptions field has."""
    try:
        if name in ("crf", "chunk_frames", "bbox_shift", "extra_margin", "max_size"):
            number = float(text)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if name in ("still_fps", "video_fps"):
            return frame_rate(text)
    except (ValueError, ZeroDivisionError):
        kind = N_("a frame rate like 25 or 30000/1001") if name.endswith("fps") else N_("a whole number")
        raise InputError(
            "invalid options: {name}={text!r} is not {kind}", name=name, text=text, kind=Message(kind)
        ) from None
    if name in ("checkpoint", "checkpoint_dir"):
        return str((base / Path(text).expanduser()).resolve())
    return text


def _row_identity(record: Mapping[str, Any]) -> str:
    """An id for a row that has no job identity: a hash of its cells, stable across reruns."""
    cells = {str(key): _cell(value) for key, value in record.items()}
    return value_digest({"manifest_row": cells})[:ID_CHARS]


def _collapse_duplicates(jobs: list[Job]) -> list[Job]:
    """One entry per job_id, in first-seen order: a valid spec beats an error row of the same id."""
    chosen: dict[str, Job] = {}
    for job in jobs:
        kept = chosen.get(job.job_id)
        if kept is None or (isinstance(kept, JobSpecError) and isinstance(job, JobSpec)):
            chosen[job.job_id] = job
        elif isinstance(kept, JobSpec) and isinstance(job, JobSpec) and _differs(kept, job):
            log.warning("row %d repeats job %s of row %d with other paths; keeping row %d", job.row, job.job_id,
                        kept.row, kept.row)  # fmt: skip
    if len(chosen) < len(jobs):
        log.info("%d duplicate job rows collapsed", len(jobs) - len(chosen))
    return sorted(chosen.values(), key=lambda job: job.row)


def _differs(first: JobSpec, second: JobSpec) -> bool:
    return (first.template, first.audio, first.output, first.options) != (
        second.template, second.audio, second.output, second.options,
    )  # fmt: skip


def _refuse_shared_outputs(jobs: list[Job], source: str) -> list[Job]:
    """A second job writing the output of an earlier one fails instead of overwriting it."""
    owners: dict[Path, JobSpec] = {}
    checked: list[Job] = []
    for job in jobs:
        owner = owners.setdefault(job.output, job) if isinstance(job, JobSpec) else job
        if owner is job:
            checked.append(job)
            continue
        error = OutputPathError(
            "is also the output of job {job} (row {row})",
            job=owner.job_id,
            row=owner.row,
            path=job.output,
            hint="give each job its own output",
        )
        cells = {"template": str(job.template), "audio": str(job.audio), "output": str(job.output)}
        checked.append(_row_error(job.row, cells, job.job_id, source, error))
    return checked


def _out_dir(out_dir: str | Path) -> Path:
    return Path(out_dir).expanduser().resolve()


def _safe_stem(path: Path) -> str:
    """A file's stem reduced to [A-Za-z0-9._-], at most 60 characters."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem).strip("._")[:60] or "media"
