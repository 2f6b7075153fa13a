"""Pixel-level checks of an output against its template: untouched surroundings, a sharp mouth.

The output is streamed frame by frame next to the template frame it replaces (`scheduled_frames`);
`PixelStats` keeps only a few numbers per frame, so memory does not grow with the video.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from heygem_ops.face.regions import lower_face_polygon, outside_region_mask, polygon_mask
from heygem_ops.media import VideoInfo, iter_frames
from heygem_ops.timeline import plan_chunks

WINDOW_BYTES = 256 * 2**20  # most decoded template pixels held at once while replaying the ping-pong
PEAK = 255.0  # uint8 full scale, for PSNR
PSNR_CAP = 100.0  # dB reported for identical pixels (MSE 0), keeping manifests finite


def scheduled_frames(info: VideoInfo, schedule: np.ndarray) -> Iterator[np.ndarray]:
    """Template frames in output order: RGB uint8 (H, W, 3) frame schedule[i] for each output frame i.

    The schedule is cut into windows of distinct template frames that fit WINDOW_BYTES
    (`plan_chunks`); each window is decoded with one seek and held only while it is replayed.
    """
    window = max(2, WINDOW_BYTES // max(1, info.width * info.height * 3))
    for chunk in plan_chunks(schedule, window):
        held = list(iter_frames(info, chunk.template_start, chunk.template_stop))
        if len(held) < chunk.template_stop - chunk.template_start:
            raise ValueError(f"{info.path}: frames {chunk.template_start}..{chunk.template_stop - 1} did not decode")
        for index in schedule[chunk.start : chunk.stop]:
            yield held[index - chunk.template_start]


@dataclass
class PixelStats:
    """Running totals over frames of an output compared with its template.

    squared_error / compared: sum of squared uint8 differences and their count (pixels x channels)
    outside the lower face. output_sharpness / template_sharpness: variance of the Laplacian of the
    grey image inside the lower-face polygon, one value per frame whose template has a face.
    """

    squared_error: float = 0.0
    compared: int = 0
    output_sharpness: list[float] = field(default_factory=list)
    template_sharpness: list[float] = field(default_factory=list)

    def add(
        self, output: np.ndarray, template: np.ndarray, landmarks: np.ndarray | None, sharpness: bool = True
    ) -> None:
        """Fold in one (H, W, 3) uint8 pair; `landmarks` (68, 2) of the template frame, None: no face.

        An output cropped to even size is compared with the template's matching top-left region.
        `sharpness=False` leaves the sharpness lists alone (a caller sampling sharpness itself).
        """
        height, width = min(output.shape[0], template.shape[0]), min(output.shape[1], template.shape[1])
        output = np.ascontiguousarray(output[:height, :width])
        template = np.ascontiguousarray(template[:height, :width])
        if landmarks is None:
            outside = np.ones((height, width), dtype=bool)
        else:
            outside = outside_region_mask(landmarks, template.shape[:2])
            if sharpness:
                self._add_sharpness(output, template, landmarks)
        self.squared_error += cv2.norm(output, template, cv2.NORM_L2SQR, mask=outside.view(np.uint8))
        self.compared += int(outside.sum()) * output.shape[2]

    def _add_sharpness(self, output: np.ndarray, template: np.ndarray, landmarks: np.ndarray) -> None:
        found = lower_face_sharpness(output, template, landmarks)
        if found is not None:
            self.output_sharpness.append(found[0])
            self.template_sharpness.append(found[1])

    @property
    def psnr(self) -> float | None:
        """dB over all compared samples of all frames (one pooled MSE); None when nothing was compared."""
        if self.compared == 0:
            return None
        mse = self.squared_error / self.compared
        return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10.0 * float(np.log10(PEAK**2 / mse)))

    @property
    def sharpness_ratio(self) -> float | None:
        """Mean output sharpness over mean template sharpness; None without a face or template texture."""
        template = float(np.mean(self.template_sharpness)) if self.template_sharpness else 0.0
        return float(np.mean(self.output_sharpness)) / template if template > 0 else None


def lower_face_sharpness(output: np.ndarray, template: np.ndarray, landmarks: np.ndarray) -> tuple[float, float] | None:
    """Laplacian variance of both frames inside the template's lower-face polygon (its bounding box only);
    None when the polygon covers too few pixels."""
    polygon = lower_face_polygon(landmarks)
    low = np.clip(np.floor(polygon.min(axis=0)).astype(int) - 2, 0, None)
    high = np.minimum(np.ceil(polygon.max(axis=0)).astype(int) + 3, output.shape[1::-1])
    if (high - low).min() < 3:
        return None
    box = (slice(low[1], high[1]), slice(low[0], high[0]))
    inside = polygon_mask(output[box].shape[:2], polygon - low) >= 0.5
    if inside.sum() < 9:
        return None
    return laplacian_variance(output[box], inside), laplacian_variance(template[box], inside)


def laplacian_variance(rgb: np.ndarray, inside: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of the grey (h, w, 3) uint8 image over the (h, w) bool `inside`."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.Laplacian(grey, cv2.CV_32F)[inside].var())
