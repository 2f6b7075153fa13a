"""One attempt at one job, told once: `JobRun` drives the stages and owns the results row, the stage
times and the render progress; a `Stages` executor decides where each stage runs.

The library supplies `ThreadStages` (stage calls in this thread, chunks on a thread pool); the
Prefect flows supply their tasks (`heygem_flows.job.TaskStages`). Either way the same stage bodies below
run, so a job run by `generate()` and one run by a deployment write the same file and the same row.

    decode ─ feature ─ chunk orders ─┬─ inference ─ compose (per chunk) ─┬─ encode ─ quality
                                     └─ ...                              ┘
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar

from heygem_ops.encode import encode_job
from heygem_ops.features import JobFeatures, chunk_orders, prepare_features
from heygem_ops.host import ModelHost
from heygem_ops.inference import infer_chunk
from heygem_ops.options import GenerateOptions
from heygem_ops.orders import ChunkInference, ChunkOrder, Segment
from heygem_ops.plan import JobPlan, plan_job
from heygem_ops.progress import board
from heygem_ops.quality.job import measure_job, thresholds_from_settings
from heygem_ops.quality.report import QualityReport
from heygem_ops.rendering import Renderer
from heygem_ops.results import JobResult, utc_now

T = TypeVar("T", covariant=True)


class Pending(Protocol[T]):
    """A result on its way: a `concurrent.futures.Future` or a Prefect future."""

    def result(self) -> T: ...


class Stages(Protocol):
    """Where and how each stage runs. Whole-job stages return their value; chunk stages return at once."""

    def decode(self, template: Path, audio: Path, output: Path, options: GenerateOptions) -> JobPlan: ...

    def feature(self, plan: JobPlan) -> JobFeatures: ...

    def device_name(self, plan: JobPlan) -> str: ...

    def infer(self, order: ChunkOrder) -> Pending[ChunkInference]: ...

    def compose(self, order: ChunkOrder, inference: Pending[ChunkInference]) -> Pending[Segment]: ...

    def rendered(self, plan: JobPlan, frames: int) -> None:
        """`frames` of the job's output frames are rendered (called as chunks finish, for a progress display)."""

    def encode(self, plan: JobPlan, segments: list[Segment]) -> str: ...

    def quality(self, plan: JobPlan, features: JobFeatures, segments: list[Segment]) -> QualityReport: ...


# The stage bodies both executors call (Prefect tasks are one call into these).


def feature_stage(plan: JobPlan, host: ModelHost) -> JobFeatures:
    """The feature stage, reporting tracked frames under the job's progress key."""
    return prepare_features(plan, host, board.counter(plan.progress_key, "track", plan.template.frame_count))


def compose_stage(order: ChunkOrder, inference: ChunkInference, renderer: Renderer) -> Segment:
    """Render one chunk where `renderer` renders, reporting its frames under the job's progress key."""
    return renderer.render(order, inference, board.counter(order.progress_key, "render", order.job_frames))


def encode_stage(plan: JobPlan, segments: list[Segment]) -> str:
    return encode_job(plan, [segment.path for segment in segments])


def quality_stage(plan: JobPlan, features: JobFeatures, segments: list[Segment]) -> QualityReport:
    """Join what compose measured on each chunk into the output's report (see `quality.job.measure_job`)."""
    return measure_job(plan, features, [segment.quality for segment in segments])


class ThreadStages:
    """The library's executor: whole-job stages in the calling thread, chunks on `pool`.

    A chunk's compose waits in a pool thread for its own inference, which was submitted before it,
    so a first-in-first-out pool always runs the inference first and never deadlocks.
    """

    def __init__(self, host: ModelHost, renderer: Renderer, pool: ThreadPoolExecutor) -> None:
        self.host, self.renderer, self.pool = host, renderer, pool

    def decode(self, template: Path, audio: Path, output: Path, options: GenerateOptions) -> JobPlan:
        return plan_job(template, audio, output, options)

    def feature(self, plan: JobPlan) -> JobFeatures:
        return feature_stage(plan, self.host)

    def device_name(self, plan: JobPlan) -> str:
        return self.host.device_name(plan.engine)

    def infer(self, order: ChunkOrder) -> Future[ChunkInference]:
        return self.pool.submit(infer_chunk, order, self.host)

    def compose(self, order: ChunkOrder, inference: Pending[ChunkInference]) -> Future[Segment]:
        return self.pool.submit(lambda: compose_stage(order, inference.result(), self.renderer))

    def rendered(self, plan: JobPlan, frames: int) -> None:
        """Nothing: the compose stage already reports every frame to the progress board."""

    def encode(self, plan: JobPlan, segments: list[Segment]) -> str:
        return encode_stage(plan, segments)

    def quality(self, plan: JobPlan, features: JobFeatures, segments: list[Segment]) -> QualityReport:
        return quality_stage(plan, features, segments)


