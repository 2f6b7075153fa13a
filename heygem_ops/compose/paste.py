"""Paste an engine's generated face patch back into the template frame, without a visible square.

Image engines such as Wav2Lip return a whole face crop, but only its lower half carries new
information, and its colours drift a little from the template's (a 96×96 GAN on a compressed
video). So only the lower face is taken from the patch: the same polygon every engine and quality
check uses (`face.regions.lower_face_polygon`), cut to the crop's lower half and faded to zero
towards its edges. The patch is first shifted in colour so that, along that soft edge, it matches
the template it fades into. Every pixel outside the polygon stays exactly the template's.

The region follows MuseTalk's blending modes, drawn from landmarks instead of its face-parsing
network: "jaw" (the default) the lower face with room for the chin to drop, which is the region the
quality checks allow; "raw" only up to the jaw line itself; "neck" the lower face and the neck below
the chin down to the box's edge (outside the quality checks' region: their PSNR counts it).
"""

from __future__ import annotations

import cv2
import numpy as np

from heygem_ops.face.regions import lower_face_polygon, polygon_mask

FEATHER = 0.08  # width of the soft edge, as a fraction of the box height
GENERATED_FROM = 0.5  # the patch is used from this fraction of the box height down (its lower half)
BAND = (0.05, 0.95)  # mask values that count as "the edge" where colours are compared
BLEND_REGIONS = ("jaw", "raw", "neck")  # see the module docstring; options.PARSING_MODES names the same
NECK_FROM = (4, 12)  # jaw points whose mean height is where the neck region starts


def blend_region(
    frame_shape: tuple[int, int], box: tuple[int, int, int, int], landmarks: np.ndarray, mode: str
) -> np.ndarray:
    """(h, w) bool: where in `box` the generated face may show, for blending mode `mode` (BLEND_REGIONS)."""
    if mode not in BLEND_REGIONS:
        raise ValueError(f"unknown blending mode {mode!r}; one of {BLEND_REGIONS}")
    polygon = lower_face_polygon(landmarks, jaw_margin=0.0) if mode == "raw" else lower_face_polygon(landmarks)
    inside = region_inside(frame_shape, box, polygon)
    if mode == "neck":
        x0, y0 = box[0], box[1]
        jaw = landmarks[2:15]
        left, right = int(np.floor(jaw[:, 0].min())) - x0, int(np.ceil(jaw[:, 0].max())) - x0
        top = int(np.round(landmarks[list(NECK_FROM), 1].mean())) - y0
        inside[max(top, 0) :, max(left, 0) : max(right, 0)] = True
    return inside


def region_inside(frame_shape: tuple[int, int], box: tuple[int, int, int, int], polygon: np.ndarray) -> np.ndarray:
    """(h, w) bool: which pixels of `box` (x0, y0, x1, y1) lie inside `polygon` (frame pixels).

    Rasterised on a canvas holding the whole polygon, clipped only by the frame, so the answer is
    pixel for pixel the one `face.regions` gives on the full frame (the quality checks' region).
    """
    x0, y0, x1, y1 = box
    height, width = frame_shape
    cx0, cy0 = max(0, min(x0, int(np.floor(polygon[:, 0].min())))), max(0, min(y0, int(np.floor(polygon[:, 1].min()))))
    cx1 = min(width, max(x1, int(np.ceil(polygon[:, 0].max())) + 1))
    cy1 = min(height, max(y1, int(np.ceil(polygon[:, 1].max())) + 1))
    offset = np.array([cx0, cy0], dtype=polygon.dtype)
    canvas = polygon_mask((cy1 - cy0, cx1 - cx0), polygon - offset) > 0.5
    return canvas[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]


def paste_mask(inside: np.ndarray) -> np.ndarray:
    """(h, w) float32 weight of the patch in its box, from the (h, w) bool lower-face region.

    Only the box's lower half counts (the generated part), and the weight ramps up (smoothstep)
    over FEATHER·h inside the region's edge and the box's edge, so no seam or square shows.
    """
    height = inside.shape[0]
    inside = inside.copy()
    inside[: int(height * GENERATED_FROM)] = False
    inside[[0, -1], :] = inside[:, [0, -1]] = False  # the box edge is an edge too
    depth = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, 3)
    ramp = np.clip(depth / max(FEATHER * height, 1.0), 0.0, 1.0)
    return (ramp * ramp * (3.0 - 2.0 * ramp)).astype(np.float32)


def _fallback_region(shape: tuple[int, int]) -> np.ndarray:
    """An ellipse over the box's lower half, for a frame whose landmarks are unknown."""
    height, width = shape
    canvas = np.zeros(shape, dtype=np.uint8)
    centre, axes = (width // 2, int(height * 0.72)), (int(width * 0.42), int(height * 0.26))
    return cv2.ellipse(canvas, centre, axes, 0, 0, 360, 1, thickness=-1) > 0


def match_colour(patch: np.ndarray, template: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift `patch` (h, w, 3) float32 by the mean colour difference to `template` along the mask's edge.

    Only the soft edge is compared: inside, the mouth legitimately differs (teeth, an open mouth),
    while at the edge both show the same skin. Returns float32 (h, w, 3).
    """
    band = (mask > BAND[0]) & (mask < BAND[1])
    weights = mask if band.sum() < 16 else band.astype(np.float32)
    total = float(weights.sum())
    if total <= 0:
        return patch
    shift = ((template - patch) * weights[..., None]).sum(axis=(0, 1)) / total
    return patch + shift.astype(np.float32)


def paste_patch(
    frame: np.ndarray, patch: np.ndarray, box: np.ndarray, landmarks: np.ndarray | None, mode: str = "jaw"
) -> np.ndarray:
    """A copy of `frame` (H, W, 3 uint8) with generated `patch` (S, S, 3 uint8) blended into `box`.

    box: (4,) x0, y0, x1, y1 in frame pixels, where the patch's crop was cut. landmarks: (68, 2) of
    the template face in frame pixels (shapes the mask), or None. mode: the blending region (BLEND_REGIONS).
    """
    if not np.isfinite(box).all():
        return frame
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, frame.shape[1]), min(y1, frame.shape[0])
    if x1 - x0 < 4 or y1 - y0 < 4:
        return frame
    height, width = y1 - y0, x1 - x0
    if landmarks is not None and np.isfinite(landmarks).all():
        inside = blend_region(frame.shape[:2], (x0, y0, x1, y1), landmarks, mode)
    else:
        inside = _fallback_region((height, width))
    mask = paste_mask(inside)
    region = frame[y0:y1, x0:x1].astype(np.float32)
    generated = cv2.resize(patch, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    generated = match_colour(generated, region, mask)
    blended = region + (generated - region) * mask[..., None]
    out = frame.copy()
    out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out
