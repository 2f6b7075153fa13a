"""The results dataset: schema, append-only files, the latest view and what a rerun may skip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import heygem_ops.results_store as store_module
from heygem_ops.hashing import file_digest
from heygem_ops.results import JobResult
from heygem_ops.results_store import RESULTS_DIRNAME, SCHEMA, ResultsStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def attempt(job_id: str, status: str, at_s: float, output: str = "", **fields: object) -> JobResult:
    """A finished attempt that started `at_s` seconds after T0 and took one second."""
    result = JobResult(job_id, "t.mp4", "a.wav", output or f"{job_id}.mp4", status=status, **fields)  # type: ignore[arg-type]
    result.started_at = T0 + timedelta(seconds=at_s)
    result.finished_at = result.started_at + timedelta(seconds=1)
    return result


def published(out_dir: Path, job_id: str, at_s: float, content: bytes = b"video" * 100) -> JobResult:
    """A succeeded attempt whose output file exists, with its hash recorded."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{job_id}.mp4"
    path.write_bytes(content)
    return attempt(job_id, "succeeded", at_s, str(path), output_hash=file_digest(path))


def _latest_status(store: ResultsStore) -> dict[str, str]:
    latest = store.latest(["job_id", "status"])
    return dict(zip(latest["job_id"], latest["status"], strict=True))


def test_schema_is_every_row_column_in_order() -> None:
    row = attempt("j", "succeeded", 0).as_row()
    assert SCHEMA.names == list(row)
    assert SCHEMA.field("started_at").type == pa.timestamp("us", tz="UTC")
    assert SCHEMA.field("total_s").type == pa.float64() and SCHEMA.field("output_bytes").type == pa.int64()
    assert not SCHEMA.field("job_id").nullable and SCHEMA.field("error_type").nullable


def test_two_writers_append_files_and_the_latest_attempt_wins(tmp_path: Path) -> None:
    first, second = ResultsStore(tmp_path), ResultsStore(tmp_path)  # as if two processes
    first.append([attempt("a", "failed", 0), attempt("b", "succeeded", 1)])
    second.append([attempt("a", "succeeded", 5), attempt("c", "failed", 2)])
    first.append([attempt("b", "failed", 0.5)])  # appended later, but finished earlier
    assert len(first.files()) == 3
    assert _latest_status(ResultsStore(tmp_path)) == {"a": "succeeded", "b": "succeeded", "c": "failed"}
    assert ResultsStore(tmp_path).append([]) is None


def test_a_skip_never_hides_the_attempt_that_ran(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.append([attempt("a", "succeeded", 0), attempt("a", "skipped", 10), attempt("b", "skipped", 3)])
    assert _latest_status(store) == {"a": "succeeded", "b": "skipped"}


def test_files_appear_whole_and_temp_files_are_ignored(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.append([attempt("a", "succeeded", 0)])
    (tmp_path / RESULTS_DIRNAME / ".part-20260301T000000000000Z-deadbeef.parquet.tmp").write_bytes(b"PAR1\x00half")
    assert len(store.files()) == 1
    assert _latest_status(store) == {"a": "succeeded"}
    assert _latest_status(ResultsStore(tmp_path, dask_threshold_bytes=0)) == {"a": "succeeded"}


def test_a_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(table: pa.Table, where: Path, **_: object) -> None:
        Path(where).write_bytes(b"PAR1 partial")
        raise OSError("disk gone")

    store = ResultsStore(tmp_path)
    monkeypatch.setattr(store_module.pq, "write_table", crash)
    with pytest.raises(OSError, match="disk gone"):
        store.append([attempt("a", "succeeded", 0)])
    assert list((tmp_path / RESULTS_DIRNAME).iterdir()) == []


def test_succeeded_ids_need_a_whole_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    rows = [published(out, job, i) for i, job in enumerate(["kept", "deleted", "truncated", "emptied", "altered"])]
    store = ResultsStore(out)
    store.append([*rows, attempt("failed", "failed", 9)])
    sizes = store.latest(["status", "output_bytes"]).query("status == 'succeeded'")["output_bytes"]
    assert sizes.tolist() == [500] * 5  # filled in at append
    (out / "deleted.mp4").unlink()
    (out / "truncated.mp4").write_bytes(b"video" * 50)
    (out / "emptied.mp4").write_bytes(b"")
    (out / "altered.mp4").write_bytes(b"VIDEO" * 100)  # same size, other content
    assert store.succeeded_ids() == {"kept", "altered"}
    assert store.succeeded_ids(verify=True) == {"kept"}
    assert store.succeeded() == {"kept": out / "kept.mp4", "altered": out / "altered.mp4"}


def test_files_from_before_a_new_column_read_as_null(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    store.append([attempt("new", "succeeded", 5, sync_score=0.8)])
    old = store.files()[0].read_bytes()
    table = pq.read_table(store.files()[0]).drop_columns(["sync_score", "output_bytes"])
    table = table.set_column(0, "job_id", pa.array(["old"]))
    pq.write_table(table, tmp_path / RESULTS_DIRNAME / "part-20200101T000000000000Z-0ld.parquet")
    assert store.files()[1].read_bytes() == old
    for reader in (store, ResultsStore(tmp_path, dask_threshold_bytes=0)):
        latest = reader.latest(["job_id", "sync_score"]).sort_values("job_id")
        assert latest["job_id"].tolist() == ["new", "old"]
        assert latest["sync_score"].iloc[0] == 0.8 and latest["sync_score"].isna().iloc[1]


def test_the_dask_path_matches_pandas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "PARTITION_BYTES", 1)  # one partition per file
    store = ResultsStore(tmp_path)
    for batch in range(6):
        store.append([attempt(f"j{i}", ("failed", "succeeded", "skipped")[(i + batch) % 3], batch) for i in range(5)])
    store.append([attempt("j0", "succeeded", 2)])  # the same attempt twice, in two partitions
    store.append([attempt("j0", "succeeded", 2)])
    dask_store = ResultsStore(tmp_path, dask_threshold_bytes=0)
    assert dask_store.frame(["job_id"]).npartitions == 8
    by_pandas = store.latest().sort_values("job_id").reset_index(drop=True)
    by_dask = dask_store.latest().sort_values("job_id").reset_index(drop=True)
    assert by_pandas[["job_id", "status", "finished_at"]].equals(by_dask[["job_id", "status", "finished_at"]])
    assert len(by_pandas) == 5
