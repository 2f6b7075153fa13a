"""One job as Prefect tasks: the library's `JobRun`, given `TaskStages` so that each stage runs as its task.

Shared by the `generate` flow (one job) and the `bulk` flow (many), so both run the same path, and
that path is the library's own (`heygem_ops.job`): only where each stage runs differs.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run

from heygem_ops.features import JobFeatures
from heygem_ops.job import Pending
from heygem_ops.options import GenerateOptions
from heygem_ops.orders import ChunkInference, ChunkOrder, Segment
from heygem_ops.placement import host_for, renderer_for
from heygem_ops.plan import JobPlan
from heygem_ops.quality.report import QualityReport
from heygem_tasks import compose_chunk, decode_inputs, encode_output, extract_features, measure_output, run_inference


class TaskStages:
    """The flows' executor: each stage is its Prefect task; chunk stages are submitted to the flow's runner."""

    def __init__(self, ray_address: str | None) -> None:
        self.ray_address = ray_address
        renderer_for(ray_address)  # first: new compose workers start while the inputs are checked
        self._artifact: UUID | None = None

    def decode(self, template: Path, audio: Path, output: Path, options: GenerateOptions) -> JobPlan:
        return decode_inputs(template, audio, output, options)

    def feature(self, plan: JobPlan) -> JobFeatures:
        return extract_features(plan, self.ray_address)

    def device_name(self, plan: JobPlan) -> str:
        return host_for(self.ray_address).device_name(plan.engine)

    def infer(self, order: ChunkOrder) -> PrefectFuture[ChunkInference]:
        return run_inference.submit(order, self.ray_address)

    def compose(self, order: ChunkOrder, inference: Pending[ChunkInference]) -> PrefectFuture[Segment]:
        return compose_chunk.submit(order, inference, self.ray_address)

    def rendered(self, plan: JobPlan, frames: int) -> None:
        """Show the job's rendered frames as a Prefect progress artifact."""
        if self._artifact is None:
            self._artifact = create_progress_artifact(0.0, description=f"frames rendered for {plan.output.name}")
        update_progress_artifact(self._artifact, 100.0 * frames / plan.frame_count)

    def encode(self, plan: JobPlan, segments: list[Segment]) -> str:
        return encode_output(plan, segments)

    def quality(self, plan: JobPlan, features: JobFeatures, segments: list[Segment]) -> QualityReport:
        return measure_output(plan, features, segments)


def current_flow_run_id() -> str | None:
    run_id = flow_run.get_id()
    return str(run_id) if run_id else None
