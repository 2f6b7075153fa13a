"""Render a landmark-driven mouth: warp the lower face from template to target landmarks.

The lower face is warped as two layers split at the lips: the upper lip with the cheeks above it,
and the lower lip with the jaw. Each layer's backward map is a thin-plate spline through its own
landmarks, so closing an open template mouth never samples the template's mouth interior and
opening a closed one never tears the lips. Between the mouth corners the layers meet on the target
lower lip's edge; beside the corners the split widens into a gradual blend of the two maps, so the
cheeks stretch instead of tearing where the jaw drops. The chin moves as a block with the jaw:
its real edge, found in the picture below the tracked one (`face.chin`), moves with the tracked
chin, so the skin between lip and chin keeps its texture and the neck under the edge stretches or
shrinks instead. What lies between the target inner lips is
painted by `interior`, except where the backward map lands inside the template's own open mouth:
there its real teeth are kept. The maps fade to zero at the edge of the lower-face region, so every pixel
outside it is exactly the template's.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from heygem_ops.compose.interior import paint_interior
from heygem_ops.compose.spline import thin_plate
from heygem_ops.face.chin import CHIN_POINTS, chin_offset
from heygem_ops.face.contours import lip_curve, settle_inner_lips
from heygem_ops.face.landmarks import down_axis, interocular
from heygem_ops.face.regions import lower_face_polygon, outward, polygon_mask, region_margin

GRID_PER_IOD = 24  # spline evaluations per interocular distance; the map is smooth, bilinear upsampling is exact enough
EDGE_FADE = 0.12  # interocular distances over which the warp fades out inside the region's edge
PIN_SPACING = 0.12  # interocular distances between the zero-motion pins on the region's edge
SEAM_FEATHER = 0.75  # px half-width of the split between the layers along the lower lip
SIDE_BLEND = 0.8  # growth of that half-width per px beside the mouth corners: cheeks stretch, never tear
LIP_INSET = 0.02  # interocular distances the source inner lip edges are taken inside the lips, at most...
INSET_SHARE = 0.15  # ...and this share of the source and target openings: no template teeth or slit at the edge
RESHARPEN = 0.2  # unsharp-mask gain on moved pixels: bicubic resampling softens what it shifts
SMOOTHING = 1e-4  # thin-plate regularisation, in interocular units: tracker noise must not make ripples
CURVE_SAMPLES = 4  # control points per landmark gap along each lip curve
KEEP_MIN_GAP = 3.0  # px of source opening from which its own interior is kept rather than painted over
NECK_ROOM = 0.2  # interocular distances a moved chin edge keeps from the region's edge: the neck stretches there

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


def _ring(polygon: np.ndarray, spacing: float) -> np.ndarray:
    """Points every `spacing` px along a closed polygon: where the warp is pinned to zero."""
    closed = np.vstack([polygon, polygon[:1]])
    points = []
    for a, b in itertools.pairwise(closed):
        steps = max(1, int(np.linalg.norm(b - a) / spacing))
        points.append(a + (b - a) * (np.arange(steps)[:, None] / steps))
    return np.vstack(points)


def _layer_points(landmarks: np.ndarray, anchors: list[int], curves: tuple[list[int], ...]) -> np.ndarray:
    """(P, 2) control points of one layer: anchor landmarks plus densified lip curves."""
    dense = [lip_curve(landmarks[run], CURVE_SAMPLES) for run in curves]
    return np.vstack([landmarks[anchors], *dense])


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth S between: float32, computed in place over a float32 `x`."""
    r = x if x.dtype == np.float32 else x.astype(np.float32)
    np.clip(r, 0.0, 1.0, out=r)
    squared = r * r
    r *= -2.0
    r += 3.0
    r *= squared
    return r


