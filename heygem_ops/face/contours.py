"""Smooth curves through sparse landmarks: lips drawn and warped as curves, not polygons.

The 68-point layout gives each inner lip only three points; straight segments between them turn
an open mouth into a diamond. A centripetal-free, uniform Catmull-Rom spline through the same
points keeps every landmark and bends smoothly between them.
"""

from __future__ import annotations

import numpy as np


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
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    if not closed:
        out.append(pts[-1:])
    return np.vstack(out).astype(np.float32)
