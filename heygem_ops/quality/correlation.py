"""Pearson correlation of two per-frame signals, at one alignment or over a range of lags.

The signals are noisy measurements (tracked lips, speech level) with gaps where nothing was
measured (NaN), so every correlation uses only the frames both signals have, and answers NaN,
never a warning or a crash, when too few frames remain or one side does not vary at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_OVERLAP = 3  # frames: the fewest paired samples for which a Pearson r is reported


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two equally long (N,) signals over the samples where both are finite.

    NaN when fewer than MIN_OVERLAP samples pair up or either side is constant there (r is
    undefined, and a tiny rounding residue must not pass for a correlation).
    """
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < MIN_OVERLAP:
        return float("nan")
    x, y = a[keep].astype(np.float64), b[keep].astype(np.float64)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    if denominator <= 0.0:
        return float("nan")
    return float(np.clip((x * y).sum() / denominator, -1.0, 1.0))


def lagged_correlation(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r of `a` against `b` delayed by each lag in -max_lag..+max_lag frames.

    r at lag k pairs a[t] with b[t - k]: a peak at a positive k means `a` lags `b` by k frames
    (with a = mouth opening and b = speech level: the mouth moves k frames after the sound).
    Each r uses only the overlapping frames where both are finite (see `pearson`).

    a, b: (N,) float, same length. Returns lags (2 * max_lag + 1,) int64 and r of that shape,
    float64, NaN where undefined.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"lagged_correlation needs two (N,) signals of one length, got {a.shape} and {b.shape}")
    if max_lag < 0:
        raise ValueError(f"max_lag={max_lag} is negative")
    lags = np.arange(-max_lag, max_lag + 1, dtype=np.int64)
    count = len(a)
    r = np.full(len(lags), np.nan)
    for slot, lag in enumerate(lags):
        if abs(lag) < count:
            r[slot] = pearson(a[lag:], b[: count - lag]) if lag >= 0 else pearson(a[:lag], b[-lag:])
    return lags, r


@dataclass(frozen=True)
class Sync:
    """Where the mouth best follows the speech.

    lag:        frames the mouth trails the audio at the peak (negative: it moves early).
    r:          Pearson r at that lag; 0.0 when it cannot be measured.
    confidence: peak r minus the median r over all lags: how much the peak stands out.
    note:       why sync could not be measured, or None when it was.
    """

    lag: int
    r: float
    confidence: float
    note: str | None = None


def best_sync(mouth: np.ndarray, speech: np.ndarray, max_lag: int) -> Sync:
    """Peak of `lagged_correlation(mouth, speech, max_lag)`; (F,) float signals, NaN = not measured.

    Ties go to the smallest |lag|. A silent recording, a mouth that never moves, or too few
    measured frames give Sync(0, 0.0, 0.0, note) instead of NaN.
    """
    note = _unmeasurable(mouth, speech)
    lags, r = lagged_correlation(mouth, speech, max_lag)
    if note is None and np.isnan(r).all():
        note = "too few frames with a measured mouth to correlate with the speech"
    if note is not None:
        return Sync(0, 0.0, 0.0, note)
    order = np.argsort(np.abs(lags), kind="stable")
    peak = order[int(np.nanargmax(r[order]))]
    return Sync(int(lags[peak]), float(r[peak]), float(r[peak] - np.nanmedian(r)))


def _unmeasurable(mouth: np.ndarray, speech: np.ndarray) -> str | None:
    """Say why a (F,) mouth and a (F,) speech signal cannot show sync, or None when they might."""
    level = speech[np.isfinite(speech)]
    if level.size == 0 or np.ptp(level) == 0:
        return "the driving audio is silent or constant, so lip sync cannot be measured"
    measured = mouth[np.isfinite(mouth)]
    if measured.size < MIN_OVERLAP:
        return f"a mouth was measured in only {measured.size} frames, so lip sync cannot be measured"
    if np.ptp(measured) == 0:
        return "the output mouth never moves"
    return None
