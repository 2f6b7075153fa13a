"""The template cache: per-template preprocessing stored by content hash, safe across processes.

Entries are written to a temporary name and renamed into place, so a reader never sees half an
entry; an entry that fails to load anyway (disk trouble, a foreign file) is deleted and rebuilt.
Building an entry holds a lock file, so many jobs that start at once on the same template compute
it once and the rest wait for the result.
"""

from __future__ import annotations

import errno
import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from heygem_ops.atomic import write_atomically
from heygem_ops.errors import ResourceError
from heygem_ops.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")


class TemplateCache:
    """Files under ``root/<template hash>/<name>``, built once and reused by every job."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, template_hash: str, name: str) -> Path:
        return self.root / template_hash[:2] / template_hash / name

    def get_or_build(
        self,
        template_hash: str,
        name: str,
        build: Callable[[], T],
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
    ) -> tuple[T, bool]:
        """The cached value, or `build()` stored for next time. Returns (value, was_cached)."""
        path = self.path(template_hash, name)
        value = self._load(path, decode)
        if value is not None:
            return value, True
        with self._lock(path):
            value = self._load(path, decode)  # another process may have built it while we waited
            if value is not None:
                return value, True
            value = build()
            self._store(path, encode(value))
            return value, False

    def _load(self, path: Path, decode: Callable[[bytes], T]) -> T | None:
        try:
            return decode(path.read_bytes())
        except FileNotFoundError:
            return None
        except Exception as err:  # a damaged entry is rebuilt, never trusted
            log.warning("Cache entry %s is damaged (%s); rebuilding it", path, err)
            path.unlink(missing_ok=True)
            return None

    @staticmethod
    def _store(path: Path, data: bytes) -> None:
        """Write an entry whole or not at all; a dead writer's temporary is swept by the next writer."""
        with _disk_full_is_a_resource_error(path):
            write_atomically(path, data)

    @contextmanager
    def _lock(self, path: Path) -> Iterator[None]:
        """Hold the entry's lock file; the kernel releases it when the holder dies, however it dies."""
        with _disk_full_is_a_resource_error(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = open(path.with_name(path.name + ".lock"), "w")  # noqa: SIM115 (closed below)
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def _disk_full_is_a_resource_error(path: Path) -> Iterator[None]:
    """Re-raise a full disk or quota met while writing cache entry `path` as a retryable ResourceError."""
    try:
        yield
    except (OSError, ResourceError) as err:
        if isinstance(err, OSError) and err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise ResourceError(
            "disk full while writing a cache entry",
            path=path,
            hint="free disk space there (or point HEYGEM_CACHE_DIR elsewhere) and retry",
        ) from err
