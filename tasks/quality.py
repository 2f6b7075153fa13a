"""Task `quality`: score a published output (sync with the speech, fidelity to the template) from its chunks."""

from __future__ import annotations

from prefect import task

from heygem_ops.compose.chunk import Segment
from heygem_ops.features import JobFeatures
from heygem_ops.plan import JobPlan
from heygem_ops.quality.job import measure_job
from heygem_ops.quality.report import QualityReport
from tasks.policy import STAGE_POLICY


@task(name="quality", task_run_name="quality-{plan.job_id}", **STAGE_POLICY)
def measure_output(plan: JobPlan, features: JobFeatures, segments: list[Segment]) -> QualityReport:
    """Join what compose measured on each chunk into the output's report (see `quality.job.measure_job`)."""
    return measure_job(plan, features, [segment.quality for segment in segments])
