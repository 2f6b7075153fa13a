"""Task `inference`: one chunk through the lip-sync engine, on whichever host holds the model."""

from __future__ import annotations

from prefect import task

from heygem_ops.features import JobFeatures
from heygem_ops.hosting import host_for
from heygem_ops.inference import ChunkInference, infer_chunk
from heygem_ops.plan import JobPlan
from heygem_ops.timeline import Chunk
from tasks.policy import STAGE_POLICY


@task(name="inference", task_run_name="inference-{plan.job_id}-{chunk.index}", tags=["gpu"], **STAGE_POLICY)
def run_inference(plan: JobPlan, features: JobFeatures, chunk: Chunk, ray_address: str | None = None) -> ChunkInference:
    """New mouths for the frames of `chunk` (small arrays, no pixels)."""
    return infer_chunk(plan, features, chunk, host_for(ray_address))
