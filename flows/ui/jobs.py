"""What the web UI runs: single jobs through the `generate` flow (`heygem_flows.single_job`), batches through `bulk`.

The same flows as the CLI, embedded in this process by default (Prefect's ephemeral API), or as a
Prefect deployment when HEYGEM_UI_GENERATE_DEPLOYMENT / HEYGEM_UI_BULK_DEPLOYMENT name one (the
worker must then see the same file system as the UI). Every attempt becomes a row of the results
dataset of the UI's output folder, which the History tab reads.

All inputs are stored uploads (`heygem_flows.uploads`), all outputs get generated names inside the
output folder: nothing the browser sends becomes a path that is written.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from heygem_flows import single_job
from heygem_flows.jobs_queue import Ticket, TicketView
from heygem_flows.single_job import Choices
from heygem_ops.constants import ID_CHARS
from heygem_ops.errors import HeyGemError, InputError
from heygem_ops.hashing import value_digest
from heygem_ops.i18n import N_, Message, stored
from heygem_ops.logs import get_logger
from heygem_ops.manifest import Job, JobSpec, JobSpecError, pair_records, read_jobs
from heygem_ops.progress import STAGE_NAMES, board
from heygem_ops.results import JobResult, utc_now
from heygem_ops.results_store import PART_PREFIX, ResultsStore, read_files
from heygem_ops.settings import Settings

log = get_logger("ui.jobs")

MANIFEST_COLUMNS = (
    "template", "audio", "job_id", "engine", "tracker", "device", "face", "still_fps", "video_fps", "max_size", "crf"
)  # fmt: skip
DROPPED_COLUMNS = ("output", "checkpoint", "checkpoint_dir")  # server paths: a browser manifest may not choose them
ZIP_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
CELL_NAMES = {"template": N_("template {name!r}"), "audio": N_("audio {name!r}")}  # a manifest cell, in messages
# A batch table line's status, by what the job's latest row says (the rest: "failed").
DONE, DONE_BEFORE, FAILED_JOB, NOT_RUN, QUEUED_JOB = (
    N_("done"),
    N_("done (made before)"),
    N_("failed"),
    N_("not run"),
    N_("queued"),
)
FINISHED = (DONE, DONE_BEFORE, FAILED_JOB, NOT_RUN)


@dataclass(frozen=True)
class Workspace:
    """The UI's folders: uploads in, outputs (with their results dataset) out, zips, Gradio's temp files."""

    uploads: Path
    outputs: Path
    downloads: Path
    temp: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> Workspace:
        """Under HEYGEM_UI_DIR (default HOME/ui); outputs under HEYGEM_OUTPUT_ROOT/ui when that is set."""
        root = settings.resolved_ui_dir.expanduser().resolve()
        outputs = Path(settings.output_root).expanduser().resolve() / "ui" if settings.output_root else root / "outputs"
        return cls(root / "uploads", outputs, root / "downloads", root / "tmp")

    def create(self) -> Workspace:
        for folder in (self.uploads, self.outputs, self.downloads, self.temp):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def store(self) -> ResultsStore:
        return ResultsStore(self.outputs)


# ---- batches ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchPlan:
    """A batch ready to run: the manifest the `bulk` flow reads, its jobs, and rows refused up front."""

    manifest: Path  # written by the UI, inside its downloads folder
    jobs: tuple[Job, ...]  # as `read_jobs` sees the manifest: the same ids and outputs the flow will use
    refused: tuple[JobResult, ...]  # browser-manifest rows naming files that were not uploaded
    labels: Mapping[str, str]  # stored upload path → the name the user knows it by
    reasons: Mapping[str, HeyGemError] = field(
        default_factory=dict
    )  # refused job id → why, shown in the user's language

    @property
    def outputs(self) -> list[Path]:
        return [job.output for job in self.jobs if isinstance(job, JobSpec)]


def plan_pairs(
    templates: Sequence[Path], audios: Sequence[Path], choices: Choices, workspace: Workspace, labels: Mapping[str, str]
) -> BatchPlan:
    """One audio with many templates, or one template with many audios."""
    records = pair_records(
        templates,
        audios,
        missing_hint=N_("upload or pick them first"),
        manifest_hint=N_("upload a job manifest for other pairings"),
    )
    return _write_plan(records, (), choices, workspace, labels)


def plan_manifest(
    manifest: Path, media: Mapping[str, Path], choices: Choices, workspace: Workspace, labels: Mapping[str, str]
) -> BatchPlan:
    """A browser manifest whose template/audio cells name files uploaded with it (by file name).

    Cells are matched on their last path part; a row naming a file that was not uploaded is refused
    (recorded as failed) and the rest run. `output`, `checkpoint` and `checkpoint_dir` columns are ignored.
    """
    frame = _read_manifest(manifest)
    records, refused, reasons = [], [], {}
    for number, record in enumerate(frame.to_dict("records"), start=1):
        cells = {key: _cell(record.get(key)) for key in MANIFEST_COLUMNS}
        missing = [
            Message(CELL_NAMES[column], name=cells[column])
            for column in ("template", "audio")
            if _base(cells[column]) not in media
        ]
        if missing:
            result, reason = _refused_row(number, cells, missing)
            refused.append(result)
            reasons[result.job_id] = reason
            continue
        cells["template"], cells["audio"] = str(media[_base(cells["template"])]), str(media[_base(cells["audio"])])
        records.append({key: value for key, value in cells.items() if value is not None})
    if not records and not refused:
        raise InputError("the job manifest has no rows", hint="add one row per job: template,audio")
    return _write_plan(records, tuple(refused), choices, workspace, labels, reasons)


def _read_manifest(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif path.suffix == ".jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as error:
        raise InputError(
            "the job manifest cannot be read ({error})", error=f"{type(error).__name__}: {error}"
        ) from None
    missing = [column for column in ("template", "audio") if column not in frame.columns]
    if missing:
        raise InputError(
            "the job manifest lacks the column(s) {missing}",
            missing=", ".join(missing),
            hint="its first line must name the columns, e.g. template,audio",
        )
    return frame


def _cell(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _base(cell: str | None) -> str:
    return re.split(r"[\\/]", cell or "")[-1]


def _refused_row(number: int, cells: Mapping[str, str | None], missing: list[Message]) -> tuple[JobResult, InputError]:
    job_id = cells.get("job_id") or value_digest({"ui_manifest_row": dict(cells)})[:ID_CHARS]
    result = JobResult(job_id, cells.get("template") or "", cells.get("audio") or "", "")
    error = InputError(
        "manifest row {row}: {missing} not among the uploaded files",
        hint="upload it with the manifest",
        row=number,
        missing=missing,
    )
    result.fail(error)
    result.started_at = result.finished_at or utc_now()
    return result, error


def _write_plan(
    records: list[dict[str, Any]],
    refused: tuple[JobResult, ...],
    choices: Choices,
    workspace: Workspace,
    labels: Mapping[str, str],
    reasons: Mapping[str, HeyGemError] | None = None,
) -> BatchPlan:
    """Fill the UI's choices into empty option cells, write the manifest, and read back its jobs."""
    choices.options()  # a bad choice fails the whole batch now, with the option named
    rows = [{**{key: str(value) for key, value in choices.given().items()}, **record} for record in records]
    workspace.downloads.mkdir(parents=True, exist_ok=True)
    manifest = workspace.downloads / f"batch-{value_digest([rows, utc_now()])[:16]}.csv"
    columns = list(dict.fromkeys(key for row in rows for key in ("template", "audio", *row)))
    pd.DataFrame(rows, columns=columns or ["template", "audio"]).to_csv(manifest, index=False)
    jobs = tuple(read_jobs(manifest, workspace.outputs)) if rows else ()
    return BatchPlan(manifest, jobs, refused, dict(labels), dict(reasons or {}))


