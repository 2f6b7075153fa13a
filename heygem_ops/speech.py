"""Raw speech for engines with their own audio model: the whole segments that cover a batch."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from heygem_ops.constants import SAMPLE_RATE
from heygem_ops.engines.base import SpeechNeeds, SpeechWindow


def speech_window(audio_16k: Path, fps: Fraction, start: int, stop: int, needs: SpeechNeeds) -> SpeechWindow:
    """The segments of the job's speech (.npy, 16 kHz) that output frames start..stop-1 reach into.

    Segments are aligned to the recording's start, as the engine's audio model reads them, so a
    frame's features do not depend on where the job's chunks happen to begin.
    """
    speech = np.load(audio_16k, mmap_mode="r")
    first = max(0, math.floor((start / fps - needs.before_s) * SAMPLE_RATE)) // needs.segment
    reach = min(len(speech), math.ceil((stop / fps + needs.after_s) * SAMPLE_RATE))
    last = max(first, (max(reach, 1) - 1) // needs.segment)
    offset = first * needs.segment
    samples = np.array(speech[offset : (last + 1) * needs.segment], dtype=np.float32)
    return SpeechWindow(samples, offset, len(speech), Fraction(fps), start)
