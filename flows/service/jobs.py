"""The service's jobs: submitted into the durable table, run by the shared job queue, viewed with live progress.

Every job runs as `heygem_flows.single_job.run_single` on a `heygem_flows.jobs_queue.JobQueue` of
HEYGEM_API_WORKERS threads: the `generate` flow (embedded, or HEYGEM_API_GENERATE_DEPLOYMENT),
engines and results dataset of the CLI and the web UI. The table (`heygem_flows.service.table`) is the
service's memory; the queue only holds what runs in this process now.

Jobs with the same content identity (same input contents and options) share one output file, so
they take turns (`_IdentityLocks`) rather than write it at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from heygem_flows.jobs_queue import JobQueue, Ticket, TicketView
from heygem_flows.service.metrics import Metrics
from heygem_flows.service.table import CANCELLED, FAILED, QUEUED, SUCCEEDED, JobRecord, JobTable
from heygem_flows.single_job import Choices, plan_single, run_single
from heygem_flows.ui.history import delete_result
from heygem_flows.uploads import Upload
from heygem_ops.errors import InputError, as_heygem_error
from heygem_ops.i18n import N_, Message
from heygem_ops.logs import get_logger
from heygem_ops.results import WALL_COLUMNS
from heygem_ops.results_store import ResultsStore
from heygem_ops.settings import Settings

log = get_logger("service.jobs")

# Figures of a succeeded job's results row that the API shows (the rest stays in the results dataset).
ROW_FIELDS = (
    "job_id", "engine", "tracker", "device", "frames", "fps", "width", "height", "duration_s", "face_frames",
    "track_cached", "output_hash", "sync_score", "q_best_lag", "q_confidence", "q_template_leak", "q_psnr_outside",
    "q_sharpness_ratio", "q_face_fraction", "q_flags", *WALL_COLUMNS.values(),
)  # fmt: skip


@dataclass(frozen=True)
class JobView:
    """A job's record with what the queue knows of it now: stage and progress percent."""

    record: JobRecord
    stage: str  # queued, decode, track, render, encode, done, failed, cancelled
    progress: int  # 0..100
    position: int  # jobs ahead while queued

    @property
    def id(self) -> str:
        return self.record.id


