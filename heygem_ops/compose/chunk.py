"""The compose stage: render one chunk of output frames into an H.264 segment.

Template frames are decoded here, next to the encoder, so full-resolution pixels never travel
between tasks or hosts. Frames without a face, or without a new mouth, pass through untouched.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from heygem_ops.compose.paste import paste_patch
from heygem_ops.compose.warp import render_warp
from heygem_ops.engines.base import MouthUpdate
from heygem_ops.errors import InternalError
from heygem_ops.face.track import FaceTrack
from heygem_ops.inference import ChunkInference
from heygem_ops.media.frames import iter_frames
from heygem_ops.media.probe import VideoInfo
from heygem_ops.media.segments import SegmentWriter
from heygem_ops.plan import JobPlan
from heygem_ops.timeline import Chunk


def segment_path(work_dir: Path, chunk: Chunk) -> Path:
    return work_dir / "segments" / f"{chunk.index:06d}.mp4"


def chunk_frames(video: VideoInfo, chunk: Chunk, schedule: np.ndarray) -> Iterator[np.ndarray]:
    """Template frames for the output frames of `chunk`, in output order.

    A chunk whose frames only move forward (in order, or repeating and skipping frames to follow a
    variable-rate template or another output rate) streams. A chunk over a ping-pong turn (or a
    still) holds the distinct frames it shows, at most its own frame count.
    """
    run = schedule[chunk.start : chunk.stop]
    frames = enumerate(iter_frames(video, chunk.template_start, chunk.template_stop), chunk.template_start)
    if chunk.sequential:
        yield from (frame for _, frame in frames)
        return
    shown = np.bincount(run - chunk.template_start, minlength=chunk.template_stop - chunk.template_start)
    if (np.diff(run) >= 0).all():
        for index, frame in frames:
            yield from itertools.repeat(frame, int(shown[index - chunk.template_start]))
        return
    held = {index: frame for index, frame in frames if shown[index - chunk.template_start]}
    for index in run:
        yield held[int(index)]


def compose_frame(frame: np.ndarray, source: np.ndarray, update: MouthUpdate, k: int) -> np.ndarray:
    """Frame `k` of a chunk with its new mouth drawn in; the frame itself when it gets none."""
    if not update.present[k]:
        return frame
    if update.landmarks is not None:
        return render_warp(frame, source, update.landmarks[k], float(update.activity[k]))
    if update.patches is not None and update.boxes is not None:
        return paste_patch(frame, update.patches[k], update.boxes[k], source)
    raise InternalError("mouth update carries neither landmarks nor patches")


@dataclass(frozen=True)
class Segment:
    """A rendered chunk: its video file, frames, and the seconds compose spent on it (0 if reused)."""

    path: Path
    frames: int
    seconds: float


def render_chunk(
    plan: JobPlan,
    track: FaceTrack,
    inference: ChunkInference,
    progress: Callable[[int], None] | None = None,
    encoder_threads: int = 0,
) -> Segment:
    """Write the segment of one chunk (published atomically) and describe it.

    A segment already present from an earlier, interrupted run of the same job is reused: job ids
    hash everything that changes the pixels, so it is the same segment. `encoder_threads`: see
    `SegmentWriter`.
    """
    chunk, update = inference.chunk, inference.update
    started = time.perf_counter()
    path = segment_path(plan.work_dir, chunk)
    if path.exists():
        if progress:
            progress(chunk.frame_count)
        return Segment(path, chunk.frame_count, 0.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    video, options = plan.template, plan.options
    sources = track.landmarks[plan.schedule[chunk.start : chunk.stop]]
    written = 0
    with SegmentWriter(
        path, video.width, video.height, plan.fps, preset=options.preset, crf=options.crf, colour=video.colour,
        threads=encoder_threads,
    ) as writer:  # fmt: skip
        for k, frame in enumerate(itertools.islice(chunk_frames(video, chunk, plan.schedule), chunk.frame_count)):
            writer.write(compose_frame(frame, sources[k], update, k))
            written += 1
            if progress:
                progress(1)
        if written != chunk.frame_count:
            raise InternalError(
                f"decoded {written} of the {chunk.frame_count} template frames chunk {chunk.index} needs",
                path=video.path,
                hint="the file's frame count is inconsistent; re-export it and retry",
            )
    return Segment(path, written, time.perf_counter() - started)