def run_batch(
    ticket: Ticket, plan: BatchPlan, out_dir: Path, deployment: str | None = None, ray_address: str | None = None
) -> dict[str, Any]:
    """Run the batch through the `bulk` flow; each job's row lands in the results dataset as it ends."""
    store = ResultsStore(out_dir)
    parameters: dict[str, Any] = {"manifest": str(plan.manifest), "out_dir": str(out_dir)}
    if ray_address:
        parameters["ray_address"] = ray_address
    store.append(plan.refused)
    summary: dict[str, Any] = {"jobs": len(plan.refused), "failed": len(plan.refused)}
    if plan.jobs:
        with ExitStack() as stack:
            for output in plan.outputs:
                stack.enter_context(board.listening(str(output), ticket.listener(str(output))))
            result = single_job.call_flow("bulk", deployment, parameters)
        summary = {**result, "jobs": result["jobs"] + len(plan.refused), "failed": result["failed"] + len(plan.refused)}
    return summary


def rows_since(store: ResultsStore, since: datetime) -> pd.DataFrame:
    """Every attempt recorded from `since` on (files are named by their UTC write time)."""
    first = f"{PART_PREFIX}{since - timedelta(seconds=1):%Y%m%dT%H%M%S%fZ}"
    files = [str(path) for path in store.files() if path.name >= first]
    columns = ["job_id", "status", "output", "error_message", "error_i18n", "total_s", "started_at", "finished_at"]
    return read_files(files, columns) if files else pd.DataFrame(columns=columns)


