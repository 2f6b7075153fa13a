"""An engine's per-template preparation of the face crops, cached beside them (MuseTalk: VAE latents).

What an engine computes from a template's crops alone (`Engine.prepare`) is the same for every job
on that template, so it runs once per template content hash, crop entry and weights, and later jobs
read their frames' rows by memory map. Built like the crops: streamed in batches into an .npy that
is published by rename when complete, then a small .npz entry beside it, written last.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from heygem_ops.cache import TemplateCache
from heygem_ops.face.crops import load_template_crops

PREPARED_VERSION = "1"  # bump when an engine's preparation changes, so stale entries are rebuilt
BATCH = 64  # crops handed to the engine at once: bounds host memory, the engine sub-batches on its device


def prepared_entry_name(engine: str, weights: str, crops_entry: Path) -> str:
    """Entry name: engine, the digest of its weights, and the crops it prepared (which name template and rule)."""
    return f"prepared-{engine}-{weights[:16]}-v{PREPARED_VERSION}-{crops_entry.stem}.npz"


def template_prepared(
    cache: TemplateCache,
    template_hash: str,
    crops_entry: Path,
    name: str,
    prepare: Callable[[np.ndarray], np.ndarray],
) -> tuple[Path, bool]:
    """Build (once) or find the prepared arrays of a template's crops; returns (entry path, was_cached).

    Frames without a usable face are not prepared (their rows stay zero).
    """
    rows = cache.path(template_hash, name).with_suffix(".npy")

    def build() -> tuple[int, ...]:
        write_prepared(rows, crops_entry, prepare)
        return np.load(rows, mmap_mode="r").shape

    _, cached = cache.get_or_build(template_hash, name, build, _entry_bytes, lambda data: _read_entry(data, rows))
    return cache.path(template_hash, name), cached


def write_prepared(path: Path, crops_entry: Path, prepare: Callable[[np.ndarray], np.ndarray]) -> None:
    """Stream the crops through `prepare` in batches into an .npy, published by rename when complete."""
    crops = load_template_crops(crops_entry)
    faces = np.flatnonzero(~np.isnan(crops.boxes).any(axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        out = None
        for start in range(0, len(faces), BATCH):
            frames = faces[start : start + BATCH]
            arrays = prepare(crops.take(frames))
            if out is None:
                shape = (len(crops.boxes), *arrays.shape[1:])
                out = np.lib.format.open_memmap(temporary, mode="w+", dtype=arrays.dtype, shape=shape)
            out[frames] = arrays
        if out is None:
            raise ValueError(f"{crops_entry.name} has no face to prepare")
        out.flush()
        del out
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _entry_bytes(shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, shape=np.asarray(shape))
    return buffer.getvalue()


def _read_entry(data: bytes, rows: Path) -> tuple[int, ...]:
    """The shape an entry promises; raises (so the cache rebuilds it) when the rows file is gone or differs."""
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        shape = tuple(int(v) for v in arrays["shape"])
    if np.load(rows, mmap_mode="r").shape != shape:
        raise ValueError(f"{rows.name} does not have the shape {shape} its entry promises")
    return shape


def prepared_rows(entry: Path) -> Path:
    """The .npy of an entry, whose rows `face.crops.take_rows` reads."""
    return entry.with_suffix(".npy")
