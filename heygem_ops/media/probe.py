"""What a template or a recording holds, checked before any work is planned.

`probe_video` and `probe_audio` open the file, pick its stream, and either return a small frozen
summary or raise the `InputError` subclass that tells the user what to fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.codec.context import CodecContext
from av.container import InputContainer
from av.stream import Stream
from av.video.stream import VideoStream

from heygem_ops.constants import STILL_FPS, frame_rate
from heygem_ops.errors import (
    EmptyAudioError,
    LimitExceededError,
    NoAudioStreamError,
    NoVideoStreamError,
    UnreadableMediaError,
)
from heygem_ops.i18n import N_, Message
from heygem_ops.media._av import audio_stream, open_input, video_stream
from heygem_ops.media.colour import BT709, STILL, Colour
from heygem_ops.media.scale import long_side_limit, scaled_size
from heygem_ops.media.stills import load_still, still_format, still_rotation, still_size
from heygem_ops.media.timestamps import frame_timestamps
from heygem_ops.media.tonemap import HDR_TRANSFERS

_CONVERT_AUDIO = N_("16-bit PCM WAV or M4A (AAC), e.g. ffmpeg -i INPUT -ar 16000 -ac 1 speech.wav")
_CONVERT_VIDEO = N_("H.264 MP4, e.g. ffmpeg -i INPUT -c:v libx264 -pix_fmt yuv420p template.mp4")
MIN_AUDIO_S = 0.04  # one frame at 25 fps: a shorter recording cannot drive a single output frame


@dataclass(frozen=True)
class VideoInfo:
    """A template's picture stream, as the rest of the pipeline sees it."""

    path: Path
    width: int  # displayed width in pixels, after the rotation metadata is applied
    height: int  # displayed height in pixels, after the rotation metadata is applied
    fps: Fraction  # average frame rate, exact (e.g. 1350/61); for a still, the requested still_fps
    frame_count: int  # exact number of decodable frames (from the packets); 1 for a still
    duration_s: float  # seconds
    rotation: int  # 0, 90, 180 or 270: clockwise degrees the stored frames are turned to be upright
    codec: str  # FFmpeg decoder name ("h264", "hevc", ...) or Pillow format ("jpeg", "png", ...)
    is_still: bool  # a PNG / JPEG / WebP / BMP image, recognised by content
    has_audio: bool  # the file also carries an audio stream
    colour: Colour  # what the frames handed out mean; the output is encoded with that matrix and tagged alike
    decoded_size: tuple[int, int]  # (width, height) upright as decoded, before scaling to (width, height)
    hdr: str | None  # "PQ" or "HLG": an HDR stream whose frames are tone-mapped to SDR BT.709; None for SDR

    @property
    def scaled(self) -> bool:
        """Whether frames are scaled down from their decoded size to (width, height)."""
        return self.decoded_size != (self.width, self.height)


@dataclass(frozen=True)
class AudioInfo:
    """A recording's sound stream (or the audio track of a video)."""

    path: Path
    sample_rate: int  # Hz, as stored
    channels: int  # as stored; decoding mixes down to mono
    duration_s: float  # seconds
    codec: str  # FFmpeg decoder name ("pcm_s24le", "mp3", "aac", ...)


