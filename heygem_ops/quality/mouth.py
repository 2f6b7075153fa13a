"""Does the re-shaped mouth still look photographed? Chin texture and teeth, output against template.

A warp that closes a wide-open mouth can stretch the skin between lip and chin into a smooth band
or vertical streaks, and a painted interior can show a flat grey slab where the template had real
teeth. Neither moves PSNR outside the lower face nor the sync, so they are measured here, each
frame on its own tracked landmarks (the output's mesh for the output, the template track for the
template frame it replaces), independently of the landmarks compose warped to:

- **chin texture**: variance of the Laplacian over the skin between the lower lip and the chin,
  output over the template frame shown; the median frame and the worst CHIN_PERCENTILE % are
  reported, because a smear shows on a few frames, not in the mean.
- **teeth** (frames with an open mouth): the share of interior pixels that look like teeth
  (brighter than the lips, unsaturated), and the interior's mean brightness over the lips', each as
  the output's mean over its open frames against the template's over its own open frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from heygem_ops.face.landmarks import interocular, mouth_opening
from heygem_ops.face.regions import lower_face_polygon, polygon_mask
from heygem_ops.quality.pixels import laplacian_variance

CHIN_TOP = (58, 57, 56)  # outer lower lip, image left to right...
CHIN_BOTTOM = (7, 8, 9)  # ...and the jaw points under them: the strip between is the chin's skin
CHIN_INSET = 0.2  # share of that strip left out at each end: the lip's and the chin's edges are not texture
CHIN_PERCENTILE = 2.0  # the "worst frames": this low percentile of the per-frame ratios
MIN_TEXTURE = 1.0  # template Laplacian variance below which a frame's chin has no texture to compare
OPEN_MOUTH = 0.05  # inner-lip gap (interocular distances) from which a frame's mouth counts as open
MIN_INTERIOR = 12  # interior pixels a frame needs to be measured
TEETH_SATURATION = 0.35  # HSV saturation below which a pixel brighter than the lips reads as teeth
MIN_TEETH_SHARE = 0.02  # template teeth share below which it shows no teeth to compare with
MAX_FRAMES = 400  # frames measured per output at most (evenly spread): bounded memory and time
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class Interior:
    """An open mouth's look in one frame: teeth-like share of the interior, interior / lip brightness."""

    teeth: float
    brightness: float


def chin_polygon(landmarks: np.ndarray) -> np.ndarray:
    """(6, 2) float32 polygon of the skin between the lower lip and the chin, inset from both edges."""
    top, bottom = landmarks[list(CHIN_TOP)], landmarks[list(CHIN_BOTTOM)]
    upper = top + CHIN_INSET * (bottom - top)
    lower = top + (1.0 - CHIN_INSET) * (bottom - top)
    return np.concatenate([upper, lower[::-1]]).astype(np.float32)


def chin_texture(rgb: np.ndarray, landmarks: np.ndarray) -> float | None:
    """Laplacian variance of the grey image over `chin_polygon`; None when it covers under 9 pixels."""
    inside = polygon_mask(rgb.shape[:2], chin_polygon(landmarks)) >= 0.5
    if inside.sum() < 9:
        return None
    return laplacian_variance(rgb, inside)


def interior(rgb: np.ndarray, landmarks: np.ndarray) -> Interior | None:
    """How the open mouth of a frame looks; None when it is closed or too small to measure.

    Interior: inside the inner lips, a pixel in from their edge. Lips: between the outer and inner
    contours, a pixel in from both. "Teeth-like": brighter than the lips' median and unsaturated.
    """
    if float(mouth_opening(landmarks)) < OPEN_MOUTH:
        return None
    kernel = np.ones((3, 3), np.uint8)
    inner = (polygon_mask(rgb.shape[:2], landmarks[60:68]) >= 0.5).astype(np.uint8)
    outer = (polygon_mask(rgb.shape[:2], landmarks[48:60]) >= 0.5).astype(np.uint8)
    cavity = cv2.erode(inner, kernel).astype(bool)
    lips = (cv2.erode(outer, kernel) & ~cv2.dilate(inner, kernel)).astype(bool)
    if cavity.sum() < MIN_INTERIOR or lips.sum() < MIN_INTERIOR:
        return None
    inside = rgb[cavity].astype(np.float32)  # only the pixels measured: a crop is mostly skin
    luma = inside @ LUMA
    saturation = 1.0 - inside.min(axis=1) / np.maximum(inside.max(axis=1), 1.0)
    lip = max(float(np.median(rgb[lips].astype(np.float32) @ LUMA)), 1.0)
    teeth = (luma > lip) & (saturation < TEETH_SATURATION)
    return Interior(float(teeth.mean()), float(luma.mean()) / lip)


