"""Paint the inside of an opened mouth: dark oral cavity, upper and lower teeth, a hint of tongue.

The colours come from the face itself (its lips and the skin around them), so the interior matches
the lighting of every template; the geometry comes from the target inner lips, so it moves with
them. Everything is drawn analytically in the mouth's own frame (across the mouth, down from the
upper lip) inside the mouth's small bounding box, with soft sub-pixel edges and no blur, so the
interior stays as crisp as the picture around it and costs well under a millisecond.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from heygem_ops.face.contours import lip_curve, lip_profile
from heygem_ops.face.regions import polygon_mask

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # Rec. 601 weights of R, G, B
MIN_GAP = 1.5  # px: narrower openings are left as the warp made them
MIN_TEETH = 2.0  # px: a row of teeth lower than this is not drawn (it would read as a bright seam)
UPPER_TEETH = 0.11  # visible upper-incisor height at full activity, in interocular distances
LOWER_TEETH = 0.018  # visible lower-teeth height at full activity, in interocular distances
UPPER_SHARE = 0.5  # most of the opening the upper teeth fill: in speech they show more than the cavity
LOWER_SHARE = 0.2  # the same for the lower teeth
TEETH_SPAN = 0.95  # the teeth's half-span as a fraction of the inner mouth's half-width
TEETH_GAIN = 1.35  # teeth luma relative to the skin around the mouth
TEETH_TINT = np.array([1.0, 0.97, 0.88])  # warm off-white, luma-normalised below...
SKIN_TINT = 0.35  # ...pulled this far towards the skin's own hue, so teeth share the picture's white balance
GAPS = (0.0, 0.36, 0.66)  # angles (rad) of the gaps between front teeth seen on a round arch
GAP_DARKEN = 0.08  # how much darker the line between two teeth is
LIP_SHADOW = 0.1  # darkening of the teeth right under the upper lip
SIDE_SHADOW = 0.3  # darkening towards the mouth corners, where the mouth recedes
CAVITY_SHADE = 0.25  # cavity brightness as a fraction of the lips', at its darkest (the top)
CAVITY_RED = np.array(
    [0.75, 0.22, 0.2]
)  # the cavity's own dark red, per unit of skin luma, mixed half-and-half with the lips'
TONGUE_SHADE = 0.55  # tongue colour as a fraction of the lip colour
TONGUE_OPEN = 0.09  # interocular distances of opening from which the tongue shows
TEETH_CLEAR = 0.08  # interocular distances of opening at which the teeth are fully lit
EDGE = 0.6  # px softness of every painted edge, before matching the picture's blur
CORNER_FADE = 0.18  # share of the half-width over which the painting fades into the lips at each corner
SOFTNESS_GAIN = 1.45  # gradient/Laplacian ratio at strong edges per px of blur (calibrated on blurred steps)
BLUR_SHARE = 0.65  # of the measured edge softness given to the painting: lip edges are softer than teeth


@dataclass(frozen=True)
class _Frame:
    """Per-pixel mouth coordinates over the painted box.

    t: across the mouth, -1..1 between the inner corners. top, bottom: px below the upper lip edge
    and above the lower lip edge (both positive inside the opening). gap: opening height at t, px.
    """

    t: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    gap: np.ndarray
    half: float


def _smooth(x: np.ndarray) -> np.ndarray:
    """Soft step of a signed distance in px: 0 below -EDGE, 1 above +EDGE."""
    r = np.clip(0.5 + x / (2.0 * EDGE), 0.0, 1.0)
    return r * r * (3.0 - 2.0 * r)


def _mouth_frame(upper: np.ndarray, lower: np.ndarray, box: tuple[int, int, int, int]) -> _Frame:
    """Mouth coordinates of every pixel in `box` (x0, y0, x1, y1) from the two (M, 2) lip edges."""
    centre, across = (upper[0] + upper[-1]) / 2.0, upper[-1] - upper[0]
    half = max(float(np.linalg.norm(across)) / 2.0, 1.0)
    u = across / (2.0 * half)
    v = np.array([-u[1], u[0]], dtype=np.float32)
    x0, y0, x1, y1 = box
    xs = np.arange(x0, x1, dtype=np.float32)[None, :] - centre[0]
    ys = np.arange(y0, y1, dtype=np.float32)[:, None] - centre[1]
    a, b = xs * u[0] + ys * u[1], xs * v[0] + ys * v[1]
    edges = []
    for curve in (upper, lower):
        rel = curve - centre
        along, depth = rel @ u, rel @ v
        order = np.argsort(along)
        edges.append(np.interp(a, along[order], depth[order]).astype(np.float32))
    return _Frame(a / half, b - edges[0], edges[1] - b, edges[1] - edges[0], half)


@dataclass(frozen=True)
class _Look:
    """How this face looks around the mouth: lip and skin colour (RGB float), blur (px sigma)."""

    lip: np.ndarray
    skin: np.ndarray
    blur: float

    @property
    def skin_luma(self) -> float:
        return float(self.skin @ LUMA)


def _look(roi: np.ndarray, landmarks: np.ndarray, iod: float) -> _Look:
    """Sample the lips, the skin around them and the picture's blur from a box around the outer lips."""
    margin = 0.12 * iod
    low = np.maximum(np.floor(landmarks[48:60].min(axis=0) - margin).astype(int), 0)
    high = np.minimum(np.ceil(landmarks[48:60].max(axis=0) + margin).astype(int), roi.shape[1::-1])
    box = roi[low[1] : high[1], low[0] : high[0]]
    patch = box.reshape(-1, 3).astype(np.float32)
    outer = polygon_mask(box.shape[:2], landmarks[48:60] - low).reshape(-1)
    inner = polygon_mask(box.shape[:2], landmarks[60:68] - low).reshape(-1)
    lips = np.clip(outer - inner, 0.0, 1.0)
    lip = (patch * lips[:, None]).sum(axis=0) / max(float(lips.sum()), 1.0)
    skin = patch[outer < 0.01]
    skin = np.median(skin, axis=0) if len(skin) else lip * 1.4
    return _Look(lip, skin, BLUR_SHARE * _blur(cv2.cvtColor(box, cv2.COLOR_RGB2GRAY).astype(np.float32)))


