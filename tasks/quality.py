"""Task `quality`: score a published output (sync with the speech, fidelity to the template)."""

from __future__ import annotations

from prefect import task

from heygem_ops import job
from heygem_ops.features import JobFeatures
from heygem_ops.orders import Segment
from heygem_ops.plan import JobPlan
from heygem_ops.quality.report import QualityReport
from heygem_tasks.policy import STAGE_POLICY


@task(name="quality", task_run_name="quality-{plan.job_id}", **STAGE_POLICY)
def measure_output(plan: JobPlan, features: JobFeatures, segments: list[Segment]) -> QualityReport:
    """Join what compose measured on each chunk into the output's report."""
    return job.quality_stage(plan, features, segments)
