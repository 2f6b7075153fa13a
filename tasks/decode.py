"""Task `decode`: probe and check both inputs, decode the speech, plan frames and chunks."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from heygem_ops.options import GenerateOptions
from heygem_ops.plan import JobPlan, plan_job
from heygem_tasks.policy import STAGE_POLICY


@task(name="decode", task_run_name="decode-{template.name}", **STAGE_POLICY)
def decode_inputs(template: Path, audio: Path, output: Path, options: GenerateOptions) -> JobPlan:
    """Reject bad inputs early and return the job's plan (paths and small arrays only)."""
    return plan_job(template, audio, output, options)
