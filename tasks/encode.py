"""Task `encode`: join segments, mux the speech as AAC, publish the MP4 atomically."""

from __future__ import annotations

from prefect import task

from heygem_ops import job
from heygem_ops.orders import Segment
from heygem_ops.plan import JobPlan
from heygem_tasks.policy import STAGE_POLICY


@task(name="encode", task_run_name="encode-{plan.job_id}", **STAGE_POLICY)
def encode_output(plan: JobPlan, segments: list[Segment]) -> str:
    """Publish the output file and return its content hash."""
    return job.encode_stage(plan, segments)
