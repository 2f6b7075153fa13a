"""The service's job table: one SQLite row per submitted job, on disk before the submit is answered.

Why SQLite in HEYGEM_HOME and not the results dataset alone: the dataset records attempts that
ended, while the service must also remember jobs that are queued or running when the process
dies, the HeyGem task code each was submitted under, and its state after a cancel. Every change
is one committed transaction (WAL, synchronous=FULL), so a `kill -9` loses nothing that was
answered. States move one way (`queued` → `running` → `succeeded` | `failed` | `cancelled`); the
end is written with a guard on the state, so every job ends exactly once. After a crash, `recover`
puts the interrupted (`running`) jobs back in the queue; their outputs were never published,
because encode publishes by atomic rename.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heygem_ops.i18n import Message, stored

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)
ACTIVE = (QUEUED, RUNNING)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    code TEXT UNIQUE,
    state TEXT NOT NULL,
    template TEXT NOT NULL,
    audio TEXT NOT NULL,
    labels TEXT NOT NULL,
    choices TEXT NOT NULL,
    job_id TEXT NOT NULL,
    output TEXT NOT NULL,
    error_type TEXT,
    error_message TEXT,
    error_i18n TEXT,
    row TEXT,
    output_deleted INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, created_at);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (created_at);
"""


@dataclass(frozen=True)
class JobRecord:
    """One job as the table holds it."""

    id: str  # the service's id (32 hex)
    code: str | None  # the HeyGem task code it was submitted under, if any
    state: str  # one of STATES
    template: str  # stored input files (generated names)
    audio: str
    labels: dict[str, str]  # "template"/"audio" → what the client called them (URL, path, file name)
    choices: dict[str, Any]  # `heygem_flows.single_job.Choices` fields that were given
    job_id: str  # content identity: the results dataset's job_id
    output: str  # absolute path of the MP4 it writes
    error_type: str | None
    error_message: str | None  # English, as logged
    error_i18n: str | None  # the same message's id and parameters (`Message.to_json`), to answer in any language
    row: dict[str, Any] | None  # figures of the results row once succeeded (`heygem_flows.service.jobs.ROW_FIELDS`)
    output_deleted: bool
    attempts: int  # times a worker started it (more than one after a restart)
    created_at: float  # seconds since the epoch
    started_at: float | None
    finished_at: float | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def error_text(self) -> str:
        """The error's message in the current (the request's) language; as recorded when it has no id."""
        return stored(self.error_i18n, self.error_message or "")


class CodeInUseError(Exception):
    """A HeyGem task code that an earlier job already used."""


class JobTable:
    """Thread-safe access to the table at `path` (created on first use)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            columns = {column["name"] for column in self._db.execute("PRAGMA table_info(jobs)")}
            if "error_i18n" not in columns:  # a table made before messages were recorded by id
                self._db.execute("ALTER TABLE jobs ADD COLUMN error_i18n TEXT")

    def add(
        self,
        *,
        code: str | None,
        template: Path,
        audio: Path,
        labels: dict[str, str],
        choices: dict[str, Any],
        job_id: str,
        output: Path,
    ) -> JobRecord:
        """Insert a queued job; `CodeInUseError` when `code` was used before."""
        record_id = uuid.uuid4().hex
        values = (record_id, code, QUEUED, str(template), str(audio), json.dumps(labels), json.dumps(choices))
        try:
            with self._lock:
                self._db.execute(
                    "INSERT INTO jobs (id, code, state, template, audio, labels, choices, job_id, output, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, job_id, str(output), time.time()),
                )
        except sqlite3.IntegrityError:
            raise CodeInUseError(code) from None
        return self.get(record_id)  # type: ignore[return-value]

    def get(self, record_id: str) -> JobRecord | None:
        return self._one("SELECT * FROM jobs WHERE id = ?", (record_id,))

    def by_code(self, code: str) -> JobRecord | None:
        return self._one("SELECT * FROM jobs WHERE code = ?", (code,))

    def page(self, states: tuple[str, ...], offset: int, limit: int) -> tuple[list[JobRecord], int]:
        """Jobs in `states` (all when empty), newest first, and how many there are in all."""
        where, args = (f"WHERE state IN ({','.join('?' * len(states))})", states) if states else ("", ())
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM jobs {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM jobs {where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
        return [_record(row) for row in rows], int(total)

    def counts(self) -> dict[str, int]:
        """Jobs per state (every state present, zero when none)."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {state: 0 for state in STATES} | {row[0]: int(row[1]) for row in rows}

    def active(self) -> list[JobRecord]:
        """Queued and running jobs, oldest first: what `recover` puts back in the queue."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE state IN (?, ?) ORDER BY created_at, rowid", ACTIVE
            ).fetchall()
        return [_record(row) for row in rows]

    def recover(self) -> list[JobRecord]:
        """After a restart: running jobs were interrupted, so they are queued again; returns all queued jobs."""
        with self._lock:
            self._db.execute("UPDATE jobs SET state = ?, started_at = NULL WHERE state = ?", (QUEUED, RUNNING))
        return self.active()

    def start(self, record_id: str) -> bool:
        """Mark a queued job running; False when it is no longer queued (cancelled meanwhile)."""
        with self._lock:
            changed = self._db.execute(
                "UPDATE jobs SET state = ?, started_at = ?, attempts = attempts + 1 WHERE id = ? AND state = ?",
                (RUNNING, time.time(), record_id, QUEUED),
            ).rowcount
        return changed == 1

    def finish(
        self,
        record_id: str,
        state: str,
        *,
        row: dict[str, Any] | None = None,
        error: tuple[str, str | Message] | None = None,
    ) -> bool:
        """End an active job in `state`; False when it had already ended (the first end stands).

        `error` is (type, message); a `Message` is kept both as English text and by id and parameters.
        """
        error_type, message = error or (None, None)
        recorded = message.to_json() if isinstance(message, Message) else None
        text = str(message) if message is not None else None
        with self._lock:
            changed = self._db.execute(
                "UPDATE jobs SET state = ?, row = ?, error_type = ?, error_message = ?, error_i18n = ?, finished_at = ?"
                " WHERE id = ? AND state IN (?, ?)",
                (state, json.dumps(row) if row else None, error_type, text, recorded, time.time(), record_id, *ACTIVE),
            ).rowcount
        return changed == 1

    def mark_output_deleted(self, record_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE jobs SET output_deleted = 1 WHERE id = ?", (record_id,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _one(self, query: str, args: tuple[Any, ...]) -> JobRecord | None:
        with self._lock:
            row = self._db.execute(query, args).fetchone()
        return None if row is None else _record(row)


def _record(row: sqlite3.Row) -> JobRecord:
    values = dict(row)
    values["labels"] = json.loads(values["labels"])
    values["choices"] = json.loads(values["choices"])
    values["row"] = json.loads(values["row"]) if values["row"] else None
    values["output_deleted"] = bool(values["output_deleted"])
    return JobRecord(**values)