def _blur(grey: np.ndarray) -> float:
    """Gaussian sigma (px) the picture seems blurred by, from the (h, w) grey patch round the mouth.

    At a blurred step edge, summed gradient over summed |Laplacian| grows linearly with the blur;
    a light pre-blur and using only the strongest edges keep noise and grain out of the estimate.
    """
    if min(grey.shape) < 5:
        return 0.0
    grey = cv2.GaussianBlur(grey, (0, 0), 1.0)
    gradient = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)) / 8.0
    strong = gradient > 0.25 * float(gradient.max())
    laplacian = np.abs(cv2.Laplacian(grey, cv2.CV_32F))[strong].sum()
    if laplacian <= 0:
        return 0.0
    ratio = float(gradient[strong].sum() / laplacian) / SOFTNESS_GAIN
    return float(np.sqrt(max(ratio * ratio - 1.0, 0.0)))


def _teeth(f: _Frame, height: float, from_top: bool, clarity: float) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, shade) of one row of teeth hanging from the upper lip or standing on the lower.

    The free edge is an arc (teeth recede round the dental arch) with a small notch at each gap
    between teeth; shading runs from the lip's shadow to the lit incisal edge, and the gaps are
    faint dark lines, closer together towards the sides as on a round arch seen from the front.
    `clarity` (0..1) fades the gaps out in a narrow opening, where the teeth are in the lips' shadow.
    """
    reach = np.sqrt(np.clip(1.0 - (f.t / TEETH_SPAN) ** 2, 0.0, 1.0))
    depth = f.top if from_top else f.bottom
    level = np.clip(depth / max(height, 1.0), 0.0, 1.0)
    gaps = _tooth_gaps(f, 1.0 if from_top else 0.55)
    extent = height * (0.35 + 0.65 * reach) - 0.8 * gaps
    coverage = _smooth(depth) * _smooth(extent - depth) * (reach > 0)
    shade = 1.0 - LIP_SHADOW * (1.0 - level) ** 3 - 0.06 * level**4 - GAP_DARKEN * clarity * gaps * (0.4 + 0.6 * level)
    return coverage.astype(np.float32), shade.astype(np.float32)


def _tooth_gaps(f: _Frame, pitch: float) -> np.ndarray:
    """(H, W) 0..1 closeness to a gap between two teeth; `pitch` < 1 packs the teeth tighter."""
    angle = np.abs(np.arcsin(np.clip(f.t * 0.95, -1.0, 1.0)))
    radius = f.half * np.sqrt(np.clip(1.0 - (f.t * 0.95) ** 2, 0.05, 1.0))
    nearest = np.min(np.abs(angle[..., None] - np.asarray(GAPS) * pitch), axis=-1)
    return np.exp(-((nearest * radius / 0.9) ** 2))


def _tongue(f: _Frame, iod: float) -> np.ndarray:
    """(H, W) coverage of the tongue's back rising from the floor of a wide-open mouth."""
    mid_gap = float(f.gap.max())
    height = np.clip((mid_gap - TONGUE_OPEN * iod) / (0.1 * iod), 0.0, 1.0) * 0.45 * mid_gap
    if height <= 0.5:
        return np.zeros_like(f.t)
    rise = height * lip_profile(f.t / 0.85, 2.0)
    return _smooth(rise - f.bottom) * _smooth(f.bottom + EDGE)