def measure_box(landmarks: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """x0, y0, x1, y1 of the template's lower face plus a margin: all the output frame's measures need."""
    polygon = lower_face_polygon(landmarks)
    margin = 0.1 * float(interocular(landmarks))
    x0, y0 = np.maximum(np.floor(polygon.min(axis=0) - margin).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(polygon.max(axis=0) + margin).astype(int), (shape[1], shape[0]))
    return (int(x0), int(y0), int(x1), int(y1)) if x1 - x0 >= 8 and y1 - y0 >= 8 else None


@dataclass(frozen=True)
class HeldPair:
    """The lower faces of one output frame and of the template frame it replaces, kept until the output
    is tracked: crops from `origin` (x, y) of the frame, the template's landmarks in crop pixels."""

    output: np.ndarray
    template: np.ndarray
    origin: np.ndarray
    landmarks: np.ndarray


def hold_pair(output: np.ndarray, template: np.ndarray, landmarks: np.ndarray) -> HeldPair | None:
    """Copies of the `measure_box` of the template's (68, 2) `landmarks` in both frames; None without a box."""
    box = measure_box(landmarks, output.shape[:2])
    if box is None or output.shape != template.shape:
        return None
    x0, y0, x1, y1 = box
    origin = np.array([x0, y0], dtype=np.float32)
    crop = (slice(y0, y1), slice(x0, x1))
    return HeldPair(output[crop].copy(), template[crop].copy(), origin, landmarks - origin)


@dataclass
class MouthStats:
    """Running per-frame figures of an output against its template (see the module docstring).

    chin: output / template chin texture per measured frame. output_open / template_open: the
    `Interior` of each measured frame whose output (respectively template) mouth is open.
    """

    chin: list[float] = field(default_factory=list)
    output_open: list[Interior] = field(default_factory=list)
    template_open: list[Interior] = field(default_factory=list)

    def add_pair(self, pair: HeldPair, output_landmarks: np.ndarray) -> None:
        """Fold in a held pair with the output frame's (68, 2) landmarks in frame pixels."""
        self.add(pair.output, pair.template, output_landmarks - pair.origin, pair.landmarks)

    def add(
        self, output: np.ndarray, template: np.ndarray, output_landmarks: np.ndarray, landmarks: np.ndarray
    ) -> None:
        """Fold in one frame pair (RGB uint8, same size) with each one's own (68, 2) landmarks.

        `output_landmarks` may hold NaN (the tracker lost the face): then only the template counts.
        """
        if not np.isfinite(landmarks).all():
            return
        seen = interior(template, landmarks)
        if seen is not None:
            self.template_open.append(seen)
        if not np.isfinite(output_landmarks).all():
            return
        made = interior(output, output_landmarks)
        if made is not None:
            self.output_open.append(made)
        reference = chin_texture(template, landmarks)
        texture = chin_texture(output, output_landmarks)
        if reference is not None and texture is not None and reference >= MIN_TEXTURE:
            self.chin.append(texture / reference)

    @property
    def chin_median(self) -> float | None:
        """Median over frames of output / template chin texture; None when no frame was measured."""
        return float(np.median(self.chin)) if self.chin else None

    @property
    def chin_low(self) -> float | None:
        """The CHIN_PERCENTILE-th percentile of the same ratios: the worst frames."""
        return float(np.percentile(self.chin, CHIN_PERCENTILE)) if self.chin else None

    @property
    def teeth_ratio(self) -> float | None:
        """Mean teeth share of the output's open frames over the template's; None when either has none
        or the template shows no teeth."""
        template = np.mean([i.teeth for i in self.template_open]) if self.template_open else 0.0
        if not self.output_open or template < MIN_TEETH_SHARE:
            return None
        return float(np.mean([i.teeth for i in self.output_open]) / template)

    @property
    def interior_ratio(self) -> float | None:
        """Mean interior / lip brightness of the output's open frames over the template's; None without both."""
        if not self.output_open or not self.template_open:
            return None
        template = float(np.mean([i.brightness for i in self.template_open]))
        return float(np.mean([i.brightness for i in self.output_open])) / max(template, 1e-6)


def measured_frames(count: int) -> np.ndarray:
    """Indices of the frames of a `count`-frame output that `MouthStats` looks at: all, or MAX_FRAMES spread."""
    if count <= MAX_FRAMES:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, MAX_FRAMES).round().astype(int))
