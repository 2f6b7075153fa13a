"""`summarise`: counts, throughput, percentiles, failures and slow jobs, the same through pandas and Dask."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import heygem_ops.results_store as store_module
from heygem_ops.errors import InputError
from heygem_ops.report import Report, summarise
from heygem_ops.results import JobResult
from heygem_ops.results_store import ResultsStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def attempt(job_id: str, status: str, start_s: float, wall_s: float, run: str, **fields: object) -> JobResult:
    """An attempt of flow run `run` that started `start_s` after T0 and took `wall_s` seconds."""
    result = JobResult(job_id, "t.mp4", "a.wav", f"/out/{job_id}.mp4", status=status, flow_run_id=run, **fields)  # type: ignore[arg-type]
    result.started_at = T0 + timedelta(seconds=start_s)
    result.finished_at = result.started_at + timedelta(seconds=wall_s)
    if status != "skipped":
        result.stage_seconds = {"decode": wall_s / 10, "total": wall_s}
    return result


def hand_built() -> list[JobResult]:
    """Run r1 spans 0-70 s, run r2 spans 1000-1120 s: 190 s busy, the idle gap between them not counted.

    Latest statuses: 7 succeeded (j5 after a failure, j6 then skipped), 3 failed, 1 only skipped.
    Succeeded attempts: total_s 10, 20, ..., 70 and 4 s of output each.
    """
    rows = [attempt(f"j{i}", "succeeded", 5 * i, 10 * (i + 1), "r1", duration_s=4.0) for i in range(5)]
    rows.append(attempt("j5", "failed", 0, 2, "r1", error_type="NoFaceError", error_message="t.mp4: no face"))
    rows.append(attempt("j5", "succeeded", 1000, 60, "r2", duration_s=4.0))
    rows.append(attempt("j6", "succeeded", 1050, 70, "r2", duration_s=4.0))
    rows.append(attempt("j6", "skipped", 2000, 0, "r3"))
    rows.append(attempt("j7", "skipped", 2000, 0, "r3"))
    rows.append(attempt("j8", "failed", 1001, 1, "r2", error_type="NoFaceError", error_message="b.mp4: no face"))
    rows.append(attempt("j9", "failed", 1002, 1, "r2", error_type="NoFaceError", error_message="c.mp4: no face"))
    rows.append(attempt("j10", "failed", 1003, 1, "r2", error_type="EngineError", error_message="weights broken"))
    return rows


@pytest.fixture
def out_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(store_module, "PARTITION_BYTES", 1)  # Dask: one partition per file
    store = ResultsStore(tmp_path)
    rows = hand_built()
    for start in range(0, len(rows), 3):
        store.append(rows[start : start + 3])
    return tmp_path


def _check_hand_built(report: Report) -> None:
    assert (report.attempts, report.jobs, report.runs) == (13, 11, 2)
    assert report.by_status == {"succeeded": 7, "failed": 3, "skipped": 1}
    assert report.busy_s == pytest.approx(190)
    assert report.jobs_per_min == pytest.approx(7 / (190 / 60))
    assert report.output_s_per_wall_s == pytest.approx(28 / 190)
    totals = pd.Series([10.0, 20, 30, 40, 50, 60, 70])
    decode, total = report.stages
    assert (total.stage, total.count, decode.stage) == ("total", 7, "decode")
    for stage, series in ((total, totals), (decode, totals / 10)):
        expected = series.quantile([0.5, 0.9, 0.99]).tolist()
        assert [stage.p50, stage.p90, stage.p99] == pytest.approx(expected, rel=0.005)
    assert [(f.error_type, f.jobs, f.example) for f in report.failures] == [
        ("NoFaceError", 2, "b.mp4: no face"),
        ("EngineError", 1, "weights broken"),
    ]  # j5's failure is not its latest attempt
    assert [job.job_id for job in report.slowest[:3]] == ["j6", "j5", "j4"]
    assert report.slowest[0].total_s == 70 and report.slowest[0].duration_s == 4.0


def test_report_numbers_through_pandas(out_dir: Path) -> None:
    report = summarise(out_dir)
    assert not report.used_dask
    _check_hand_built(report)


def test_report_numbers_through_dask(out_dir: Path) -> None:
    report = summarise(out_dir, dask_threshold_bytes=0)
    assert report.used_dask
    _check_hand_built(report)
    assert report == summarise(out_dir, dask_threshold_bytes=0)


def test_percentiles_hold_on_many_partitions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "PARTITION_BYTES", 1)
    seconds = np.random.default_rng(7).exponential(3.0, 2000)
    store = ResultsStore(tmp_path)
    for part in np.array_split(np.arange(seconds.size), 8):
        store.append([attempt(f"j{i}", "succeeded", float(i), float(seconds[i]), "r") for i in part])
    by_pandas, by_dask = summarise(tmp_path), summarise(tmp_path, dask_threshold_bytes=0)
    assert by_pandas.stages == by_dask.stages
    total = by_dask.stages[-1]
    expected = np.quantile(seconds, [0.5, 0.9, 0.99])
    assert [total.p50, total.p90, total.p99] == pytest.approx(expected, rel=0.005)


def test_render_answers_the_questions(out_dir: Path) -> None:
    text = summarise(out_dir, slowest=2).render()
    assert "11 jobs, 13 attempts" in text and "succeeded 7 · failed 3 · skipped 1" in text
    assert "2.21 jobs/min" in text and "3m10s of run time (2 runs)" in text
    assert "NoFaceError" in text and "e.g. b.mp4: no face" in text
    assert text.count("/out/j") == 2


def test_a_folder_without_results_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no results dataset"):
        summarise(tmp_path)


def test_only_skips_and_failures_still_report(tmp_path: Path) -> None:
    ResultsStore(tmp_path).append([attempt("a", "skipped", 0, 0, "r"), attempt("b", "failed", 0, 1, "r")])
    report = summarise(tmp_path)
    assert report.stages == () and report.slowest == () and report.jobs_per_min == 0
    assert "Stage seconds" not in report.render()
