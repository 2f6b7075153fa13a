"""The record of one attempt at one job: what was asked, what came out, how long each stage took."""

from __future__ import annotations

import dataclasses
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heygem_ops.quality.report import QualityReport, QualityThresholds

STAGES = ("decode", "feature", "inference", "compose", "encode", "quality")
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
    stage_seconds: dict[str, float] = field(default_factory=dict)
    sync_score: float | None = None  # mouth-opening vs speech-level correlation at the best lag (quality.sync)
    q_best_lag: int | None = None
    q_confidence: float | None = None
    q_template_leak: float | None = None
    q_psnr_outside: float | None = None
    q_sharpness_ratio: float | None = None
    q_face_fraction: float | None = None
    q_flags: str | None = None  # what falls short of the quality bar, "; "-separated; None when all pass
    host: str = field(default_factory=socket.gethostname)
    flow_run_id: str | None = None
    started_at: datetime = field(default_factory=utc_now)
    finished_at: datetime | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def add_seconds(self, stage: str, seconds: float) -> None:
        """Accumulate time for `stage` (chunks of one stage may report from several threads)."""
        with _SECONDS_LOCK:
            self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds

    def record_quality(self, report: QualityReport, thresholds: QualityThresholds) -> None:
        """Copy a quality measurement into the row and flag what falls short of `thresholds`."""
        row = report.as_row()
        self.sync_score, self.q_best_lag, self.q_confidence = row["q_sync"], row["q_best_lag"], row["q_confidence"]
        self.q_template_leak, self.q_psnr_outside = row["q_template_leak"], row["q_psnr_outside"]
        self.q_sharpness_ratio, self.q_face_fraction = row["q_sharpness_ratio"], row["q_face_fraction"]
        self.q_flags = "; ".join(report.failures(thresholds)) or None

    def fail(self, error: BaseException) -> None:
        """Record `error` as this attempt's outcome."""
        self.status = "failed"
        self.error_type = getattr(error, "kind", type(error).__name__)
        self.error_message = str(error)
        self.finished_at = utc_now()

    def as_row(self) -> dict[str, Any]:
        """Flat dict for a manifest row: one `<stage>_s` column per pipeline stage."""
        row = dataclasses.asdict(self)
        stages = row.pop("stage_seconds")
        for stage in (*STAGES, "total"):
            row[f"{stage}_s"] = stages.get(stage)
        return row

    def timing_summary(self) -> str:
        """'decode 0.4s · feature 2.1s · ...' for the end of a CLI run."""
        stages = [stage for stage in (*STAGES, "total") if stage in self.stage_seconds]
        return " · ".join(f"{stage} {self.stage_seconds[stage]:.1f}s" for stage in stages)
