"""Render a landmark-driven mouth: warp the lower face from template to target landmarks.

The lower face is warped as two layers split at the lips: the upper lip with the cheeks above it,
and the lower lip with the jaw. Each layer's backward map is a thin-plate spline through its own
landmarks, so closing an open template mouth never samples the template's mouth interior and
opening a closed one never tears the lips. What lies between the target inner lips is painted by
`interior`. The maps fade to zero at the edge of the lower-face region, so every pixel outside it is
exactly the template's.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np
from scipy.interpolate import RBFInterpolator

from heygem_ops.compose.interior import paint_interior
from heygem_ops.face.contours import catmull_rom
from heygem_ops.face.landmarks import interocular
from heygem_ops.face.regions import lower_face_polygon, polygon_mask

GRID_STEP = 6  # px between spline evaluations; the map is smooth, so bilinear upsampling is exact enough
EDGE_FADE = 0.12  # interocular distances over which the warp fades out inside the region's edge
SEAM_FEATHER = 1.0  # px softness where the two layers meet

CURVE_SAMPLES = 4  # control points per landmark gap along each lip curve

# Each layer: fixed anchors, then lip curves (landmark runs densified into smooth curves).
_UPPER_ANCHORS = [27, 30, 31, 32, 33, 34, 35]
_UPPER_CURVES = ([48, 49, 50, 51, 52, 53, 54], [60, 61, 62, 63, 64])
_LOWER_ANCHORS = list(range(2, 15))
_LOWER_CURVES = ([54, 55, 56, 57, 58, 59, 48], [64, 65, 66, 67, 60])


def _layer_points(landmarks: np.ndarray, anchors: list[int], curves: tuple[list[int], ...]) -> np.ndarray:
    """(P, 2) control points of one layer: anchor landmarks plus densified lip curves."""
    dense = [catmull_rom(landmarks[run], CURVE_SAMPLES, closed=False) for run in curves]
    return np.vstack([landmarks[anchors], *dense])


def _ring(polygon: np.ndarray, spacing: float) -> np.ndarray:
    """Points every `spacing` px along a closed polygon: where the warp is pinned to zero."""
    closed = np.vstack([polygon, polygon[:1]])
    points = []
    for a, b in itertools.pairwise(closed):
        steps = max(1, int(np.linalg.norm(b - a) / spacing))
        points.append(a + (b - a) * (np.arange(steps)[:, None] / steps))
    return np.vstack(points)


def _layer_offsets(
    source: np.ndarray, target: np.ndarray, pins: np.ndarray, grid: np.ndarray, scale: float
) -> np.ndarray:
    """Backward offsets (target -> source) of one layer at `grid` points. Returns (G, 2) float32.

    Coordinates are divided by `scale` (the interocular distance) so the spline's conditioning does
    not depend on resolution.
    """
    centres = np.vstack([target, pins]) / scale
    values = np.vstack([source - target, np.zeros_like(pins)])
    spline = RBFInterpolator(centres, values, kernel="thin_plate_spline", smoothing=1e-4)
    return spline(grid / scale).astype(np.float32)


def _lower_layer_polygon(target: np.ndarray, reach: float) -> np.ndarray:
    """Area owned by the lower layer: below the target inner lower lip, extended sideways and down."""
    across = target[45] - target[36]
    u = across / max(float(np.linalg.norm(across)), 1e-6)
    v = np.array([-u[1], u[0]])
    left, right = target[60], target[64]
    lower_line = catmull_rom(target[[60, 67, 66, 65, 64]], CURVE_SAMPLES, closed=False)
    return np.vstack(
        [left - u * reach, lower_line, right + u * reach, right + (u + v) * reach, left + (v - u) * reach]
    )


def render_warp(frame: np.ndarray, source: np.ndarray, target: np.ndarray, activity: float) -> np.ndarray:
    """Return a copy of `frame` (H, W, 3 uint8) with its lower face moved from `source` to `target`.

    source, target: (68, 2) float32 landmarks in frame pixels. activity: 0..1 speech loudness, used
    for how much of the teeth the painted interior shows.
    """
    height, width = frame.shape[:2]
    iod = float(interocular(source))
    region = lower_face_polygon(source)
    x0, y0 = np.floor(region.min(axis=0)).astype(int).clip(0)
    x1, y1 = np.ceil(region.max(axis=0)).astype(int) + 1
    x1, y1 = min(x1, width), min(y1, height)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return frame
    offset = np.array([x0, y0], dtype=np.float32)
    pins = _ring(region, spacing=max(iod * 0.12, 4.0))
    gx = np.arange(x0, x1 + GRID_STEP, GRID_STEP, dtype=np.float32)
    gy = np.arange(y0, y1 + GRID_STEP, GRID_STEP, dtype=np.float32)
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    shape = (len(gy), len(gx), 2)
    layers = ((_UPPER_ANCHORS, _UPPER_CURVES), (_LOWER_ANCHORS, _LOWER_CURVES))
    upper, lower = (
        _layer_offsets(_layer_points(source, *layer), _layer_points(target, *layer), pins, grid, iod).reshape(shape)
        for layer in layers
    )
    roi_shape = (y1 - y0, x1 - x0)
    choose_lower = polygon_mask(roi_shape, _lower_layer_polygon(target, 3 * iod) - offset, SEAM_FEATHER)
    fade = _edge_fade(roi_shape, region - offset, EDGE_FADE * iod)
    offsets = _upsample(upper, roi_shape) * (1 - choose_lower[..., None])
    offsets += _upsample(lower, roi_shape) * choose_lower[..., None]
    offsets *= fade[..., None]
    xs, ys = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    warped = cv2.remap(
        frame, xs + offsets[..., 0], ys + offsets[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    warped = paint_interior(warped, target - offset, activity, iod)
    out = frame.copy()
    out[y0:y1, x0:x1] = warped
    return out


def _upsample(offsets: np.ndarray, roi_shape: tuple[int, int]) -> np.ndarray:
    """Coarse (gh, gw, 2) offsets on the GRID_STEP lattice -> (H, W, 2), bilinear between lattice points."""
    height, width = roi_shape
    mx, my = np.meshgrid(
        np.arange(width, dtype=np.float32) / GRID_STEP, np.arange(height, dtype=np.float32) / GRID_STEP
    )
    return cv2.remap(offsets, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _edge_fade(shape: tuple[int, int], polygon: np.ndarray, distance: float) -> np.ndarray:
    """(H, W) float32: 0 outside the polygon rising smoothly to 1 `distance` px inside its edge."""
    inside = (polygon_mask(shape, polygon) > 0.5).astype(np.uint8)
    depth = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    ramp = np.clip(depth / max(distance, 1.0), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)
