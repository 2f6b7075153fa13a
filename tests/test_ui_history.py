"""The History tab's data: paging newest first, and deletion that removes the output and is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from heygem_flows.ui.history import DELETED, delete_result, history_page
from heygem_ops.errors import InputError
from heygem_ops.results import JobResult
from heygem_ops.results_store import ResultsStore

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _row(store: ResultsStore, number: int, status: str = "succeeded", output: Path | None = None) -> JobResult:
    output = output or store.out_dir / f"job-{number:02d}.mp4"
    if status == "succeeded":
        output.write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(number))
    row = JobResult(f"job-{number:02d}", f"/up/t{number}.png", "/up/a.wav", str(output), status=status)
    row.started_at = T0 + timedelta(minutes=number)
    row.finished_at = row.started_at + timedelta(seconds=5)
    row.engine, row.frames, row.fps, row.duration_s = "warp", 84, 25.0, 3.4
    return row


@pytest.fixture
def store(tmp_path: Path) -> ResultsStore:
    out = tmp_path / "outputs"
    out.mkdir()
    return ResultsStore(out)


def test_pages_are_newest_first_and_clamped(store: ResultsStore) -> None:
    store.append([_row(store, n) for n in range(25)])  # one file, as a batch flush would write
    first = history_page(store, 1, 10)
    assert (first.page, first.pages, first.total) == (1, 3, 25)
    assert first.job_ids == [f"job-{n:02d}" for n in range(24, 14, -1)]
    last = history_page(store, 3, 10)
    assert last.job_ids == [f"job-{n:02d}" for n in range(4, -1, -1)]
    assert history_page(store, 99, 10).page == 3
    assert history_page(store, 0, 10).page == 1


def test_an_empty_store_has_one_empty_page(store: ResultsStore) -> None:
    page = history_page(store, 1, 10)
    assert (page.page, page.pages, page.total, page.job_ids) == (1, 1, 0, [])


def test_a_job_shows_once_with_its_latest_attempt(store: ResultsStore) -> None:
    failed = _row(store, 1, status="failed")
    failed.error_type, failed.error_message = "NoFaceError", "t1.png: no face"
    store.append([failed])
    retried = _row(store, 1)
    retried.started_at, retried.finished_at = T0 + timedelta(hours=1), T0 + timedelta(hours=1, seconds=5)
    store.append([retried])
    page = history_page(store, 1, 10)
    assert page.total == 1 and page.row("job-01")["status"] == "succeeded"


def test_table_shows_upload_labels_not_stored_names(store: ResultsStore) -> None:
    store.append([_row(store, 3)])
    line = history_page(store, 1, 10).table({"t3.png": "my face.png", "a.wav": "hello.wav"})[0]
    assert [str(cell) for cell in line[:4]] == ["2025-01-01 00:03:05 UTC", "succeeded", "my face.png", "hello.wav"]
    assert line[1].render("zh") == "成功"
    assert line[-1] == "job-03"


def test_delete_removes_the_output_and_records_the_deletion(store: ResultsStore) -> None:
    store.append([_row(store, n) for n in range(3)])
    output = store.out_dir / "job-01.mp4"
    assert output.is_file()
    record = delete_result(store, "job-01")
    assert not output.exists()
    assert record.status == DELETED and "deleted" in record.error_message
    attempts = store.frame()
    assert list(attempts[attempts["job_id"] == "job-01"]["status"]) == ["succeeded", DELETED]  # nothing rewritten
    assert store.latest().set_index("job_id").loc["job-01", "status"] == DELETED
    page = history_page(store, 1, 10)
    assert page.total == 2 and "job-01" not in page.job_ids
    assert "job-01" not in store.succeeded_ids()  # a later batch makes it again
    with pytest.raises(InputError, match="no result 'job-01'"):
        delete_result(store, "job-01")


def test_delete_never_touches_files_outside_the_output_folder(store: ResultsStore, tmp_path: Path) -> None:
    outside = tmp_path / "precious.mp4"
    store.append([_row(store, 7, output=outside)])
    outside.write_bytes(b"keep me")
    delete_result(store, "job-07")
    assert outside.read_bytes() == b"keep me"
    assert history_page(store, 1, 10).total == 0


def test_delete_of_a_failed_job_hides_it(store: ResultsStore) -> None:
    store.append([_row(store, 2, status="failed")])
    delete_result(store, "job-02")
    assert history_page(store, 1, 10).total == 0


def test_delete_of_an_unknown_job_says_so(store: ResultsStore) -> None:
    with pytest.raises(InputError, match="refresh the History tab"):
        delete_result(store, "nope")
