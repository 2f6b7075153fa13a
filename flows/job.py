"""One job as Prefect tasks: decode → feature → (inference → compose) per chunk → encode.

Shared by the `generate` flow (one job) and the `bulk` flow (many), so both run the same path.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import as_completed
from prefect.runtime import flow_run

from heygem_ops.compose.chunk import Segment
from heygem_ops.features import JobFeatures
from heygem_ops.generate import describe_features, describe_plan, new_result
from heygem_ops.hosting import host_for
from heygem_ops.inference import engine_spec
from heygem_ops.options import GenerateOptions
from heygem_ops.plan import JobPlan
from heygem_ops.quality.job import thresholds_from_settings
from heygem_ops.results import JobResult, utc_now
from tasks import compose_chunk, decode_inputs, encode_output, extract_features, measure_output, run_inference


def run_job(
    template: Path,
    audio: Path,
    output: Path,
    options: GenerateOptions,
    *,
    ray_address: str | None = None,
    job_id: str | None = None,
) -> JobResult:
    """Run one job through the stage tasks and return its results row; stage errors propagate.

    `job_id` names the row when the caller (a manifest) chose its own id.
    """
    result = new_result(template, audio, output)
    result.flow_run_id = current_flow_run_id()
    host = host_for(ray_address)  # first: a new host starts its compose workers while the inputs are checked
    started = time.perf_counter()
    plan = decode_inputs(template, audio, output, options)
    describe_plan(result, plan)
    result.job_id = job_id or plan.job_id
    result.add_seconds("decode", time.perf_counter() - started)
    result.device = host.device_name(engine_spec(plan))
    mark = time.perf_counter()
    features = extract_features(plan, ray_address)
    describe_features(result, features)
    result.add_seconds("feature", time.perf_counter() - mark)
    segments = _render(plan, features, ray_address, result)
    mark = time.perf_counter()
    result.output_hash = encode_output(plan, segments)
    result.add_seconds("encode", time.perf_counter() - mark)
    if plan.options.qa:
        mark = time.perf_counter()
        result.record_quality(measure_output(plan, features, segments), thresholds_from_settings())
        result.add_seconds("quality", time.perf_counter() - mark)
    result.add_seconds("total", time.perf_counter() - started)
    result.output, result.status, result.finished_at = str(plan.output), "succeeded", utc_now()
    return result


def current_flow_run_id() -> str | None:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


def _render(plan: JobPlan, features: JobFeatures, ray_address: str | None, result: JobResult) -> list[Segment]:
    """Fan the chunks out: every inference is submitted at once, each compose waits on its own."""
    inferences = [run_inference.submit(plan, features, chunk, ray_address) for chunk in plan.chunks]
    composes = [compose_chunk.submit(plan, features, inference, ray_address) for inference in inferences]
    artifact = create_progress_artifact(0.0, description=f"frames rendered for {plan.output.name}")
    done = 0
    for future in as_completed(composes):
        segment = future.result()
        done += segment.frames
        update_progress_artifact(artifact, 100.0 * done / plan.frame_count)
    for inference in inferences:
        result.add_seconds("inference", inference.result().seconds)
    segments = [future.result() for future in composes]
    for segment in segments:
        result.add_seconds("compose", segment.seconds)
    return segments
