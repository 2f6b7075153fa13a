"""The articulation track: what the mouth is doing at each output frame, fused from every source.

Phones (aligned from a transcript, else recognised) say which shape is meant; formants say how
open and how rounded the vowel really is, in any language; the level and its dips say where speech
pauses and where a closure silences it. Each source is trusted for what it knows: an aligned
transcript for everything, a recognised phone for the classes that hold across languages (lips
closed, lips rounded), the acoustics for openness and the short silences that closed lips make.
Analysed once per recording and cached by its content, like the face track per template.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d

from heygem_ops.articulation.formants import Acoustics, acoustics
from heygem_ops.articulation.phones import ALIGNED, PhoneSequence, speech_phones
from heygem_ops.articulation.visemes import ROW_S, PhoneShapes, contact_envelope, phone_shapes
from heygem_ops.audio import AudioFeatures, speech_activity
from heygem_ops.cache import TemplateCache
from heygem_ops.hashing import value_digest
from heygem_ops.logs import get_logger

log = get_logger(__name__)
VERSION = "1"  # bump when the analysis changes, so cached tracks are rebuilt
OPEN_KNEE = 0.15  # speech activity below which the jaw stays shut
LOUD_CURVE = 0.6  # loudness -> jaw exponent: quiet speech still opens the mouth visibly
SILENCE_ACTIVITY = 0.05  # activity below which a row is silent...
SILENCE_MIN_S = 0.2  # ...when it stays silent this long (shorter silences are closures, not pauses)
DIP_DB = 20.0  # a level this far below the surrounding speech peak is a closure's silence...
DIP_REACH_S = 0.12  # ...where the peak is looked for this far either side
DIP_SPAN_S = (0.03, 0.2)  # ...and the dip lasts this long (longer is a pause)
DIP_WEIGHT = 0.9  # how far an acoustic dip alone closes the lips (an alveolar stop makes one too)
MURMUR_SHARE = 0.9  # a voiced row with this share of its energy below formants.MURMUR_HZ is a nasal murmur...
MURMUR_DB = 15.0  # ...when it is this much quieter than the vowels around it
MURMUR_WEIGHT = 0.8  # how far a murmur alone closes the lips (/n/ murmurs too, with the lips just apart)
SUPPORT_DB = (3.0, 9.0)  # a dip this deep (dB) gives a recognised bilabial no (full) support
LOUD_SMOOTH_S = 0.03  # sigma of the loudness's smoothing: the jaw follows syllables, not every 10 ms flicker
SMOOTH_S = 0.02  # sigma of the final smoothing of jaw and spread: no flicker between frames
LOUDNESS = "loudness"  # the source of a track made from the level alone (no phones)
LOUDNESS_KNEE = 0.18  # ...activity below which its lips stay shut: consonant dips close the mouth
LOUDNESS_CURVE = 1.1  # ...its jaw's exponent above the knee: quiet sounds open the mouth less than proportionally
LOUDNESS_ROUNDING = 0.27  # ...a dark sound is only a hint of rounding: this share of a rounded vowel's narrowing
# (phone, formant, constant) shares of the jaw's shape per phone source
_JAW_MIX = {ALIGNED: (0.4, 0.2, 0.4), "recognition": (0.15, 0.35, 0.5)}
_SPREAD_PHONE = {ALIGNED: 0.7, "recognition": 0.4}  # phone share of the spread on voiced rows


@dataclass(frozen=True)
class ArticulationTrack:
    """Per output frame (F frames), what the lips and jaw do.

    jaw:     (F,) float32 0..1 jaw opening; the lips may still be closed (see `lip_opening`).
    spread:  (F,) float32 -1 rounded .. +1 spread lips.
    closure: (F,) float32 0..1 lips pressed together (bilabials), whatever the loudness.
    teeth:   (F,) float32 0..1 lower lip against the upper teeth (F, V).
    silence: (F,) float32 0..1 the speaker is pausing: the mouth rests.
    source:  where the shapes came from: "alignment" (the transcript), "recognition" (phones
             recognised) or "loudness" (the level and brightness alone: `loudness_track`).
    """

    jaw: np.ndarray
    spread: np.ndarray
    closure: np.ndarray
    teeth: np.ndarray
    silence: np.ndarray
    source: str

    _FIELDS = ("jaw", "spread", "closure", "teeth", "silence")

    @property
    def frame_count(self) -> int:
        return len(self.jaw)

    @property
    def lip_opening(self) -> np.ndarray:
        """(F,) 0..1 how far the lips part: the jaw's opening, shut by a closure however loud."""
        return np.clip(self.jaw, 0.0, 1.0) * (1.0 - np.clip(self.closure, 0.0, 1.0))

    def window(self, start: int, stop: int) -> ArticulationTrack:
        """The track of output frames [start, stop)."""
        return ArticulationTrack(*(getattr(self, name)[start:stop] for name in self._FIELDS), source=self.source)

    def take(self, frames: np.ndarray) -> ArticulationTrack:
        """The track at the given frame indices."""
        return ArticulationTrack(*(getattr(self, name)[frames] for name in self._FIELDS), source=self.source)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, source=np.array(self.source), **{name: getattr(self, name) for name in self._FIELDS})
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ArticulationTrack:
        with np.load(io.BytesIO(data)) as arrays:
            return cls(*(arrays[name] for name in cls._FIELDS), source=str(arrays["source"]))


