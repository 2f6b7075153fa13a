"""The 468-point FaceMesh on LiteRT, run on a square, rotation-aligned crop around one face.

The model was trained on crops where the face is upright and its landmark box, squared on the long
side, fills 1/1.5 of the crop (MediaPipe's ROI rule). A region of interest (`Roi`) from a
detection or from the previous frame's landmarks reproduces that crop; the 468 points come back
in frame pixels, together with the model's face-presence score.

Pixel convention: x, y in frame pixels with pixel (row i, column j) centred at (j, i), as in
OpenCV and NumPy indexing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from heygem_ops.face.blazeface import Detection
from heygem_ops.face.mesh import load_interpreter

MODEL_FILE = "face_landmark.tflite"
INPUT_SIZE = 192  # square crop side the model takes, pixels
N_MESH = 468
ROI_SCALE = 1.5  # crop side / long side of the face box
EYE_OUTER_RIGHT, EYE_OUTER_LEFT = 33, 263  # mesh outer eye corners (image left, image right)


@dataclass(frozen=True)
class Roi:
    """A square, rotated crop region in frame pixels.

    centre: (x, y) of the crop centre; size: side length; angle: radians the face is turned from
    upright, measured like the image-left-to-image-right eye line (clockwise positive, since y
    points down).
    """

    centre: tuple[float, float]
    size: float
    angle: float

    def crop_to_frame(self) -> np.ndarray:
        """(2, 3) float64 affine map from crop pixel indices to frame pixel indices."""
        scale = self.size / INPUT_SIZE
        cos, sin = math.cos(self.angle) * scale, math.sin(self.angle) * scale
        linear = np.array([[cos, -sin], [sin, cos]])
        offset = np.asarray(self.centre) - linear @ np.full(2, INPUT_SIZE / 2 - 0.5)
        return np.column_stack([linear, offset])


def eye_angle(right: np.ndarray, left: np.ndarray) -> float:
    """Roll of the face, radians: the angle of the line from the image-left to the image-right eye."""
    dx, dy = left - right
    return math.atan2(dy, dx)


def roi_from_detection(detection: Detection) -> Roi:
    """The crop for a fresh detection: its box centre, squared and scaled by ROI_SCALE, eye-aligned."""
    x0, y0, x1, y1 = detection.box
    size = max(x1 - x0, y1 - y0) * ROI_SCALE
    angle = eye_angle(detection.keypoints[0], detection.keypoints[1])
    return Roi(((x0 + x1) / 2, (y0 + y1) / 2), float(size), angle)


def roi_from_landmarks(points: np.ndarray) -> Roi:
    """The crop for the next frame from this frame's (468, 2+) mesh points, in frame pixels.

    The box is taken in the face's own upright frame (points un-rotated by the eye angle), so a
    tilted head gets the same tight crop as an upright one.
    """
    xy = points[:, :2].astype(np.float64)
    angle = eye_angle(xy[EYE_OUTER_RIGHT], xy[EYE_OUTER_LEFT])
    cos, sin = math.cos(angle), math.sin(angle)
    to_face = np.array([[cos, sin], [-sin, cos]])  # frame -> upright face axes
    upright = xy @ to_face.T
    low, high = upright.min(axis=0), upright.max(axis=0)
    centre = to_face.T @ ((low + high) / 2)
    size = float((high - low).max() * ROI_SCALE)
    return Roi((float(centre[0]), float(centre[1])), size, angle)


class FaceMesh:
    """A loaded FaceMesh model; call it with an RGB uint8 (H, W, 3) frame and a Roi."""

    def __init__(self, threads: int | None = None) -> None:
        self._interpreter = load_interpreter(MODEL_FILE, threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = self._interpreter.get_output_details()
        self._points_out, self._score_out = (o["index"] for o in sorted(outputs, key=lambda o: -o["shape"][-1]))

    def __call__(self, frame: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """Mesh points (468, 3) float32 — x, y in frame pixels, z relative depth in crop-scaled
        pixels — and the face-presence score in [0, 1] (below 0.5: the crop holds no face).
        """
        affine = roi.crop_to_frame()
        crop = cv2.warpAffine(
            frame,
            affine,
            (INPUT_SIZE, INPUT_SIZE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )
        self._interpreter.set_tensor(self._input, (crop.astype(np.float32) / 255.0)[None])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._points_out).reshape(N_MESH, 3)
        logit = float(np.clip(self._interpreter.get_tensor(self._score_out).ravel()[0], -80, 80))
        points = np.empty((N_MESH, 3), dtype=np.float32)
        # model coordinates are continuous (pixel k spans [k, k+1)), hence the half-pixel shift
        points[:, :2] = (raw[:, :2] - 0.5) @ affine[:, :2].T + affine[:, 2]
        points[:, 2] = raw[:, 2] * roi.size / INPUT_SIZE
        return points, 1.0 / (1.0 + math.exp(-logit))
