"""Files that appear whole or not at all: write beside the target, fsync, then rename into place.

A crash, a full disk or a bad input leaves no half-written file under the final name, so a cache or
a rerun that checks "does the output exist?" can trust the answer.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from heygem_ops.errors import OutputPathError, ResourceError

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


@contextmanager
def atomic_output(output: Path) -> Iterator[Path]:
    """Yield a temporary path in `output`'s folder; on success it replaces `output`, else it is removed.

    Raises OutputPathError when the folder is missing or not writable, ResourceError on a full disk.
    """
    temporary = _reserve(output)
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, output)
    except BaseException as err:
        temporary.unlink(missing_ok=True)
        if getattr(err, "errno", None) in _DISK_FULL:  # OSError and av.FFmpegError both carry errno
            raise ResourceError("disk full while writing", path=output, hint="free disk space and retry") from err
        raise


def _reserve(output: Path) -> Path:
    """Create an empty, uniquely named hidden file beside `output`."""
    folder = output.parent
    try:
        handle, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=folder)
    except (FileNotFoundError, NotADirectoryError) as err:
        raise OutputPathError("output folder does not exist", path=folder, hint="create it first") from err
    except PermissionError as err:
        raise OutputPathError("output folder is not writable", path=folder, hint="choose another folder") from err
    os.close(handle)
    return Path(name)


def _fsync(path: Path) -> None:
    """Flush `path`'s bytes to the disk before the rename makes them visible."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
