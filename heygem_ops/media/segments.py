"""Encode one chunk of output frames as an H.264 segment that concatenates without re-encoding.

Every segment written with the same encoder, size, rate, preset, crf and colour has identical codec
parameters (H.264, yuv420p, the template's colour tags) and starts with an IDR keyframe, so
`publish.publish_video` can join segments from any worker by copying packets.

The encoder is libx264 on the CPU or h264_nvenc on an NVIDIA GPU (PyAV's wheel carries both); `auto`
takes NVENC when it opens on this machine. The final encode is what users of GPU hosts find slow.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from types import TracebackType

import av
import av.logging
import numpy as np
from av.container import OutputContainer
from av.video.reformatter import ColorRange
from av.video.stream import VideoStream

from heygem_ops.atomic import atomic_output
from heygem_ops.errors import InputError, InternalError
from heygem_ops.i18n import N_, Message
from heygem_ops.logs import get_logger
from heygem_ops.media.colour import STILL, Colour, rgb_to_yuv420

log = get_logger(__name__)
ENCODERS = ("auto", "libx264", "h264_nvenc")  # auto: h264_nvenc when it opens here, else libx264
# x264's presets on NVENC's scale (p1 fastest .. p7 best), so one --preset means the same trade-off on both.
NVENC_PRESETS = {
    "ultrafast": "p1", "superfast": "p2", "veryfast": "p3", "faster": "p4", "fast": "p4",
    "medium": "p5", "slow": "p6", "slower": "p7", "veryslow": "p7",
}  # fmt: skip
NVENC_HINT = N_(
    "use HEYGEM_ENCODER=auto (h264_nvenc when it opens, else libx264) or libx264; "
    "h264_nvenc needs an NVIDIA GPU whose driver provides libnvidia-encode"
)


def encoder_options(encoder: str, preset: str, crf: int, threads: int) -> dict[str, str]:
    """The codec options of `encoder` (libx264 or h264_nvenc) for an x264 `preset` and `crf`.

    NVENC's constant-quality mode (`cq`, 1-51, like x264's crf; 0 would mean "its default") with the
    preset of the same speed; `threads` is x264's alone, NVENC's work is on the GPU.
    """
    if encoder == "h264_nvenc":
        return {"preset": NVENC_PRESETS[preset], "tune": "hq", "rc": "vbr", "cq": str(max(crf, 1))}
    return {"preset": preset, "crf": str(crf), "threads": str(threads)}


@lru_cache(maxsize=1)
def nvenc_failure() -> str | None:
    """None when h264_nvenc opens on this machine, else why not, in FFmpeg's words. Probed once per process.

    FFmpeg says why (e.g. "Cannot load libcuda.so.1") only to its log, so the log is captured meanwhile.
    """
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture() as said:
            _open_nvenc()
    except ValueError:  # av.codec.codec.UnknownCodecError
        reason = "this PyAV build has no h264_nvenc encoder"
    except av.FFmpegError as error:
        reason = "; ".join(message.strip() for _, _, message in said) or str(error)
    else:
        reason = None
    finally:
        av.logging.set_level(previous)
    log.info("h264_nvenc %s", "opens here" if reason is None else f"does not open here ({reason})")
    return reason


def _open_nvenc() -> None:
    context = av.CodecContext.create("h264_nvenc", "w")
    context.width, context.height, context.pix_fmt = 256, 256, "yuv420p"
    context.time_base = Fraction(1, 25)
    context.options = encoder_options("h264_nvenc", "veryfast", 18, 0)
    context.open()


def choose_encoder(name: str) -> str:
    """Resolve HEYGEM_ENCODER: `auto` is h264_nvenc when it opens, else libx264; an h264_nvenc asked for by
    name that does not open is the user's error, not a silent fall-back to the CPU."""
    if name not in ENCODERS:
        raise InputError(
            "unknown encoder {name!r}", hint="use one of: {choices}", name=name, choices=", ".join(ENCODERS)
        )
    if name == "libx264":
        return name
    failure = nvenc_failure()
    if failure is None:
        return "h264_nvenc"
    if name == "auto":
        return "libx264"
    raise InputError(
        "encoder h264_nvenc was asked for but does not open on this machine ({failure})",
        hint=Message(NVENC_HINT),
        failure=failure,
    )


@dataclass(frozen=True)
class EncodeSettings:
    """How segments are encoded: every segment of a job shares them, so they concatenate by copying."""

    preset: str = "veryfast"  # libx264 preset (NVENC takes the one of the same speed, see NVENC_PRESETS)
    crf: int = 18  # libx264 quality (lower is better, 0-51); NVENC's cq
    encoder: str = "libx264"  # one of ENCODERS (HEYGEM_ENCODER); auto is resolved where the segment is written


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
        encoder: str = "libx264",
    ) -> None:
        self.path, self.width, self.height, self.fps = Path(path), width, height, Fraction(fps)
        self.colour = colour
        self._size = output_size(width, height)
        if min(self._size) < 2:
            raise InternalError(
                "frame size {width}x{height} is too small to encode", path=self.path, width=width, height=height
            )
        self.encoder_name = choose_encoder(encoder)
        options = encoder_options(self.encoder_name, preset, crf, threads)
        self._file = _segment_file(self.path, self._size, self.fps, self.encoder_name, options, colour)
        self._count = 0

    def __enter__(self) -> SegmentWriter:
        self._container, self._stream = self._file.__enter__()
        return self

    def write(self, frame: np.ndarray) -> None:
        """Encode one RGB uint8 frame of shape (height, width, 3) as the next frame of the segment."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise InternalError(
                "frame {shape} {dtype} is not the segment's ({height}, {width}, 3) uint8",
                path=self.path,
                shape=frame.shape,
                dtype=frame.dtype,
                height=self.height,
                width=self.width,
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
    path: Path, size: tuple[int, int], fps: Fraction, encoder: str, options: dict[str, str], colour: Colour
) -> Iterator[tuple[OutputContainer, VideoStream]]:
    """An open MP4 container with a tagged H.264 stream; flushed and published after a clean exit."""
    with atomic_output(path) as temporary, av.open(str(temporary), mode="w", format="mp4") as container:
        stream = container.add_stream(encoder, rate=fps, options=options)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        context = stream.codec_context
        context.time_base = 1 / fps
        context.color_primaries, context.color_trc = colour.primaries, colour.trc
        context.colorspace, context.color_range = colour.space, ColorRange.MPEG
        yield container, stream
        container.mux(stream.encode(None))
