"""The 468-point FaceMesh expressed in the shared 68-point iBUG layout.

Lips, eyes, nose and brows take one mesh vertex each. Lips use MediaPipe's own lip contours
exactly: outer corners 61/291, outer mid-points 0 (upper) and 17 (lower), inner corners 78/308,
inner mid-points 13/14. The other vertices were chosen by fitting the iBUG mean shape to a frontal
mesh, taking the nearest vertex, making the choice left-right symmetric (mesh mirror pairs) and
checking it by eye on real frames. The jaw has no such one-to-one match (iBUG spaces its 17 points
evenly along the contour, the mesh does not), so it is resampled along the mesh's face oval.
"Left"/"right" below are image sides of an upright, camera-facing face.
"""

from __future__ import annotations

import numpy as np

# jaw contour of the mesh face oval, from the image-left ear (eye level) down to the chin (152)
# and up to the image-right ear; iBUG 0, 8 and 16 sit on its first, middle and last vertex
JAW_CONTOUR_LEFT = np.array([127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152])
JAW_CONTOUR_RIGHT = np.array([152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356])
JAW_HALF = 9  # iBUG points from an ear to the chin, both included

# fmt: off
MESH_TO_68_FACE = np.array(
    [
        # brows 17-26: image-left brow outer -> inner, then image-right brow inner -> outer
        46, 53, 52, 65, 55, 285, 295, 282, 283, 276,
        # nose bridge 27-30 (top -> tip), nostril base 31-35 (left -> right, 33 under the tip)
        168, 197, 5, 4, 240, 97, 2, 326, 460,
        # eyes 36-47: outer corner, upper lid x2, inner corner, lower lid x2 (each clockwise)
        33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
        # outer lip 48-59: left corner, along the upper lip to the right corner, back along the lower
        61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
        # inner lip 60-67: left corner, upper (62 mid), right corner, lower (66 mid)
        78, 82, 13, 312, 308, 317, 14, 87,
    ],
    dtype=np.intp,
)
# fmt: on


def resample_polyline(points: np.ndarray, count: int) -> np.ndarray:
    """`count` points evenly spaced by arc length along a (N, 2) polyline, ends included."""
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    targets = np.linspace(0.0, arc[-1], count)
    return np.stack([np.interp(targets, arc, points[:, k]) for k in range(2)], axis=1)


def mesh_to_68(points: np.ndarray) -> np.ndarray:
    """(468, D) mesh points of one face -> (68, 2) float32 iBUG landmarks, in the same pixels."""
    xy = points[:, :2].astype(np.float64)
    left = resample_polyline(xy[JAW_CONTOUR_LEFT], JAW_HALF)
    right = resample_polyline(xy[JAW_CONTOUR_RIGHT], JAW_HALF)
    return np.concatenate([left, right[1:], xy[MESH_TO_68_FACE]]).astype(np.float32)
