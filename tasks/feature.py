"""Task `feature`: the template's face track (cached by content) and per-frame audio features."""

from __future__ import annotations

from prefect import task

from heygem_ops import job  # module, not board: a task whose globals hold a lock cannot be sent to Dask
from heygem_ops.features import JobFeatures
from heygem_ops.placement import host_for
from heygem_ops.plan import JobPlan
from heygem_tasks.policy import STAGE_POLICY


@task(name="feature", task_run_name="feature-{plan.job_id}", **STAGE_POLICY)
def extract_features(plan: JobPlan, ray_address: str | None = None) -> JobFeatures:
    """Track the template's face (or load the track) and compute the audio features."""
    return job.feature_stage(plan, host_for(ray_address))