def probe_video(
    path: str | Path,
    still_fps: Fraction = STILL_FPS,
    max_pixels: int | None = None,
    *,
    max_size: int | None = None,
    max_decode_pixels: int | None = None,
) -> VideoInfo:
    """Describe a template video or still portrait, as the frames `iter_frames` will hand out.

    Frames larger than `max_size` on the long side are scaled down to it (a still without one to
    `scale.STILL_MAX_SIZE`); `width` and `height` are the scaled size. Raises UnreadableMediaError
    (zero-byte, random bytes, truncated, undecodable), NoVideoStreamError (an audio-only file), and
    LimitExceededError for a picture of more than `max_decode_pixels` as stored (the bomb guard, read
    from the header before anything is decoded) or frames of more than `max_pixels` after scaling.
    """
    path = Path(path)
    image_format = still_format(path)
    if image_format is not None:
        return _still_info(path, image_format, Fraction(still_fps), (max_pixels, max_size, max_decode_pixels))
    with open_input(path) as container:
        stream = video_stream(container)
        if stream is None:
            raise NoVideoStreamError(
                "holds no video stream (is it an audio file?)", path=path, hint="use a video or image template"
            )
        context = _decodable(stream, path)
        check_decode_pixels(path, context.width * context.height, max_decode_pixels)
        stored = (context.width, context.height)
        size = scaled_size(*stored, long_side_limit(False, max_size))  # a turn swaps the sides, not the area
        check_pixels(path, size[0] * size[1], max_pixels, size)
        rotation = _first_frame_rotation(path, container, stream)
        upright = stored if rotation in (0, 180) else stored[::-1]
        size = size if rotation in (0, 180) else size[::-1]
        has_audio = audio_stream(container) is not None
        stream_s = float(stream.duration * stream.time_base) if stream.duration else None
        header_rate, time_base = stream.average_rate, stream.time_base
        codec = context.codec.canonical_name
        colour = Colour.of(context)
    hdr = HDR_TRANSFERS.get(colour.trc)
    if hdr is not None:  # frames are tone-mapped to SDR BT.709, and the output says so
        colour = Colour(BT709, BT709, BT709)
    table = frame_timestamps(path)
    if (np.diff(table) == 0).any():  # frame i is found by its timestamp: two frames may not share one
        raise UnreadableMediaError(
            "has several frames with the same timestamp",
            path=path,
            hint="re-encode it (e.g. H.264 video, AAC or WAV audio), e.g. with ffmpeg",
        )
    span_s = Fraction(int(table[-1] - table[0])) * time_base if len(table) else Fraction(0)
    fps = _average_rate(header_rate, len(table), span_s, stream_s)
    duration_s = stream_s or float(span_s + 1 / fps)
    return VideoInfo(
        path, *size, fps, len(table), duration_s, rotation, codec, False, has_audio, colour, upright, hdr
    )  # fmt: skip


def probe_audio(path: str | Path) -> AudioInfo:
    """Describe a driving recording: an audio file, or the audio track of a video.

    Raises NoAudioStreamError (a silent video), EmptyAudioError (no packets, or under 0.04 s) and
    UnreadableMediaError.
    """
    path = Path(path)
    with open_input(path) as container:
        stream = audio_stream(container)
        if stream is None:
            raise NoAudioStreamError(
                "holds no audio stream", path=path, hint="use a recording with sound, or a video with an audio track"
            )
        context = _decodable(stream, path)
        duration_s = _audio_duration(container, stream)
        info = AudioInfo(path, context.sample_rate, context.channels, duration_s, context.codec.canonical_name)
    if info.duration_s < MIN_AUDIO_S:
        raise EmptyAudioError(
            "holds {duration:.3f} s of sound, less than one video frame ({minimum} s)",
            duration=info.duration_s,
            minimum=MIN_AUDIO_S,
            path=path,
            hint="use a longer recording",
        )
    return info


def _decodable(stream: Stream, path: Path) -> CodecContext:
    """The stream's decoder context; a stream FFmpeg has no decoder for is an UnreadableMediaError
    naming the container and what to convert it to."""
    if stream.codec_context is None:
        container = stream.container.format.long_name or stream.container.format.name
        target = _CONVERT_AUDIO if stream.type == "audio" else _CONVERT_VIDEO
        raise UnreadableMediaError(
            "its {kind} stream (in {container}) uses a codec this FFmpeg cannot decode",
            path=path,
            hint="convert it to {target}",
            kind=stream.type,
            container=container,
            target=Message(target),
        )
    return stream.codec_context


def _audio_duration(container: InputContainer, stream: Stream) -> float:
    """Seconds of sound: the header's figure once a first packet proves there is sound at all,
    else the sum of the packet durations (0.0 for a file without packets)."""
    packets = (packet for packet in container.demux(stream) if packet.size > 0)
    header = _header_duration(container, stream)
    if header is not None:
        return header if next(packets, None) is not None else 0.0
    return float(sum(packet.duration or 0 for packet in packets) * stream.time_base)