class JobRun:
    """One attempt at one job through `stages`: its results row (`result`), filled in as stages end.

    Stage times come in two kinds (see `results`): wall seconds, taken as laps of one clock so the
    stages add up to the total, and worker seconds, each stage's own calls summed over its chunks.
    """

    def __init__(
        self, stages: Stages, template: Path, audio: Path, output: Path, options: GenerateOptions, *,
        job_id: str | None = None, flow_run_id: str | None = None,
    ) -> None:  # fmt: skip
        self.stages, self.options, self.job_id = stages, options, job_id
        self.inputs = Path(template), Path(audio), Path(output)
        self.result = JobResult(job_id or "", str(template), str(audio), str(output), flow_run_id=flow_run_id)
        self._started = self._lap_start = 0.0

    def run(self) -> JobResult:
        """Run every stage; a stage's error propagates (`result` then holds what was done so far)."""
        self._started = self._lap_start = time.perf_counter()
        plan = self._stage("decode", self.stages.decode, *self.inputs, self.options)
        self._describe_plan(plan)
        features = self._stage("feature", self.stages.feature, plan)
        self.result.face_frames, self.result.track_cached = features.face_frames, features.track_cached
        self.result.device = self.stages.device_name(plan)  # loads the engine: counted in "render"
        segments = self._render(plan, chunk_orders(plan, features))
        self._lap("render")
        self.result.output_hash = self._stage("encode", self.stages.encode, plan, segments)
        if plan.options.qa:
            report = self._stage("quality", self.stages.quality, plan, features, segments)
            self.result.record_quality(report, thresholds_from_settings())
        self.result.add_seconds("total", time.perf_counter() - self._started)
        self.result.output, self.result.status, self.result.finished_at = str(plan.output), "succeeded", utc_now()
        return self.result

    def _stage(self, name: str, call: Callable[..., T], *args: object) -> T:
        """Run a whole-job stage: its call's seconds are its worker seconds, its lap its wall seconds."""
        started = time.perf_counter()
        value = call(*args)
        self.result.add_worker_seconds(name, time.perf_counter() - started)
        self._lap(name)
        return value

    def _lap(self, name: str) -> None:
        now = time.perf_counter()
        self.result.add_seconds(name, now - self._lap_start)
        self._lap_start = now

    def _render(self, plan: JobPlan, orders: Sequence[ChunkOrder]) -> list[Segment]:
        """Submit every chunk's inference and compose, then collect the segments in chunk order."""
        chunks = []
        for order in orders:
            inference = self.stages.infer(order)
            chunks.append((inference, self.stages.compose(order, inference)))
        segments, done = [], 0
        for inference, composing in chunks:
            segment = composing.result()
            self.result.add_worker_seconds("inference", inference.result().seconds)
            measuring = segment.quality.seconds if segment.quality else 0.0  # rode along with compose
            self.result.add_worker_seconds("compose", segment.seconds - measuring)
            if segment.quality:
                self.result.add_worker_seconds("quality", measuring)
            done += segment.frames
            self.stages.rendered(plan, done)
            segments.append(segment)
        return segments

    def _describe_plan(self, plan: JobPlan) -> None:
        """Copy what the decode stage learned into the results row."""
        result, options = self.result, plan.options
        result.job_id, result.template_hash, result.audio_hash = (
            self.job_id or plan.job_id,
            plan.template_hash,
            plan.audio_hash,
        )
        result.engine, result.tracker, result.frames = options.engine, options.tracker, plan.frame_count
        result.fps, result.duration_s = float(plan.fps), plan.duration_s
        result.width, result.height = plan.template.width, plan.template.height
