"""`heygem report DIR`: what a bulk run into DIR did, from its results dataset alone.

Pandas or Dask: `ResultsStore.frame` picks pandas below `DASK_THRESHOLD_BYTES` of Parquet on disk
(pandas is 10-30x faster at sizes that fit in memory, and a run of thousands of jobs is a few MiB)
and Dask above it, so a dataset larger than memory is streamed partition by partition. The
aggregation code below is written once against the API both share and evaluated with one
`dask.compute` per pass (which returns pandas values unchanged), so both paths give the same numbers.

Percentiles come from a mergeable log-histogram (the DDSketch idea): every value lands in a bin
whose midpoint is within `RELATIVE_ACCURACY` of it, partitions add their bin counts, and memory
stays a few thousand integers per stage however many rows there are. Dask's own `quantile` merges
per-partition percentiles and was >15 % off on 20 partitions of an exponential sample; this is
within 0.5 % on any partitioning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from heygem_ops.errors import InputError
from heygem_ops.i18n import translate
from heygem_ops.results import WALL_COLUMNS
from heygem_ops.results_store import DASK_THRESHOLD_BYTES, ResultsStore, latest_keys, latest_rows, status_of_key

STAGE_COLUMNS = tuple(WALL_COLUMNS.values())  # wall seconds: what a user waits for
REPORT_COLUMNS = (
    "job_id", "status", "started_at", "finished_at", "flow_run_id", "error_type", "error_message", "duration_s",
    "output", *STAGE_COLUMNS,
)  # fmt: skip
PERCENTILES = (0.50, 0.90, 0.99)
RELATIVE_ACCURACY = 0.005  # a reported percentile is within 0.5 % of the true order statistic
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)  # ratio between consecutive bin edges
_MIN_S = 1e-4  # seconds; smaller stage times share bin 0, reported as 0
_HISTOGRAM_META = pd.DataFrame({"stage": pd.Series(dtype=object), "bin": pd.Series(dtype="int64"),
                                "count": pd.Series(dtype="int64")})  # fmt: skip
Frame = pd.DataFrame | dd.DataFrame


@dataclass(frozen=True)
class StageTimes:
    """Seconds one stage took over succeeded attempts."""

    stage: str  # decode, feature, render, encode, quality or total (wall seconds)
    count: int  # attempts that recorded this stage
    p50: float
    p90: float
    p99: float


@dataclass(frozen=True)
class FailureGroup:
    """Jobs whose latest attempt failed with one error type."""

    error_type: str
    jobs: int
    example: str  # one of their error messages (the alphabetically first: deterministic)


@dataclass(frozen=True)
class SlowJob:
    job_id: str
    total_s: float  # wall seconds of the attempt
    duration_s: float | None  # seconds of output video
    output: str


@dataclass(frozen=True)
class Report:
    """The summary of one output folder's results dataset."""

    out_dir: Path
    attempts: int  # rows in the dataset, skipped ones included
    jobs: int  # distinct job ids
    by_status: dict[str, int]  # jobs by the status of their latest attempt
    runs: int  # distinct flow runs that executed attempts
    busy_s: float  # per run, first start to last finish, summed: the wall time throughput is measured over
    jobs_per_min: float | None  # succeeded attempts per minute of busy_s
    output_s_per_wall_s: float | None  # seconds of video produced per second of busy_s
    stages: tuple[StageTimes, ...]
    failures: tuple[FailureGroup, ...]  # most frequent first
    slowest: tuple[SlowJob, ...]  # latest succeeded attempts by total_s, slowest first
    used_dask: bool

    def render(self) -> str:
        """Plain text for a terminal, one block per question a run's owner asks, in the current language."""
        return "\n".join([*self._header(), *self._stage_lines(), *self._failure_lines(), *self._slow_lines()])

    def _header(self) -> list[str]:
        statuses = " · ".join(f"{name} {count}" for name, count in sorted(self.by_status.items(), key=_by_count))
        lines = [
            translate(
                "Results in {folder}: {jobs} jobs, {attempts} attempts (read with {reader})",
                folder=self.out_dir,
                jobs=self.jobs,
                attempts=self.attempts,
                reader="Dask" if self.used_dask else "pandas",
            ),
            translate("Jobs by latest attempt: {statuses}", statuses=statuses or translate("none")),
        ]
        if self.jobs_per_min is not None and self.output_s_per_wall_s is not None:
            lines.append(
                translate(
                    "Throughput: {rate:.2f} jobs/min · {speed:.3f} output-s per wall-s over {busy} of run time (1 run)"
                    if self.runs == 1
                    else "Throughput: {rate:.2f} jobs/min · {speed:.3f} output-s per wall-s over {busy} of run time "
                    "({runs} runs)",
                    rate=self.jobs_per_min,
                    speed=self.output_s_per_wall_s,
                    busy=_duration(self.busy_s),
                    runs=self.runs,
                )
            )
        return lines

    def _stage_lines(self) -> list[str]:
        if not self.stages:
            return []
        lines = ["", f"{translate('Stage seconds'):<16}{'p50':>9}{'p90':>9}{'p99':>9}{'n':>8}"]
        lines += [f"  {s.stage:<14}{s.p50:>9.2f}{s.p90:>9.2f}{s.p99:>9.2f}{s.count:>8}" for s in self.stages]
        return lines

    def _failure_lines(self) -> list[str]:
        if not self.failures:
            return []
        lines = ["", translate("Failures by type (latest attempt):")]
        example = translate("e.g.")
        lines += [f"  {f.error_type:<24}{f.jobs:>6}  {example} {_clip(f.example, 100)}" for f in self.failures]
        return lines

    def _slow_lines(self) -> list[str]:
        if not self.slowest:
            return []
        lines = ["", translate("Slowest jobs (wall s / output s):")]
        for job in self.slowest:
            video = f"{job.duration_s:.1f}" if job.duration_s is not None else "?"
            lines.append(f"  {job.total_s:>8.1f} / {video:>6}  {job.job_id}  {job.output}")
        return lines