def _box(region: np.ndarray, height: int, width: int) -> _Box | None:
    """Integer bounds of the region's bounding box inside the frame; None when it is degenerate."""
    x0, y0 = np.floor(region.min(axis=0)).astype(int).clip(0)
    x1, y1 = np.ceil(region.max(axis=0)).astype(int) + 1
    box = _Box(int(x0), int(y0), int(min(x1, width)), int(min(y1, height)))
    return box if min(box.shape) >= 4 else None


def render_warp(
    frame: np.ndarray, source: np.ndarray, target: np.ndarray, activity: float, paint: bool = True
) -> np.ndarray:
    """Return a copy of `frame` (H, W, 3 uint8) with its lower face moved from `source` to `target`.

    source, target: (68, 2) float32 landmarks in frame pixels. activity: 0..1 speech loudness, used
    for how much of the teeth the painted interior shows. paint: False leaves the opened interior
    as the warp made it, for a caller that draws a real mouth over it (`mouths.place`). Pixels
    outside the lower-face region of `source` are returned bit-exact. Bicubic resampling keeps
    the moved skin as sharp as the rest.
    """
    source = settle_inner_lips(source)  # as the engine did when it made `target`
    iod = float(interocular(source))
    region = lower_face_polygon(source)
    box = _box(region, *frame.shape[:2])
    if box is None:
        return frame
    inside = polygon_mask(box.shape, region - box.origin) > 0
    chin = chin_block(source, target, chin_offset(frame, source), iod)
    dx, dy = _warp_offsets(source, target, region, box, iod, inside, chin)
    moved = cv2.add(np.abs(dx), np.abs(dy))
    dx += np.arange(box.x0, box.x1, dtype=np.float32)[None, :]
    dy += np.arange(box.y0, box.y1, dtype=np.float32)[:, None]
    warped = cv2.remap(frame, dx, dy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    warped = _restore_detail(warped, moved)
    if paint:
        kept = _kept_interior(source, box, dx - box.x0, dy - box.y0)
        warped = paint_interior(warped, target - box.origin, activity, iod, kept)
    out = frame.copy()
    cv2.copyTo(warped, inside.view(np.uint8), out[box.y0 : box.y1, box.x0 : box.x1])
    return out


def chin_block(source: np.ndarray, target: np.ndarray, offset: float, iod: float) -> tuple[np.ndarray, np.ndarray]:
    """Source and target (7, 2) points on the chin's real edge, `offset` px beyond the tracked chin.

    Each edge point moves as the tracked jaw point above it does, so lip, skin and chin move as one
    block; a dropping chin stops NECK_ROOM short of the region's edge, where the neck is squeezed.
    """
    normals = outward(source, CHIN_POINTS)
    edge = source[CHIN_POINTS] + normals * offset
    motion = (target[CHIN_POINTS] - source[CHIN_POINTS]).astype(np.float32)
    room = region_margin(CHIN_POINTS, iod) - offset - NECK_ROOM * iod
    along = np.einsum("kd,kd->k", motion, normals)
    motion -= (np.maximum(along - np.maximum(room, 0.0), 0.0))[:, None] * normals
    return edge.astype(np.float32), (edge + motion).astype(np.float32)


def _kept_interior(source: np.ndarray, box: _Box, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray | None:
    """(H, W) float32 0..1 over the ROI: where the warp already shows the template's own mouth interior.

    A pixel whose backward map lands inside the source's open inner lips (a pixel in from their
    edge) shows the template's real teeth, tongue and shadow, moved with the upper lip; the painter
    leaves it alone. map_x, map_y: the backward map in ROI pixels. None when the source mouth is shut.
    """
    upper = lip_curve(source[[60, 61, 62, 63, 64]], 8)
    lower = lip_curve(source[[60, 67, 66, 65, 64]], 8)
    if float(np.max(np.linalg.norm(lower - upper, axis=1))) < KEEP_MIN_GAP:
        return None
    opening = polygon_mask(box.shape, np.vstack([upper, lower[::-1]]) - box.origin)
    opening = cv2.erode(opening, np.ones((3, 3), np.uint8))
    return cv2.remap(opening, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


def _restore_detail(warped: np.ndarray, moved: np.ndarray) -> np.ndarray:
    """Give resampled pixels back the fine detail interpolation took: an unsharp mask of
    RESHARPEN strength on every pixel moved by a quarter pixel or more; the rest stay exact.

    warped: (H, W, 3) uint8, changed in place and returned; moved: (H, W) float32 px of motion (L1).
    """
    if RESHARPEN > 0:
        blurred = cv2.GaussianBlur(warped, (0, 0), 1.0)
        sharpened = cv2.addWeighted(warped, 1.0 + RESHARPEN, blurred, -RESHARPEN, 0.0)
        cv2.copyTo(sharpened, (moved >= 0.25).view(np.uint8), warped)
    return warped


def _warp_offsets(
    source: np.ndarray,
    target: np.ndarray,
    region: np.ndarray,
    box: _Box,
    iod: float,
    inside: np.ndarray,
    chin: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) float32 backward x and y offsets over the ROI (`inside`: (H, W) bool, the region's pixels).

    `chin`: `chin_block`'s source and target points, added to the lower layer's.

    The splines are evaluated on a lattice of about GRID_PER_IOD nodes per interocular distance,
    only at nodes inside the region where a layer can be seen, faded there, and upsampled
    bilinearly (nodes sit where cv2.resize's pixel-centre convention puts them, so the upsampling
    is exact). The choice between layers is made per pixel: it must follow the lip edge exactly.
    """
    source = _inset_inner_lips(source, target, iod)
    step = int(np.clip(round(iod / GRID_PER_IOD), 3, 16))
    height, width = box.shape
    gh, gw = -(-height // step), -(-width // step)
    gx = (box.x0 - 0.5 + (np.arange(gw) + 0.5) * step).astype(np.float32)
    gy = (box.y0 - 0.5 + (np.arange(gh) + 0.5) * step).astype(np.float32)
    nodes = np.stack(np.meshgrid(gx, gy), axis=-1)
    depth = cv2.distanceTransform(inside.view(np.uint8), cv2.DIST_L2, 3)
    fade = smoothstep(
        depth[np.minimum(_centres(gh, step), height - 1)][:, np.minimum(_centres(gw, step), width - 1)]
        / (EDGE_FADE * iod)
    )
    lip = lip_edge(target)
    line, spread = lip_line(target, lip, gx)
    below, margin = gy[:, None] - line[None, :], spread[None, :] + 3.0 * step
    pins = _ring(region, spacing=max(iod * PIN_SPACING, 4.0))
    layers = []
    for (anchors, curves), seen, extra in (
        ((_UPPER_ANCHORS, _UPPER_CURVES), below < margin, ()),
        ((_LOWER_ANCHORS, _LOWER_CURVES), below > -margin, chin),
    ):
        coarse = np.zeros((2, gh, gw), dtype=np.float32)
        seen &= fade > 0
        if seen.any():
            points = (_layer_points(source, anchors, curves), _layer_points(target, anchors, curves))
            if extra:
                points = (np.vstack([points[0], extra[0]]), np.vstack([points[1], extra[1]]))
            offsets = _layer_offsets(*points, pins, nodes[seen], box.origin, iod) * fade[seen][:, None]
            coarse[:, seen] = offsets.T
        size = (gw * step, gh * step)
        layers.append([cv2.resize(plane, size, interpolation=cv2.INTER_LINEAR)[:height, :width] for plane in coarse])
    (upper_x, upper_y), (lower_x, lower_y) = layers
    line, spread = lip_line(target, lip, np.arange(box.x0, box.x1, dtype=np.float32))
    rows = np.arange(box.y0, box.y1, dtype=np.float32)[:, None]
    across = rows - line[None, :]
    across *= 0.5 / spread[None, :]
    across += 0.5
    share = smoothstep(across)
    return upper_x + share * (lower_x - upper_x), upper_y + share * (lower_y - upper_y)


def _centres(count: int, step: int) -> np.ndarray:
    """ROI pixel index nearest to each of `count` lattice nodes `step` px apart."""
    return np.floor((np.arange(count) + 0.5) * step).astype(np.intp)


def _layer_offsets(
    source: np.ndarray, target: np.ndarray, pins: np.ndarray, nodes: np.ndarray, origin: np.ndarray, iod: float
) -> np.ndarray:
    """Backward offsets (target -> source) of one layer at (G, 2) `nodes`, in px. Returns (G, 2) float32.

    Coordinates are taken from the ROI's corner and divided by the interocular distance, so the
    spline's conditioning and smoothing do not depend on where the face is or how big.
    """
    centres = (np.vstack([target, pins]) - origin) / iod
    values = np.vstack([source - target, np.zeros_like(pins)]) / iod
    return thin_plate(centres, values, (nodes - origin) / iod, SMOOTHING) * np.float32(iod)


def lip_edge(target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The target lower inner lip as (x, y) samples sorted by x: where `lip_line` splits the layers."""
    curve = lip_curve(target[[60, 67, 66, 65, 64]], 8)
    order = np.argsort(curve[:, 0])
    return curve[order, 0], curve[order, 1]


def lip_line(
    target: np.ndarray, lip: tuple[np.ndarray, np.ndarray], columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where the layers split in each image column: the target lower inner lip's edge, and its softness.

    Between the inner corners the split is the lip edge itself, SEAM_FEATHER px soft; beyond them
    it runs on along the mouth's axis, softening by SIDE_BLEND px per px so the cheeks blend the
    two layers' motion instead of tearing. `lip`: `lip_edge(target)`. (W,) column x coordinates ->
    (W,) y and (W,) half-width.
    """
    left, right = sorted((target[60].astype(np.float64), target[64].astype(np.float64)), key=lambda p: p[0])
    across = right - left
    run = max(abs(float(across[0])), 0.2 * float(np.linalg.norm(across)), 1.0)
    slope = float(across[1]) / run
    line = np.interp(columns, *lip)
    line = np.where(columns < left[0], left[1] + (columns - left[0]) * slope, line)
    line = np.where(columns > right[0], right[1] + (columns - right[0]) * slope, line)
    beyond = np.maximum(np.maximum(left[0] - columns, columns - right[0]), 0.0)
    spread = SEAM_FEATHER + SIDE_BLEND * beyond * float(np.linalg.norm(across)) / run
    return line.astype(np.float32), spread.astype(np.float32)


def _inset_inner_lips(source: np.ndarray, target: np.ndarray, iod: float) -> np.ndarray:
    """Copy of (68, 2) source landmarks with each inner-lip pair moved apart, into the lips.

    The tracked inner lip edge sits a pixel or two off the true one: on an open template mouth,
    sampling the rendered lip edge there drags the template's teeth along; on a closed one, the
    dark slit between the lips would show as a band above the painted teeth. The shift grows with
    the source and target openings (up to LIP_INSET), so a mouth that stays closed keeps its slit.
    The upper lip is not inset where the source mouth is open: there its own teeth, hanging from the
    upper lip, are kept (`_kept_interior`), and an inset would draw a band of lip above them.
    """
    out = source.copy()
    v = down_axis(source)
    for upper, lower in ((61, 67), (62, 66), (63, 65)):
        gaps = max(float((source[lower] - source[upper]) @ v), 0.0) + max(
            float((target[lower] - target[upper]) @ v), 0.0
        )
        shift = min(INSET_SHARE * gaps, LIP_INSET * iod)
        if float((source[lower] - source[upper]) @ v) < KEEP_MIN_GAP:
            out[upper] -= shift * v
        out[lower] += shift * v
    return out
