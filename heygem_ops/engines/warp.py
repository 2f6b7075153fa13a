"""The weights-free default engine: move the template's own lips and jaw to follow the audio.

For every frame it computes target landmarks: the inner-lip gap is set from the speech activity
(absolutely, so the template's own mouth motion does not survive), the jaw drops with it, and the
mouth width follows the vowel's brightness around the template's typical width. Compose then warps
the lower face onto those targets and paints the opened mouth's interior.
"""

from __future__ import annotations

import numpy as np
import torch

from heygem_ops.engines.base import Engine, EngineNeeds, InferenceBatch, MouthUpdate
from heygem_ops.face.landmarks import EYE_OUTER_LEFT, EYE_OUTER_RIGHT, JAW, MOUTH_LEFT, MOUTH_RIGHT

OPEN_MAX = 0.20  # inner-lip gap at full activity, in interocular distances
OPEN_CURVE = 1.3  # activity exponent: quiet sounds open the mouth less than proportionally
JAW_SHARE = 0.55  # how much of the lip opening comes from the chin dropping
CORNER_DROP = 0.15  # share of the lower lip's motion the mouth corners follow
UPPER_LIFT = 0.10  # how much of the opening the upper lip contributes, upward
WIDTH_GAIN = 0.12  # relative widening for bright vowels, narrowing for rounded ones, at full activity
OPEN_NARROWING = 0.06  # relative narrowing of a wide-open mouth

# Inner-lip pairs (upper, lower) and the share of the mid-line gap each should have.
_PAIRS = ((61, 67, 0.85), (62, 66, 1.0), (63, 65, 0.85))
# Outer lower-lip points that follow each inner pair's motion, with a weight.
_LOWER_OUTER = {56: (2, 1.0), 57: (1, 1.0), 58: (0, 1.0), 55: (2, 0.55), 59: (0, 0.55)}
_UPPER_POINTS = (49, 50, 51, 52, 53, 61, 62, 63)
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


def _jaw_weights() -> np.ndarray:
    """(17,) share of the chin's drop each jaw point takes: 1 at the chin, 0 from the jaw angles up."""
    offsets = np.abs(np.arange(len(JAW)) - 8) / 5.0
    return np.where(offsets < 1.0, np.cos(offsets * np.pi / 2.0) ** 2, 0.0)


def target_landmarks(
    landmarks: np.ndarray, activity: np.ndarray, brightness: np.ndarray, mouth_width: float
) -> np.ndarray:
    """Move lips and jaw of (N, 68, 2) template landmarks to the mouth the audio asks for.

    activity, brightness: (N,) in [0, 1]. mouth_width: reference width in interocular distances.
    Returns (N, 68, 2) float32 targets; untouched points (eyes, nose, brows) equal the input.
    """
    u, v, iod = _face_axes(landmarks)
    open_gap = OPEN_MAX * iod * np.power(activity, OPEN_CURVE)
    out = landmarks.astype(np.float64).copy()
    pair_deltas = []
    for upper, lower, share in _PAIRS:
        gap = np.einsum("nd,nd->n", landmarks[:, lower] - landmarks[:, upper], v)
        pair_deltas.append(open_gap * share - gap)
    mid_delta = pair_deltas[1]
    lift = UPPER_LIFT * np.clip(mid_delta, 0.0, None)
    for point in _UPPER_POINTS:
        out[:, point] -= lift[:, None] * v
    for (_, lower, _), delta in zip(_PAIRS, pair_deltas, strict=True):
        out[:, lower] += (delta - lift)[:, None] * v
    for point, (pair, weight) in _LOWER_OUTER.items():
        out[:, point] += (weight * (pair_deltas[pair] - lift))[:, None] * v
    for corner, _ in _CORNERS:
        out[:, corner] += (CORNER_DROP * mid_delta - lift)[:, None] * v
    jaw_drop = JAW_SHARE * (mid_delta - lift)
    out[:, JAW] += (jaw_drop[:, None] * _jaw_weights()[None, :])[:, :, None] * v[:, None, :]
    _set_width(out, landmarks, u, iod, activity, brightness, mouth_width)
    return out.astype(np.float32)


def _set_width(
    out: np.ndarray,
    landmarks: np.ndarray,
    u: np.ndarray,
    iod: np.ndarray,
    activity: np.ndarray,
    brightness: np.ndarray,
    mouth_width: float,
) -> None:
    """Move the mouth corners (in place) so the width follows the sound, not the template."""
    spread = WIDTH_GAIN * (2.0 * brightness - 1.0) * activity - OPEN_NARROWING * activity**2
    target = mouth_width * iod * (1.0 + spread)
    width = np.einsum("nd,nd->n", landmarks[:, MOUTH_RIGHT] - landmarks[:, MOUTH_LEFT], u)
    half = 0.5 * (target - width)
    for point, side in (*_CORNERS, *_NEAR_CORNERS):
        out[:, point] += (side * half)[:, None] * u


class WarpEngine(Engine):
    """Landmark-driven lip sync with no weights; real time on a laptop CPU."""

    name = "warp"
    needs = EngineNeeds(crop_size=None, mel=False)

    def __init__(self, device: torch.device | None = None) -> None:
        super().__init__(device or torch.device("cpu"))

    def __call__(self, batch: InferenceBatch) -> MouthUpdate:
        present = ~np.isnan(batch.landmarks).any(axis=(1, 2))
        targets = np.full_like(batch.landmarks, np.nan)
        if present.any():
            targets[present] = target_landmarks(
                batch.landmarks[present],
                batch.features.activity[present],
                batch.features.brightness[present],
                batch.mouth_width,
            )
        return MouthUpdate(present=present, landmarks=targets, activity=batch.features.activity.copy())
