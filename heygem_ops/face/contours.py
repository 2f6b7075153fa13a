"""Smooth curves through sparse landmarks: lips drawn and warped as curves, not polygons.

The 68-point layout gives each inner lip only three points; straight segments between them turn
an open mouth into a diamond. A centripetal-free, uniform Catmull-Rom spline through the same
points keeps every landmark and bends smoothly between them.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from heygem_ops.face.landmarks import down_axis


def catmull_rom(points: np.ndarray, samples: int, *, closed: bool) -> np.ndarray:
    """Dense curve through (K, 2) `points`, `samples` points per segment (K*samples when closed).

    An open curve ends exactly on its last point; its end tangents mirror the neighbours.
    Returns (M, 2) float32, starting at points[0].
    """
    pts = np.asarray(points, dtype=np.float64)
    if closed:
        padded = np.vstack([pts[-1:], pts, pts[:2]])
    else:
        padded = np.vstack([2 * pts[0] - pts[1], pts, 2 * pts[-1] - pts[-2]])
    t = np.arange(samples, dtype=np.float64)[:, None] / samples
    segments = len(pts) if closed else len(pts) - 1
    out = []
    for i in range(segments):
        p0, p1, p2, p3 = padded[i : i + 4]
        out.append(
            0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (3 * p1 - p0 - 3 * p2 + p3) * t**3)
        )
    if not closed:
        out.append(pts[-1:])
    return np.vstack(out).astype(np.float32)


def lip_profile(t: np.ndarray, exponent: float = 2.0) -> np.ndarray:
    """Superellipse (1 - |t|^q)^(1/q): how far an open lip edge bulges at t (-1..1 between the corners).

    q = 2 is an ellipse; a larger q gives the flatter, rounder-bottomed U of a real open mouth.
    """
    t = np.clip(np.abs(np.asarray(t, dtype=np.float64)), 0.0, 1.0)
    return np.power(1.0 - np.power(t, exponent), 1.0 / exponent)


def lip_curve(points: np.ndarray, samples: int, exponent: float = 2.0) -> np.ndarray:
    """Dense lip edge from corner points[0] through the lip's landmarks to corner points[-1].

    Each landmark's depth off the corner-to-corner chord is divided by `lip_profile` at its place
    along the chord; those ratios are interpolated along the chord and multiplied back. The curve
    still passes through every landmark, but between them (and towards the corners, where the
    68-point layout has nothing) it bulges like an ellipse: a spline through three points per lip
    makes an open mouth a diamond. (K, 2) -> (samples * (K - 1) + 1, 2) float32, evenly spaced
    along the chord.
    """
    pts = np.asarray(points, dtype=np.float64)
    centre, chord = (pts[0] + pts[-1]) / 2.0, pts[-1] - pts[0]
    half = max(float(np.linalg.norm(chord)) / 2.0, 1e-6)
    u = chord / (2.0 * half)
    v = np.array([-u[1], u[0]])
    rel = pts[1:-1] - centre
    t = np.clip(rel @ u / half, -0.97, 0.97)
    ratio = (rel @ v) / lip_profile(t, exponent)
    order = np.argsort(t)
    ts, profile = _chord_samples(samples * (len(pts) - 1) + 1, exponent)
    depth = np.interp(ts, t[order], ratio[order]) * profile
    return (centre + (ts * half)[:, None] * u + depth[:, None] * v).astype(np.float32)


@lru_cache(maxsize=64)
def _chord_samples(count: int, exponent: float) -> tuple[np.ndarray, np.ndarray]:
    """`count` places evenly along the chord (-1..1) and `lip_profile` there: the same for every frame."""
    ts = np.linspace(-1.0, 1.0, count)
    return ts, lip_profile(ts, exponent)


LOWER_LIP_LAG = 0.35  # share of the tracked inner-lip gap by which the tracked lower inner lip sits too high


def settle_inner_lips(landmarks: np.ndarray, lag: float | None = None) -> np.ndarray:
    """Copy of (..., 68, 2) tracked landmarks with the lower inner lip moved down to its real edge.

    On an open mouth the tracker puts the lower inner lip (65-67) on the tongue or lower teeth,
    a share of the gap above the lip's real edge (its lower lip "thickens" by 7-14% of the gap on
    every sample template). Warping from those points would keep a sliver of the template's
    opening when the audio closes the mouth: its own mouth motion would show through. Each point
    moves along the face's downward axis by `lag` (default LOWER_LIP_LAG) times its pair's gap.
    """
    lag = LOWER_LIP_LAG if lag is None else lag
    out = np.array(landmarks, dtype=np.float32, copy=True)
    down = down_axis(out)
    for upper, lower in ((61, 67), (62, 66), (63, 65)):
        gap = np.maximum(((out[..., lower, :] - out[..., upper, :]) * down).sum(axis=-1), 0.0)
        out[..., lower, :] += (lag * gap)[..., None] * down
    return out
