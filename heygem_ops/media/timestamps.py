"""Per-file frame timetable: frame index <-> presentation timestamp, the basis of exact seeking.

Headers lie or stay silent about frame counts (Matroska and WebM carry none; VFR files have no
constant step), so the truth is read from the packets themselves: demuxing without decoding costs
about a millisecond per thousand frames. The table is cached in-process per (path, size, mtime).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
from av.packet import Packet

from heygem_ops.errors import NoVideoStreamError
from heygem_ops.media._av import open_input, reading, video_stream


def frame_timestamps(path: Path) -> np.ndarray:
    """Ascending presentation timestamps of every decodable frame of the video stream.

    Returns a read-only int64 array of shape (frame_count,), in the stream's time_base: frame i of
    the file is the frame whose pts is entry i. Raises NoVideoStreamError for a file without video.
    """
    return _cached(path)[0]


def frame_starts(path: Path) -> np.ndarray:
    """When each frame starts to show, in seconds after the first frame: float64 (frame_count,).

    A phone's variable-rate video has uneven steps here; the output timeline follows them.
    """
    table, time_base = _cached(path)
    return (table - table[0]).astype(np.float64) * float(time_base) if len(table) else np.zeros(0)


def _cached(path: Path) -> tuple[np.ndarray, Fraction]:
    resolved = Path(path).resolve()
    with reading(resolved):
        stat = resolved.stat()
    return _timetable(str(resolved), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _timetable(path: str, size: int, mtime_ns: int) -> tuple[np.ndarray, Fraction]:
    """Demux `path` once: (read-only timestamps, time base). `size` and `mtime_ns` only key the cache,
    so an edited file is re-read."""
    with open_input(Path(path)) as container:
        stream = video_stream(container)
        if stream is None:
            raise NoVideoStreamError("holds no video stream", path=path, hint="use a video or image template")
        stamps = [_stamp(packet) for packet in container.demux(stream) if _is_frame(packet)]
        time_base = Fraction(stream.time_base)
    table = np.sort(np.asarray(stamps, dtype=np.int64))
    table.flags.writeable = False
    return table, time_base


def _is_frame(packet: Packet) -> bool:
    """A packet that decodes to a shown frame: not the end-of-stream marker, not marked discard."""
    return packet.size > 0 and not packet.is_discard and (packet.pts is not None or packet.dts is not None)


def _stamp(packet: Packet) -> int:
    """The packet's presentation time; containers without pts (some AVI) give the dts instead."""
    return packet.pts if packet.pts is not None else packet.dts
