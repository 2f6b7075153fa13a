"""Content hashes: the identity of templates, recordings, jobs and outputs, independent of file names."""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

DIGEST_CHARS = 32  # hex characters kept: 128 bits, ample for millions of files


def file_digest(path: Path) -> str:
    """BLAKE2b of a file's bytes. Memoised per (path, size, mtime) so a batch hashes each file once."""
    stat = os.stat(path)
    return _digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4096)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=DIGEST_CHARS // 2)).hexdigest()


def value_digest(value: Any) -> str:
    """Hash of a JSON-serialisable value, stable across processes (sorted keys, no whitespace)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=DIGEST_CHARS // 2).hexdigest()
