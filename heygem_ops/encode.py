"""The encode stage: join the chunk segments, mux the driving audio, publish the MP4 atomically."""

from __future__ import annotations

import shutil
from pathlib import Path

from heygem_ops.errors import InternalError
from heygem_ops.hashing import file_digest
from heygem_ops.media.probe import probe_video
from heygem_ops.media.publish import publish_video
from heygem_ops.plan import JobPlan


def encode_job(plan: JobPlan, segments: list[Path]) -> str:
    """Publish the output of `plan` from its segments; return the output's content hash.

    The published file is probed before the job counts as done, and the job's scratch folder is
    removed only then, so an interrupted encode can simply be run again.
    """
    publish_video(segments, plan.audio.path, plan.output, fps=plan.fps, duration_s=plan.duration_s)
    produced = probe_video(plan.output).frame_count
    if abs(produced - plan.frame_count) > 1:
        plan.output.unlink(missing_ok=True)
        raise InternalError(
            "output has {produced} frames, expected {expected}",
            path=plan.output,
            produced=produced,
            expected=plan.frame_count,
        )
    digest = file_digest(plan.output)
    shutil.rmtree(plan.work_dir, ignore_errors=True)
    return digest
