"""Task `inference`: one chunk through the lip-sync engine, on whichever host holds the model."""

from __future__ import annotations

from prefect import task

from heygem_ops.inference import infer_chunk
from heygem_ops.orders import ChunkInference, ChunkOrder
from heygem_ops.placement import host_for
from heygem_tasks.policy import STAGE_POLICY


@task(name="inference", task_run_name="inference-{order.job_id}-{order.chunk.index}", tags=["gpu"], **STAGE_POLICY)
def run_inference(order: ChunkOrder, ray_address: str | None = None) -> ChunkInference:
    """New mouths for the frames of the order's chunk (small arrays, no pixels)."""
    return infer_chunk(order, host_for(ray_address))
