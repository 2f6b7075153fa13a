"""Draw a banked mouth onto the shown frame, with its lips exactly on the engine's target lips.

Compose first warps the shown frame's lower face onto the targets (`compose.warp.render_warp`, its
interior left unpainted): jaw and chin follow the opening there, with the frame's own skin, so the
region's edge (cheeks, jaw sides, neck) is the frame's own and shows no seam. Over that, the mouth
is replaced by the chosen template frame's: its crop is mapped by the similarity its eyes and nose
share with the shown frame (the bank's canonical face), then bent by a thin-plate spline so its
lips, nose base and jaw land on the targets (a shut target, a P, B or M, presses a crop's parted
lips together: upper and lower lip are pulled as two layers that meet on the target's lip line).
It covers the lips and MARGIN beyond them fully, then fades out over FEATHER of skin (so the warped
frame's own lip line, a tracker's error away, never shows beside it: no double contour), fades out
above the chin (whose edge stays the warped frame's: one chin line), and stays inside the jaw line
of both faces (a turned head's cheek edge in the crop never lands on the frame's cheek) and the
lower-face region. Its colour and light are matched to the warped frame by the mean and spread of
each channel in that fading ring, where both show the same skin. Nothing outside the lower-face
region changes.
"""

from __future__ import annotations

import cv2
import numpy as np

from heygem_ops.compose.spline import thin_plate
from heygem_ops.compose.warp import lip_edge, lip_line, smoothstep
from heygem_ops.face.contours import lip_curve, settle_inner_lips
from heygem_ops.face.landmarks import down_axis, interocular, lip_gap
from heygem_ops.face.regions import lower_face_polygon
from heygem_ops.mouths.bank import MouthBank, apply, canonical_transforms

MARGIN = 0.14  # interocular distances beyond the outer lips the banked mouth covers fully...
FEATHER = 0.12  # ...then fades out over this many
CHIN_REACH = (0.6, 0.95)  # shares of the lower lip's distance to the chin where the mouth starts and ends fading
REGION_FADE = 0.06  # interocular distances inside the lower-face region's edge where it has faded out
GRID_PER_IOD = 24  # spline evaluations per interocular distance (the map is smooth; bilinear between)
SMOOTHING = 1e-4  # thin-plate regularisation, in interocular units
CLOSED = 0.03  # inner-lip gap (interocular distances) below which a mouth counts as shut: a shut crop's lips'
# meeting line is mapped onto the target's, rather than each inner lip onto its own (it cannot be opened)...
PRESSED = 0.006  # ...but a shut target presses together a crop whose inner lips part by more than this...
PRESS_INSET = 0.01  # ...its lips meeting on the target's lip line from this far inside each (lip, never the slit)
GAIN = (0.9, 1.1)  # bounds of the colour match's per-channel contrast gain
RESHARPEN = 0.5  # unsharp-mask gain on the placed crop (sigma 1 px)
EDGE_PX = 4.0  # px inside a crop's edge over which the banked mouth fades out (its edge may cross the face's)
SLACK = 0.1  # interocular distances the banked lips may reach beyond the target's
_ANCHORS = [31, 32, 33, 34, 35]  # the nose base: where the crop meets the warped frame above the lips


def _controls(landmarks: np.ndarray, middle: np.ndarray) -> np.ndarray:
    """(P, 2) control points of a mouth: nose base, mouth corners, then `middle`, the (1 or more, 2) points
    of the lips' middle (`_middle`). The rest of the lips follows their own shape, not the target's."""
    return np.vstack([landmarks[_ANCHORS], landmarks[[48, 54, 60, 64]], middle]).astype(np.float64)


def _middle(landmarks: np.ndarray, meeting: bool) -> np.ndarray:
    """The inner lips' middle points (62, 66); or, `meeting`, their midpoint alone (where shut lips meet)."""
    return ((landmarks[62] + landmarks[66]) / 2.0)[None] if meeting else landmarks[[62, 66]]


def _weights(
    target: np.ndarray, lips: list[np.ndarray], limits: list[np.ndarray], box: tuple[int, int, int, int], iod: float
) -> np.ndarray:
    """(h, w) float32 0..1 weight of the banked mouth over `box`: 1 on every (K, 2) outer-lip polygon
    of `lips` (frame px) and MARGIN around, fading out over FEATHER, and out before the edge of any
    polygon of `limits` (the lower-face region, and the faces of the frame and of the crops)."""
    x0, y0, x1, y1 = box
    origin = np.array([x0, y0], np.float32)
    covered = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for polygon in lips:
        cv2.fillPoly(covered, [np.round(polygon - origin).astype(np.int32)], 1)
    distance = cv2.distanceTransform(1 - covered, cv2.DIST_L2, 3) / iod
    weight = np.clip((MARGIN + FEATHER - distance) / FEATHER, 0.0, 1.0)
    inside = np.ones_like(covered)
    for polygon in limits:
        within = np.zeros_like(covered)
        cv2.fillPoly(within, [np.round(polygon - origin).astype(np.int32)], 1)
        inside &= within
    depth = cv2.distanceTransform(inside, cv2.DIST_L2, 3) / iod
    weight *= np.clip(depth / REGION_FADE, 0.0, 1.0)
    weight *= _above_chin(target, box)
    return (weight * weight * (3.0 - 2.0 * weight)).astype(np.float32)


