"""Per-frame cost of the warp engine's compose step at 512x512 25 fps, against decode + encode.

    .venv/bin/python bench/warp_speed.py [--frames 200] [--template PATH] [--audio PATH]

Decodes the template's frames, encodes them untouched as an H.264 segment (the floor: what any
job pays per frame, measured in this run), then renders every frame with `render_warp` and times
that too. Times are CPU seconds of this process, all its threads (`time.process_time`: the
encoder and OpenCV work in threads of their own), so other work on the machine does not inflate
them; wall-clock figures are printed beside them. The verdict is the job's per-frame CPU (decode +
engine + render + encode) against the 40 ms a 25 fps frame lasts: below 1x, one core keeps up
with real time. Exits 1 when it does not.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

from heygem_ops.articulation.analysis import analyse
from heygem_ops.compose.warp import render_warp
from heygem_ops.engines.warp import target_landmarks
from heygem_ops.face.landmarks import mouth_width
from heygem_ops.face.trackers import create_tracker
from heygem_ops.media import SegmentWriter, decode_audio, iter_frames, probe_video

MEDIA = Path(os.environ.get("HEYGEM_TEST_MEDIA", Path(__file__).resolve().parent.parent.parent / "shared" / "media"))
TEMPLATE = MEDIA / "sadtalker_WDA_KatieHill_000.mp4"  # 512x512, 25 fps, a talking face
AUDIO = MEDIA / "sadtalker_chinese_news.wav"


class Clock:
    """Process CPU and wall seconds spent inside `time_it` calls."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.wall = 0.0

    def time_it(self, work: Callable[[], object]) -> object:
        cpu, wall = time.process_time(), time.perf_counter()
        result = work()
        self.cpu += time.process_time() - cpu
        self.wall += time.perf_counter() - wall
        return result


def measure(template: Path, audio: Path, count: int) -> dict[str, Clock]:
    """Time decode, encode, engine and render over the first `count` frames of `template`.

    Each stage is timed as one block over all frames, so work the decoder or encoder threads do
    behind the caller's back (lookahead, the final flush) is counted too.
    """
    info = probe_video(template)
    clocks = {name: Clock() for name in ("decode", "encode", "engine", "render")}
    frames = clocks["decode"].time_it(lambda: list(iter_frames(info, 0, min(count, info.frame_count))))
    landmarks = create_tracker("mesh").track(iter(frames)).landmarks
    width = float(np.nanmedian(mouth_width(landmarks)))
    shape = analyse(decode_audio(audio), info.fps, len(frames))
    targets = clocks["engine"].time_it(lambda: target_landmarks(landmarks, shape, width))
    clocks["encode"].time_it(lambda: _encode(frames, info.width, info.height, info.fps))
    clocks["render"].time_it(lambda: _render(frames, landmarks, targets, shape.jaw))
    for clock in clocks.values():
        clock.cpu, clock.wall = clock.cpu / len(frames), clock.wall / len(frames)
    return clocks


def _encode(frames: list[np.ndarray], width: int, height: int, fps: Fraction) -> None:
    """Write the frames untouched as one H.264 segment (the job's encoder settings), then discard it."""
    with (
        tempfile.TemporaryDirectory() as folder,
        SegmentWriter(Path(folder) / "floor.mp4", width, height, fps) as writer,
    ):
        for frame in frames:
            writer.write(frame)


def _render(frames: list[np.ndarray], landmarks: np.ndarray, targets: np.ndarray, activity: np.ndarray) -> None:
    """render_warp every frame that has a face, as compose does."""
    for k, frame in enumerate(frames):
        if not np.isnan(landmarks[k]).any():
            render_warp(frame, landmarks[k], targets[k], float(activity[k]))


def report(clocks: dict[str, Clock], fps: Fraction) -> bool:
    """Print per-frame milliseconds and ratios; True when one thread keeps up with real time."""
    frame_ms = 1000.0 / float(fps)
    floor = clocks["decode"].cpu + clocks["encode"].cpu
    job = floor + clocks["engine"].cpu + clocks["render"].cpu
    for name, clock in clocks.items():
        print(f"{name:8} {clock.cpu * 1000:7.2f} ms/frame cpu  {clock.wall * 1000:7.2f} ms/frame wall")
    print(f"floor (decode + encode)       {floor * 1000:7.2f} ms/frame")
    print(f"render / floor                {clocks['render'].cpu / floor:7.2f}x")
    ratio = job * 1000 / frame_ms
    print(f"job per frame                 {job * 1000:7.2f} ms cpu = {ratio:.2f}x real time on one core")
    return job * 1000 <= frame_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--audio", type=Path, default=AUDIO)
    args = parser.parse_args(argv)
    info = probe_video(args.template)
    print(f"{args.template.name}: {info.width}x{info.height} {float(info.fps):g} fps, {args.frames} frames")
    return 0 if report(measure(args.template, args.audio, args.frames), info.fps) else 1


if __name__ == "__main__":
    sys.exit(main())
