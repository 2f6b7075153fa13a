"""Quality of a finished job: joined from what compose measured, against the bar from the settings.

Nothing is decoded twice: the speech level comes from the job's audio features, the template's
mouth from its cached track, the output's mouth and pixels from the chunks (`quality.chunk`). Only
a job whose segments were not measured (reused from an interrupted run) is measured on its file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from heygem_ops.audio import SILENCE_DBFS
from heygem_ops.face.landmarks import mouth_opening
from heygem_ops.face.track import load_track
from heygem_ops.features import JobFeatures
from heygem_ops.plan import JobPlan
from heygem_ops.quality.chunk import ChunkQuality
from heygem_ops.quality.flicker import FlickerStats
from heygem_ops.quality.measure import measure_quality, report_from_mouth
from heygem_ops.quality.pixels import PixelStats
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
        min_chin_texture=settings.qa_min_chin_texture,
        min_chin_texture_low=settings.qa_min_chin_texture_low,
        min_teeth_ratio=settings.qa_min_teeth_ratio,
        min_interior_ratio=settings.qa_min_interior_ratio,
        max_mouth_flicker=settings.qa_max_mouth_flicker,
    )


def measure_job(plan: JobPlan, features: JobFeatures, chunks: Sequence[ChunkQuality | None]) -> QualityReport:
    """Score the job's output from its chunks' measurements (in chunk order), reusing the job's data.

    Falls back to measuring the published file when a chunk was not measured.
    """
    template_track = load_track(features.track_path)
    speech = np.maximum(features.audio.energy_db, SILENCE_DBFS)
    if any(chunk is None for chunk in chunks) or not chunks:
        return measure_quality(
            plan.output, plan.audio.path, plan.template.path, template_track=template_track, still_fps=plan.fps,
            speech=speech, loop=plan.options.loop, reference=plan.template, schedule=plan.schedule,
        )  # fmt: skip
    measured = [chunk for chunk in chunks if chunk is not None]
    stats = PixelStats(
        sum(chunk.squared_error for chunk in measured),
        sum(chunk.compared for chunk in measured),
        [value for chunk in measured for value in chunk.output_sharpness],
        [value for chunk in measured for value in chunk.template_sharpness],
    )
    return report_from_mouth(
        np.concatenate([chunk.opening for chunk in measured]),
        np.concatenate([chunk.width for chunk in measured]),
        speech,
        mouth_opening(template_track.landmarks),
        plan.schedule,
        stats,
        flicker=FlickerStats.joined([chunk.flicker for chunk in measured]),
    )
