"""Phones -> mouth shapes over time: targets per phone class, coarticulated, timed like real lips.

Jaw opening and lip spread/rounding blend the targets of neighbouring phones with dominance
functions (Cohen & Massaro 1993): each phone pulls its parameters towards its target with a
strength that is flat over the phone and decays before and after it, so a rounded vowel rounds
the consonants ahead of it and a weak consonant (/h/, /k/) takes its neighbours' shape.
Closing the lips (P, B, M) and tucking the lower lip (F, V) are constraints, not blends: the lips
must get there however loud the phone or its neighbours, so they are envelopes that reach 1. The
lips close before a stop's burst and part at it, and no closure is shorter than lips can make one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heygem_ops.articulation.phones import SILENCE, Phone

ROW_S = 0.01  # the rows of every articulation track here are 10 ms apart, like `audio.HOP`
MIN_CLOSURE_S = 0.06  # shortest lip closure (or lip-teeth contact) shown: one frame even at 25 fps, as lips make
CLOSE_RAMP_S = 0.035  # time the lips take to go from open to closed (and back)
BURST_LEAD_S = 0.015  # the lips part this long before a stop's segment ends (its release burst)
ANTICIPATION_S = 0.07  # decay constant of a phone's dominance before it starts
CARRYOVER_S = 0.05  # ...and after it ends
ROUNDING_ANTICIPATION_S = 0.12  # rounding starts early: lips round through the consonants before /u/
BLOCK_S = 1.0  # blend in blocks this long, against the phones within reach, so memory stays flat

BILABIALS = frozenset({"P", "B", "M"})
LABIODENTALS = frozenset({"F", "V"})
ROUNDED = frozenset({"UW", "UH", "OW", "AO", "OY", "W"})
SPREAD = frozenset({"IY", "IH", "EY", "EH", "Y"})
OPEN_VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY"})


@dataclass(frozen=True)
class Shape:
    """A phone's targets and how strongly it imposes them (its dominance)."""

    jaw: float  # 0 closed .. 1 wide open
    spread: float  # -1 rounded .. +1 spread
    jaw_weight: float = 1.0
    spread_weight: float = 1.0


# fmt: off
SHAPES: dict[str, Shape] = {
    "AA": Shape(0.95, 0.0), "AE": Shape(0.8, 0.45), "AH": Shape(0.6, 0.0), "AO": Shape(0.7, -0.45, 1, 1.5),
    "AW": Shape(0.8, -0.3), "AY": Shape(0.85, 0.2), "EH": Shape(0.6, 0.5), "ER": Shape(0.35, -0.35),
    "EY": Shape(0.45, 0.65), "IH": Shape(0.35, 0.6), "IY": Shape(0.25, 1.0, 1, 1.5), "OW": Shape(0.5, -0.8, 1, 2),
    "OY": Shape(0.6, -0.5, 1, 1.5), "UH": Shape(0.35, -0.6, 1, 1.5), "UW": Shape(0.25, -1.0, 1, 2.5),
    "B": Shape(0.05, 0.0, 1.5, 0.1), "P": Shape(0.05, 0.0, 1.5, 0.1), "M": Shape(0.05, 0.0, 1.5, 0.1),
    "F": Shape(0.12, 0.1, 1.2, 0.3), "V": Shape(0.12, 0.1, 1.2, 0.3),
    "W": Shape(0.15, -1.0, 0.8, 3.0), "R": Shape(0.25, -0.5, 0.5, 1.0), "Y": Shape(0.2, 0.7, 0.5, 1.0),
    "SH": Shape(0.2, -0.6, 0.8, 1.5), "ZH": Shape(0.2, -0.6, 0.8, 1.5), "CH": Shape(0.2, -0.6, 0.8, 1.5),
    "JH": Shape(0.2, -0.6, 0.8, 1.5), "S": Shape(0.12, 0.4, 0.9, 0.5), "Z": Shape(0.12, 0.4, 0.9, 0.5),
    "T": Shape(0.2, 0.2, 0.5, 0.2), "D": Shape(0.2, 0.2, 0.5, 0.2), "N": Shape(0.2, 0.2, 0.5, 0.2),
    "L": Shape(0.3, 0.1, 0.4, 0.2), "TH": Shape(0.2, 0.2, 0.6, 0.2), "DH": Shape(0.2, 0.2, 0.5, 0.2),
    "K": Shape(0.3, 0.0, 0.3, 0.1), "G": Shape(0.3, 0.0, 0.3, 0.1), "NG": Shape(0.3, 0.0, 0.3, 0.1),
    "HH": Shape(0.4, 0.0, 0.1, 0.05), SILENCE: Shape(0.0, 0.0, 0.8, 0.3),
}
# fmt: on
NEUTRAL = Shape(0.3, 0.0, 0.2, 0.1)  # a label the table lacks: a weak, middling shape


