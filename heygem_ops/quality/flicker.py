"""Does the re-made mouth flicker? Its frame-to-frame jolts, against the template's own.

A mouth that pops between two shapes (a switch of source frame without a cross-fade, a landmark
jump, a chunk that disagrees with its neighbour) changes frames that their neighbours agree on.
Steady motion, however fast, does not: the second temporal difference |x[t+s] - 2 x[t] + x[t-s]|
is small for a mouth that opens smoothly and large for one that jumps. So each sampled frame's jolt
is the mean second difference of grey levels over its lower face (the template's landmarks of the
middle frame), in a region fixed for the run of frames so that head motion reads as motion; the
output's high percentile over the template's own (the frames shown, in the order shown) is the figure.
A template whose mouth never opens (a still, or a video of a silent face) has no mouth motion to
compare with: every change speech makes there would read as flicker, so there is no figure, as for
a still image.

Frames are sampled every STEP-th (s = STEP), as the mouth is tracked during compose: a switch or a
pop lasting STEP frames or more always shows, a single odd frame's glitch only every other time, and
the cost stays a tenth of a millisecond per sampled frame at any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from heygem_ops.face.landmarks import mouth_opening
from heygem_ops.face.regions import lower_face_polygon, polygon_mask
from heygem_ops.quality.mouth import OPEN_MOUTH

STEP = 2  # frames between samples: lips move below 6 Hz, so 12.5 samples a second follow them
SIDE = 96  # px: the region is compared at this size (grey, area-averaged): a mouth is ~30 px across
CROP_SIDE = 2 * SIDE  # px: ...from a bilinear crop of twice the size (the compose meter's tracker crop)
PERCENTILE = 95.0  # a jolt shows on few frames: the figure compares this high percentile of the two
MIN_JOLT = 0.5  # grey levels: a template whose frames jolt less (a still image) has no change to compare
MIN_FRAMES = 8  # jolts a figure needs...
MIN_OPEN = 3  # ...and sampled template frames with an open mouth (quality.mouth.OPEN_MOUTH) among them


@dataclass
class FlickerStats:
    """Per-frame jolts (mean |second difference| in grey levels over the lower face) of an output and of
    the template frames it was made from, and how many of those template frames show an open mouth; runs
    of frames from several chunks join by concatenation."""

    output: list[float] = field(default_factory=list)
    template: list[float] = field(default_factory=list)
    template_open: int = 0

    @classmethod
    def joined(cls, parts: list[FlickerStats]) -> FlickerStats:
        return cls(
            [v for p in parts for v in p.output],
            [v for p in parts for v in p.template],
            sum(p.template_open for p in parts),
        )

    @property
    def ratio(self) -> float | None:
        """The output's PERCENTILE-th jolt over the template's; None with too few frames, or a template that
        is still or never opens its mouth."""
        if len(self.output) < MIN_FRAMES or self.template_open < MIN_OPEN:
            return None
        template = float(np.percentile(self.template, PERCENTILE))
        if template < MIN_JOLT:
            return None
        return float(np.percentile(self.output, PERCENTILE)) / template


def region_crop(rgb: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
    """The (x0, y0, x1, y1) region of a frame, bilinearly at CROP_SIDE px a side."""
    x0, y0, x1, y1 = region
    return cv2.resize(rgb[y0:y1, x0:x1], (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_LINEAR)


def _grey(crop: np.ndarray) -> np.ndarray:
    """A `region_crop` area-averaged to SIDE px, grey: within a few % of area-averaging the region, at a
    7th of the cost."""
    return cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (SIDE, SIDE), interpolation=cv2.INTER_AREA).astype(
        np.float32
    )


class FlickerMeter:
    """Folds consecutive (output, template) frame pairs into a `FlickerStats` (every STEP-th), holding two
    small grey images of each. `region` (x0, y0, x1, y1), fixed for the run, frames the face; None:
    nothing measured."""

    def __init__(self, region: tuple[int, int, int, int] | None) -> None:
        self.stats = FlickerStats()
        self._region = region
        self._last: list[tuple[np.ndarray, np.ndarray]] = []
        self._middle: np.ndarray | None = None  # landmarks of the newest frame, for when it is the middle one
        self._seen = 0

    def add(self, output: np.ndarray, template: np.ndarray, landmarks: np.ndarray | None) -> None:
        """The next frame pair (RGB uint8, same size) and the template's (68, 2) landmarks, or None (no face)."""
        self._seen += 1
        if self._region is None or (self._seen - 1) % STEP:
            return
        self.add_sample(region_crop(output, self._region), region_crop(template, self._region), landmarks)

    def add_sample(self, output: np.ndarray, template: np.ndarray, landmarks: np.ndarray | None) -> None:
        """One sampled pair already cut to the region (`region_crop`: a caller that has the output's crop
        at hand spares cutting it twice) and the template's (68, 2) landmarks in frame pixels, or None."""
        pair = (_grey(output), _grey(template))
        if len(self._last) == 2 and self._middle is not None:
            mask = self._mask(self._middle)
            if mask.any():
                for values, index in ((self.stats.output, 0), (self.stats.template, 1)):
                    jolt = pair[index] - 2.0 * self._last[1][index] + self._last[0][index]
                    values.append(float(np.abs(jolt[mask]).mean()))
                self.stats.template_open += int(mouth_opening(self._middle) >= OPEN_MOUTH)
        self._last = [*self._last[-1:], pair]
        self._middle = None if landmarks is None or not np.isfinite(landmarks).all() else landmarks

    def _mask(self, landmarks: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = self._region  # type: ignore[misc]
        scale = np.array([SIDE / (x1 - x0), SIDE / (y1 - y0)], dtype=np.float32)
        polygon = (lower_face_polygon(landmarks) - np.array([x0, y0], dtype=np.float32)) * scale
        return polygon_mask((SIDE, SIDE), polygon) >= 0.5
