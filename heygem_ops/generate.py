"""One job, start to finish, in this process: the plain library entry point (no Prefect needed).

The stages are the same functions the Prefect flow wraps as tasks, so a job run here and a job run
by a deployment produce the same file.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from heygem_ops.compose.chunk import Segment
from heygem_ops.compose.workers import chunks_in_flight
from heygem_ops.encode import encode_job
from heygem_ops.features import JobFeatures, prepare_features
from heygem_ops.hosting import ModelHost, local_host
from heygem_ops.inference import engine_spec, infer_chunk
from heygem_ops.options import GenerateOptions
from heygem_ops.plan import JobPlan, plan_job
from heygem_ops.progress import Listener, board
from heygem_ops.quality.job import measure_job, thresholds_from_settings
from heygem_ops.results import JobResult, utc_now
from heygem_ops.timeline import Chunk


@contextmanager
def timed(result: JobResult, stage: str) -> Iterator[None]:
    """Add the block's wall-clock seconds to `result.stage_seconds[stage]`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        result.add_seconds(stage, time.perf_counter() - started)


def new_result(template: Path, audio: Path, output: Path) -> JobResult:
    return JobResult(job_id="", template=str(template), audio=str(audio), output=str(output))


def describe_plan(result: JobResult, plan: JobPlan) -> None:
    """Copy what the decode stage learned into the results row."""
    options = plan.options
    result.job_id, result.template_hash, result.audio_hash = plan.job_id, plan.template_hash, plan.audio_hash
    result.engine, result.tracker, result.frames = options.engine, options.tracker, plan.frame_count
    result.fps, result.duration_s = float(plan.fps), plan.duration_s
    result.width, result.height = plan.template.width, plan.template.height


def describe_features(result: JobResult, features: JobFeatures) -> None:
    result.face_frames, result.track_cached = features.face_frames, features.track_cached


def render_all(plan: JobPlan, features: JobFeatures, host: ModelHost, result: JobResult) -> list[Segment]:
    """Inference and compose for every chunk, keeping the compose workers fed (`chunks_in_flight`)."""
    advance = board.counter(str(plan.output), "render", plan.frame_count)

    def one(chunk: Chunk) -> Segment:
        inference = infer_chunk(plan, features, chunk, host)
        result.add_seconds("inference", inference.seconds)
        segment = host.render(plan, features.track_path, inference, advance)
        result.add_seconds("compose", segment.seconds)
        return segment

    with ThreadPoolExecutor(min(len(plan.chunks), chunks_in_flight()), thread_name_prefix="heygem-chunk") as pool:
        return list(pool.map(one, plan.chunks))


def generate(
    template: str | Path,
    audio: str | Path,
    output: str | Path,
    options: GenerateOptions | None = None,
    *,
    host: ModelHost | None = None,
    progress: Listener | None = None,
) -> JobResult:
    """Lip-sync `template` (video or image) to `audio` and write the MP4 `output`.

    Raises a `HeyGemError` subclass with an actionable message when the job cannot be done; no
    file appears at `output` unless the job succeeded. `progress(stage, done, total)` is called as
    frames are tracked ("track") and rendered ("render").
    """
    options = options or GenerateOptions.from_settings()
    host = host or local_host()
    template, audio, output = Path(template), Path(audio), Path(output)
    result = new_result(template, audio, output)
    with board.listening(str(output.expanduser().resolve()), progress or (lambda *_: None)), timed(result, "total"):
        with timed(result, "decode"):
            plan = plan_job(template, audio, output, options)
        describe_plan(result, plan)
        result.device = host.device_name(engine_spec(plan))
        with timed(result, "feature"):
            track_progress = board.counter(str(plan.output), "track", plan.template.frame_count)
            features = prepare_features(plan, host, track_progress)
        describe_features(result, features)
        segments = render_all(plan, features, host, result)
        with timed(result, "encode"):
            result.output_hash = encode_job(plan, [segment.path for segment in segments])
        if plan.options.qa:
            with timed(result, "quality"):
                result.record_quality(
                    measure_job(plan, features, [s.quality for s in segments]), thresholds_from_settings()
                )
    result.output, result.status, result.finished_at = str(plan.output), "succeeded", utc_now()
    return result