@dataclass(frozen=True)
class PhoneShapes:
    """Per 10 ms row: what the phones ask of the mouth.

    jaw:     (T,) 0..1 coarticulated jaw opening.
    spread:  (T,) -1..+1 coarticulated spread (+) or rounding (-).
    closure: (T,) 0..1 lips together (P, B, M).
    teeth:   (T,) 0..1 lower lip to upper teeth (F, V).
    """

    jaw: np.ndarray
    spread: np.ndarray
    closure: np.ndarray
    teeth: np.ndarray


def _dominance(times: np.ndarray, phones: list[Phone], before_s: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(T, S) dominance of each phone at each time: `weight` inside the phone, decaying outside."""
    starts = np.array([p.start for p in phones])[None, :]
    ends = np.array([p.end for p in phones])[None, :]
    t = times[:, None]
    ahead = np.clip(starts - t, 0.0, None) / before_s[None, :]
    behind = np.clip(t - ends, 0.0, None) / CARRYOVER_S
    return weight[None, :] * np.exp(-(ahead + behind))


def _blend(times: np.ndarray, phones: list[Phone]) -> tuple[np.ndarray, np.ndarray]:
    """Dominance-weighted jaw and spread over `times` (s), in blocks against the phones within reach."""
    shapes = [SHAPES.get(p.label, NEUTRAL) for p in phones]
    jaw_t, spread_t = (np.array([getattr(s, name) for s in shapes]) for name in ("jaw", "spread"))
    jaw_w, spread_w = (np.array([getattr(s, name) for s in shapes]) for name in ("jaw_weight", "spread_weight"))
    rounding = np.array([ROUNDING_ANTICIPATION_S if p.label in ROUNDED else ANTICIPATION_S for p in phones])
    starts = np.array([p.start for p in phones])
    ends = np.array([p.end for p in phones])
    jaw, spread = np.zeros(len(times)), np.zeros(len(times))
    reach = 10.0 * max(ROUNDING_ANTICIPATION_S, CARRYOVER_S)  # beyond it a dominance is < e^-10
    for first in np.arange(0, len(times), int(BLOCK_S / ROW_S)):
        block = times[first : first + int(BLOCK_S / ROW_S)]
        near = np.flatnonzero((ends > block[0] - reach) & (starts < block[-1] + reach))
        if near.size == 0:
            continue
        chosen = [phones[k] for k in near]
        d_jaw = _dominance(block, chosen, np.full(near.size, ANTICIPATION_S), jaw_w[near]) + 1e-9
        d_spread = _dominance(block, chosen, rounding[near], spread_w[near]) + 1e-9
        jaw[first : first + len(block)] = (d_jaw * jaw_t[near]).sum(axis=1) / d_jaw.sum(axis=1)
        spread[first : first + len(block)] = (d_spread * spread_t[near]).sum(axis=1) / d_spread.sum(axis=1)
    return jaw, spread


def contact_envelope(times: np.ndarray, spans: list[tuple[float, float]]) -> np.ndarray:
    """(T,) 0..1: 1 over each (start, end) span, raised-cosine ramps of CLOSE_RAMP_S either side.

    A span shorter than MIN_CLOSURE_S is widened about its centre: the lips cannot make a shorter one.
    """
    out = np.zeros(len(times))
    for start, end in spans:
        if end - start < MIN_CLOSURE_S:
            centre = 0.5 * (start + end)
            start, end = centre - MIN_CLOSURE_S / 2.0, centre + MIN_CLOSURE_S / 2.0
        distance = np.maximum(start - times, times - end).clip(0.0, None)
        ramp = np.where(distance < CLOSE_RAMP_S, 0.5 + 0.5 * np.cos(np.pi * distance / CLOSE_RAMP_S), 0.0)
        out = np.maximum(out, ramp)
    return out


def _lip_spans(phones: list[Phone], labels: frozenset[str], burst_lead: float) -> list[tuple[float, float]]:
    """Spans when the lips are in contact for phones in `labels`: a stop's ends before its burst."""
    spans = []
    for phone in phones:
        if phone.label in labels:
            lead = burst_lead if phone.label in ("P", "B") else 0.0
            spans.append((phone.start, max(phone.start + 0.5 * (phone.end - phone.start), phone.end - lead)))
    return spans


def phone_shapes(phones: tuple[Phone, ...], rows: int) -> PhoneShapes:
    """The mouth the phones ask for, over `rows` 10 ms rows (row r is at r · ROW_S seconds)."""
    times = np.arange(rows) * ROW_S
    ordered = sorted(phones, key=lambda p: p.start)
    if not ordered:
        zeros = np.zeros(rows)
        return PhoneShapes(zeros, zeros.copy(), zeros.copy(), zeros.copy())
    jaw, spread = _blend(times, ordered)
    closure = contact_envelope(times, _lip_spans(ordered, BILABIALS, BURST_LEAD_S))
    teeth = contact_envelope(times, _lip_spans(ordered, LABIODENTALS, 0.0))
    return PhoneShapes(jaw, spread, closure, np.minimum(teeth, 1.0 - closure))
