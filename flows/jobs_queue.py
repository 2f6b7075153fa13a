"""The job queue of the web UI and the HTTP service: submissions return at once, worker threads run them in order.

Gradio event handlers (and HTTP handlers) only submit work and then poll their ticket, so no page
or request waits on a job, and any number of clients can submit at once: each gets its own ticket
(or, for the very same job, the ticket already running it) and sees its own result. `workers`
(HEYGEM_UI_WORKERS, HEYGEM_API_WORKERS; default 1) jobs or batches run at a time; one engine on
one device is busiest with one job.

    ticket = queue.submit("people.png + hello.wav", work, key="/out/abc.mp4")
    queue.get(ticket.id).view()   # state, queue position, per-stage progress, result or error
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from heygem_ops.errors import HeyGemError, as_heygem_error
from heygem_ops.i18n import translate
from heygem_ops.logs import get_logger

log = get_logger("jobs_queue")

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
ACTIVE = (QUEUED, RUNNING)
KEEP_TICKETS = 1000  # finished tickets remembered for late pollers; the oldest are forgotten

Work = Callable[["Ticket"], Any]


@dataclass(frozen=True)
class TicketView:
    """A consistent snapshot of a ticket, for rendering."""

    id: str
    label: str
    state: str
    position: int  # jobs ahead of this one while queued, else 0
    progress: dict[str, dict[str, tuple[int, int]]]  # job key → stage → (done, total)
    result: Any
    error: str | None  # `Type: what happened; what to do`, in the language of the code that asked for the view
    submitted_at: float
    started_at: float | None
    finished_at: float | None

    @property
    def done(self) -> bool:
        return self.state not in ACTIVE

    @property
    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.time()) - self.started_at


@dataclass
class Ticket:
    """One submission: its work, its progress as the work reports it, and how it ended."""

    label: str
    work: Work
    key: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = QUEUED
    order: int = 0
    progress: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    result: Any = None
    error: BaseException | None = None
    submitted_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def report(self, job: str, stage: str, done: int, total: int) -> None:
        """Record that `done` of `total` units of `stage` are finished for `job` (a `board` listener)."""
        with self._lock:
            self.progress.setdefault(job, {})[stage] = (done, total)

    def listener(self, job: str) -> Callable[[str, int, int], None]:
        """A `heygem_ops.progress.board` listener that files progress under `job`."""
        return lambda stage, done, total: self.report(job, stage, done, total)

    def view(self, position: int = 0) -> TicketView:
        with self._lock:
            progress = {job: dict(stages) for job, stages in self.progress.items()}
        return TicketView(
            self.id,
            self.label,
            self.state,
            position,
            progress,
            self.result,
            error_text(self.error) if self.error is not None else None,
            self.submitted_at,
            self.started_at,
            self.finished_at,
        )


class JobQueue:
    """FIFO of tickets run by `workers` threads; tickets are found again by id."""

    def __init__(self, workers: int = 1) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="heygem-job")
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()
        self._active_keys: dict[str, Ticket] = {}
        self._lock = threading.Lock()
        self._order = itertools.count()

    def submit(self, label: str, work: Work, key: str | None = None) -> Ticket:
        """Queue `work(ticket)`; a job with the same `key` already queued or running is joined instead."""
        with self._lock:
            if key is not None and key in self._active_keys:
                return self._active_keys[key]
            ticket = Ticket(label, work, key, order=next(self._order))
            self._tickets[ticket.id] = ticket
            if key is not None:
                self._active_keys[key] = ticket
            self._forget_old()
        self._pool.submit(self._run, ticket)
        log.info("queued %s (%s)", ticket.label, ticket.id[:8])
        return ticket

    def get(self, ticket_id: str | None) -> Ticket | None:
        with self._lock:
            return self._tickets.get(ticket_id or "")

    def view(self, ticket_id: str | None) -> TicketView | None:
        """The ticket's snapshot with its queue position, or None for an unknown id."""
        ticket = self.get(ticket_id)
        return None if ticket is None else ticket.view(self.position(ticket))

    def position(self, ticket: Ticket) -> int:
        """How many queued tickets were submitted before this queued one."""
        if ticket.state != QUEUED:
            return 0
        with self._lock:
            return sum(1 for other in self._tickets.values() if other.state == QUEUED and other.order < ticket.order)

    def active(self) -> int:
        """Tickets queued or running."""
        with self._lock:
            return sum(1 for ticket in self._tickets.values() if ticket.state in ACTIVE)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def _run(self, ticket: Ticket) -> None:
        ticket.state, ticket.started_at = RUNNING, time.time()
        try:
            ticket.result = ticket.work(ticket)
            ticket.state = SUCCEEDED
        except HeyGemError as error:
            ticket.error, ticket.state = error, FAILED
            log.info("%s failed: %s: %s", ticket.label, error.kind, error)
        except Exception as error:  # a bug must not kill the worker thread or hide from the user
            log.error("%s failed unexpectedly:\n%s", ticket.label, traceback.format_exc())
            ticket.error, ticket.state = error, FAILED
        finally:
            ticket.finished_at = time.time()
            with self._lock:
                if ticket.key is not None and self._active_keys.get(ticket.key) is ticket:
                    del self._active_keys[ticket.key]

    def _forget_old(self) -> None:
        """Drop the oldest finished tickets beyond `KEEP_TICKETS` (caller holds the lock)."""
        excess = len(self._tickets) - KEEP_TICKETS
        for ticket_id in [tid for tid, t in self._tickets.items() if t.state not in ACTIVE][: max(0, excess)]:
            del self._tickets[ticket_id]


def error_text(error: BaseException) -> str:
    """The one-line `Type: what happened; what to do` a user sees, in the current language."""
    known = as_heygem_error(error)
    text = translate("{kind}: {message}", kind=known.kind, message=known)
    if known is error:
        return text
    return translate("{error}; this is a bug: see the System tab's log", error=text)
