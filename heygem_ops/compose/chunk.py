"""The compose stage: render one chunk of output frames into an H.264 segment.

Template frames are decoded here, next to the encoder, so full-resolution pixels never travel
between tasks or hosts. Frames without a face, or without a new mouth, pass through untouched.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator

import numpy as np

from heygem_ops.compose.paste import paste_patch
from heygem_ops.compose.warp import render_warp
from heygem_ops.engines.base import MouthUpdate
from heygem_ops.errors import InternalError
from heygem_ops.face.track import load_track
from heygem_ops.media.frames import iter_frames
from heygem_ops.media.probe import VideoInfo
from heygem_ops.media.segments import SegmentWriter
from heygem_ops.mouths.bank import MouthBank, load_bank
from heygem_ops.mouths.place import place_mouth
from heygem_ops.mouths.select import MouthPath
from heygem_ops.orders import ChunkInference, ChunkOrder, Segment
from heygem_ops.quality.chunk import ChunkMeter
from heygem_ops.timeline import Chunk

BankedMouths = tuple[MouthBank, MouthPath]  # a template's mouth bank and a chunk's path through it


def chunk_frames(video: VideoInfo, chunk: Chunk, frames: np.ndarray) -> Iterator[np.ndarray]:
    """Template frames for the output frames of `chunk` (`frames`: their template indices), in output order.

    A chunk whose frames only move forward (in order, or repeating and skipping frames to follow a
    variable-rate template or another output rate) streams. A chunk over a ping-pong turn (or a
    still) holds the distinct frames it shows, at most its own frame count.
    """
    decoded = enumerate(iter_frames(video, chunk.template_start, chunk.template_stop), chunk.template_start)
    if chunk.sequential:
        yield from (frame for _, frame in decoded)
        return
    shown = np.bincount(np.asarray(frames) - chunk.template_start, minlength=chunk.template_stop - chunk.template_start)
    if (np.diff(frames) >= 0).all():
        for index, frame in decoded:
            yield from itertools.repeat(frame, int(shown[index - chunk.template_start]))
        return
    held = {index: frame for index, frame in decoded if shown[index - chunk.template_start]}
    for index in frames:
        yield held[int(index)]


def compose_frame(
    frame: np.ndarray, source: np.ndarray, update: MouthUpdate, k: int, mouths: BankedMouths | None = None
) -> np.ndarray:
    """Frame `k` of a chunk with its new mouth drawn in; the frame itself when it gets none.

    With `mouths`, a landmark engine's target is drawn with the template's own mouth chosen for the
    frame (`mouths.place`) over the warped lower face; else the warp paints the opened interior.
    """
    if not update.present[k]:
        return frame
    if update.landmarks is not None:
        target = update.landmarks[k]
        if mouths is None:
            return render_warp(frame, source, target, float(update.activity[k]))
        bank, path = mouths
        warped = render_warp(frame, source, target, float(update.activity[k]), paint=False)
        return place_mouth(warped, source, target, bank, path.shown(k))
    if update.patches is not None and update.boxes is not None:
        return paste_patch(frame, update.patches[k], update.boxes[k], source, update.blend)
    raise InternalError("mouth update carries neither landmarks nor patches")


def render_chunk(
    order: ChunkOrder,
    inference: ChunkInference,
    progress: Callable[[int], None] | None = None,
    encoder_threads: int = 0,
) -> Segment:
    """Write the segment of one chunk (published atomically) and describe it.

    A segment already present from an earlier, interrupted run of the same job is reused: job ids
    hash everything that changes the pixels, so it is the same segment. `encoder_threads`: see
    `SegmentWriter`.
    """
    chunk, update, video = order.chunk, inference.update, order.video
    started = time.perf_counter()
    path = order.segment_path
    if path.exists():
        if progress:
            progress(chunk.frame_count)
        return Segment(path, chunk.frame_count, 0.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    track = load_track(order.track_path)
    sources = track.landmarks[order.frames]
    written = 0
    meter = ChunkMeter(track, order.frames) if order.qa else None
    inputs = order.inputs
    mouths = (load_bank(inputs.bank_path), inputs.mouths) if inputs.bank_path and inputs.mouths else None
    with SegmentWriter(
        path, video.width, video.height, order.fps, preset=order.encode.preset, crf=order.encode.crf,
        colour=video.colour, threads=encoder_threads, encoder=order.encode.encoder,
    ) as writer:  # fmt: skip
        for k, frame in enumerate(itertools.islice(chunk_frames(video, chunk, order.frames), chunk.frame_count)):
            composed = compose_frame(frame, sources[k], update, k, mouths)
            writer.write(composed)
            if meter is not None:
                meter.add(composed, frame)
            written += 1
            if progress:
                progress(1)
        if written != chunk.frame_count:
            raise InternalError(
                "decoded {written} of the {needed} template frames chunk {chunk} needs",
                written=written,
                needed=chunk.frame_count,
                chunk=chunk.index,
                path=video.path,
                hint="the file's frame count is inconsistent; re-export it and retry",
            )
    quality = meter.finish(path) if meter else None  # before the clock stops: its seconds are inside compose's
    return Segment(path, written, time.perf_counter() - started, quality)
