"""A synthetic 68-point face for tests that need landmarks but no real picture."""

from __future__ import annotations

import numpy as np


def synthetic_landmarks(
    centre: tuple[float, float] = (256.0, 256.0), iod: float = 100.0, gap: float = 0.0
) -> np.ndarray:
    """(68, 2) float32 iBUG landmarks of an upright frontal face; `gap` px between the inner lips."""
    cx, cy = centre
    points = np.zeros((68, 2), dtype=np.float64)
    angles = np.linspace(np.pi, 0.0, 17)
    points[0:17] = np.stack([cx + 0.95 * iod * np.cos(angles), cy - 0.3 * iod + 1.25 * iod * np.sin(angles)], 1)
    points[17:27] = np.stack([cx + np.linspace(-0.75, 0.75, 10) * iod, np.full(10, cy - 0.75 * iod)], 1)
    points[27:31] = np.stack([np.full(4, cx), cy + np.linspace(-0.45, 0.0, 4) * iod], 1)
    points[31:36] = np.stack([cx + np.linspace(-0.2, 0.2, 5) * iod, np.full(5, cy + 0.1 * iod)], 1)
    for first, x_centre in ((36, cx - 0.32 * iod), (42, cx + 0.32 * iod)):
        eye = np.linspace(0, 2 * np.pi, 7)[:-1]
        points[first : first + 6] = np.stack(
            [x_centre - 0.18 * iod * np.cos(eye), cy - 0.45 * iod - 0.05 * iod * np.sin(eye)], 1
        )
    points[36, 0], points[45, 0] = cx - 0.5 * iod, cx + 0.5 * iod
    mouth_y = cy + 0.45 * iod
    outer = np.linspace(np.pi, -np.pi, 13)[:-1]
    points[48:60] = np.stack([cx + 0.4 * iod * np.cos(outer), mouth_y - 0.12 * iod * np.sin(outer) + 0.0], 1)
    xs = np.array([-0.33, -0.15, 0.0, 0.15, 0.33, 0.15, 0.0, -0.15]) * iod
    ys = np.array([0.0, -0.5, -0.5, -0.5, 0.0, 0.5, 0.5, 0.5]) * gap
    points[60:68] = np.stack([cx + xs, mouth_y + ys], 1)
    return points.astype(np.float32)


def articulation(
    jaw: float | np.ndarray, spread: float = 0.0, closure: float = 0.0, teeth: float = 0.0, frames: int | None = None
):  # -> ArticulationTrack
    """An articulation track of constant (or given per-frame) jaw and shapes, for engine tests."""
    from heygem_ops.articulation.analysis import ArticulationTrack

    jaw = np.atleast_1d(np.asarray(jaw, np.float32))
    count = frames or len(jaw)
    jaw = np.broadcast_to(jaw, (count,)).astype(np.float32)

    def full(value: float) -> np.ndarray:
        return np.full(count, value, np.float32)

    return ArticulationTrack(jaw, full(spread), full(closure), full(teeth), full(0.0), source="recognition")
