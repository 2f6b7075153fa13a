"""The output timeline: which template frame each output frame shows, and how frames split into chunks.

The output is as long as the audio. A shorter template plays forward then backward ("ping-pong",
the default), so there is never a visible jump back to frame 0, or, when asked (HeyGem's `pn=0`),
plainly again from frame 0; a longer template is cut. One forward pass follows the template's real
timestamps (`forward_pass`), so a phone's variable-rate video, or an output rate other than the
template's, keeps the template's timing within a frame. Chunks are the unit of
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


def frame_schedule(
    template_frames: int, output_frames: int, loop: str = PINGPONG, forward: np.ndarray | None = None
) -> np.ndarray:
    """Template frame index for every output frame, looping forward-then-backward (or plainly).

    Returns (output_frames,) int32. With 4 template frames, ping-pong: 0 1 2 3 2 1 0 1 2 3 2 ...;
    the end frames are not repeated, so motion never freezes for a frame at the turn. Plain:
    0 1 2 3 0 1 2 3 ... (a jump back at every turn). `forward` (see `forward_pass`) is one forward
    play at the output rate; by default each frame once, in order.
    """
    if template_frames < 1 or output_frames < 0:
        raise ValueError(f"bad frame counts: template {template_frames}, output {output_frames}")
    if loop not in LOOPS:
        raise ValueError(f"loop {loop!r} is not one of {', '.join(LOOPS)}")
    forward = np.arange(template_frames) if forward is None else np.asarray(forward)
    steps = np.arange(output_frames, dtype=np.int64)
    if len(forward) == 1:
        return np.full(output_frames, forward[0], dtype=np.int32)
    if loop == PLAIN:
        return forward[steps % len(forward)].astype(np.int32)
    period = 2 * (len(forward) - 1)
    phase = steps % period
    return forward[np.where(phase < len(forward), phase, period - phase)].astype(np.int32)


def forward_pass(starts_s: np.ndarray, end_s: float, fps: Fraction) -> np.ndarray:
    """The template frame each output frame of one forward play shows, at `fps` frames per second.

    `starts_s`: (frames,) ascending seconds at which each template frame starts to show (the first at
    0); `end_s`: when the last one stops. Output frame k stands for the interval [k, k+1) / fps and
    shows the template frame on screen at its middle, so timing errors stay under half a frame
    wherever the template's frames fall; at the template's own constant rate this is 0, 1, 2, ...
    Returns (round(end_s * fps) or 1,) int32.
    """
    count = max(1, round(end_s * float(fps)))
    middles = (np.arange(count) + 0.5) / float(fps) - 1e-9  # a frame starting exactly at a middle comes later
    shown = np.searchsorted(starts_s, middles, side="right") - 1
    return np.clip(shown, 0, len(starts_s) - 1).astype(np.int32)


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
