"""Flow `generate`: one template plus one recording in, one lip-synced MP4 out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner

from heygem_flows.job import TaskStages, current_flow_run_id
from heygem_ops.compose.workers import chunks_in_flight
from heygem_ops.job import JobRun
from heygem_ops.options import GenerateOptions


@flow(
    name="generate",
    flow_run_name="generate-{output}",
    task_runner=ThreadPoolTaskRunner(max_workers=chunks_in_flight() + 1),  # the chunks plus a stage task
    log_prints=True,
)
def generate(
    template: str,
    audio: str,
    output: str,
    engine: str | None = None,
    device: str | None = None,
    face: str | None = None,
    tracker: str | None = None,
    still_fps: float | None = None,
    video_fps: float | None = None,
    max_size: int | None = None,
    checkpoint: str | None = None,
    face_weights: str | None = None,
    checkpoint_dir: str | None = None,
    bbox_shift: int | None = None,
    extra_margin: int | None = None,
    parsing_mode: str | None = None,
    preset: str | None = None,
    crf: int | None = None,
    chunk_frames: int | None = None,
    loop: str | None = None,
    text: str | None = None,
    ray_address: str | None = None,
) -> dict[str, Any]:
    """Lip-sync `template` (video or image) to `audio`, writing `output`; returns the results row.

    Options left as None take their defaults from HEYGEM_* settings.
    """
    options = GenerateOptions.from_settings(
        engine=engine, device=device, face=face, tracker=tracker, still_fps=still_fps, checkpoint=checkpoint,
        face_weights=face_weights, preset=preset, crf=crf, chunk_frames=chunk_frames, checkpoint_dir=checkpoint_dir,
        bbox_shift=bbox_shift, extra_margin=extra_margin, parsing_mode=parsing_mode, loop=loop, video_fps=video_fps,
        max_size=max_size, text=text,
    )  # fmt: skip
    stages = TaskStages(ray_address)
    run = JobRun(stages, Path(template), Path(audio), Path(output), options, flow_run_id=current_flow_run_id())
    return run.run().as_row()
