"""Encode one chunk of output frames as an H.264 segment that concatenates without re-encoding.

Every segment written with the same size, rate, preset, crf and colour has identical codec
parameters (libx264, yuv420p, the template's colour tags) and starts with an IDR keyframe, so
`publish.publish_video` can join segments from any worker by copying packets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
from av.container import OutputContainer
from av.video.reformatter import ColorRange
from av.video.stream import VideoStream

from heygem_ops.atomic import atomic_output
from heygem_ops.errors import InternalError
from heygem_ops.media.colour import STILL, Colour, rgb_to_yuv420


@dataclass(frozen=True)
class EncodeSettings:
    """How segments are encoded: every segment of a job shares them, so they concatenate by copying."""

    preset: str = "veryfast"  # libx264 preset
    crf: int = 18  # libx264 quality (lower is better, 0-51)


def output_size(width: int, height: int) -> tuple[int, int]:
    """The (width, height) a SegmentWriter produces: each rounded down to even (yuv420p needs it)."""
    return width - width % 2, height - height % 2


class SegmentWriter:
    """Context manager writing RGB frames to an MP4 segment (whatever the suffix) at `path`.

    Frames are (height, width, 3) uint8 RGB; an odd width or height loses its last column or row
    (see `output_size`). The file appears at `path` only when the block exits cleanly; on an
    exception nothing is left behind. Frame i is shown at i / fps seconds. `colour` is the template's:
    frames are encoded with the matrix they were decoded with, and tagged alike. `threads`: x264's
    threads, 0 to let it take about 1.5 per CPU; writers in several processes sharing the CPUs each
    do better with a share (x264's frame threads cost 6% more CPU per frame than one thread).
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: Fraction,
        *,
        preset: str = "veryfast",
        crf: int = 18,
        colour: Colour = STILL,
        threads: int = 0,
    ) -> None:
        self.path, self.width, self.height, self.fps = Path(path), width, height, Fraction(fps)
        self.colour = colour
        self._size = output_size(width, height)
        if min(self._size) < 2:
            raise InternalError(f"frame size {width}x{height} is too small to encode", path=self.path)
        options = {"preset": preset, "crf": str(crf), "threads": str(threads)}
        self._file = _segment_file(self.path, self._size, self.fps, options, colour)
        self._count = 0

    def __enter__(self) -> SegmentWriter:
        self._container, self._stream = self._file.__enter__()
        return self

    def write(self, frame: np.ndarray) -> None:
        """Encode one RGB uint8 frame of shape (height, width, 3) as the next frame of the segment."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise InternalError(
                f"frame {frame.shape} {frame.dtype} is not the segment's ({self.height}, {self.width}, 3) uint8",
                path=self.path,
            )
        width, height = self._size
        picture = av.VideoFrame.from_ndarray(rgb_to_yuv420(frame[:height, :width], self.colour), format="yuv420p")
        picture.pts = self._count
        self._container.mux(self._stream.encode(picture))
        self._count += 1

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool | None:
        """Flush the encoder and publish the file on success; discard it on failure."""
        return self._file.__exit__(kind, error, trace)


@contextmanager
def _segment_file(
    path: Path, size: tuple[int, int], fps: Fraction, options: dict[str, str], colour: Colour
) -> Iterator[tuple[OutputContainer, VideoStream]]:
    """An open MP4 container with a tagged libx264 stream; flushed and published after a clean exit."""
    with atomic_output(path) as temporary, av.open(str(temporary), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        context = stream.codec_context
        context.time_base = 1 / fps
        context.color_primaries, context.color_trc = colour.primaries, colour.trc
        context.colorspace, context.color_range = colour.space, ColorRange.MPEG
        yield container, stream
        container.mux(stream.encode(None))