def paint_interior(
    roi: np.ndarray, landmarks: np.ndarray, activity: float, iod: float, kept: np.ndarray | None = None
) -> np.ndarray:
    """Fill the target mouth opening in `roi` (H, W, 3 uint8); landmarks (68, 2) in ROI pixels.

    The painting is blurred as much as the picture around the mouth is, so a soft video gets a
    soft mouth. `kept`: (H, W) float32 0..1, where `roi` already shows a real mouth interior (the
    template's own, warped): the painting fades out there. Returns a new array (the input itself
    when the target lips are closed or nothing is left to paint).
    """
    upper = lip_curve(landmarks[[60, 61, 62, 63, 64]], 8)
    lower = lip_curve(landmarks[[60, 67, 66, 65, 64]], 8)
    if float(np.max(((lower - upper) ** 2).sum(axis=1))) < MIN_GAP**2:
        return roi
    look = _look(roi, landmarks, iod)
    reach = 2 + int(np.ceil(3.0 * look.blur))
    outline = np.vstack([upper, lower])
    low = np.maximum(np.floor(outline.min(axis=0)).astype(int) - reach, 0)
    high = np.minimum(np.ceil(outline.max(axis=0)).astype(int) + reach + 1, roi.shape[1::-1])
    if (high - low).min() < 2:
        return roi
    f = _mouth_frame(upper, lower, (low[0], low[1], high[0], high[1]))
    layer = _paint(f, look, activity, iod)
    corners = _smooth_unit((1.0 - np.abs(f.t)) / CORNER_FADE)
    mouth = (_smooth(f.top) * _smooth(f.bottom) * corners).astype(np.float32)
    if kept is not None:
        mouth *= 1.0 - kept[low[1] : high[1], low[0] : high[0]]
        if float(mouth.max()) <= 0.0:
            return roi
    if look.blur > 0.3:
        layer = cv2.GaussianBlur(layer * mouth[..., None], (0, 0), look.blur)
        mouth = cv2.GaussianBlur(mouth, (0, 0), look.blur)
        layer /= np.maximum(mouth, 1e-3)[..., None]
    out = roi.copy()
    box = out[low[1] : high[1], low[0] : high[0]]
    box[:] = np.clip(box * (1.0 - mouth[..., None]) + layer * mouth[..., None] + 0.5, 0, 255).astype(np.uint8)
    return out


def _smooth_unit(x: np.ndarray) -> np.ndarray:
    """Smoothstep of x over 0..1."""
    r = np.clip(x, 0.0, 1.0)
    return r * r * (3.0 - 2.0 * r)


def _paint(f: _Frame, look: _Look, activity: float, iod: float) -> np.ndarray:
    """(H, W, 3) float32 colours of the mouth interior, before the lip outline cuts them out."""
    mid_gap = float(f.gap.max())
    clarity = float(np.clip(mid_gap / (TEETH_CLEAR * iod), 0.0, 1.0))
    hue = (1.0 - SKIN_TINT) * TEETH_TINT / float(TEETH_TINT @ LUMA) + SKIN_TINT * look.skin / max(look.skin_luma, 1.0)
    white = hue * np.clip(look.skin_luma * TEETH_GAIN, 70.0, 240.0)
    cavity = (CAVITY_SHADE * (0.5 * look.lip + 0.5 * CAVITY_RED * look.skin_luma)).astype(np.float32)
    floor = np.clip(f.top / np.maximum(f.gap, 1.0), 0.0, 1.0)  # 0 under the upper teeth, 1 at the lower lip
    layer = cavity * (1.0 + 0.35 * floor)[..., None]
    tongue = _tongue(f, iod)[..., None]
    layer += (look.lip * TONGUE_SHADE * (0.8 + 0.2 * floor)[..., None] - layer) * tongue
    for from_top, height, gain in (
        (False, min(LOWER_TEETH * iod * activity, LOWER_SHARE * mid_gap), 0.8),
        (True, min(UPPER_TEETH * iod * min(1.0, 1.5 * activity), UPPER_SHARE * mid_gap), 1.0),
    ):
        if height < MIN_TEETH:
            continue
        coverage, shade = _teeth(f, height, from_top, clarity * min(1.0, (height - MIN_TEETH) / 4.0))
        colour = white * (gain * (0.6 + 0.4 * clarity)) * shade[..., None]
        layer += (colour - layer) * coverage[..., None]
    side = np.clip(1.0 - SIDE_SHADOW * f.t**2, 0.3, 1.0)
    return (layer * side[..., None]).astype(np.float32)
