"""Articulation of the default engine, phone by phone: do the lips close on P, B, M and round on O, U?

    .venv/bin/python bench/visemes.py                       # two voices x two rates, KatieHill template
    .venv/bin/python bench/visemes.py --template FILE       # another (held-out) template
    .venv/bin/python bench/visemes.py --no-text             # also without it: phones recognised, and loudness
    .venv/bin/python bench/visemes.py --words held-out      # sentences the engine was never tuned on

Speech with known words is synthesised with espeak-ng (a Debian package) in two voices at two
rates, force-aligned with pocketsphinx (`heygem_ops.articulation.phones`) to time every phone,
run through `generate` (with the words; with --no-text also without them, phones recognised
(HEYGEM_ARTICULATION=speech), and driven by loudness alone, what a job without words gets by
default), and the output's mouth tracked (mesh tracker) is measured at the phones. The opening is
`lip_gap`, the inner lips' gap along the face's downward axis: lips pressed together, which the
tracker reads with the lower inner lip above the upper, are closed (the points' distance,
`mouth_opening`, read them as open by their overlap: its hit rate is shown beside, "hit|dist"):

  closure ratio  mean opening over bilabial events / over open-vowel events (all, M alone, P/B alone)
  hit rate       share of bilabial events whose smallest opening is among the video's lowest 30 %
  control        the same two figures with the events shifted in time (every shift of 0.4 s or more):
                 the ratio must lie below the control's 5th percentile, the hit rate above its 95th
  rounding       mean mouth width over /u o w/ events over that over /i e/ events
  cost           articulation analysis time over the audio's duration (bar: 5 %)

One row per clip and mode, then the pooled figures of each mode; exits 1 when the pooled figures
with the transcript miss a bar.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from heygem_ops import generate
from heygem_ops.articulation.analysis import analyse
from heygem_ops.articulation.phones import Phone, align_phones, transcript_words
from heygem_ops.face.landmarks import lip_gap, mouth_opening, mouth_width
from heygem_ops.face.trackers import create_tracker
from heygem_ops.media import decode_audio, iter_frames, probe_video
from heygem_ops.options import GenerateOptions
from heygem_ops.quality.correlation import best_sync
from heygem_ops.quality.measure import speech_level

MEDIA = Path(__file__).resolve().parent.parent.parent / "shared" / "media"
TEMPLATE = MEDIA / "sadtalker_WDA_KatieHill_000.mp4"
VOICES = ("en-us", "en-us+f3")
RATES = (140, 185)  # words per minute
TEXTS = {  # "tuned": the sentences the articulation and mouth selection were tuned on; "held-out": never looked at
    "tuned": (
        "Maybe my mother made a big pot of warm soup. "
        "Bobby keeps the blue boat by the pier, and Pam paints pebbles in the moonlight. "
        "We see three green trees, but you moved the old boots to the room."
    ),
    "held-out": (
        "Please bring the map to Bill before lunch. "
        "My puppy jumped into the bubble bath, and the cook put blue plums by the window. "
        "The moon over the bay looked pale, so we walked home with Tom and Emma."
    ),
}
MAX_RATIO, MAX_RATIO_M, MIN_HIT, MAX_ROUNDING, MAX_COST = 0.6, 0.7, 0.7, 0.92, 0.05
LOW_SHARE = 0.3  # a "closed" frame is among the video's lowest 30 % of openings
MIN_SHIFT_S = 0.4  # control shifts start here: beyond a syllable, so the events land elsewhere
OPEN = {"AA", "AE", "AH", "AO", "AW", "AY"}
ROUND = {"UW", "UH", "OW", "W"}
SPREAD = {"IY", "IH", "EY", "EH"}


@dataclass
class Events:
    """Per event class, the output frames of each event (lists of frame-index arrays)."""

    m: list[np.ndarray]
    pb: list[np.ndarray]
    open: list[np.ndarray]
    round: list[np.ndarray]
    spread: list[np.ndarray]


@dataclass
class Figures:
    ratio: float
    ratio_m: float
    ratio_pb: float
    hit: float
    control_ratio_p5: float
    control_hit_p95: float
    rounding: float
    events: int
    hit_distance: float  # the hit rate with the opening read as the points' distance (`mouth_opening`)


def _frames(phone: Phone, fps: float, count: int, shift: int = 0) -> np.ndarray:
    """Output frames whose centre falls inside the phone (at least the nearest one), shifted circularly."""
    centres = (np.arange(count) + 0.5) / fps
    inside = np.flatnonzero((centres >= phone.start) & (centres <= phone.end))
    if inside.size == 0:
        inside = np.array([int(np.clip(round(0.5 * (phone.start + phone.end) * fps - 0.5), 0, count - 1))])
    return (inside + shift) % count


def events(phones: tuple[Phone, ...], fps: float, count: int, shift: int = 0) -> Events:
    def pick(labels: set[str] | frozenset[str]) -> list[np.ndarray]:
        return [_frames(p, fps, count, shift) for p in phones if p.label in labels]

    return Events(pick({"M"}), pick({"P", "B"}), pick(OPEN), pick(ROUND), pick(SPREAD))


def _mean_over(values: np.ndarray, groups: list[np.ndarray]) -> float:
    means = [np.nanmean(values[g]) for g in groups if np.isfinite(values[g]).any()]
    return float(np.mean(means)) if means else float("nan")


def closure_figures(opening: np.ndarray, found: Events) -> tuple[float, float, float, float]:
    """(ratio all, ratio M, ratio P/B, hit rate) of the tracked opening at the events."""
    vowels = _mean_over(opening, found.open)
    bilabial = found.m + found.pb
    low = np.nanpercentile(opening, 100 * LOW_SHARE)
    hits = [np.nanmin(opening[g]) <= low for g in bilabial if np.isfinite(opening[g]).any()]
    return (
        _mean_over(opening, bilabial) / vowels,
        _mean_over(opening, found.m) / vowels,
        _mean_over(opening, found.pb) / vowels,
        float(np.mean(hits)) if hits else float("nan"),
    )


def measure(
    opening: np.ndarray, distance: np.ndarray, width: np.ndarray, phones: tuple[Phone, ...], fps: float
) -> Figures:
    """The figures of one output from its `lip_gap` (`opening`), `mouth_opening` (`distance`) and width."""
    count = len(opening)
    found = events(phones, fps, count)
    ratio, ratio_m, ratio_pb, hit = closure_figures(opening, found)
    shifts = range(int(MIN_SHIFT_S * fps), count - int(MIN_SHIFT_S * fps))
    control = np.array([closure_figures(opening, events(phones, fps, count, s)) for s in shifts])
    rounding = _mean_over(width, found.round) / _mean_over(width, found.spread)
    return Figures(
        ratio,
        ratio_m,
        ratio_pb,
        hit,
        float(np.nanpercentile(control[:, 0], 5)),
        float(np.nanpercentile(control[:, 3], 95)),
        rounding,
        len(found.m) + len(found.pb),
        closure_figures(distance, found)[3],
    )


def synthesise(voice: str, rate: int, text: str, folder: Path) -> Path:
    path = folder / f"{voice.replace('+', '_')}_{rate}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(path), text], check=True)
    return path


MODES = {"text": "speech", "recognised": "speech", "loudness": "loudness"}  # bench mode -> articulation


def run_clip(
    template: Path, audio: Path, words: str, mode: str, folder: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Generate one output of `audio` (speaking `words`) in `mode` (see MODES) and track its mouth:
    (lip gap, distance, width, sync r)."""
    output = folder / f"{audio.stem}_{mode}.mp4"
    options = GenerateOptions.from_settings(text=words if mode == "text" else None, articulation=MODES[mode], qa=False)
    generate(template, audio, output, options)
    info = probe_video(output)
    landmarks = create_tracker("mesh").track(iter_frames(info)).landmarks
    distance = mouth_opening(landmarks)
    sync = best_sync(distance, speech_level(decode_audio(audio), info.fps, info.frame_count), 15)
    return lip_gap(landmarks), distance, mouth_width(landmarks), sync.r


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--no-text", action="store_true", help="also measure without the transcript")
    parser.add_argument("--words", choices=sorted(TEXTS), default="tuned", help="which sentences are spoken")
    parser.add_argument("--keep", type=Path, help="keep the clips and outputs in this folder")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is not installed (apt-get install espeak-ng)", file=sys.stderr)
        return 2
    folder = Path(args.keep or tempfile.mkdtemp(prefix="visemes-"))
    folder.mkdir(parents=True, exist_ok=True)
    modes = list(MODES) if args.no_text else ["text"]
    text = TEXTS[args.words]
    pooled: dict[str, list] = {mode: [] for mode in modes}
    header = f"{'clip':<16} {'mode':<10} {'ratio':>6} {'M':>6} {'P/B':>6} {'hit':>5} {'ctl p5':>7} {'ctl hit95':>9}"
    print(header + f" {'round':>6} {'sync r':>6} {'cost':>6} {'hit|dist':>8} events")
    for voice in VOICES:
        for rate in RATES:
            audio = synthesise(voice, rate, text, folder)
            samples = decode_audio(audio)
            phones = align_phones(samples, transcript_words(text))
            if phones is None:
                print(f"{audio.stem}: the reference alignment failed", file=sys.stderr)
                return 2
            for mode in modes:
                started = time.perf_counter()
                if mode != "loudness":
                    analyse(samples, Fraction(25), int(len(samples) / 16000 * 25), text if mode == "text" else None)
                cost = (time.perf_counter() - started) / (len(samples) / 16000)
                opening, distance, width, sync = run_clip(args.template, audio, text, mode, folder)
                fps = float(probe_video(folder / f"{audio.stem}_{mode}.mp4").fps)
                figures = measure(opening, distance, width, phones, fps)
                pooled[mode].append((opening, distance, width, phones, fps, cost, sync))
                print(_row(audio.stem, mode, figures, sync, cost))
    failed = False
    for mode, clips in pooled.items():
        if not clips:
            continue
        figures = _pooled(clips)
        cost = float(np.mean([clip[5] for clip in clips]))
        sync = float(np.min([clip[6] for clip in clips]))
        print(_row("ALL", mode, figures, sync, cost))
        if mode == "text":
            misses = _misses(figures, cost)
            failed = bool(misses)
            print("bars met" if not misses else "below the bar: " + "; ".join(misses))
    return 1 if failed else 0