def batch_table(plan: BatchPlan, view: TicketView, store: ResultsStore) -> list[list[Any]]:
    """One line per job: template, audio, status (queued, running with frames, done, failed), seconds, error.

    Status and error are `Message`s, for the tab to count by id and to show in the user's language.
    """
    since = datetime.fromtimestamp(view.submitted_at).astimezone()
    rows = rows_since(store, since).sort_values("finished_at")
    latest = {row.job_id: row for row in rows.itertuples(index=False)}
    lines = []
    for job in [*plan.jobs, *plan.refused]:
        row = latest.get(job.job_id)
        status, seconds, error = _job_status(job, row, view, plan.reasons)
        template, audio = str(job.template), str(job.audio)
        lines.append([_label(template, plan.labels), _label(audio, plan.labels), status, seconds, error])
    return lines


def _job_status(
    job: Job | JobResult, row: Any, view: TicketView, reasons: Mapping[str, HeyGemError]
) -> tuple[Message, str, Message | str]:
    if isinstance(job, JobResult):
        reason = reasons.get(job.job_id)
        return Message(FAILED_JOB), "", _error_cell(reason) if reason else job.error_message or ""
    if isinstance(job, JobSpecError):
        return Message(FAILED_JOB), "", _error_cell(job.error)
    if row is not None:
        seconds = "" if pd.isna(row.total_s) else f"{row.total_s:.1f}"
        status = {"skipped": DONE_BEFORE, "succeeded": DONE}.get(row.status, FAILED_JOB)
        recorded = row.error_message if isinstance(row.error_message, str) else ""
        return Message(status), seconds, stored(row.error_i18n if isinstance(row.error_i18n, str) else None, recorded)
    stages = view.progress.get(str(job.output))
    if stages:
        stage, (done, total) = list(stages.items())[-1]
        running = Message(
            "running: {stage} {done}/{total} frames",
            stage=Message(STAGE_NAMES.get(stage, stage)),
            done=done,
            total=total,
        )
        return running, "", ""
    if view.done:
        return Message(NOT_RUN), "", view.error or ""
    return Message(QUEUED_JOB), "", ""


def _error_cell(error: HeyGemError) -> Message:
    return Message("{kind}: {message}", kind=error.kind, message=error)


def _label(path: str, labels: Mapping[str, str]) -> str:
    return labels.get(path) or labels.get(Path(path).name) or Path(path).name


def zip_outputs(plan: BatchPlan, store: ResultsStore, since: datetime, destination: Path) -> tuple[Path, int]:
    """Zip the outputs this batch made (or found already made); returns the zip and how many it holds."""
    rows = rows_since(store, since)
    done = set(rows[rows["status"].isin(["succeeded", "skipped"])]["job_id"])
    destination.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_STORED) as archive:
        for job in plan.jobs:
            if isinstance(job, JobSpec) and job.job_id in done and job.output.is_file():
                archive.write(job.output, arcname=zip_entry_name(job, plan.labels))
                count += 1
    return destination, count


def zip_entry_name(job: JobSpec, labels: Mapping[str, str]) -> str:
    """'<template label>__<audio label>__<10 hex>.mp4', reduced to safe characters."""
    stems = [Path(_label(str(path), labels)).stem for path in (job.template, job.audio)]
    safe = [ZIP_NAME_CHARS.sub("_", stem).strip("._")[:40] or "file" for stem in stems]
    return f"{safe[0]}__{safe[1]}__{value_digest(job.job_id)[:10]}.mp4"
