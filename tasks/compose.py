"""Task `compose`: draw one chunk's new mouths into its template frames and encode a segment."""

from __future__ import annotations

from prefect import task

from heygem_ops import progress  # module, not board: a task whose globals hold a lock cannot be sent to Dask
from heygem_ops.compose.chunk import Segment
from heygem_ops.features import JobFeatures
from heygem_ops.hosting import host_for
from heygem_ops.inference import ChunkInference
from heygem_ops.plan import JobPlan
from tasks.policy import STAGE_POLICY


@task(name="compose", task_run_name="compose-{plan.job_id}-{inference.chunk.index}", **STAGE_POLICY)
def compose_chunk(
    plan: JobPlan, features: JobFeatures, inference: ChunkInference, ray_address: str | None = None
) -> Segment:
    """Render the chunk's segment file where the host decides; template pixels are decoded there."""
    advance = progress.board.counter(str(plan.output), "render", plan.frame_count)
    return host_for(ray_address).render(plan, features.track_path, inference, advance)