class JobService:
    """Submit, look up, list, cancel and delete jobs; `start` resumes what a previous process left."""

    def __init__(self, settings: Settings, table: JobTable, uploads: Path, outputs: Path, metrics: Metrics) -> None:
        self.settings = settings
        self.table = table
        self.uploads = uploads  # the folder of `heygem_flows.uploads.UploadStore`: inputs under generated names
        self.outputs = outputs
        self.store = ResultsStore(outputs)
        self.metrics = metrics
        self.queue = JobQueue(settings.api_workers)
        self._tickets: dict[str, Ticket] = {}
        self._tickets_lock = threading.Lock()
        self._identities = _IdentityLocks()
        self._cancelled: set[str] = set()

    def start(self) -> int:
        """Queue again every job a previous process left queued or running; returns how many."""
        resumed = self.table.recover()
        for record in resumed:
            self._enqueue(record)
        if resumed:
            log.info("resumed %d queued or interrupted job(s)", len(resumed))
        return len(resumed)

    def shutdown(self) -> None:
        self.queue.shutdown(wait=False)

    def submit(
        self, template: Upload, audio: Upload, choices: Choices, labels: dict[str, str], code: str | None
    ) -> JobView:
        """Record a queued job for two stored uploads and hand it to the queue (CodeInUseError for a used code)."""
        template_path, audio_path = self._stored(template), self._stored(audio)
        job_id, output = plan_single(template_path, audio_path, choices, self.outputs)
        record = self.table.add(
            code=code, template=template_path, audio=audio_path, labels=labels, choices=choices.given(),
            job_id=job_id, output=output,
        )  # fmt: skip
        self._enqueue(record)
        log.info("job %s (code %s) queued: %s + %s", record.id, code, labels["template"], labels["audio"])
        return self.view(record)

    def get(self, record_id: str) -> JobView | None:
        record = self.table.get(record_id)
        return None if record is None else self.view(record)

    def by_code(self, code: str) -> JobView | None:
        record = self.table.by_code(code)
        return None if record is None else self.view(record)

    def page(self, states: tuple[str, ...], page: int, size: int) -> tuple[list[JobView], int]:
        records, total = self.table.page(states, (page - 1) * size, size)
        return [self.view(record) for record in records], total

    def cancel_or_delete(self, record_id: str) -> JobView:
        """Cancel a queued or running job, or delete a finished job's output (recorded in the results dataset)."""
        record = self.table.get(record_id)
        if record is None:
            raise LookupError(record_id)
        if record.active:  # marked first: a job that starts meanwhile still has its output discarded at its end
            self._cancelled.add(record_id)
            when = (
                N_("cancelled before it ran (DELETE /v1/jobs/<id>)")
                if record.state == QUEUED
                else N_("cancelled while it ran; its output is discarded (DELETE /v1/jobs/<id>)")
            )
            if self.table.finish(record_id, CANCELLED, error=("Cancelled", Message(when))):
                self.metrics.finished(CANCELLED, None)
                log.info("job %s: %s", record_id, when)
        elif record.state == SUCCEEDED and not record.output_deleted:
            self._delete_output(record)
        else:
            state = (
                N_("job {job} is {state} and its output is deleted: nothing to cancel or delete")
                if record.output_deleted
                else N_("job {job} is {state}: nothing to cancel or delete")
            )
            raise InputError(
                Message(state, job=record_id, state=record.state), hint="submit it again to make a new output"
            )
        return self.get(record_id)  # type: ignore[return-value]

    def view(self, record: JobRecord) -> JobView:
        with self._tickets_lock:
            ticket = self._tickets.get(record.id)
        live = ticket.view(self.queue.position(ticket)) if ticket is not None else None
        return JobView(record, *stage_and_progress(record, live), live.position if live else 0)

    def _stored(self, upload: Upload) -> Path:
        return self.uploads / upload.name

    def _enqueue(self, record: JobRecord) -> None:
        ticket = self.queue.submit(record.code or record.id, partial(self._work, record))
        with self._tickets_lock:
            self._tickets[record.id] = ticket

    def _work(self, record: JobRecord, ticket: Ticket) -> dict[str, Any] | None:
        """What a queue worker runs for `record`: the job, with its start and its one end in the table."""
        try:
            with self._identities.hold(record.job_id):
                if not self.table.start(record.id):
                    return None  # cancelled while queued
                return self._run(record, ticket)
        finally:
            with self._tickets_lock:  # an ended job is viewed from the table alone
                self._tickets.pop(record.id, None)
            self._cancelled.discard(record.id)

    def _run(self, record: JobRecord, ticket: Ticket) -> dict[str, Any]:
        try:
            row = run_single(
                ticket, Path(record.template), Path(record.audio), Choices(**record.choices), self.outputs,
                self.settings.api_generate_deployment, self.settings.ray_address,
            )  # fmt: skip
        except Exception as error:
            known = as_heygem_error(error)
            if self.table.finish(record.id, FAILED, error=(known.kind, known.as_message())):
                self.metrics.finished(FAILED, None)
            raise
        if self.table.finish(record.id, SUCCEEDED, row={name: row.get(name) for name in ROW_FIELDS}):
            self.metrics.finished(SUCCEEDED, row)
        elif record.id in self._cancelled:
            self._delete_output(self.table.get(record.id), by="HTTP service (job cancelled)")
        return row

    def _delete_output(self, record: JobRecord | None, by: str = "HTTP service") -> None:
        if record is None:
            return
        try:
            delete_result(self.store, record.job_id, by=by)
        except InputError:
            Path(record.output).unlink(missing_ok=True)  # no results row to record against: just the file
        self.table.mark_output_deleted(record.id)
        log.info("job %s: output %s deleted", record.id, record.output)


def stage_and_progress(record: JobRecord, live: TicketView | None) -> tuple[str, int]:
    """The job's stage and a 0..100 figure from its progress board: decoding 5, tracking 30, rendering 60."""
    if record.state == SUCCEEDED:
        return "done", 100
    if record.state in (FAILED, CANCELLED):
        return record.state, 0
    if record.state == QUEUED or live is None:
        return QUEUED, 0
    stages = {stage: counts for job in live.progress.values() for stage, counts in job.items()}
    if "render" in stages:  # a cached face track reports no tracking: it counts as done
        done, total = stages["render"]
        return ("encode", 95) if done >= total else ("render", round(35 + 60 * done / max(total, 1)))
    if "track" in stages:
        done, total = stages["track"]
        return "track", round(5 + 30 * done / max(total, 1))
    return "decode", 2


class _IdentityLocks:
    """One lock per content identity while some job holds it: identical jobs share an output file."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, identity: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(identity, (threading.Lock(), 0))
            self._locks[identity] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[identity]
                if users == 1:
                    del self._locks[identity]
                else:
                    self._locks[identity] = (lock, users - 1)
