"""The landmark layout every tracker backend delivers: the 68-point iBUG scheme.

face-alignment produces it natively; the 468-point FaceMesh is mapped onto it. Engines, compositing
and quality metrics only ever see this layout, so any backend serves any engine.
"""

from __future__ import annotations

import numpy as np

N_POINTS = 68

JAW = np.arange(0, 17)
NOSE = np.arange(27, 36)
NOSE_BOTTOM = np.arange(31, 36)
RIGHT_EYE = np.arange(36, 42)  # subject's right, image left
LEFT_EYE = np.arange(42, 48)
OUTER_LIP = np.arange(48, 60)
INNER_LIP = np.arange(60, 68)

MOUTH_LEFT, MOUTH_RIGHT = 48, 54  # outer mouth corners (image left, image right)
INNER_UPPER_MID, INNER_LOWER_MID = 62, 66
OUTER_UPPER_MID, OUTER_LOWER_MID = 51, 57
EYE_OUTER_RIGHT, EYE_OUTER_LEFT = 36, 45
CHIN = 8


def interocular(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners, in pixels: the face's scale.

    landmarks: (..., 68, 2) float; returns (...) float.
    """
    return np.linalg.norm(landmarks[..., EYE_OUTER_LEFT, :] - landmarks[..., EYE_OUTER_RIGHT, :], axis=-1)


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap at the middle of the mouth, as a fraction of the interocular distance.

    Scale-free, so it compares across resolutions and head distances. (..., 68, 2) -> (...).
    """
    gap = np.linalg.norm(landmarks[..., INNER_LOWER_MID, :] - landmarks[..., INNER_UPPER_MID, :], axis=-1)
    return gap / np.maximum(interocular(landmarks), 1e-6)


def down_axis(landmarks: np.ndarray) -> np.ndarray:
    """Unit vectors of the face's downward axis: the eye line turned towards the chin. (..., 68, 2) -> (..., 2)."""
    across = landmarks[..., EYE_OUTER_LEFT, :] - landmarks[..., EYE_OUTER_RIGHT, :]
    down = np.stack([-across[..., 1], across[..., 0]], axis=-1)
    return down / np.maximum(np.linalg.norm(down, axis=-1, keepdims=True), 1e-6)


def lip_gap(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap at the middle of the mouth along the face's downward axis, in interocular distances.

    Tracked lips that cross (the lower inner lip above the upper, as a tracker reads lips pressed
    together) read 0, closed, where `mouth_opening`, a distance, reads them as open by as much as
    they overlap. The downward axis is `down_axis`. (..., 68, 2) -> (...).
    """
    lips = landmarks[..., INNER_LOWER_MID, :] - landmarks[..., INNER_UPPER_MID, :]
    gap = (lips * down_axis(landmarks)).sum(axis=-1)
    return np.maximum(gap, 0.0) / np.maximum(interocular(landmarks), 1e-6)


def mouth_width(landmarks: np.ndarray) -> np.ndarray:
    """Corner-to-corner mouth width as a fraction of the interocular distance. (..., 68, 2) -> (...)."""
    width = np.linalg.norm(landmarks[..., MOUTH_RIGHT, :] - landmarks[..., MOUTH_LEFT, :], axis=-1)
    return width / np.maximum(interocular(landmarks), 1e-6)
