"""A template's face track: where the chosen face is in every frame, in the shared 68-point layout."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from heygem_ops.face.landmarks import N_POINTS


def box_of(points: np.ndarray) -> np.ndarray:
    """(4,) float32 x0, y0, x1, y1 enclosing (N, 2+) points."""
    return np.concatenate([points[:, :2].min(axis=0), points[:, :2].max(axis=0)]).astype(np.float32)


@dataclass(frozen=True)
class FaceRow:
    """One frame of a track as a tracker finds it: (68, 2) float32 landmarks, (4,) float32 box, score."""

    landmarks: np.ndarray
    box: np.ndarray
    score: float


@dataclass(frozen=True)
class FaceTrack:
    """Per-frame geometry of one face across a template.

    landmarks:  (F, 68, 2) float32, x/y in pixels of the upright (rotation-applied) frame; NaN where
                the frame has no face.
    boxes:      (F, 4) float32 x0, y0, x1, y1 of the face, NaN where none.
    confidence: (F,) float32 in [0, 1]; 0 where the frame has no face.
    size:       (width, height) of the frames the track was measured on.
    backend:    tracker name that produced it ("mesh", "fan").
    """

    landmarks: np.ndarray
    boxes: np.ndarray
    confidence: np.ndarray
    size: tuple[int, int]
    backend: str

    def __post_init__(self) -> None:
        n = len(self.confidence)
        if self.landmarks.shape != (n, N_POINTS, 2) or self.boxes.shape != (n, 4):
            raise ValueError(
                f"inconsistent face track shapes: landmarks {self.landmarks.shape}, "
                f"boxes {self.boxes.shape}, confidence {self.confidence.shape}"
            )

    @classmethod
    def from_rows(cls, rows: Sequence[FaceRow | None], size: tuple[int, int], backend: str) -> FaceTrack:
        """Stack per-frame rows (None: no face) into a track; NaN and confidence 0 where no face."""
        count = len(rows)
        landmarks = np.full((count, N_POINTS, 2), np.nan, dtype=np.float32)
        boxes = np.full((count, 4), np.nan, dtype=np.float32)
        confidence = np.zeros(count, dtype=np.float32)
        for index, row in enumerate(rows):
            if row is not None:
                landmarks[index], boxes[index], confidence[index] = row.landmarks, row.box, row.score
        return cls(landmarks, boxes, confidence, size, backend)

    @property
    def frame_count(self) -> int:
        return len(self.confidence)

    @property
    def present(self) -> np.ndarray:
        """(F,) bool: frames where the face was found."""
        return self.confidence > 0

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            landmarks=self.landmarks,
            boxes=self.boxes,
            confidence=self.confidence,
            size=np.asarray(self.size, dtype=np.int64),
            backend=np.asarray(self.backend),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> FaceTrack:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return cls(
                landmarks=arrays["landmarks"].astype(np.float32),
                boxes=arrays["boxes"].astype(np.float32),
                confidence=arrays["confidence"].astype(np.float32),
                size=(int(arrays["size"][0]), int(arrays["size"][1])),
                backend=str(arrays["backend"]),
            )

    def save(self, path: Path) -> None:
        path.write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> FaceTrack:
        return cls.from_bytes(path.read_bytes())


def load_track(path: Path) -> FaceTrack:
    """A saved track file, kept in memory so the chunks of a job read it once per process."""
    return _load_track(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_track(path: str, mtime_ns: int) -> FaceTrack:
    return FaceTrack.load(Path(path))
