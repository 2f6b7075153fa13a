"""The parts of a face an engine may change, as polygons built from the 68-point landmarks.

One definition serves the engines (where they are allowed to move pixels) and the quality metrics
(where the output must still equal the template), so the two can never disagree.
"""

from __future__ import annotations

import cv2
import numpy as np

from heygem_ops.face.landmarks import CHIN, JAW, NOSE_BOTTOM, OUTER_UPPER_MID, interocular

JAW_MARGIN = 0.30  # interocular distances added around the jaw line: room for the chin to drop
CHIN_GROWTH = 0.8  # the margin grows by this share towards the chin: the tracked chin sits above the real one
NOSE_CLEARANCE = 0.35  # fraction of the nose-to-lip distance kept free under the nostrils


def lower_face_polygon(landmarks: np.ndarray, jaw_margin: float = JAW_MARGIN) -> np.ndarray:
    """Closed polygon around mouth, cheeks and chin, below the nose. (68, 2) -> (K, 2) float32.

    The jaw line (points 2-14) is pushed outward from the mouth by `jaw_margin` interocular
    distances, growing by CHIN_GROWTH towards the chin: the mesh's chin point often sits a quarter
    of an interocular distance above the chin's real edge, and a warp that lifts or drops the chin
    needs the neck under that edge to stretch into. The top edge runs just below the nostrils.
    """
    points = JAW[2:15]
    margin = region_margin(points, float(interocular(landmarks)), jaw_margin)
    jaw = landmarks[points] + outward(landmarks, points) * margin[:, None]
    nose = landmarks[NOSE_BOTTOM][::-1]
    lip_top = landmarks[OUTER_UPPER_MID]
    top = nose + (lip_top - nose) * NOSE_CLEARANCE
    return np.concatenate([jaw, top]).astype(np.float32)


def outward(landmarks: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(K, 2) float32 unit vectors from the mouth's centre through jaw `points`: the way the jaw line extends."""
    away = landmarks[points] - landmarks[48:68].mean(axis=0)
    return (away / np.maximum(np.linalg.norm(away, axis=1, keepdims=True), 1e-6)).astype(np.float32)


def region_margin(points: np.ndarray, iod: float, jaw_margin: float = JAW_MARGIN) -> np.ndarray:
    """(K,) px the lower-face region reaches beyond jaw `points`: `jaw_margin` iod, growing towards the chin."""
    return jaw_margin * iod * (1.0 + CHIN_GROWTH * chin_weights(points))


def chin_weights(points: np.ndarray) -> np.ndarray:
    """(K,) 0..1 closeness of jaw points (indices into the 68) to the chin: 1 at point 8, 0 from 3 and 13 out."""
    offsets = np.abs(np.asarray(points) - CHIN) / 5.0
    return np.where(offsets < 1.0, np.cos(offsets * np.pi / 2.0) ** 2, 0.0)


def polygon_mask(shape: tuple[int, int], polygon: np.ndarray, feather: float = 0.0) -> np.ndarray:
    """(H, W) float32 mask, 1 inside `polygon` (pixel coords), optionally softened by `feather` px."""
    mask = np.zeros(shape, dtype=np.float32)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
    if feather > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), feather)
    return mask


def outside_region_mask(landmarks: np.ndarray, shape: tuple[int, int], dilate: float = 0.05) -> np.ndarray:
    """(H, W) bool: pixels an engine must leave as they were, for a frame with `landmarks`.

    `dilate` grows the region by that many interocular distances to absorb encoder ringing at
    its edge.
    """
    polygon = lower_face_polygon(landmarks)
    centre = polygon.mean(axis=0)
    grow = dilate * float(interocular(landmarks))
    direction = polygon - centre
    direction /= np.maximum(np.linalg.norm(direction, axis=1, keepdims=True), 1e-6)
    return polygon_mask(shape, polygon + direction * grow) < 0.5
