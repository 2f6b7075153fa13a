"""Quality measured while a chunk is composed: the output's mouth from small crops, pixels from a few frames.

Decoding a finished 1080p output again costs about as much as the job, so the measurement rides
along with compose instead, where the output frames already exist:

- **mouth**: each composed frame's face region (the template track's boxes over the chunk, fixed
  for the chunk, with a margin) is cut, downscaled to `FACE_SIDE` pixels (the mesh's own input
  size, bilinearly: as close to a full-size pass as area averaging, at a fifth of its cost) and
  followed by a mesh tracker kept once per process, on every `MOUTH_STRIDE`-th frame (interpolated
  between; every 3rd frame already loses 0.1 of sync r against the full-size pass). The mesh sees a
  192-pixel crop whatever the frame size, so the cost no longer grows with the resolution.
- **pixels** (PSNR outside the lower face, mouth sharpness): they must include the encoder's loss, so
  the first `PIXEL_FRAMES` frames of the published segment are decoded and compared with the
  template frames they replace (held meanwhile). An I-frame and the P-frames after it: the
  PSNR of the whole output within a fraction of a dB. Sharpness depends on what the mouth shows
  (real closed lips against a toothy template smile are less sharp than teeth against teeth), so a
  chunk's first frames are not its sample: it is taken every `SHARPNESS_STRIDE`-th composed frame
  and scaled by what encoding left of it in the first frames (published over composed).
- **flicker** (`quality.flicker`): the lower face's jolts, output against template, in the chunk's
  face region (a chunk's first frames have none; nor has the switch from one chunk to the next).

The chin-texture and teeth figures (`quality.mouth`) are not taken here: they need the lips' exact
edges, and the mouth tracked in a 192-pixel crop puts the inner lips a few pixels off, enough to move
the teeth share by 0.15; the full-size pass over the file (`heygem eval`, the benches) measures them.

`ChunkMeter` lives in the compose worker; its `ChunkQuality` (small arrays) travels back with the
segment, and `heygem_ops.quality.job` joins the chunks of a job into one `QualityReport`.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from heygem_ops.face.landmarks import mouth_opening, mouth_width
from heygem_ops.face.track import FaceTrack
from heygem_ops.face.trackers import Tracker, create_tracker
from heygem_ops.media import iter_frames, probe_video
from heygem_ops.quality.flicker import CROP_SIDE, FlickerMeter, FlickerStats, region_crop
from heygem_ops.quality.flicker import STEP as FLICKER_STEP
from heygem_ops.quality.pixels import PixelStats, lower_face_sharpness

FACE_SIDE = CROP_SIDE  # pixels: side of the downscaled face region the tracker follows (192: the mesh's input)
REGION_MARGIN = 0.4  # the region spans the chunk's face boxes plus this fraction of their size on each side
PIXEL_FRAMES = 4  # first frames of each segment decoded at full size for the pixel figures
SHARPNESS_STRIDE = 12  # every 12th composed frame's lower-face sharpness is sampled
MOUTH_STRIDE = 2  # the mouth is tracked on every 2nd frame and interpolated between: lips move below 6 Hz


@dataclass(frozen=True)
class ChunkQuality:
    """What compose measured on one chunk of F output frames.

    opening, width: (F,) float32 mouth opening and width in interocular distances; NaN where no face.
    squared_error, compared: `PixelStats` over the chunk's first frames, as published.
    output_sharpness, template_sharpness: lower-face sharpness of the sampled frames (see the module).
    flicker: the chunk's lower-face jolts (`quality.flicker.FlickerStats`).
    seconds: what measuring cost the compose worker (crops, mesh, pixel figures): the job counts them
    as quality's worker seconds, not compose's, so its results show what scoring costs.
    """

    opening: np.ndarray
    width: np.ndarray
    squared_error: float
    compared: int
    output_sharpness: tuple[float, ...]
    template_sharpness: tuple[float, ...]
    flicker: FlickerStats
    seconds: float


class ChunkMeter:
    """Collects one chunk's measurements frame by frame; `finish` returns them once the segment is out.

    track: the template's face track; schedule: (F,) template frame of each of the chunk's output frames.
    Holds F / MOUTH_STRIDE downscaled crops (192 x 192 x 3 bytes each) and PIXEL_FRAMES template frames.
    """

    def __init__(self, track: FaceTrack, schedule: np.ndarray) -> None:
        self._landmarks = track.landmarks[schedule]
        self._region = face_region(track.boxes[schedule], track.size)
        self._flicker = FlickerMeter(self._region)
        self._crops: list[np.ndarray] = []
        self._templates: list[np.ndarray] = []
        self._sharpness: list[tuple[float, float]] = []  # (output, template) of every SHARPNESS_STRIDE-th frame
        self._composed_first: dict[int, float] = {}  # output sharpness of the first frames, before encoding
        self._added = 0
        self._seconds = 0.0

    def add(self, composed: np.ndarray, template: np.ndarray) -> None:
        """The chunk's next output frame (RGB uint8, as encoded) and the template frame it replaces."""
        started = time.perf_counter()
        crop = None
        if self._region is not None and self._added % MOUTH_STRIDE == 0:
            crop = region_crop(composed, self._region)  # FACE_SIDE: the mesh's input, and the flicker's crop
            self._crops.append(crop)
        k, landmarks = self._added, self._landmarks[self._added]
        if len(self._templates) < PIXEL_FRAMES:
            self._templates.append(template)
        if (k < PIXEL_FRAMES or k % SHARPNESS_STRIDE == 0) and np.isfinite(landmarks).all():
            found = lower_face_sharpness(composed, template, landmarks)
            if found is not None and k % SHARPNESS_STRIDE == 0:
                self._sharpness.append(found)
            if found is not None and k < PIXEL_FRAMES:
                self._composed_first[k] = found[0]
        if self._region is not None and k % FLICKER_STEP == 0:
            output = crop if crop is not None else region_crop(composed, self._region)
            self._flicker.add_sample(output, region_crop(template, self._region), landmarks)
        self._added += 1
        self._seconds += time.perf_counter() - started

    def finish(self, segment: Path) -> ChunkQuality:
        """Track the mouth through the held crops and compare the segment's first frames with the template."""
        started = time.perf_counter()
        count = len(self._landmarks)
        opening = width = np.full(count, np.nan, dtype=np.float32)
        if self._crops:
            with _TRACKER_LOCK:  # one interpreter: the frames of two chunks must not interleave
                landmarks = _tracker().track(self._crops).landmarks
            opening, width = _every_frame(mouth_opening(landmarks), count), _every_frame(mouth_width(landmarks), count)
        stats = PixelStats()
        encoded = composed = 0.0
        published = itertools.islice(iter_frames(probe_video(segment)), len(self._templates))
        sampled = bool(self._sharpness)
        for k, (output, template) in enumerate(zip(published, self._templates, strict=False)):
            landmarks = self._landmarks[k]
            stats.add(output, template, None if np.isnan(landmarks).any() else landmarks, sharpness=not sampled)
            found = lower_face_sharpness(output, template, landmarks) if k in self._composed_first else None
            if found is not None:
                encoded, composed = encoded + found[0], composed + self._composed_first[k]
        output_sharpness, template_sharpness = stats.output_sharpness, stats.template_sharpness
        if sampled:  # the sample, with the encoder's share of the first frames
            share = encoded / composed if composed > 0 else 1.0
            output_sharpness = [value * share for value, _ in self._sharpness]
            template_sharpness = [value for _, value in self._sharpness]
        return ChunkQuality(
            opening,
            width,
            stats.squared_error,
            stats.compared,
            tuple(output_sharpness),
            tuple(template_sharpness),
            self._flicker.stats,
            self._seconds + time.perf_counter() - started,
        )


