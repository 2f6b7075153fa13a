"""The one place where FFmpeg's errors become HeyGem-Ops errors, and where streams are chosen.

Every reader in `heygem_ops.media` opens its input through `open_input` (or wraps its reads in
`reading`), so that a zero-byte, truncated or foreign file always surfaces as an
`UnreadableMediaError` that names the file and the fix, chained `from` the FFmpeg error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
from av.audio.stream import AudioStream
from av.container import InputContainer
from av.stream import Disposition
from av.video.stream import VideoStream

from heygem_ops.errors import UnreadableMediaError
from heygem_ops.i18n import N_, Message

_REEXPORT_HINT = N_("check that it is a complete audio, video or image file (re-export or re-download it)")


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Re-raise FFmpeg and OS failures met while reading `path` as `UnreadableMediaError`."""
    try:
        yield
    except FileNotFoundError as err:
        raise UnreadableMediaError("file not found", path=path, hint="check the path") from err
    except (av.FFmpegError, OSError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise UnreadableMediaError(
            "cannot be read as media ({reason})", path=path, hint=Message(_REEXPORT_HINT), reason=reason
        ) from err


@contextmanager
def open_input(path: Path) -> Iterator[InputContainer]:
    """Open `path` for demuxing; any failure while the container is open is mapped by `reading`.

    Metadata that is not UTF-8 (a tag written in a legacy code page) is read with replacement
    characters rather than refusing a playable file.
    """
    with reading(path), av.open(str(path), mode="r", metadata_errors="replace") as container:
        yield container


def video_stream(container: InputContainer) -> VideoStream | None:
    """The first real video stream: cover art (an `attached_pic` in an mp3 or m4a) does not count."""
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    return None


def audio_stream(container: InputContainer) -> AudioStream | None:
    """The first audio stream, or None for a silent file."""
    return container.streams.audio[0] if container.streams.audio else None
