"""Render a landmark-driven mouth: warp the lower face from template to target landmarks.

The lower face is warped as two layers split at the lips: the upper lip with the cheeks above it,
and the lower lip with the jaw. Each layer's backward map is a thin-plate spline through its own
landmarks, so closing an open template mouth never samples the template's mouth interior and
opening a closed one never tears the lips. Between the mouth corners the layers meet on the target
lower lip's edge; beside the corners the split widens into a gradual blend of the two maps, so the
cheeks stretch instead of tearing where the jaw drops. What lies between the target inner lips is
painted by `interior`. The maps fade to zero at the edge of the lower-face region, so every pixel
outside it is exactly the template's.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from heygem_ops.compose.interior import paint_interior
from heygem_ops.face.contours import lip_curve
from heygem_ops.face.landmarks import interocular
from heygem_ops.face.regions import lower_face_polygon, polygon_mask

GRID_STEP = 6  # px between spline evaluations; the map is smooth, so bilinear upsampling is exact enough
EDGE_FADE = 0.12  # interocular distances over which the warp fades out inside the region's edge
PIN_SPACING = 0.12  # interocular distances between the zero-motion pins on the region's edge
SEAM_FEATHER = 0.75  # px half-width of the split between the layers along the lower lip
SIDE_BLEND = 0.8  # growth of that half-width per px beside the mouth corners: cheeks stretch, never tear
LIP_INSET = 0.015  # interocular distances the source inner lip edges are taken inside the lips...
INSET_SHARE = 0.25  # ...at most this share of the source opening: template teeth must not show at the edge
SMOOTHING = 1e-4  # thin-plate regularisation, in interocular units: tracker noise must not make ripples
CURVE_SAMPLES = 4  # control points per landmark gap along each lip curve

# Each layer: fixed anchors, then lip curves (corner ... corner landmark runs).
_UPPER_ANCHORS = [27, 30, 31, 32, 33, 34, 35]
_UPPER_CURVES = ([48, 49, 50, 51, 52, 53, 54], [60, 61, 62, 63, 64])
_LOWER_ANCHORS = list(range(2, 15))
_LOWER_CURVES = ([54, 55, 56, 57, 58, 59, 48], [64, 65, 66, 67, 60])


@dataclass(frozen=True)
class _Box:
    """The ROI of one frame: pixel bounds [x0, x1) x [y0, y1) of the lower-face region."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0

    @property
    def origin(self) -> np.ndarray:
        return np.array([self.x0, self.y0], dtype=np.float32)


def _layer_points(landmarks: np.ndarray, anchors: list[int], curves: tuple[list[int], ...]) -> np.ndarray:
    """(P, 2) control points of one layer: anchor landmarks plus densified lip curves."""
    dense = [lip_curve(landmarks[run], CURVE_SAMPLES) for run in curves]
    return np.vstack([landmarks[anchors], *dense])


def _ring(polygon: np.ndarray, spacing: float) -> np.ndarray:
    """Points every `spacing` px along a closed polygon: where the warp is pinned to zero."""
    closed = np.vstack([polygon, polygon[:1]])
    points = []
    for a, b in itertools.pairwise(closed):
        steps = max(1, int(np.linalg.norm(b - a) / spacing))
        points.append(a + (b - a) * (np.arange(steps)[:, None] / steps))
    return np.vstack(points)


def _tps_kernel(squared: np.ndarray) -> np.ndarray:
    """Thin-plate radial basis r^2 log r, written on squared distances (r^2 log r = r^2 log r^2 / 2)."""
    return 0.5 * squared * np.log(np.maximum(squared, 1e-12))


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, 2) x (B, 2) -> (A, B) squared Euclidean distances."""
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


def _thin_plate(centres: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Smoothed thin-plate spline through (C, 2) `centres` with (C, 2) `values`, at (G, 2) `grid`.

    Solves the (C + 3)-square system [K + s I, P; P^T, 0] once and evaluates with one matrix
    product: a few hundred microseconds, where a general RBF library spends milliseconds.
    Returns (G, 2) float64.
    """
    count = len(centres)
    system = np.zeros((count + 3, count + 3))
    system[:count, :count] = _tps_kernel(_squared_distances(centres, centres)) + SMOOTHING * np.eye(count)
    system[:count, count] = system[count, :count] = 1.0
    system[:count, count + 1 :] = centres
    system[count + 1 :, :count] = centres.T
    rhs = np.zeros((count + 3, 2))
    rhs[:count] = values
    coeffs = np.linalg.solve(system, rhs)
    basis = _tps_kernel(_squared_distances(grid, centres))
    return basis @ coeffs[:count] + coeffs[count] + grid @ coeffs[count + 1 :]


def _layer_offsets(
    source: np.ndarray, target: np.ndarray, pins: np.ndarray, grid: np.ndarray, scale: float
) -> np.ndarray:
    """Backward offsets (target -> source) of one layer at `grid` points, in px. Returns (G, 2).

    Coordinates are divided by `scale` (the interocular distance) so the spline's conditioning and
    smoothing do not depend on resolution.
    """
    centres = np.vstack([target, pins]) / scale
    values = np.vstack([source - target, np.zeros_like(pins)]) / scale
    return _thin_plate(centres.astype(np.float64), values, grid.astype(np.float64) / scale) * scale


def _box(region: np.ndarray, height: int, width: int) -> _Box | None:
    """Integer bounds of the region's bounding box inside the frame; None when it is degenerate."""
    x0, y0 = np.floor(region.min(axis=0)).astype(int).clip(0)
    x1, y1 = np.ceil(region.max(axis=0)).astype(int) + 1
    box = _Box(int(x0), int(y0), int(min(x1, width)), int(min(y1, height)))
    return box if min(box.shape) >= 4 else None


