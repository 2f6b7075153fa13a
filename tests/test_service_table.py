"""The service's job table without a server: states move one way, a job ends once, a restart requeues."""

from __future__ import annotations

from pathlib import Path

import pytest

from heygem_flows.jobs_queue import TicketView
from heygem_flows.service.jobs import stage_and_progress
from heygem_flows.service.table import CANCELLED, QUEUED, RUNNING, SUCCEEDED, CodeInUseError, JobTable


def _add(table: JobTable, code: str | None = None, job_id: str = "j" * 20):
    return table.add(
        code=code, template=Path("/d/t.mp4"), audio=Path("/d/a.wav"), labels={"template": "t", "audio": "a"},
        choices={"loop": "plain"}, job_id=job_id, output=Path("/d/outputs/o.mp4"),
    )  # fmt: skip


def test_a_job_ends_exactly_once_and_a_code_is_used_once(tmp_path: Path) -> None:
    table = JobTable(tmp_path / "jobs.sqlite")
    record = _add(table, code="abc")
    assert (record.state, record.choices, record.attempts) == (QUEUED, {"loop": "plain"}, 0)
    with pytest.raises(CodeInUseError):
        _add(table, code="abc")
    assert table.start(record.id) and not table.start(record.id)  # only a queued job starts
    assert table.finish(record.id, CANCELLED, error=("Cancelled", "by the user"))
    assert not table.finish(record.id, SUCCEEDED, row={"frames": 3})  # the first end stands
    ended = table.get(record.id)
    assert (ended.state, ended.error_type, ended.row, ended.attempts) == (CANCELLED, "Cancelled", None, 1)
    assert table.by_code("abc") == ended and table.by_code("nope") is None


def test_a_restart_requeues_running_jobs_and_keeps_finished_ones(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    table = JobTable(path)
    done, running, waiting = (_add(table, code=f"c{i}") for i in range(3))
    for record in (done, running):
        table.start(record.id)
    table.finish(done.id, SUCCEEDED, row={"frames": 25})
    table.close()  # as after kill -9: the next process opens the same file
    again = JobTable(path)
    assert [record.id for record in again.recover()] == [running.id, waiting.id]  # oldest first
    assert again.get(running.id).state == QUEUED and again.get(running.id).started_at is None
    assert again.get(done.id).row == {"frames": 25} and again.get(done.id).state == SUCCEEDED
    page, total = again.page((QUEUED,), 0, 1)
    assert total == 2 and [record.id for record in page] == [waiting.id]  # newest first
    assert again.counts() == {QUEUED: 2, RUNNING: 0, SUCCEEDED: 1, "failed": 0, CANCELLED: 0}


def _view(progress: dict) -> TicketView:
    return TicketView("t", "label", "running", 0, {"/o.mp4": progress}, None, None, 0.0, 0.0, None)


@pytest.mark.parametrize(
    ("progress", "expected"),
    [
        ({}, ("decode", 2)),
        ({"track": (10, 20)}, ("track", 20)),
        ({"track": (20, 20), "render": (25, 50)}, ("render", 65)),
        ({"render": (0, 50)}, ("render", 35)),  # a cached track reports no tracking
        ({"render": (50, 50)}, ("encode", 95)),
    ],
)
def test_progress_comes_from_the_progress_board(tmp_path: Path, progress: dict, expected: tuple) -> None:
    table = JobTable(tmp_path / "jobs.sqlite")
    record = _add(table)
    table.start(record.id)
    assert stage_and_progress(table.get(record.id), _view(progress)) == expected
