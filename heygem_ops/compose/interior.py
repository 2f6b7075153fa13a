"""Paint the inside of an opened mouth: dark oral cavity, upper teeth, a hint of lower teeth.

The colours come from the face itself (its lips and skin), so the interior matches the lighting of
every template; the geometry comes from the target inner-lip polygon, so it moves with the lips.
"""

from __future__ import annotations

import cv2
import numpy as np

from heygem_ops.face.contours import catmull_rom
from heygem_ops.face.regions import polygon_mask

MIN_GAP = 1.5  # px: narrower openings are left as the warp made them
UPPER_TEETH = 0.075  # visible upper-teeth height at full activity, in interocular distances
LOWER_TEETH = 0.035  # visible lower-teeth height at full activity, in interocular distances
TEETH_SPAN = 0.72  # fraction of the inner mouth width the teeth cover, centred
SIDE_SHADOW = 0.45  # darkening at the corners relative to the middle of the mouth
CAVITY_SHADE = 0.28  # cavity colour as a fraction of the lip colour
TEETH_WHITE = np.array([226.0, 220.0, 208.0])  # teeth under neutral light, RGB


def _mouth_axes(inner: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre, across (u) and down (v) unit vectors of an (8, 2) inner-lip loop (60..67 order)."""
    across = inner[4] - inner[0]
    u = across / max(float(np.linalg.norm(across)), 1e-6)
    return inner.mean(axis=0), u, np.array([-u[1], u[0]])


def _band(edge: np.ndarray, centre: np.ndarray, u: np.ndarray, v: np.ndarray, height: float) -> np.ndarray:
    """Teeth polygon hanging `height` px (towards +v) from an inner-lip edge, narrowed to TEETH_SPAN.

    The free edge is an elliptic arc below the edge's middle, not a copy of the lip line,
    so the teeth keep their shape whatever the lips do; it rises to the lip at the band's ends.
    """
    curve = catmull_rom(edge, 6, closed=False)
    rel = curve - centre
    across, depth = rel @ u * TEETH_SPAN, rel @ v
    reach = max(float(np.abs(across).max()), 1e-6)
    middle = depth[np.argmin(np.abs(across))]
    arc = middle + height * np.sqrt(np.clip(1.0 - (across / reach) ** 2, 0.0, 1.0))
    top = centre + np.outer(across, u) + np.outer(depth, v)
    bottom = centre + np.outer(across, u) + np.outer(np.maximum(arc, depth), v)
    return np.vstack([top, bottom[::-1]])


def _colours(roi: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cavity, teeth) RGB float colours from this face's lips and overall skin brightness."""
    lips = polygon_mask(roi.shape[:2], landmarks[48:60]) - polygon_mask(roi.shape[:2], landmarks[60:68])
    lips = np.clip(lips, 0.0, 1.0)
    pixels = roi.reshape(-1, 3).astype(np.float32)
    weight = lips.reshape(-1, 1)
    lip = (pixels * weight).sum(axis=0) / max(float(weight.sum()), 1.0)
    skin_luma = float(np.median(pixels @ np.array([0.299, 0.587, 0.114])))
    teeth = TEETH_WHITE * np.clip(skin_luma / 150.0, 0.6, 1.05)
    return lip * CAVITY_SHADE, teeth


def _side_shade(shape: tuple[int, int], centre: np.ndarray, u: np.ndarray, half_width: float) -> np.ndarray:
    """(H, W) float32 light falloff towards the mouth corners: the cavity recedes into shadow there."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    across = ((xs - centre[0]) * u[0] + (ys - centre[1]) * u[1]) / max(half_width, 1.0)
    return np.clip(1.0 - SIDE_SHADOW * across**2, 0.35, 1.0)


def paint_interior(roi: np.ndarray, landmarks: np.ndarray, activity: float, iod: float) -> np.ndarray:
    """Fill the target mouth opening in `roi` (H, W, 3 uint8); landmarks (68, 2) in ROI pixels.

    Returns a new array; the ROI is unchanged when the target lips are closed.
    """
    inner = landmarks[60:68]
    centre, u, v = _mouth_axes(inner)
    gap = float((inner[6] - inner[2]) @ v)
    if gap < MIN_GAP:
        return roi
    cavity, teeth = _colours(roi, landmarks)
    shape = roi.shape[:2]
    layer = np.empty((*shape, 3), dtype=np.float32)
    layer[:] = cavity
    upper_height = min(UPPER_TEETH * iod * min(1.0, 1.5 * activity), 0.45 * gap)
    upper = polygon_mask(shape, _band(inner[[0, 1, 2, 3, 4]], centre, u, v, upper_height), 0.6)
    lower_height = min(LOWER_TEETH * iod * activity, 0.22 * gap)
    lower = polygon_mask(shape, _band(inner[[4, 5, 6, 7, 0]], centre, u, -v, lower_height), 0.6)
    layer += (teeth - cavity) * upper[..., None]
    layer += (0.8 * teeth - cavity) * lower[..., None] * (1.0 - upper[..., None])
    layer *= _side_shade(shape, centre, u, float(np.linalg.norm(inner[4] - inner[0])) / 2.0)[..., None]
    layer = cv2.GaussianBlur(layer, (0, 0), 0.7)
    mouth = polygon_mask(shape, catmull_rom(inner, 6, closed=True), 0.7)[..., None]
    return np.clip(roi * (1.0 - mouth) + layer * mouth, 0, 255).astype(np.uint8)