def summarise(out_dir: str | Path, *, slowest: int = 10, dask_threshold_bytes: int = DASK_THRESHOLD_BYTES) -> Report:
    """Summarise the results dataset under `out_dir` (see the module docstring for pandas vs Dask).

    Two passes over the needed columns: attempts (latest key per job, throughput, stage
    histograms), then the latest rows (failures, slowest jobs). Raises InputError when `out_dir`
    holds no results.
    """
    store = ResultsStore(out_dir, dask_threshold_bytes=dask_threshold_bytes)
    if not store.files():
        raise InputError("holds no results dataset", path=store.folder, hint="run a bulk job into that folder first")
    frame = store.frame(list(REPORT_COLUMNS))
    executed = frame[~frame["status"].isin(["skipped"])]
    succeeded = frame[frame["status"] == "succeeded"]
    keys, attempts, spans, done, output_s, histogram = dask.compute(
        latest_keys(frame), frame["job_id"].count(), _run_spans(executed), succeeded["job_id"].count(),
        succeeded["duration_s"].sum(), _stage_histogram(succeeded),
    )  # fmt: skip
    latest = latest_rows(frame, keys)
    failures, slow = dask.compute(_failures(latest), _slowest(latest, slowest))
    busy_s = float((spans["finished_at"] - spans["started_at"]).dt.total_seconds().sum())
    per_s = 1 / busy_s if busy_s > 0 else None
    return Report(
        out_dir=store.out_dir, attempts=int(attempts), jobs=len(keys),
        by_status={str(k): int(v) for k, v in status_of_key(keys).value_counts().items()},
        runs=len(spans), busy_s=busy_s, jobs_per_min=60 * int(done) * per_s if per_s else None,
        output_s_per_wall_s=float(output_s) * per_s if per_s else None, stages=stage_times(histogram),
        failures=_failure_groups(failures), slowest=_slow_jobs(slow, slowest),
        used_dask=isinstance(frame, dd.DataFrame),
    )  # fmt: skip


