"""The weights-free default engine: move the template's own lips and jaw to follow the audio.

For every frame it computes target landmarks from what the speech articulates
(`heygem_ops.articulation`): the inner-lip gap is set from the jaw opening (absolutely, so the
template's own mouth motion does not survive), shaped like a real open mouth (a rounded arc, widest
in the middle, closing at the corners), the jaw drops with it; the lips meet on P, B and M however
loud they are, the lower lip tucks under the upper teeth on F and V, and the mouth narrows and
pouts when rounded, widens when spread, around the template's typical width. Compose then warps
the lower face onto those targets and paints the opened mouth's interior.
"""

from __future__ import annotations

import numpy as np

from heygem_ops.articulation.analysis import ArticulationTrack
from heygem_ops.engines.base import Engine, EngineNeeds, InferenceBatch, MouthUpdate
from heygem_ops.face.contours import lip_profile, settle_inner_lips
from heygem_ops.face.landmarks import EYE_OUTER_LEFT, EYE_OUTER_RIGHT, JAW, MOUTH_LEFT, MOUTH_RIGHT
from heygem_ops.face.regions import chin_weights

OPEN_MAX = 0.16  # inner-lip gap at full jaw opening, in interocular distances (an open /a/ in conversation)
OPEN_CURVE = 1.1  # exponent of the jaw opening: half-open vowels open the lips a little less than half
OPEN_PROFILE = 2.6  # superellipse exponent of the open inner lips (see contours.lip_profile)
ROUND_PROFILE = 2.0  # ...of rounded lips: an ellipse, the round opening of /o/ and /u/
JAW_SHARE = 1.2  # how much of the lower lip's drop comes from the chin dropping...
JAW_TRAVEL = 0.35  # ...easing off towards this many interocular distances: the warp has room below the chin
CORNER_DROP = 0.15  # share of the lower lip's motion the mouth corners follow
UPPER_LIFT = 0.2  # share of the opening the upper lip contributes, upward
SPREAD_GAIN = 0.12  # relative widening of fully spread lips (/i/)
ROUND_GAIN = 0.45  # relative narrowing of fully rounded lips (/u/, /w/): a tracker sees about half of it
ROUND_POUT = 0.25  # rounded lips pout: outer lip contours move out by this share of the lip's thickness
TEETH_TUCK = 0.45  # on F and V the lower lip rolls under the upper teeth: its outer edge rises this share
PRESS = 0.012  # closed lips press together: the inner edges overlap this much (interocular distances), so
# the closure reads as closed on every template frame, not as the residual gap a warp leaves
TEETH_GAP = 0.012  # inner-lip gap left between the lower lip and the upper teeth, in interocular distances
TAPER_SHARE = 0.5  # share of the outer lower lip's motion that pivots about the corners (see _move_outer_lips)
OPEN_NARROWING = 0.06  # relative narrowing of a wide-open mouth

# Inner-lip pairs (upper, lower), left to right.
_PAIRS = ((61, 67), (62, 66), (63, 65))
# Outer lower-lip points and the inner pair nearest each (they follow the inner lower lip; see _move_outer_lips).
_LOWER_OUTER = {55: 2, 56: 2, 57: 1, 58: 0, 59: 0}
_UPPER_OUTER = (49, 50, 51, 52, 53)
_CORNERS = ((MOUTH_LEFT, -1.0), (60, -1.0), (MOUTH_RIGHT, 1.0), (64, 1.0))
_NEAR_CORNERS = ((49, -0.5), (59, -0.5), (61, -0.35), (67, -0.35), (53, 0.5), (55, 0.5), (63, 0.35), (65, 0.35))


