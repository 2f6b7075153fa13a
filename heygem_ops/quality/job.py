"""Quality of a finished job: measured on its published output, against the bar from the settings."""

from __future__ import annotations

from pathlib import Path

from heygem_ops.features import load_track
from heygem_ops.plan import JobPlan
from heygem_ops.quality.measure import measure_quality
from heygem_ops.quality.report import QualityReport, QualityThresholds
from heygem_ops.settings import Settings, get_settings


def thresholds_from_settings(settings: Settings | None = None) -> QualityThresholds:
    """The acceptance bar, with any HEYGEM_QA_* overrides applied."""
    settings = settings or get_settings()
    return QualityThresholds(
        max_abs_lag=settings.qa_max_abs_lag,
        min_sync=settings.qa_min_sync,
        min_confidence=settings.qa_min_confidence,
        max_template_leak=settings.qa_max_template_leak,
        min_psnr_outside=settings.qa_min_psnr_outside,
        min_sharpness_ratio=settings.qa_min_sharpness_ratio,
        min_face_fraction=settings.qa_min_face_fraction,
    )


def measure_job(plan: JobPlan, track_path: Path) -> QualityReport:
    """Score the job's output, reusing the template's cached face track (no second template pass)."""
    return measure_quality(
        plan.output, plan.audio.path, plan.template.path, template_track=load_track(track_path), still_fps=plan.fps,
        reference=plan.template, schedule=plan.schedule,
    )  # fmt: skip