def _above_chin(target: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """(h, w) float32 1 down to CHIN_REACH[0] of the way from the lower lip (57) to the chin (8), 0 from
    CHIN_REACH[1]: the chin and its edge stay the warped frame's own (they follow the jaw there)."""
    x0, y0, x1, y1 = box
    down = target[8].astype(np.float64) - target[57]
    length = max(float(np.linalg.norm(down)), 1.0)
    down /= length
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(target[57, 0])
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(target[57, 1])
    share = (xs * np.float32(down[0]) + ys * np.float32(down[1])) / np.float32(length)
    low, high = CHIN_REACH
    return np.clip((high - share) / (high - low), 0.0, 1.0)


def _outer_lips(landmarks: np.ndarray) -> np.ndarray:
    """(K, 2) the outer lip contour as a dense closed polygon."""
    upper = lip_curve(landmarks[[48, 49, 50, 51, 52, 53, 54]], 6)
    return np.vstack([upper, lip_curve(landmarks[[54, 55, 56, 57, 58, 59, 48]], 6)])


def _box(
    target: np.ndarray, region: np.ndarray, shape: tuple[int, int], iod: float
) -> tuple[int, int, int, int] | None:
    """The pixels the banked mouth can reach: the target lips grown by MARGIN + FEATHER and a SLACK for
    the banked lips' own shape, inside the region's box."""
    reach = (MARGIN + FEATHER + SLACK) * iod
    lips = target[48:60]
    chin = target[57] + CHIN_REACH[1] * (target[8] - target[57])  # below it the mouth has faded out
    low = np.maximum(np.floor(np.maximum(lips.min(axis=0) - reach, region.min(axis=0))), 0).astype(int)
    high = np.ceil(np.minimum(lips.max(axis=0) + reach, region.max(axis=0))).astype(int) + 1
    high[1] = min(high[1], int(np.ceil(chin[1] + reach)) + 1)
    high = np.minimum(high, [shape[1], shape[0]])
    return (int(low[0]), int(low[1]), int(high[0]), int(high[1])) if (high - low).min() >= 4 else None


class _Mapping:
    """How one banked mouth lands on the frame: a spline from the shown frame's canonical face onto the
    crop's through the control points (`_controls`); backward for its pixels, forward for its lips.

    Pressed lips (a P, B or M on a crop whose lips part) are pulled as two layers, as the warp's are
    (`compose.warp`): above the target's lip line from the crop's upper lip, below it from its lower
    lip, meeting PRESS_INSET inside each, so no pixel of the crop's opening shows between them. (Its
    lips are pinned at their middle only: one spline through both inner lips and the meeting point
    thins them; pinning their outer edges too draws them thinner than the face around them expects.)
    """

    def __init__(self, bank: MouthBank, entry: int, target: np.ndarray, to_crop: np.ndarray) -> None:
        self.bank, self.entry, self.to_crop, self.scale = bank, entry, to_crop, bank.layout.scale
        own = settle_inner_lips(bank.landmarks[entry])
        own_gap, target_gap = float(lip_gap(own)), float(lip_gap(target))
        meeting = min(own_gap, target_gap) < CLOSED  # a shut crop keeps its lips' meeting line...
        self.there = apply(to_crop[None], _controls(target, _middle(target, meeting))[None])[0] / self.scale
        self.own = _controls(own, _middle(own, meeting)) / self.scale  # ...two open mouths match lip for lip
        self.layers, self.split = [(self.there, self.own)], None  # split: whose lip line parts two layers
        if own_gap > PRESSED and target_gap < CLOSED:  # a P, B or M: the crop's parted lips pressed together
            self.layers, self.split = self._pressed(own), target
        self.lips, self.face = _outer_lips(own), lower_face_polygon(own, jaw_margin=0.0)

    def _pressed(self, own: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(target side, crop side) control points of the upper and the lower layer of pressed lips: the
        crop's upper, then lower inner lip, PRESS_INSET inside it, lands on the target lips' meeting point
        (`there`, the shut target's controls); the rest of each lip follows as the unpressed mapping would
        move it, keeping the lip's shape."""
        inset = PRESS_INSET * float(interocular(own)) * down_axis(own)
        return [(self.there, _controls(own, inner[None]) / self.scale) for inner in (own[62] - inset, own[66] + inset)]

    def placed(self, points: np.ndarray) -> np.ndarray:
        """(K, 2) frame px where (K, 2) points of the crop (crop px) land."""
        points = points.astype(np.float64) / self.scale
        moved = (points + thin_plate(self.own, self.there - self.own, points, SMOOTHING)) * self.scale
        return apply(cv2.invertAffineTransform(self.to_crop)[None], moved[None])[0]

    def pull(self, box: tuple[int, int, int, int], iod: float) -> tuple[np.ndarray, np.ndarray]:
        """(h, w, 3) float32: the crop pulled onto `box` of the frame; (h, w) float32 0..1 how far inside
        the crop each pixel's source lies (0 beyond its edge, 1 from EDGE_PX in: the crop never smears)."""
        x0, y0, x1, y1 = box
        step = int(np.clip(round(iod / GRID_PER_IOD), 2, 12))
        gw, gh = -(-(x1 - x0) // step), -(-(y1 - y0) // step)
        gx = x0 - 0.5 + (np.arange(gw) + 0.5) * step
        gy = y0 - 0.5 + (np.arange(gh) + 0.5) * step
        nodes = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
        at = apply(self.to_crop[None], nodes[None])[0] / self.scale
        size = (gw * step, gh * step)
        planes = []
        for there, own in self.layers:
            offsets = (thin_plate(there, own - there, at, SMOOTHING) * np.float32(self.scale)).reshape(gh, gw, 2)
            planes.append([cv2.resize(offsets[..., i], size)[: y1 - y0, : x1 - x0] for i in (0, 1)])  # bilinear
        xs = np.arange(x0, x1, dtype=np.float32)[None, :]
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        dx, dy = planes[0]
        if self.split is not None:  # the lower layer below the target's lip line, softly beside the corners
            line, spread = lip_line(self.split, lip_edge(self.split), xs[0])
            share = smoothstep((ys - line[None, :]) * (0.5 / spread[None, :]) + 0.5)
            (lower_x, lower_y) = planes[1]
            dx, dy = dx + share * (lower_x - dx), dy + share * (lower_y - dy)
        (a, b, c), (d, e, f) = self.to_crop.astype(np.float32)
        map_x = a * xs + b * ys + c + dx
        map_y = d * xs + e * ys + f + dy
        crop = self.bank.crop(self.entry)
        pulled = cv2.remap(crop, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        layout = self.bank.layout
        room = np.minimum(np.minimum(map_x, layout.width - 1 - map_x), np.minimum(map_y, layout.height - 1 - map_y))
        return pulled, np.clip(room / EDGE_PX, 0.0, 1.0)


def _resharpen(patch: np.ndarray) -> np.ndarray:
    """Give the crop back the detail its two resamplings (cut, placed) and its JPEG took: an unsharp mask."""
    return cv2.addWeighted(patch, 1.0 + RESHARPEN, cv2.GaussianBlur(patch, (0, 0), 1.0), -RESHARPEN, 0.0)


def _match_colour(patch: np.ndarray, frame: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """`patch` with each channel's mean and spread in the fading ring set to `frame`'s there."""
    ring = ((weight > 0.02) & (weight < 0.6)).view(np.uint8)
    if cv2.countNonZero(ring) < 16:
        return patch
    ours, spread = (values.ravel() for values in cv2.meanStdDev(patch, mask=ring))
    theirs, wanted = (values.ravel() for values in cv2.meanStdDev(frame, mask=ring))
    gain = np.clip(wanted / np.maximum(spread, 1e-3), *GAIN)
    return patch * gain.astype(np.float32) + (theirs - ours * gain).astype(np.float32)


def place_mouth(
    frame: np.ndarray, source: np.ndarray, target: np.ndarray, bank: MouthBank, shown: list[tuple[int, float]]
) -> np.ndarray:
    """`frame` (H, W, 3 uint8, the shown template frame already warped to `target`) with banked mouths drawn in
    (in place: compose hands over the warp's own copy).

    source: (68, 2) landmarks of the shown template frame (its eyes and nose place the crop; its
    lower face bounds what may change). target: (68, 2) the engine's target landmarks. shown:
    (template frame, weight) pairs blended, weights summing to 1 (`MouthPath.shown`). Returns
    `frame`; pixels outside the lower-face region of `source` keep their values exactly.
    """
    iod = float(interocular(source))
    region = lower_face_polygon(source)
    box = _box(target, region, frame.shape[:2], iod)
    if box is None:
        return frame
    to_crop = bank.layout.to_crop(canonical_transforms(source[None].astype(np.float64), bank.reference))[0]
    x0, y0, x1, y1 = box
    under = frame[y0:y1, x0:x1].astype(np.float32)
    mappings = [(_Mapping(bank, entry, target, to_crop), share) for entry, share in shown]
    lips = [_outer_lips(target), *(m.placed(m.lips) for m, _ in mappings)]
    faces = [region, lower_face_polygon(target, jaw_margin=0.0), *(m.placed(m.face) for m, _ in mappings)]
    weight = _weights(target, lips, faces, box, iod)
    pulled = [(share, *mapping.pull(box, iod)) for mapping, share in mappings]
    patch = sum(share * pixels for share, pixels, _ in pulled)
    for _, _, inside in pulled:
        weight *= inside
    patch = _match_colour(_resharpen(patch), under, weight)
    blended = cv2.blendLinear(patch, under, weight, 1.0 - weight)
    frame[y0:y1, x0:x1] = cv2.convertScaleAbs(blended)
    return frame