def _pooled(clips: list) -> Figures:
    """The figures over all clips of a mode: openings normalised per clip, events concatenated."""
    openings, distances, widths, phone_lists = [], [], [], []
    offset = 0.0
    for opening, distance, width, phones, fps, _, _ in clips:
        openings.append(opening / np.nanmedian(opening[np.isfinite(opening)] + 1e-6))
        distances.append(distance / np.nanmedian(distance[np.isfinite(distance)] + 1e-6))
        widths.append(width / np.nanmedian(width))
        phone_lists += [Phone(p.label, p.start + offset, p.end + offset) for p in phones]
        offset += len(opening) / fps
    return measure(
        np.concatenate(openings), np.concatenate(distances), np.concatenate(widths), tuple(phone_lists), clips[0][4]
    )


def _misses(f: Figures, cost: float) -> list[str]:
    checks = [
        (f.ratio <= MAX_RATIO, f"closure ratio {f.ratio:.2f} > {MAX_RATIO}"),
        (f.ratio_m <= MAX_RATIO_M, f"M closure ratio {f.ratio_m:.2f} > {MAX_RATIO_M}"),
        (f.hit >= MIN_HIT, f"hit rate {f.hit:.0%} < {MIN_HIT:.0%}"),
        (f.ratio < f.control_ratio_p5, f"ratio {f.ratio:.2f} not below the control's 5th percentile"),
        (f.hit > f.control_hit_p95, f"hit rate {f.hit:.0%} not above the control's 95th percentile"),
        (f.rounding <= MAX_ROUNDING, f"rounding ratio {f.rounding:.3f} > {MAX_ROUNDING}"),
        (cost <= MAX_COST, f"analysis cost {cost:.1%} > {MAX_COST:.0%}"),
    ]
    return [message for ok, message in checks if not ok]


def _row(name: str, mode: str, f: Figures, sync: float, cost: float) -> str:
    return (
        f"{name:<16} {mode:<10} {f.ratio:6.2f} {f.ratio_m:6.2f} {f.ratio_pb:6.2f} {f.hit:5.0%} "
        f"{f.control_ratio_p5:7.2f} {f.control_hit_p95:9.0%} {f.rounding:6.3f} {sync:6.2f} {cost:6.1%} "
        f"{f.hit_distance:8.0%} {f.events}"
    )


if __name__ == "__main__":
    sys.exit(main())
