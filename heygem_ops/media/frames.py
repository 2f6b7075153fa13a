"""Template frames by index, upright, streamed: the only way pixels leave a template file.

Index i means the i-th frame in presentation order (see `timestamps.frame_timestamps`), so a chunk
of frames [start, stop) is the same pixels however the file is cut, whatever its frame rate (CFR,
non-integer such as 1350/61, or VFR) and wherever a worker starts reading. Frames come at the
size the probe chose (scaled by FFmpeg's area filter while converting to RGB, so a 4K frame is never
held as 4K RGB) and, for HDR streams, tone-mapped to SDR BT.709 (see `tonemap`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from heygem_ops.media._av import open_input, video_stream
from heygem_ops.media.probe import VideoInfo
from heygem_ops.media.stills import still_picture
from heygem_ops.media.timestamps import frame_timestamps
from heygem_ops.media.tonemap import tone_map

_FIRST_BACKOFF = 16  # frames to step back when a seek lands past the wanted frame; grows 4x per retry


def iter_frames(info: VideoInfo, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Yield frames `start` .. `stop - 1` (clamped to the file) as RGB uint8 (height, width, 3).

    Frames come upright (the rotation metadata is applied) and scaled, so shapes match `info.height`
    and `info.width`. A deep `start` seeks to the keyframe before it and decodes forward from there.
    A still yields its picture (EXIF orientation applied) for index 0 only.
    """
    stop = info.frame_count if stop is None else min(stop, info.frame_count)
    if start >= stop:
        return
    if info.is_still:
        yield still_picture(info.path, (info.width, info.height))
        return
    table = frame_timestamps(info.path)
    with open_input(info.path) as container:
        stream = video_stream(container)
        stream.thread_type = "AUTO"
        for index, frame in _frames_from(container, stream, table, start):
            if index >= stop:
                return
            if index >= start:
                yield _picture(frame, info)


def _frames_from(
    container: InputContainer, stream: VideoStream, table: np.ndarray, start: int
) -> Iterator[tuple[int, VideoFrame]]:
    """Decoded (index, frame) pairs beginning at or before frame `start`.

    Seeks backward to a keyframe before `table[start]`. Some demuxers index keyframes by dts, so
    the landing frame can still lie after `start`; then seek again from further back.
    """
    back = 0
    while True:
        target = max(0, start - back)
        if target > 0 or back > 0:
            container.seek(int(table[target]), stream=stream, backward=True, any_frame=False)
        frames = _numbered(container.decode(stream), table)
        first = next(frames, None)
        if first is None:
            return
        if first[0] <= start or target == 0:
            yield first
            yield from frames
            return
        back = max(_FIRST_BACKOFF, 4 * back)


def _numbered(frames: Iterator[VideoFrame], table: np.ndarray) -> Iterator[tuple[int, VideoFrame]]:
    """Pair each decoded frame with its index: the position of its pts in the timetable."""
    index = -1
    for frame in frames:
        index = index + 1 if frame.pts is None else int(np.searchsorted(table, frame.pts))
        yield index, frame


def _picture(frame: VideoFrame, info: VideoInfo) -> np.ndarray:
    """RGB uint8 (info.height, info.width, 3), contiguous: scaled, tone-mapped when HDR, turned upright.

    Scaling happens in the stored orientation, before the turn by `info.rotation` degrees clockwise.
    """
    size = (info.width, info.height) if info.rotation in (0, 180) else (info.height, info.width)
    scale = {"width": size[0], "height": size[1], "interpolation": "AREA"} if info.scaled else {}
    if info.hdr is None:
        rgb = frame.to_ndarray(format="rgb24", **scale)
    else:
        rgb = tone_map(frame.to_ndarray(format="rgb48le", **scale), info.hdr)
    return np.ascontiguousarray(np.rot90(rgb, k=-(info.rotation // 90))) if info.rotation else rgb