def _speaker_relative(values: np.ndarray, span: float) -> np.ndarray:
    """log(value / this speaker's median) in units of log(span): voices differ, the vowel space's shape does not."""
    valid = np.isfinite(values)
    if valid.sum() < 5:
        return np.full_like(values, np.nan, dtype=np.float64)
    return np.log(values / np.median(values[valid])) / np.log(span)


def _formant_shapes(sound: Acoustics) -> tuple[np.ndarray, np.ndarray]:
    """(openness 0..1, spread -1..+1) per row from F1..F3; NaN on unvoiced rows."""
    f1, f2, f3 = (sound.formants[:, k].astype(np.float64) for k in range(3))
    valid = np.isfinite(f1)
    openness = np.full(len(f1), np.nan)
    if valid.sum() >= 5:
        low, high = np.percentile(f1[valid], [10, 90])
        openness[valid] = np.clip((f1[valid] - low) / max(high - low, 50.0), 0.0, 1.0)
    front = _speaker_relative(f2, 1.3)
    lowered_f3 = np.minimum(np.nan_to_num(_speaker_relative(f3, 1.2), nan=0.0), 0.0)
    spread = front + 0.5 * lowered_f3
    spread = np.where(spread < 0, spread * (1.0 - 0.6 * np.nan_to_num(openness, nan=0.5)), spread)  # /a/ is not round
    return openness, np.clip(spread, -1.0, 1.0)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) row ranges where `mask` is True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _silence(activity: np.ndarray) -> np.ndarray:
    """(T,) 1 over pauses at least SILENCE_MIN_S long, ramped like lips settling."""
    out = np.zeros(len(activity))
    for start, stop in _runs(activity < SILENCE_ACTIVITY):
        if (stop - start) * ROW_S >= SILENCE_MIN_S:
            out[start:stop] = 1.0
    return gaussian_filter1d(out, 0.04 / ROW_S)


def _dip_depth(sound: Acoustics) -> tuple[np.ndarray, np.ndarray]:
    """(T,) dB each row lies below the loudest level within DIP_REACH_S, and (T,) whether that peak is speech."""
    level = gaussian_filter1d(sound.level_db.astype(np.float64), 1.0)
    peak = maximum_filter1d(level, size=2 * int(DIP_REACH_S / ROW_S) + 1)
    loud = np.percentile(level, 95) if len(level) else 0.0
    return peak - level, peak > loud - 25.0


def dip_support(sound: Acoustics) -> np.ndarray:
    """(T,) 0..1 how much the level supports a closure near each row: closed lips quieten the voice.

    A recognised bilabial with no dip around it (a nasal murmur drops the speech band a few dB, a
    stop's closure far more) is likely a recognition error, above all in a language it does not know.
    """
    depth, in_speech = _dip_depth(sound)
    support = np.clip((depth - SUPPORT_DB[0]) / (SUPPORT_DB[1] - SUPPORT_DB[0]), 0.0, 1.0) * in_speech
    return maximum_filter1d(support, size=2 * int(DIP_REACH_S / ROW_S / 2) + 1)


