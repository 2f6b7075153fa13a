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


def synthetic_face_frame(landmarks: np.ndarray, chin_below: float, size: int = 512, seed: int = 0) -> np.ndarray:
    """(size, size, 3) uint8 picture of a lit, textured face over a darker neck for `landmarks`.

    The face's real edge runs `chin_below` px outside the jaw landmarks (2-14, pushed away from the
    mouth), as where a tracker's chin sits above the picture's. Skin has a fine random texture so
    warps that smear it can be told from warps that move it; the lips are red.
    """
    import cv2

    rng = np.random.default_rng(seed)
    centre = landmarks[48:68].mean(axis=0)
    jaw = landmarks[2:15].astype(np.float64)
    away = jaw - centre
    away /= np.linalg.norm(away, axis=1, keepdims=True)
    outline = np.vstack([jaw + away * chin_below, landmarks[[16, 26, 17, 0]]])
    skin = np.zeros((size, size), np.uint8)
    cv2.fillPoly(skin, [np.round(outline).astype(np.int32)], 1)
    grain = cv2.GaussianBlur(rng.normal(0, 14, (size, size)), (0, 0), 1.0)
    frame = np.where(skin[..., None] > 0, [200.0, 160.0, 140.0], [70.0, 60.0, 60.0]) + grain[..., None]
    lips = np.zeros((size, size), np.uint8)
    cv2.fillPoly(lips, [np.round(landmarks[48:60]).astype(np.int32)], 1)
    frame[lips > 0] = [170.0, 60.0, 70.0] + grain[lips > 0][:, None]
    mouth = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mouth, [np.round(landmarks[60:68]).astype(np.int32)], 1)
    frame[mouth > 0] = [40.0, 20.0, 25.0]
    return np.clip(frame, 0, 255).astype(np.uint8)


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