def _every_frame(sampled: np.ndarray, count: int) -> np.ndarray:
    """(count,) float32 from values at frames 0, MOUTH_STRIDE, 2 * MOUTH_STRIDE ...: linear in between,
    NaN next to a sample without a face, the last sample held after it."""
    at = np.arange(len(sampled)) * MOUTH_STRIDE
    frames = np.arange(count)
    values = np.interp(frames, at, np.nan_to_num(sampled, nan=0.0))
    missing = np.interp(frames, at, np.isnan(sampled).astype(np.float64)) > 0
    return np.where(missing, np.nan, values).astype(np.float32)


def face_region(boxes: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """A square x0, y0, x1, y1 around all (N, 4) face boxes plus REGION_MARGIN, inside a (width, height)
    frame; None when no box is known. Square, so downscaling keeps the face's proportions."""
    known = boxes[~np.isnan(boxes).any(axis=1)]
    if len(known) == 0:
        return None
    low, high = known[:, :2].min(axis=0), known[:, 2:].max(axis=0)
    side = float((high - low).max()) * (1 + 2 * REGION_MARGIN)
    side = min(side, float(min(size)))
    centre = (low + high) / 2
    x0, y0 = (np.clip(centre - side / 2, 0, np.array(size) - side)).astype(int)
    return int(x0), int(y0), int(x0 + side), int(y0 + side)


_TRACKER_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _tracker() -> Tracker:
    """The mesh tracker of this process, built once and reused by every chunk of every job."""
    return create_tracker("mesh")