def _short_spans(mask: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of the runs of `mask` that last as long as a closure (DIP_SPAN_S)."""
    return [
        (start * ROW_S, (stop - 1) * ROW_S)
        for start, stop in _runs(mask)
        if DIP_SPAN_S[0] <= (stop - start) * ROW_S <= DIP_SPAN_S[1]
    ]


def acoustic_closures(sound: Acoustics, times: np.ndarray) -> np.ndarray:
    """(T,) 0..1 closure evidence from the acoustics alone: short, deep dips and nasal murmurs in speech.

    A stop's closure silences the voice for 30-200 ms between louder sounds; lips closed for /p b/
    do it, and so does a tongue closure for /t k/, so this is evidence, weighted by DIP_WEIGHT. A
    nasal murmur (voiced, its energy below MURMUR_HZ, quieter than the vowels around it) is /m/ or
    /n/: the lips are closed or nearly so, weighted by MURMUR_WEIGHT.
    """
    depth, in_speech = _dip_depth(sound)
    stops = contact_envelope(times, _short_spans((depth >= DIP_DB) & in_speech))
    murmur = sound.voiced & (sound.low_share >= MURMUR_SHARE) & (depth >= MURMUR_DB) & in_speech
    nasals = contact_envelope(times, _short_spans(murmur))
    return np.maximum(DIP_WEIGHT * stops, MURMUR_WEIGHT * nasals)


def _fuse(sound: Acoustics, shapes: PhoneShapes, source: str, times: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row jaw, spread, closure, teeth and silence from acoustics and phone shapes."""
    activity = speech_activity(sound.level_db.astype(np.float64))
    loud = np.power(np.clip((activity - OPEN_KNEE) / (1.0 - OPEN_KNEE), 0.0, 1.0), LOUD_CURVE)
    openness, formant_spread = _formant_shapes(sound)
    phone_w, formant_w, constant = _JAW_MIX[source]
    fallback = shapes.jaw if source == ALIGNED else np.full(len(times), 0.5)
    shape = phone_w * shapes.jaw + formant_w * np.where(np.isfinite(openness), openness, fallback) + constant
    phone_spread = shapes.spread if source == ALIGNED else np.minimum(shapes.spread, 0.0)  # rounding holds anywhere
    share = _SPREAD_PHONE[source]
    spread = np.where(
        np.isfinite(formant_spread), share * phone_spread + (1.0 - share) * np.nan_to_num(formant_spread), phone_spread
    )
    if source == ALIGNED:
        closure = shapes.closure
    else:
        closure = np.maximum(shapes.closure * dip_support(sound), acoustic_closures(sound, times))
    jaw = gaussian_filter1d(loud, LOUD_SMOOTH_S / ROW_S) * gaussian_filter1d(shape, SMOOTH_S / ROW_S)
    return {
        "jaw": np.clip(jaw, 0.0, 1.0),
        "spread": np.clip(gaussian_filter1d(spread, SMOOTH_S / ROW_S), -1.0, 1.0),
        "closure": closure,
        "teeth": shapes.teeth,
        "silence": _silence(activity),
    }


def analyse(samples: np.ndarray, fps: Fraction, n_frames: int, text: str | None = None) -> ArticulationTrack:
    """The articulation of 16 kHz mono `samples`, one row per output frame at `fps`."""
    sound = acoustics(samples)
    rows = len(sound.level_db)
    phones: PhoneSequence = speech_phones(samples, text)
    shapes = phone_shapes(phones.phones, rows)
    times = np.arange(rows) * ROW_S
    rows_out = _fuse(sound, shapes, phones.source, times)
    centres = (np.arange(n_frames) + 0.5) / float(fps)
    sampled = {name: np.interp(centres, times, values).astype(np.float32) for name, values in rows_out.items()}
    return ArticulationTrack(**sampled, source=phones.source)


def loudness_track(features: AudioFeatures) -> ArticulationTrack:
    """The mouth from the level and the spectral brightness alone: no phones, so no closures, no F/V.

    The engine's mouth before it articulated, kept for speech whose words are not given (`auto`):
    recognised phones find under half of the bilabials, and on a template whose own mouth opens
    wide each false closure pulls its chin further than the warp follows, so the output's mouth
    moves with the template's (bench/quality.py's leak). Loudness is never wrong about pauses.
    """
    jaw = np.clip((features.activity - LOUDNESS_KNEE) / (1.0 - LOUDNESS_KNEE), 0.0, 1.0) ** LOUDNESS_CURVE
    bright = (2.0 * features.brightness - 1.0) * features.activity
    spread = np.where(bright > 0.0, bright, LOUDNESS_ROUNDING * bright)
    zeros = np.zeros_like(jaw, dtype=np.float32)
    silence = (features.activity < SILENCE_ACTIVITY).astype(np.float32)
    return ArticulationTrack(jaw.astype(np.float32), spread.astype(np.float32), zeros, zeros, silence, LOUDNESS)


def articulation_entry_name(fps: Fraction, n_frames: int, text: str | None) -> str:
    """The cache entry of a recording's track: per frame rate, length and transcript."""
    words = value_digest(text.strip() if text and text.strip() else None)[:12]
    return f"articulation-v{VERSION}-{fps.numerator}_{fps.denominator}fps-{n_frames}f-text{words}.npz"


def cached_articulation(
    cache: TemplateCache, audio_hash: str, samples: np.ndarray, fps: Fraction, n_frames: int, text: str | None
) -> tuple[ArticulationTrack, bool]:
    """The recording's track from the cache, or analysed now and stored. Returns (track, was_cached).

    Keyed by the audio's content hash: a batch driving many templates with one recording analyses it once.
    """
    name = articulation_entry_name(Fraction(fps), n_frames, text)
    return cache.get_or_build(
        audio_hash,
        name,
        lambda: analyse(samples, Fraction(fps), n_frames, text),
        ArticulationTrack.to_bytes,
        ArticulationTrack.from_bytes,
    )
