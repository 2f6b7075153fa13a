"""Task `compose`: draw one chunk's new mouths into its template frames and encode a segment."""

from __future__ import annotations

from prefect import task

from heygem_ops import job  # module, not board: a task whose globals hold a lock cannot be sent to Dask
from heygem_ops.orders import ChunkInference, ChunkOrder, Segment
from heygem_ops.placement import renderer_for
from heygem_tasks.policy import STAGE_POLICY


@task(name="compose", task_run_name="compose-{order.job_id}-{order.chunk.index}", **STAGE_POLICY)
def compose_chunk(order: ChunkOrder, inference: ChunkInference, ray_address: str | None = None) -> Segment:
    """Render the chunk's segment file where the renderer decides; template pixels are decoded there."""
    return job.compose_stage(order, inference, renderer_for(ray_address))
