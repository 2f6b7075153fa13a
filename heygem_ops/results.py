"""The record of one attempt at one job: what was asked, what came out, how long each stage took."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heygem_ops.quality.report import QualityReport, QualityThresholds

# What a user waits for: the job's wall-clock time, stage after stage; these add up to "total".
# "render" is inference and compose of every chunk, which overlap.
STAGES = ("decode", "feature", "render", "encode", "quality")
# What a cluster pays: seconds the workers spent, summed over the chunks of the per-chunk stages.
WORKER_STAGES = ("decode", "feature", "inference", "compose", "encode", "quality")
WALL_COLUMNS = {stage: f"{stage}_s" for stage in (*STAGES, "total")}  # manifest column of each
WORKER_COLUMNS = {stage: f"{stage}_worker_s" for stage in WORKER_STAGES}
_SECONDS_LOCK = threading.Lock()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class JobResult:
    """One results-manifest row. Mutable while the job runs; each stage fills in its part."""

    job_id: str
    template: str
    audio: str
    output: str
    status: str = "running"  # succeeded, failed, skipped
    template_hash: str | None = None
    audio_hash: str | None = None
    output_hash: str | None = None
    output_bytes: int | None = None  # size of the published output; a cheap check that it is still whole
    error_type: str | None = None
    error_message: str | None = None
    error_i18n: str | None = None  # the error's catalogue id and parameters (JSON): shown in the reader's language
    engine: str | None = None
    tracker: str | None = None
    device: str | None = None
    frames: int | None = None
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    face_frames: int | None = None
    track_cached: bool | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)  # wall seconds per STAGES entry, and "total"
    worker_seconds: dict[str, float] = field(default_factory=dict)  # summed worker seconds per WORKER_STAGES entry
    sync_score: float | None = None  # mouth-opening vs speech-level correlation at the best lag (quality.sync)
    q_best_lag: int | None = None
    q_confidence: float | None = None
    q_template_leak: float | None = None
    q_psnr_outside: float | None = None
    q_sharpness_ratio: float | None = None
    q_face_fraction: float | None = None
    q_chin_texture: float | None = None
    q_chin_texture_low: float | None = None
    q_teeth_ratio: float | None = None
    q_interior_ratio: float | None = None
    q_mouth_flicker: float | None = None
    q_flags: str | None = None  # what falls short of the quality bar, "; "-separated; None when all pass
    host: str = field(default_factory=socket.gethostname)
    flow_run_id: str | None = None
    started_at: datetime = field(default_factory=utc_now)
    finished_at: datetime | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def add_seconds(self, stage: str, seconds: float) -> None:
        """Accumulate wall time for `stage` of the job."""
        with _SECONDS_LOCK:
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds

    def add_worker_seconds(self, stage: str, seconds: float) -> None:
        """Accumulate worker time for `stage` (chunks of one stage may report from several threads)."""
        with _SECONDS_LOCK:
            self.worker_seconds[stage] = self.worker_seconds.get(stage, 0.0) + seconds

    def record_quality(self, report: QualityReport, thresholds: QualityThresholds) -> None:
        """Copy a quality measurement into the row and flag what falls short of `thresholds`."""
        row = report.as_row()
        self.sync_score, self.q_best_lag, self.q_confidence = row["q_sync"], row["q_best_lag"], row["q_confidence"]
        self.q_template_leak, self.q_psnr_outside = row["q_template_leak"], row["q_psnr_outside"]
        self.q_sharpness_ratio, self.q_face_fraction = row["q_sharpness_ratio"], row["q_face_fraction"]
        self.q_chin_texture, self.q_chin_texture_low = row["q_chin_texture"], row["q_chin_texture_low"]
        self.q_teeth_ratio, self.q_interior_ratio = row["q_teeth_ratio"], row["q_interior_ratio"]
        self.q_mouth_flicker = row["q_mouth_flicker"]
        self.q_flags = "; ".join(report.failures(thresholds)) or None

    def fail(self, error: BaseException) -> None:
        """Record `error` as this attempt's outcome."""
        self.status = "failed"
        self.error_type = getattr(error, "kind", type(error).__name__)
        self.error_message = str(error)
        self.error_i18n = error.as_message().to_json() if hasattr(error, "as_message") else None
        self.finished_at = utc_now()

    def as_row(self) -> dict[str, Any]:
        """Flat dict for a manifest row: `<stage>_s` wall seconds per stage, then `<stage>_worker_s`."""
        row = dataclasses.asdict(self)
        stages, workers = row.pop("stage_seconds"), row.pop("worker_seconds")
        row.update({column: stages.get(stage) for stage, column in WALL_COLUMNS.items()})
        row.update({column: workers.get(stage) for stage, column in WORKER_COLUMNS.items()})
        return row

    def read_seconds(self, row: Mapping[str, Any]) -> None:
        """Fill both seconds tables from a row's `<stage>_s` and `<stage>_worker_s` columns (`as_row`'s)."""
        for table, columns in ((self.stage_seconds, WALL_COLUMNS), (self.worker_seconds, WORKER_COLUMNS)):
            table.update({stage: float(row[c]) for stage, c in columns.items() if row.get(c) is not None})

    def timing_summary(self) -> str:
        """'decode 0.4s · feature 2.1s · ...' (wall seconds) for the end of a CLI run."""
        stages = [stage for stage in (*STAGES, "total") if stage in self.stage_seconds]
        return " · ".join(f"{stage} {self.stage_seconds[stage]:.1f}s" for stage in stages)