def check_pixels(path: Path, pixels: int, max_pixels: int | None, size: tuple[int, int] | None = None) -> None:
    """Refuse frames of more than `max_pixels` (None: no limit) to work on, naming the fixes; with the
    frame's `size` (width, height), the hint names a --max-size that fits."""
    if max_pixels is not None and pixels > max_pixels:
        fits = 1920
        if size is not None:
            fits = min(fits, int(math.sqrt(max_pixels * max(size) / min(size))) // 16 * 16)
        raise LimitExceededError(
            "has {pixels} pixels per frame, over the {limit} limit",
            path=path,
            hint="scale it down with --max-size (e.g. --max-size {fits}) or raise HEYGEM_MAX_PIXELS",
            pixels=pixels,
            limit=max_pixels,
            fits=fits,
        )


def check_decode_pixels(path: Path, pixels: int, max_decode_pixels: int | None) -> None:
    """Refuse a picture of more than `max_decode_pixels` (None: no limit) before decoding any of it."""
    if max_decode_pixels is not None and pixels > max_decode_pixels:
        raise LimitExceededError(
            "stores {pixels} pixels per picture, over the {limit} limit of what is decoded at all",
            pixels=pixels,
            limit=max_decode_pixels,
            path=path,
            hint="downscale it first, or raise HEYGEM_MAX_DECODE_PIXELS if it is genuine",
        )


def _still_info(
    path: Path, image_format: str, fps: Fraction, limits: tuple[int | None, int | None, int | None]
) -> VideoInfo:
    """A still is a one-frame template shown for one frame period at `fps`; decoded once to prove it reads.

    `limits`: (max_pixels, max_size, max_decode_pixels), as `probe_video` takes them.
    """
    max_pixels, max_size, max_decode_pixels = limits
    stored = still_size(path)
    check_decode_pixels(path, stored[0] * stored[1], max_decode_pixels)
    rotation = still_rotation(path)
    upright = stored if rotation in (0, 180) else stored[::-1]
    size = scaled_size(*upright, long_side_limit(True, max_size))
    check_pixels(path, size[0] * size[1], max_pixels)
    height, width = load_still(path, size).shape[:2]
    return VideoInfo(
        path, width, height, fps, 1, float(1 / fps), rotation, image_format.lower(), True, False, STILL, upright, None
    )  # fmt: skip


def _first_frame_rotation(path: Path, container: InputContainer, stream: VideoStream) -> int:
    """Decode the first frame, proving the stream decodes, and read its display-matrix rotation.

    PyAV 18 exposes the display matrix only on decoded frames: `VideoFrame.rotation` is the
    counter-clockwise angle in [-180, 180]; FFmpeg's own auto-rotation turns the picture clockwise
    by its negative, and so do we.
    """
    stream.thread_type = "AUTO"
    for frame in container.decode(stream):
        return round(-frame.rotation / 90) % 4 * 90
    raise UnreadableMediaError("its video stream has no decodable frame", path=path, hint="re-export the video")


def _header_duration(container: InputContainer, stream: Stream) -> float | None:
    """Seconds from the stream header, else the container header; None when neither knows."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / av.time_base if container.duration else None


def _average_rate(
    header_rate: Fraction | None, frame_count: int, span_s: Fraction, duration_s: float | None
) -> Fraction:
    """Frames per second: the header's exact rate (e.g. 1350/61) when it agrees, within one frame, with
    the frames counted over `span_s` (first to last frame start); else the measured average, frames
    over `duration_s` (or over the span), to a 1/1001 denominator: VFR Matroska reports a nominal rate."""
    if header_rate and abs(header_rate * span_s - (frame_count - 1)) <= 1:
        return Fraction(header_rate)
    if duration_s:
        return frame_rate(frame_count / duration_s)
    if frame_count < 2 or not span_s:
        return Fraction(header_rate or 25)
    return frame_rate((frame_count - 1) / span_s)