def _run_spans(executed: Frame) -> Frame:
    """Per flow run (rows without one count as one run): first start and last finish."""
    runs = executed.assign(run=executed["flow_run_id"].fillna(""))
    return runs.groupby("run").agg({"started_at": "min", "finished_at": "max"}).dropna()


def _stage_histogram(rows: Frame) -> pd.Series | dd.Series:
    """(stage, bin) → count of attempts whose stage time fell in that log bin, summed over partitions."""
    columns = rows[list(STAGE_COLUMNS)]
    if isinstance(columns, dd.DataFrame):
        partials = columns.map_partitions(histogram_bins, meta=_HISTOGRAM_META)
    else:
        partials = histogram_bins(columns)
    return partials.groupby(["stage", "bin"])["count"].sum()


def histogram_bins(frame: pd.DataFrame) -> pd.DataFrame:
    """Long table (stage, bin, count) of one partition's stage times; bin = ceil(log_γ(s / MIN_S))."""
    long = frame.melt(var_name="stage", value_name="seconds").dropna()
    seconds = long["seconds"].to_numpy(dtype=float)
    ratio = np.log(np.maximum(seconds, _MIN_S) / _MIN_S) / math.log(_GAMMA)
    bins = np.ceil(ratio - 1e-9).astype("int64")  # the epsilon keeps exact edges in their own bin
    long = long.assign(stage=long["stage"].astype(object), bin=bins)
    return long.groupby(["stage", "bin"], as_index=False).size().rename(columns={"size": "count"})


def stage_times(histogram: pd.Series) -> tuple[StageTimes, ...]:
    """Percentiles per stage, in pipeline order, from the summed (stage, bin) counts."""
    found = []
    for column in STAGE_COLUMNS:
        if column not in histogram.index.get_level_values("stage"):
            continue
        counts = histogram.xs(column, level="stage").sort_index()
        values = np.where(counts.index > 0, _MIN_S * 2 * _GAMMA ** counts.index.to_numpy(float) / (_GAMMA + 1), 0.0)
        cumulative = counts.to_numpy().cumsum()
        p50, p90, p99 = (_percentile(values, cumulative, q) for q in PERCENTILES)
        found.append(StageTimes(column.removesuffix("_s"), int(cumulative[-1]), p50, p90, p99))
    return tuple(found)


def _percentile(values: np.ndarray, cumulative: np.ndarray, q: float) -> float:
    """Linear interpolation between the order statistics around rank q·(n-1), as pandas does."""
    rank = q * (cumulative[-1] - 1)
    low, high = math.floor(rank), math.ceil(rank)
    at = np.searchsorted(cumulative, [low, high], side="right")  # bin holding the 0-based k-th value
    return float(values[at[0]] + (rank - low) * (values[at[1]] - values[at[0]]))


def _failures(latest: Frame) -> Frame:
    failed = latest[latest["status"] == "failed"]
    failed = failed.assign(error_type=failed["error_type"].fillna("unknown"))
    # "min", not "first": Dask's tree reduction does not keep row order, and both paths must agree
    return failed.groupby("error_type").agg({"job_id": "count", "error_message": "min"})


def _failure_groups(table: pd.DataFrame) -> tuple[FailureGroup, ...]:
    table = table.sort_values("job_id", ascending=False, kind="stable")
    return tuple(
        FailureGroup(str(kind), int(row.job_id), "" if pd.isna(row.error_message) else str(row.error_message))
        for kind, row in table.iterrows()
    )


def _slowest(latest: Frame, count: int) -> Frame:
    done = latest[latest["status"] == "succeeded"]
    return done[["job_id", "total_s", "duration_s", "output"]].dropna(subset=["total_s"]).nlargest(count, "total_s")


def _slow_jobs(table: pd.DataFrame, count: int) -> tuple[SlowJob, ...]:
    table = table.drop_duplicates(subset=["job_id"]).head(count)
    return tuple(
        SlowJob(str(row.job_id), float(row.total_s), None if pd.isna(row.duration_s) else float(row.duration_s),
                str(row.output))
        for row in table.itertuples(index=False)
    )  # fmt: skip


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
