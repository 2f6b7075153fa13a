"""A small dense thin-plate spline for the per-frame warp.

It runs on a few hundred to a few thousand points per frame, where a general library's set-up
costs more than the arithmetic; plain NumPy keeps compose well inside a 25 fps frame budget.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg


def _kernel(squared: np.ndarray) -> np.ndarray:
    """Thin-plate radial basis r^2 log r on squared distances (r^2 log r = r^2 log r^2 / 2)."""
    logs = np.maximum(squared, 1e-12, dtype=squared.dtype)
    np.log(logs, out=logs)
    logs *= squared
    logs *= 0.5
    return logs


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, 2) x (B, 2) -> (A, B) squared Euclidean distances, in the inputs' dtype."""
    dx = a[:, :1] - b[None, :, 0]
    dy = a[:, 1:] - b[None, :, 1]
    dx *= dx
    dy *= dy
    dx += dy
    return dx


def thin_plate(centres: np.ndarray, values: np.ndarray, points: np.ndarray, smoothing: float) -> np.ndarray:
    """Smoothed thin-plate spline through (C, 2) `centres` taking (C, D) `values`, at (P, 2) `points`.

    Solves the (C + 3)-square system [K + s I, 1 X; (1 X)^T, 0] in float64 (it is small and
    must be exact) and evaluates the basis in float32 (it is large and smooth). Coordinates should
    be of order 1 (divide by the face's scale) so `smoothing` means the same at every resolution.
    Returns (P, D) float32.
    """
    centres = np.asarray(centres, dtype=np.float64)
    count, dims = len(centres), values.shape[1]
    system = np.zeros((count + 3, count + 3))
    system[:count, :count] = _kernel(_squared_distances(centres, centres))
    system[:count, :count] += smoothing * np.eye(count)
    system[:count, count] = system[count, :count] = 1.0
    system[:count, count + 1 :] = centres
    system[count + 1 :, :count] = centres.T
    rhs = np.zeros((count + 3, dims))
    rhs[:count] = values
    # LAPACK's symmetric solver: numpy's general one hands a system this small to BLAS threads.
    coeffs = scipy.linalg.solve(system, rhs, assume_a="sym", check_finite=False).astype(np.float32)
    points = np.asarray(points, dtype=np.float32)
    basis = _kernel(_squared_distances(points, centres.astype(np.float32)))
    linear = coeffs[count] + points[:, :1] * coeffs[count + 1] + points[:, 1:] * coeffs[count + 2]
    return basis @ coeffs[:count] + linear
