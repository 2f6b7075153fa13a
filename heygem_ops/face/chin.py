"""Where the chin really ends: its edge found in the picture, below the tracked jaw line.

The mesh's chin (point 8 of the 68) is fitted to a face shape, not to the picture; on a wide-open
or strongly lit face it sits up to a quarter of an interocular distance above the chin's real edge,
inside the chin's skin. A warp that moves the chin from there moves the wrong pixels: closing a
wide-open mouth then stretches the skin between lip and chin while the real chin stays dropped.
The real edge is where the lit chin meets the shadow under it: the strongest fall in brightness
along each chin point's outward direction (the nearest one nearly as strong as the strongest, so
the chin wins over a collar further down), within a bounded search, taken as one offset for all
the chin points (their median), so a stray edge on one ray cannot bend the chin.
"""

from __future__ import annotations

import cv2
import numpy as np

from heygem_ops.face.landmarks import interocular
from heygem_ops.face.regions import outward

CHIN_POINTS = np.arange(5, 12)  # jaw points searched: the chin and the jaw either side of it
SEARCH = 0.35  # interocular distances below the tracked jaw line searched for the edge
EDGE_BLUR = 0.012  # interocular distances of Gaussian blur before searching: skin grain is not an edge
MIN_STEP = 4.0  # grey levels of brightness fall (over two px) a ray needs to count as having found an edge
FIRST_SHARE = 0.6  # the nearest fall at least this share of a ray's strongest wins: the chin before the collar


def chin_offset(frame: np.ndarray, landmarks: np.ndarray) -> float:
    """Px from the tracked chin points to the chin's real edge along `outward` (0 when none is found).

    frame: (H, W, 3) uint8 RGB; landmarks: (68, 2) of that frame in its pixels.
    """
    iod = float(interocular(landmarks))
    steps = np.arange(0.0, max(SEARCH * iod, 3.0), 1.0, dtype=np.float32)
    rays = landmarks[CHIN_POINTS][:, None, :] + outward(landmarks, CHIN_POINTS)[:, None, :] * steps[None, :, None]
    low = np.maximum(np.floor(rays.reshape(-1, 2).min(axis=0)).astype(int) - 4, 0)
    high = np.minimum(np.ceil(rays.reshape(-1, 2).max(axis=0)).astype(int) + 5, frame.shape[1::-1])
    if (high - low).min() < 4:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(frame[low[1] : high[1], low[0] : high[0]]), cv2.COLOR_RGB2GRAY)
    grey = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), max(EDGE_BLUR * iod, 0.7))
    local = (rays - low).astype(np.float32)
    profile = cv2.remap(grey, local[..., 0], local[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    fall = np.zeros_like(profile)
    fall[:, 1:-1] = profile[:, :-2] - profile[:, 2:]  # brightness lost one px further out, over two px
    strong = fall >= np.maximum(FIRST_SHARE * fall.max(axis=1, keepdims=True), MIN_STEP)
    peak = np.zeros_like(strong)
    peak[:, 1:-1] = (fall[:, 1:-1] >= fall[:, :-2]) & (fall[:, 1:-1] >= fall[:, 2:])
    candidates = strong & peak
    best = candidates.argmax(axis=1)
    found = candidates.any(axis=1)
    return float(np.median(steps[best[found]])) if found.sum() * 2 > len(found) else 0.0
