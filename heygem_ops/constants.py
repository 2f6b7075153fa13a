"""Numbers more than one module must agree on, each written once (a leaf: imports nothing of ours)."""

from __future__ import annotations

from fractions import Fraction

SAMPLE_RATE = 16000  # Hz: speech is decoded, analysed and turned into features at this rate
STILL_FPS = Fraction(25)  # frames per second of the output when the template is a still image
RATE_DENOMINATOR = 1001  # largest denominator a frame rate keeps (NTSC: 30000/1001); finer is noise
ID_CHARS = 20  # hex characters of a job or upload id (80 bits: no clash in billions of jobs)


def frame_rate(value: float | str | Fraction) -> Fraction:
    """A frame rate as an exact fraction with at most RATE_DENOMINATOR below the line (25, 29.97 ...)."""
    return Fraction(value).limit_denominator(RATE_DENOMINATOR)
