"""Square face crops of every template frame, for engines that see pixels (Wav2Lip: 96×96, MuseTalk: 256×256).

Boxes come from the 68 landmarks by the engine's box rule. "wav2lip": shaped like the S3FD boxes
Wav2Lip was trained on (brows plus part of the forehead down to the chin, cheek to cheek), padded
below the chin, smoothed over five frames. "musetalk": MuseTalk's own rule, cheek to cheek, from
as far above the nose bridge (point 29, moved down by `bbox_shift` px) as the chin is below it, to
the chin plus `extra_margin` px (MuseTalk 1.5's crop extension); resized with Lanczos as it does.
Then cut and resized. The crops are computed once per template and face track, and stored
in the template cache as an `.npy` that chunks read by memory map: each chunk touches only its own
rows, and building never holds more than one frame. A small `.npz` beside it (the cache entry
proper, written last) holds the boxes, so boxes and pixels always come from the same build.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from heygem_ops.cache import TemplateCache
from heygem_ops.face.landmarks import JAW
from heygem_ops.face.track import FaceTrack
from heygem_ops.media.frames import iter_frames
from heygem_ops.media.probe import VideoInfo

CROPS_VERSION = "1"  # bump when boxes or crops change, so stale cache entries are rebuilt
BROWS = np.arange(17, 27)
FOREHEAD = 0.25  # of the brow-to-chin height, added above the brows (detector boxes reach that high)
PADS = (0.0, 0.05, 0.0, 0.0)  # top, bottom, left, right, in box heights: Wav2Lip's [0, 10, 0, 0] px at ~200 px
SMOOTH_FRAMES = 5  # box positions are averaged over this many frames, centred (Wav2Lip: 5, forward)
MIN_SIDE = 16  # px: a smaller box is not a usable face
NOSE_BRIDGE = 29  # the landmark MuseTalk splits the face at
BOX_RULES = ("wav2lip", "musetalk")


@dataclass(frozen=True)
class CropRule:
    """How boxes are cut: the engine's rule (`BOX_RULES`), and MuseTalk's two px adjustments.

    bbox_shift:   MuseTalk's px moving the split point below the nose bridge (+ down, − up), which
                  moves the box's top edge by twice as much; 0 in MuseTalk 1.5.
    extra_margin: MuseTalk 1.5's px added below the chin.
    """

    name: str = "wav2lip"
    bbox_shift: int = 0
    extra_margin: int = 10

    @property
    def tag(self) -> str:
        """What the cache entry name adds for this rule ("" for Wav2Lip's, whose entries predate rules)."""
        return "" if self.name == "wav2lip" else f"-{self.name}{self.bbox_shift:+d}m{self.extra_margin}"

    @property
    def interpolation(self) -> int | None:
        return cv2.INTER_LANCZOS4 if self.name == "musetalk" else None


def face_boxes(landmarks: np.ndarray) -> np.ndarray:
    """Padded face boxes from (F, 68, 2) landmarks: (F, 4) float64 x0, y0, x1, y1; NaN where no face."""
    x0, x1 = landmarks[..., 0].min(axis=1), landmarks[..., 0].max(axis=1)
    brows = landmarks[:, BROWS, 1].min(axis=1)
    chin = landmarks[:, JAW, 1].max(axis=1)
    top = brows - FOREHEAD * (chin - brows)
    height = chin - top
    top_pad, bottom_pad, left_pad, right_pad = (pad * height for pad in PADS)
    return np.stack([x0 - left_pad, top - top_pad, x1 + right_pad, chin + bottom_pad], axis=1).astype(np.float64)


def smooth_boxes(boxes: np.ndarray, window: int = SMOOTH_FRAMES) -> np.ndarray:
    """Centred moving average of (F, 4) boxes within each run of frames that have a face.

    Runs are smoothed separately, so a box never drifts towards a face that left the frame; the
    window shrinks at a run's ends instead of leaning on missing frames.
    """
    out = boxes.copy()
    valid = ~np.isnan(boxes).any(axis=1)
    half = window // 2
    edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(np.int8), [0]])))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        run = boxes[start:stop]
        sums = np.concatenate([np.zeros((1, 4)), np.cumsum(run, axis=0)])
        index = np.arange(len(run))
        low, high = np.maximum(index - half, 0), np.minimum(index + half + 1, len(run))
        out[start:stop] = (sums[high] - sums[low]) / (high - low)[:, None]
    return out


def musetalk_boxes(landmarks: np.ndarray, rule: CropRule) -> np.ndarray:
    """MuseTalk's boxes from (F, 68, 2) landmarks (whole pixels, as it truncates them): (F, 4) float64."""
    points = np.floor(landmarks)
    x0, x1, chin = points[..., 0].min(axis=1), points[..., 0].max(axis=1), points[..., 1].max(axis=1)
    split = points[:, NOSE_BRIDGE, 1] + rule.bbox_shift
    top = np.maximum(0.0, split - (chin - split))
    return np.stack([x0, top, x1, chin + rule.extra_margin], axis=1)