def _face_axes(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame unit vectors across (u) and down (v) the face, and interocular distance.

    (N, 68, 2) -> u (N, 2), v (N, 2), iod (N,). v is u turned 90° towards the chin.
    """
    across = landmarks[:, EYE_OUTER_LEFT] - landmarks[:, EYE_OUTER_RIGHT]
    iod = np.linalg.norm(across, axis=1)
    u = across / np.maximum(iod, 1e-6)[:, None]
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)
    return u, v, iod


def _along_mouth(landmarks: np.ndarray, points: list[int], u: np.ndarray) -> np.ndarray:
    """(N, len(points)) place of each point across the mouth: -1 at inner corner 60, +1 at 64."""
    centre = (landmarks[:, 60] + landmarks[:, 64]) / 2.0
    half = np.maximum(np.einsum("nd,nd->n", landmarks[:, 64] - landmarks[:, 60], u) / 2.0, 1e-6)
    return np.einsum("npd,nd->np", landmarks[:, points] - centre[:, None], u) / half[:, None]


def mouth_gap(shape: ArticulationTrack) -> np.ndarray:
    """(N,) inner-lip gap at the mouth's middle, in interocular distances: -PRESS when the lips close.

    The jaw sets it; a closure (P, B, M) shuts it whatever the loudness, pressing the lips together;
    on F and V the lower lip rests just below the upper teeth.
    """
    gap = OPEN_MAX * np.power(shape.lip_opening.astype(np.float64), OPEN_CURVE)
    teeth = np.clip(shape.teeth, 0.0, 1.0)
    gap = (1.0 - teeth) * gap + teeth * np.minimum(gap, TEETH_GAP)
    return gap - PRESS * np.clip(shape.closure, 0.0, 1.0) ** 2


def target_width(shape: ArticulationTrack, mouth_width: float) -> np.ndarray:
    """(N,) corner-to-corner mouth width the speech asks for, in interocular distances, around the
    template's typical `mouth_width`: wider when spread, narrower when rounded or wide open."""
    spread = np.clip(shape.spread.astype(np.float64), -1.0, 1.0)
    jaw = np.clip(shape.jaw.astype(np.float64), 0.0, 1.0)
    relative = (
        SPREAD_GAIN * np.clip(spread, 0.0, None) + ROUND_GAIN * np.clip(spread, None, 0.0) - OPEN_NARROWING * jaw**2
    )
    return mouth_width * (1.0 + relative)


def target_landmarks(landmarks: np.ndarray, shape: ArticulationTrack, mouth_width: float) -> np.ndarray:
    """Move lips and jaw of (N, 68, 2) template landmarks to the mouth the speech articulates.

    shape: the articulation of the N frames. mouth_width: reference width in interocular distances.
    Returns (N, 68, 2) float32 targets; untouched points (eyes, nose, brows) equal the input.
    Each inner-lip pair opens by `lip_profile` of its place across the mouth, so the opening is a
    rounded arc (an ellipse when the lips round); the upper lip takes UPPER_LIFT of every pair's
    change, the lower lip the rest. The tracked lower inner lip is first settled onto its real edge
    (`settle_inner_lips`), as compose does before warping from it.
    """
    landmarks = settle_inner_lips(landmarks)
    u, v, iod = _face_axes(landmarks)
    open_gap = mouth_gap(shape) * iod
    rounding = np.clip(-shape.spread.astype(np.float64), 0.0, 1.0)
    profile = OPEN_PROFILE + (ROUND_PROFILE - OPEN_PROFILE) * rounding
    out = landmarks.astype(np.float64).copy()
    place = _along_mouth(landmarks, [upper for upper, _ in _PAIRS], u)
    deltas = np.stack(
        [
            open_gap * lip_profile(place[:, k], profile)
            - np.einsum("nd,nd->n", landmarks[:, lower] - landmarks[:, upper], v)
            for k, (upper, lower) in enumerate(_PAIRS)
        ],
        axis=1,
    )
    lift = UPPER_LIFT * np.clip(deltas, 0.0, None)
    for k, (upper, lower) in enumerate(_PAIRS):
        out[:, upper] -= lift[:, k, None] * v
        out[:, lower] += (deltas[:, k] - lift[:, k])[:, None] * v
    _move_outer_lips(out, landmarks, deltas, lift, u, v)
    drop = deltas[:, 1] - lift[:, 1]
    for corner, _ in _CORNERS:
        out[:, corner] += (CORNER_DROP * drop)[:, None] * v
    chin = JAW_TRAVEL * iod * np.tanh(JAW_SHARE * drop / (JAW_TRAVEL * iod))
    out[:, JAW] += (chin[:, None] * chin_weights(JAW)[None, :])[:, :, None] * v[:, None, :]
    _shape_lips(out, landmarks, v, rounding, np.clip(shape.teeth, 0.0, 1.0))
    _set_width(out, landmarks, u, iod, shape, mouth_width)
    return out.astype(np.float32)


def _shape_lips(out: np.ndarray, landmarks: np.ndarray, v: np.ndarray, rounding: np.ndarray, teeth: np.ndarray) -> None:
    """Pout rounded lips and tuck the lower lip on F/V (in place), from each lip's own thickness.

    A rounded mouth pushes both outer contours away from the opening; on F and V the lower lip
    rolls in under the upper teeth, so less of it shows: its outer edge rises towards its inner one.
    """
    upper_thickness = np.einsum("nd,nd->n", landmarks[:, 62] - landmarks[:, 51], v)
    lower_thickness = np.einsum("nd,nd->n", landmarks[:, 57] - landmarks[:, 66], v)
    pout_up = ROUND_POUT * rounding * np.clip(upper_thickness, 0.0, None)
    pout_down = (ROUND_POUT * rounding - TEETH_TUCK * teeth) * np.clip(lower_thickness, 0.0, None)
    for point in _UPPER_OUTER:
        out[:, point] -= (pout_up * (1.0 if point in (50, 51, 52) else 0.5))[:, None] * v
    for point in _LOWER_OUTER:
        out[:, point] += (pout_down * (1.0 if point in (56, 57, 58) else 0.5))[:, None] * v


def _move_outer_lips(
    out: np.ndarray, landmarks: np.ndarray, deltas: np.ndarray, lift: np.ndarray, u: np.ndarray, v: np.ndarray
) -> None:
    """Carry the outer lip contour (in place) with the inner lips.

    Each outer lower-lip point takes TAPER_SHARE of its inner pair's motion scaled by the ratio of
    `lip_profile` at the two places (the lip pivots about the corners, as an opening lip does) and
    the rest of the inner lower lip's motion at its own place across the mouth, interpolated between
    the pairs and down to the corners' own motion. Pivoting alone left a wide-open template's lip
    hanging at its sides when the mouth closed (a "W" under the mouth); following alone lets the
    mesh read the template's opening through the output (template leak 0.22 -> 0.31 on d12); half
    each: 0.25, and the W mostly gone. The upper lip's outer contour rises with the inner one,
    tapering to nothing at the corners.
    """
    count = len(out)
    place = _along_mouth(landmarks, [*_LOWER_OUTER, *_UPPER_OUTER], u)
    inner = np.clip(_along_mouth(landmarks, [upper for upper, _ in _PAIRS], u), -0.99, 0.99)
    lower = deltas - lift
    corners = CORNER_DROP * lower[:, 1:2]
    knots = np.concatenate([np.full((count, 1), -1.0), np.sort(inner, axis=1), np.ones((count, 1))], axis=1)
    values = np.concatenate([corners, lower[np.arange(count)[:, None], np.argsort(inner, axis=1)], corners], axis=1)
    for slot, (point, pair) in enumerate(_LOWER_OUTER.items()):
        along = np.array([np.interp(place[n, slot], knots[n], values[n]) for n in range(count)])
        taper = np.clip(lip_profile(place[:, slot], OPEN_PROFILE) / lip_profile(inner[:, pair], OPEN_PROFILE), 0, 1)
        motion = (1.0 - TAPER_SHARE) * along + TAPER_SHARE * taper * lower[:, pair]
        out[:, point] += motion[:, None] * v
    mean_lift = lift.mean(axis=1)
    for slot, point in enumerate(_UPPER_OUTER, start=len(_LOWER_OUTER)):
        out[:, point] -= (mean_lift * lip_profile(place[:, slot], OPEN_PROFILE))[:, None] * v


def _set_width(
    out: np.ndarray,
    landmarks: np.ndarray,
    u: np.ndarray,
    iod: np.ndarray,
    shape: ArticulationTrack,
    mouth_width: float,
) -> None:
    """Move the mouth corners (in place) so the width follows the articulation, not the template."""
    target = target_width(shape, mouth_width) * iod
    width = np.einsum("nd,nd->n", landmarks[:, MOUTH_RIGHT] - landmarks[:, MOUTH_LEFT], u)
    half = 0.5 * (target - width)
    for point, side in (*_CORNERS, *_NEAR_CORNERS):
        out[:, point] += (side * half)[:, None] * u


class WarpEngine(Engine):
    """Landmark-driven lip sync with no weights; real time on a laptop CPU."""

    name = "warp"
    needs = EngineNeeds(crop_size=None, mel=False, device=False, articulation=True, mouths=True)

    def __init__(self, device: None = None) -> None:
        super().__init__(None)

    def __call__(self, batch: InferenceBatch) -> MouthUpdate:
        shape = batch.articulation
        if shape is None:
            raise ValueError("the warp engine needs the batch's articulation (EngineNeeds.articulation)")
        present = ~np.isnan(batch.landmarks).any(axis=(1, 2))
        targets = np.full_like(batch.landmarks, np.nan)
        if present.any():
            kept = np.flatnonzero(present)
            targets[present] = target_landmarks(batch.landmarks[present], shape.take(kept), batch.mouth_width)
        opening = np.clip(mouth_gap(shape) / OPEN_MAX, 0.0, 1.0).astype(np.float32)  # how much of the interior shows
        return MouthUpdate(present=present, landmarks=targets, activity=opening)