def render_warp(frame: np.ndarray, source: np.ndarray, target: np.ndarray, activity: float) -> np.ndarray:
    """Return a copy of `frame` (H, W, 3 uint8) with its lower face moved from `source` to `target`.

    source, target: (68, 2) float32 landmarks in frame pixels. activity: 0..1 speech loudness, used
    for how much of the teeth the painted interior shows. Pixels outside the lower-face region of
    `source` are returned bit-exact.
    """
    iod = float(interocular(source))
    region = lower_face_polygon(source)
    box = _box(region, *frame.shape[:2])
    if box is None:
        return frame
    offsets = _warp_offsets(source, target, region, box, iod)
    xs, ys = np.meshgrid(np.arange(box.x0, box.x1, dtype=np.float32), np.arange(box.y0, box.y1, dtype=np.float32))
    warped = cv2.remap(
        frame, xs + offsets[..., 0], ys + offsets[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    warped = paint_interior(warped, target - box.origin, activity, iod)
    inside = polygon_mask(box.shape, region - box.origin) > 0
    out = frame.copy()
    roi = out[box.y0 : box.y1, box.x0 : box.x1]
    roi[inside] = warped[inside]
    return out


def _warp_offsets(source: np.ndarray, target: np.ndarray, region: np.ndarray, box: _Box, iod: float) -> np.ndarray:
    """(H, W, 2) float32 backward offsets over the ROI: both layers' maps, blended and faded.

    The splines are evaluated on a lattice every GRID_STEP px and upsampled bilinearly; the layer
    choice is made per pixel, since it must follow the lip edge exactly.
    """
    height, width = box.shape
    source = _inset_inner_lips(source, iod)
    pins = _ring(region, spacing=max(iod * PIN_SPACING, 4.0))
    gh, gw = -(-height // GRID_STEP), -(-width // GRID_STEP)
    # Lattice nodes sit where cv2.resize's pixel-centre convention puts them, so upsampling is exact.
    gx = box.x0 - 0.5 + (np.arange(gw) + 0.5) * GRID_STEP
    gy = box.y0 - 0.5 + (np.arange(gh) + 0.5) * GRID_STEP
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    coarse = []
    for anchors, curves in ((_UPPER_ANCHORS, _UPPER_CURVES), (_LOWER_ANCHORS, _LOWER_CURVES)):
        layer = _layer_offsets(
            _layer_points(source, anchors, curves), _layer_points(target, anchors, curves), pins, grid, iod
        )
        coarse.append(layer.reshape(gh, gw, 2).astype(np.float32))
    size = (gw * GRID_STEP, gh * GRID_STEP)
    upper, lower = (cv2.resize(layer, size, interpolation=cv2.INTER_LINEAR)[:height, :width] for layer in coarse)
    share = _lower_share(box, target)[..., None]
    fade = _edge_fade(box.shape, region - box.origin, EDGE_FADE * iod)[..., None]
    return (upper + (lower - upper) * share) * fade


def _inset_inner_lips(landmarks: np.ndarray, iod: float) -> np.ndarray:
    """Copy of (68, 2) landmarks with each inner-lip pair moved apart by a little of its own gap.

    The tracked inner lip edge of an open template mouth sits a pixel or two off the true edge;
    sampling the rendered lip edge there would drag the template's teeth along. A closed template
    mouth (no gap) is left exactly as it is.
    """
    out = landmarks.copy()
    across = landmarks[45] - landmarks[36]
    v = np.array([-across[1], across[0]]) / max(float(np.linalg.norm(across)), 1e-6)
    for upper, lower in ((61, 67), (62, 66), (63, 65)):
        shift = min(INSET_SHARE * max(float((landmarks[lower] - landmarks[upper]) @ v), 0.0), LIP_INSET * iod)
        out[upper] -= shift * v
        out[lower] += shift * v
    return out


def _lower_share(box: _Box, target: np.ndarray) -> np.ndarray:
    """(H, W) float32 weight of the lower layer: a sharp step at the target lower inner lip between
    the mouth corners, widening beside them into a smooth ramp along the lip line's extension.
    """
    left, right = target[60].astype(np.float64), target[64].astype(np.float64)
    centre, across = (left + right) / 2.0, right - left
    half = max(float(np.linalg.norm(across)) / 2.0, 1.0)
    u = across / (2.0 * half)
    curve = lip_curve(target[[60, 67, 66, 65, 64]], 8) - centre
    along, depth = curve @ u, curve @ np.array([-u[1], u[0]])
    order = np.argsort(along)
    xs = np.arange(box.x0, box.x1, dtype=np.float32)[None, :] - np.float32(centre[0])
    ys = np.arange(box.y0, box.y1, dtype=np.float32)[:, None] - np.float32(centre[1])
    a = xs * np.float32(u[0]) + ys * np.float32(u[1])
    b = ys * np.float32(u[0]) - xs * np.float32(u[1])
    line = np.interp(a, along[order], depth[order]).astype(np.float32)
    spread = SEAM_FEATHER + SIDE_BLEND * np.maximum(np.abs(a) - np.float32(half), 0.0)
    ramp = np.clip(0.5 + (b - line) / (2.0 * spread), 0.0, 1.0)
    return ramp * ramp * (3.0 - 2.0 * ramp)


def _edge_fade(shape: tuple[int, int], polygon: np.ndarray, distance: float) -> np.ndarray:
    """(H, W) float32: 0 outside the polygon rising smoothly to 1 `distance` px inside its edge."""
    inside = (polygon_mask(shape, polygon) > 0.5).astype(np.uint8)
    depth = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    ramp = np.clip(depth / max(distance, 1.0), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)