def crop_boxes(track: FaceTrack, rule: CropRule | None = None) -> np.ndarray:
    """Where each template frame's crop is cut: (F, 4) float32 whole-pixel x0, y0, x1, y1 inside
    the frame, NaN where the frame has no usable face."""
    width, height = track.size
    rule = rule or CropRule()
    if rule.name not in BOX_RULES:
        raise ValueError(f"unknown crop box rule {rule.name!r}; one of {BOX_RULES}")
    if rule.name == "musetalk":
        boxes = musetalk_boxes(track.landmarks, rule)
    else:
        boxes = np.round(smooth_boxes(face_boxes(track.landmarks)))
    boxes = np.clip(boxes, 0, [width, height, width, height])
    small = (boxes[:, 2] - boxes[:, 0] < MIN_SIDE) | (boxes[:, 3] - boxes[:, 1] < MIN_SIDE)
    boxes[small | ~track.present] = np.nan
    return boxes.astype(np.float32)


def cut_crop(frame: np.ndarray, box: np.ndarray, size: int, interpolation: int | None = None) -> np.ndarray:
    """The (size, size, 3) uint8 picture of `box` in an (H, W, 3) frame, resized (the box need not be square).

    interpolation: an OpenCV flag; default area averaging when shrinking, bilinear when growing.
    """
    x0, y0, x1, y1 = (int(v) for v in box)
    region = frame[y0:y1, x0:x1]
    if interpolation is None:
        shrink = region.shape[0] > size and region.shape[1] > size
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    return cv2.resize(region, (size, size), interpolation=interpolation)


@dataclass(frozen=True)
class TemplateCrops:
    """The crops of one template on disk, and their boxes in memory.

    path:  .npy of (F, S, S, 3) uint8 RGB crops, zeros where the frame has no usable face.
    boxes: (F, 4) float32 x0, y0, x1, y1 each crop was cut from, NaN where none.
    """

    path: Path
    boxes: np.ndarray

    def take(self, frames: np.ndarray) -> np.ndarray:
        """Crops of template frames `frames` (any order, repeats allowed): (N, S, S, 3) uint8, read by mmap."""
        return take_rows(self.path, frames)


def take_rows(path: Path, frames: np.ndarray) -> np.ndarray:
    """Rows `frames` (any order, repeats allowed) of the .npy at `path`, read by memory map."""
    array = np.load(path, mmap_mode="r")
    order = np.argsort(frames, kind="stable")
    rows = np.empty((len(frames), *array.shape[1:]), dtype=array.dtype)
    rows[order] = array[np.asarray(frames)[order]]  # sorted fancy indexing reads the file forward
    return rows


def crops_entry_name(track_name: str, size: int, rule: CropRule | None = None) -> str:
    """Cache entry name of the crops of a track (the track's own name keeps tracker and face choice)."""
    return f"crops{size}{(rule or CropRule()).tag}-v{CROPS_VERSION}-{Path(track_name).stem}.npz"


def template_crops(
    cache: TemplateCache,
    template_hash: str,
    video: VideoInfo,
    track: FaceTrack,
    track_name: str,
    size: int,
    rule: CropRule | None = None,
) -> tuple[Path, bool]:
    """Build (once per template, track, size and rule) or find the crops; returns (entry path, was_cached)."""
    rule = rule or CropRule()
    name = crops_entry_name(track_name, size, rule)
    pixels = cache.path(template_hash, name).with_suffix(".npy")

    def build() -> np.ndarray:
        boxes = crop_boxes(track, rule)
        write_crops(pixels, video, boxes, size, rule.interpolation)
        return boxes

    _, cached = cache.get_or_build(
        template_hash, name, build, lambda boxes: _entry_bytes(boxes, pixels), lambda data: _read_entry(data, pixels)
    )
    return cache.path(template_hash, name), cached


def write_crops(path: Path, video: VideoInfo, boxes: np.ndarray, size: int, interpolation: int | None = None) -> None:
    """Stream the template's frames into an .npy of crops, published by rename when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        out = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=(len(boxes), size, size, 3))
        count = 0
        for index, frame in enumerate(iter_frames(video)):
            if index < len(boxes) and not np.isnan(boxes[index]).any():
                out[index] = cut_crop(frame, boxes[index], size, interpolation)
            count = index + 1
        out.flush()
        del out
        if count != len(boxes):
            raise ValueError(f"decoded {count} frames of {video.path}, the face track has {len(boxes)}")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _entry_bytes(boxes: np.ndarray, pixels: Path) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, boxes=boxes, pixels=np.asarray(pixels.name))
    return buffer.getvalue()


def _read_entry(data: bytes, pixels: Path) -> np.ndarray:
    """The boxes of an entry; raises (so the cache rebuilds it) when its pixel file is gone or does not fit."""
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        boxes = arrays["boxes"]
    shape = np.load(pixels, mmap_mode="r").shape
    if shape[0] != len(boxes):
        raise ValueError(f"{pixels.name} holds {shape[0]} crops for {len(boxes)} boxes")
    return boxes


def load_template_crops(entry: Path) -> TemplateCrops:
    """The crops whose cache entry is `entry` (kept in memory: every chunk of a job reads the same)."""
    return _load_crops(str(entry), entry.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_crops(entry: str, mtime_ns: int) -> TemplateCrops:
    pixels = Path(entry).with_suffix(".npy")
    boxes = _read_entry(Path(entry).read_bytes(), pixels)
    return TemplateCrops(pixels, boxes.astype(np.float32))
