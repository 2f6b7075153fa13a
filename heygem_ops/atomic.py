"""Files that appear whole or not at all: write beside the target, fsync, then rename into place.

A crash, a full disk or a bad input leaves no half-written file under the final name, so a cache or
a rerun that checks "does the output exist?" can trust the answer. A writer holds an exclusive
lock on its temporary while it writes, so the temporaries of a killed writer (SIGKILL, power loss)
are recognised by the next writer of the same target, and removed.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from heygem_ops.errors import OutputPathError, ResourceError

_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_CREATE_MODE = 0o666 & ~_umask()  # what open() would have given the file: read access for others


@contextmanager
def atomic_output(output: Path) -> Iterator[Path]:
    """Yield a temporary path in `output`'s folder; on success it replaces `output`, else it is removed.

    Raises OutputPathError when the folder is missing or not writable, ResourceError on a full disk.
    """
    _sweep(output)
    temporary, lock = _reserve(output)
    try:
        yield temporary
        os.chmod(temporary, _CREATE_MODE)  # mkstemp made it 0600; a published file gets the usual mode
        fsync_path(temporary)
        os.replace(temporary, output)
    except BaseException as err:
        temporary.unlink(missing_ok=True)
        if getattr(err, "errno", None) in _DISK_FULL:  # OSError and av.FFmpegError both carry errno
            raise ResourceError("disk full while writing", path=output, hint="free disk space and retry") from err
        raise
    finally:
        os.close(lock)


def write_atomically(output: Path, data: bytes) -> None:
    """Write `data` to `output` through `atomic_output` (same errors)."""
    with atomic_output(Path(output)) as temporary:
        temporary.write_bytes(data)


def _reserve(output: Path) -> tuple[Path, int]:
    """Create an empty, uniquely named hidden file beside `output`; return it and a descriptor locking it."""
    folder = output.parent
    try:
        handle, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".part", dir=folder)
    except (FileNotFoundError, NotADirectoryError) as err:
        raise OutputPathError("output folder does not exist", path=folder, hint="create it first") from err
    except PermissionError as err:
        raise OutputPathError("output folder is not writable", path=folder, hint="choose another folder") from err
    except OSError as err:
        if err.errno in _DISK_FULL:
            raise ResourceError("disk full while writing", path=output, hint="free disk space and retry") from err
        if err.errno == errno.EROFS:
            raise OutputPathError("output folder is read-only", path=folder, hint="choose another folder") from err
        raise
    fcntl.flock(handle, fcntl.LOCK_EX)
    return Path(name), handle


def _sweep(output: Path) -> None:
    """Remove temporaries of `output` whose writer died: a living writer still holds its lock."""
    for name in glob.glob(glob.escape(str(output.parent / f".{output.name}.")) + "*.part"):
        try:
            handle = os.open(name, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(name)
        except OSError:
            pass  # a writer still at work, or a folder we may not change: leave it
        finally:
            os.close(handle)


def fsync_path(path: Path) -> None:
    """Flush a file's bytes (or a folder's entries) to the disk, so a rename is never seen before its content."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
