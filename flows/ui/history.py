"""Past results for the History tab: the latest attempt of each job, newest first, a page at a time.

Deleting a result removes its output file and appends a row with status ``deleted`` to the results
dataset (which never rewrites old rows): the dataset keeps the record of what was made and when it
was removed, the History tab stops listing the job, and a later batch regenerates it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from heygem_ops.errors import InputError
from heygem_ops.i18n import N_, Message
from heygem_ops.logs import get_logger
from heygem_ops.results import JobResult, utc_now
from heygem_ops.results_store import ResultsStore

log = get_logger("ui.history")

DELETED = "deleted"
COLUMNS = [
    "job_id",
    "status",
    "template",
    "audio",
    "output",
    "engine",
    "device",
    "frames",
    "duration_s",
    "total_s",
    "error_message",
    "error_i18n",
    "started_at",
    "finished_at",
]
HEADERS = [N_("finished"), N_("status"), N_("template"), N_("audio"), N_("engine"), N_("video s"), N_("job")]
STATUS_NAMES = {
    "succeeded": N_("succeeded"),
    "skipped": N_("skipped (made before)"),
    "failed": N_("failed"),
    DELETED: N_("deleted"),
}  # a results row's status, as the History tab shows it


@dataclass(frozen=True)
class HistoryPage:
    """One page of results, newest first."""

    rows: pd.DataFrame  # the page's latest-attempt rows, `COLUMNS`
    page: int  # 1-based, within 1..pages
    pages: int  # at least 1
    total: int  # results across all pages

    @property
    def job_ids(self) -> list[str]:
        return list(self.rows["job_id"])

    def table(self, labels: Mapping[str, str]) -> list[list[Any]]:
        """Display lines (`HEADERS`), the status a `Message`; inputs shown by the name the user uploaded them as."""
        return [
            [
                _when(row.finished_at if not pd.isna(row.finished_at) else row.started_at),
                status_text(row.status),
                _label(row.template, labels),
                _label(row.audio, labels),
                row.engine if isinstance(row.engine, str) else "",
                "" if pd.isna(row.duration_s) else f"{row.duration_s:.1f}",
                row.job_id,
            ]
            for row in self.rows.itertuples(index=False)
        ]

    def row(self, job_id: str) -> dict[str, Any] | None:
        found = self.rows[self.rows["job_id"] == job_id]
        return None if found.empty else found.iloc[0].to_dict()


def history_page(store: ResultsStore, page: int, page_size: int) -> HistoryPage:
    """Page `page` (clamped to the pages there are) of the latest attempts that were not deleted."""
    latest = store.latest(COLUMNS)
    latest = latest[latest["status"] != DELETED]
    when = latest["finished_at"].fillna(latest["started_at"])
    latest = latest.assign(_when=when).sort_values("_when", ascending=False, kind="stable").drop(columns="_when")
    total = len(latest)
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, int(page)), pages)
    start = (page - 1) * page_size
    return HistoryPage(latest.iloc[start : start + page_size].reset_index(drop=True), page, pages, total)


def delete_result(store: ResultsStore, job_id: str, by: str = "web UI") -> JobResult:
    """Remove job `job_id`'s output (only ever a file inside the store's folder) and record the deletion."""
    latest = store.latest(COLUMNS)
    found = latest[latest["job_id"] == job_id]
    if found.empty or found.iloc[0]["status"] == DELETED:
        raise InputError("no result {job!r} to delete", hint="refresh the History tab", job=job_id)
    row = found.iloc[0]
    output = _output_path(store, row["output"])
    if output is not None:
        output.unlink(missing_ok=True)
    record = JobResult(job_id, row["template"], row["audio"], row["output"] or "", status=DELETED)
    record.engine = row["engine"] if isinstance(row["engine"], str) else None
    record.error_message = f"output deleted from the {by}"
    record.started_at = record.finished_at = utc_now()
    store.append([record])
    log.info("deleted result %s (%s)", job_id, output)
    return record


def _output_path(store: ResultsStore, text: Any) -> Path | None:
    """The output as a path inside the store's folder, or None (nothing outside it is ever deleted)."""
    if not isinstance(text, str) or not text:
        return None
    path = (store.out_dir / text).resolve()
    if not path.is_relative_to(store.out_dir) or path.suffix.lower() != ".mp4":
        log.warning("not deleting %s: outside %s or not an MP4", path, store.out_dir)
        return None
    return path


def _when(value: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    return pd.Timestamp(value).tz_convert(None).strftime("%Y-%m-%d %H:%M:%S UTC")


def _label(path: Any, labels: Mapping[str, str]) -> str:
    if not isinstance(path, str) or not path:
        return ""
    return labels.get(Path(path).name, Path(path).name)


def status_text(status: str) -> Message:
    """A results row's status in words (an unknown one as it is)."""
    return Message(STATUS_NAMES.get(status, status))
