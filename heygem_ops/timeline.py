"""The output timeline: which template frame each output frame shows, and how frames split into chunks.

The output is as long as the audio. A shorter template plays forward then backward ("ping-pong",
the default), so there is never a visible jump back to frame 0, or, when asked (HeyGem's `pn=0`),
plainly again from frame 0; a longer template is cut. Chunks are the unit of
parallel work and of memory: each covers at most `chunk_frames` output frames, and compose decodes
its template frames with one seek and one forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

PINGPONG, PLAIN = "pingpong", "plain"
LOOPS = (PINGPONG, PLAIN)  # how a template shorter than the audio repeats


def output_frame_count(audio_seconds: float, fps: Fraction) -> int:
    """Frames needed to cover the audio: at least one, within one frame of its length."""
    return max(1, round(audio_seconds * float(fps)))


def frame_schedule(template_frames: int, output_frames: int, loop: str = PINGPONG) -> np.ndarray:
    """Template frame index for every output frame, looping forward-then-backward (or plainly).

    Returns (output_frames,) int32. With 4 template frames, ping-pong: 0 1 2 3 2 1 0 1 2 3 2 ...;
    the end frames are not repeated, so motion never freezes for a frame at the turn. Plain:
    0 1 2 3 0 1 2 3 ... (a jump back at every turn).
    """
    if template_frames < 1 or output_frames < 0:
        raise ValueError(f"bad frame counts: template {template_frames}, output {output_frames}")
    if loop not in LOOPS:
        raise ValueError(f"loop {loop!r} is not one of {', '.join(LOOPS)}")
    steps = np.arange(output_frames, dtype=np.int64)
    if template_frames == 1:
        return np.zeros(output_frames, dtype=np.int32)
    if loop == PLAIN:
        return (steps % template_frames).astype(np.int32)
    period = 2 * (template_frames - 1)
    phase = steps % period
    return np.where(phase < template_frames, phase, period - phase).astype(np.int32)


@dataclass(frozen=True)
class Chunk:
    """A run of output frames [start, stop) that compose renders into one video segment.

    Its template frames all lie in [template_start, template_stop); `sequential` says they are
    exactly that range in increasing order, so compose can stream them instead of holding them.
    """

    index: int
    start: int
    stop: int
    template_start: int
    template_stop: int
    sequential: bool

    @property
    def frame_count(self) -> int:
        return self.stop - self.start


def plan_chunks(schedule: np.ndarray, chunk_frames: int) -> list[Chunk]:
    """Split the output timeline into windows of at most `chunk_frames` frames.

    A window over a ping-pong turn spans at most `chunk_frames` distinct template frames, so a
    chunk never needs more than that many frames in memory. (F,) int schedule -> ordered chunks.
    """
    if chunk_frames < 1:
        raise ValueError("chunk_frames must be positive")
    chunks: list[Chunk] = []
    for start in range(0, len(schedule), chunk_frames):
        run = schedule[start : start + chunk_frames]
        low, high = int(run.min()), int(run.max()) + 1
        sequential = bool(np.array_equal(run, np.arange(low, high)))
        chunks.append(Chunk(len(chunks), start, start + len(run), low, high, sequential))
    return chunks
