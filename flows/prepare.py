"""Flow `prepare`: warm the template cache (face tracks) before a batch, once per distinct template."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

from heygem_ops.face.trackers import TrackerSpec
from heygem_ops.features import PreparedTemplate, prepare_template
from heygem_ops.manifest import TEMPLATE_SUFFIXES, expand_media
from heygem_ops.options import GenerateOptions
from heygem_ops.placement import host_for
from heygem_tasks.policy import STAGE_POLICY


@task(name="prepare-template", task_run_name="prepare-{template.name}", **STAGE_POLICY)
def prepare_one(template: Path, spec: TrackerSpec, ray_address: str | None, still_fps: Fraction) -> PreparedTemplate:
    """Track one template's face into the cache (or find it there)."""
    return prepare_template(template, spec, host_for(ray_address), still_fps)


@flow(name="prepare", task_runner=ThreadPoolTaskRunner(max_workers=4))
def prepare(
    templates: list[str],
    tracker: str | None = None,
    face: str | None = None,
    face_weights: str | None = None,
    still_fps: float | None = None,
    ray_address: str | None = None,
) -> list[dict[str, Any]]:
    """Warm the cache for every template file, folder or glob in `templates`; one row per template.

    Options left as None take the HEYGEM_* settings, as a batch's jobs do, so the tracks warmed here
    are the ones the batch reads.
    """
    files = sorted({file for item in templates for file in expand_media(item, TEMPLATE_SUFFIXES, "template")})
    options = GenerateOptions.from_settings(tracker=tracker, face=face, face_weights=face_weights, still_fps=still_fps)
    spec = options.tracker_spec()
    futures = [prepare_one.submit(file, spec, ray_address, options.still_fps) for file in files]
    return [
        {"template": str(p.template), "frames": p.frames, "face_frames": p.face_frames, "cached": p.was_cached}
        for p in (future.result() for future in futures)
    ]
