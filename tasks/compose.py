"""Task `compose`: draw one chunk's new mouths into its template frames and encode a segment."""

from __future__ import annotations

from prefect import task

from heygem_ops.compose.chunk import Segment, render_chunk
from heygem_ops.features import JobFeatures, load_track
from heygem_ops.inference import ChunkInference
from heygem_ops.plan import JobPlan
from heygem_ops.progress import board
from tasks.policy import STAGE_POLICY


@task(name="compose", task_run_name="compose-{plan.job_id}-{inference.chunk.index}", **STAGE_POLICY)
def compose_chunk(plan: JobPlan, features: JobFeatures, inference: ChunkInference) -> Segment:
    """Render the chunk's segment file; template pixels are decoded here, never passed in."""
    progress = board.counter(str(plan.output), "render", plan.frame_count)
    return render_chunk(plan, load_track(features.track_path), inference, progress)
