"""Measure one output: does its mouth follow the speech, and did the rest of the picture stay put?

The output is decoded once; its frames go straight into the face tracker, and, when the template
is given, are compared on the way with the template frames they replace. The template is tracked
once (or its cached track is reused). Nothing holds the whole video.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from heygem_ops.audio import SILENCE_DBFS, audio_features
from heygem_ops.constants import STILL_FPS
from heygem_ops.face.landmarks import mouth_opening, mouth_width
from heygem_ops.face.track import FaceTrack
from heygem_ops.face.trackers import Tracker, create_tracker
from heygem_ops.media import VideoInfo, decode_audio, iter_frames, probe_video
from heygem_ops.plan import template_forward
from heygem_ops.quality.chunk import face_region
from heygem_ops.quality.correlation import best_sync, pearson
from heygem_ops.quality.flicker import FlickerMeter, FlickerStats
from heygem_ops.quality.mouth import HeldPair, MouthStats, hold_pair, measured_frames
from heygem_ops.quality.pixels import PixelStats, scheduled_frames
from heygem_ops.quality.report import QualityReport
from heygem_ops.timeline import PINGPONG, frame_schedule

MAX_LAG = 15  # frames searched either side for the sync peak (0.6 s at 25 fps)


def speech_level(samples: np.ndarray, fps: Fraction, frame_count: int) -> np.ndarray:
    """(frame_count,) float32 speech-band level in dBFS per output frame, floored at SILENCE_DBFS.

    The floor keeps digital silence (about -100 dBFS) from dominating a Pearson r: a pause is a
    pause, however quiet. `samples`: 16 kHz mono float32.
    """
    return np.maximum(audio_features(samples, fps, frame_count).energy_db, SILENCE_DBFS)


def measure_quality(
    output: Path,
    audio: Path,
    template: Path | None = None,
    *,
    tracker: Tracker | None = None,
    template_track: FaceTrack | None = None,
    still_fps: Fraction = STILL_FPS,
    speech: np.ndarray | None = None,
    reference: VideoInfo | None = None,
    schedule: np.ndarray | None = None,
    loop: str = PINGPONG,
) -> QualityReport:
    """Score the lip-synced `output` against its driving `audio` (and its `template`, when given).

    `tracker` defaults to the mesh tracker; `template_track` (the job's cached track) spares
    tracking the template again; `speech` (`speech_level` per output frame, when the caller has the
    audio's features) spares decoding the audio. `still_fps` is the rate a still-image template was
    shown at, `loop` how the job repeated the template (`heygem_ops.timeline.LOOPS`). `reference` (the
    template as the job probed it: scaled, tone-mapped) and `schedule` (the job's template frame per
    output frame) spare probing the template afresh and rebuilding the schedule. Without a template,
    template_leak, psnr_outside and sharpness_ratio are None.
    """
    info = probe_video(output)
    tracker = tracker or create_tracker("mesh")
    if speech is None:
        speech = speech_level(decode_audio(audio), info.fps, info.frame_count)
    if template is None:
        track = tracker.track(iter_frames(info))
        return report_from_mouth(mouth_opening(track.landmarks), mouth_width(track.landmarks), speech)
    reference = reference or _reference(template, still_fps, info)
    template_track = template_track or tracker.track(iter_frames(reference))
    _check_track(template_track, reference)
    if schedule is None:
        forward = template_forward(reference, info.fps)
        schedule = frame_schedule(reference.frame_count, info.frame_count, loop, forward)
    stats = PixelStats()
    held: dict[int, HeldPair] = {}
    flicker = FlickerMeter(face_region(template_track.boxes[schedule], template_track.size))
    frames = _compared(
        iter_frames(info), scheduled_frames(reference, schedule), schedule, template_track, stats, held, flicker
    )
    track = tracker.track(frames)
    mouth = MouthStats()
    for index, pair in held.items():
        mouth.add_pair(pair, track.landmarks[index])
    template_mouth = mouth_opening(template_track.landmarks)
    return report_from_mouth(
        mouth_opening(track.landmarks), mouth_width(track.landmarks), speech, template_mouth, schedule, stats, mouth,
        flicker.stats,
    )  # fmt: skip


def report_from_mouth(
    opening: np.ndarray,
    width: np.ndarray,
    speech: np.ndarray,
    template_mouth: np.ndarray | None = None,
    schedule: np.ndarray | None = None,
    stats: PixelStats | None = None,
    mouth: MouthStats | None = None,
    flicker: FlickerStats | None = None,
) -> QualityReport:
    """The report from the output's (F,) mouth opening and width (NaN: no face) and (F,) speech level.

    With the template's (N,) mouth opening, the (F,) schedule and the pixel `stats`, the template
    figures are filled in too; without them they are None. `mouth` (chin texture and teeth against
    the template) fills the mouth figures and `flicker` the mouth's jolts against the template's; without
    them they are None.
    """
    opening = np.asarray(opening, dtype=np.float32)
    sync = best_sync(opening, speech, MAX_LAG)
    leak = None if template_mouth is None or schedule is None else _template_leak(opening, template_mouth, schedule)
    return QualityReport(
        frames=len(opening),
        face_fraction=float(np.isfinite(opening).mean()) if len(opening) else 0.0,
        best_lag=sync.lag,
        sync=sync.r,
        confidence=sync.confidence,
        template_leak=leak,
        psnr_outside=None if stats is None else stats.psnr,
        sharpness_ratio=None if stats is None else stats.sharpness_ratio,
        mouth_opening=opening,
        mouth_width=np.asarray(width, dtype=np.float32),
        sync_note=sync.note,
        chin_texture=None if mouth is None else mouth.chin_median,
        chin_texture_low=None if mouth is None else mouth.chin_low,
        teeth_ratio=None if mouth is None else mouth.teeth_ratio,
        interior_ratio=None if mouth is None else mouth.interior_ratio,
        mouth_flicker=None if flicker is None else flicker.ratio,
    )


def _compared(
    outputs: Iterable[np.ndarray],
    templates: Iterable[np.ndarray],
    schedule: np.ndarray,
    track: FaceTrack,
    stats: PixelStats,
    held: dict[int, HeldPair],
    flicker: FlickerMeter,
) -> Iterator[np.ndarray]:
    """Pass output frames through unchanged, folding each into `stats` and `flicker` beside template frame
    schedule[i], and holding the lower faces of the frames `measured_frames` picks in `held` (by output frame)."""
    present = track.present
    measured = set(measured_frames(len(schedule)).tolist())
    for k, (output, template, index) in enumerate(zip(outputs, templates, schedule, strict=True)):
        landmarks = track.landmarks[index] if present[index] else None
        stats.add(output, template, landmarks)
        flicker.add(output, template, landmarks)
        pair = None if landmarks is None or k not in measured else hold_pair(output, template, landmarks)
        if pair is not None:
            held[k] = pair
        yield output


def _template_leak(output_mouth: np.ndarray, template_mouth: np.ndarray, schedule: np.ndarray) -> float:
    """r of the output's (F,) mouth opening with the template's (N,) own, over output frames i that
    play template frame i for the first time; 0.0 where the template mouth does not move (nothing can leak).
    """
    first = np.flatnonzero(schedule == np.arange(len(schedule)))
    r = pearson(output_mouth[first], template_mouth[schedule[first]])
    return 0.0 if np.isnan(r) else r


def _reference(template: Path, still_fps: Fraction, output: VideoInfo) -> VideoInfo:
    """The template as the job saw it: scaled down to the output's long side when the job scaled it
    (--max-size), so template and output frames compare pixel for pixel."""
    reference = probe_video(template, still_fps=still_fps)
    long_side = max(output.width, output.height)
    if max(reference.width, reference.height) > long_side + 1:  # more than an odd side cropped to even
        reference = probe_video(template, still_fps=still_fps, max_size=long_side)
    return reference


def _check_track(track: FaceTrack, info: VideoInfo) -> None:
    """Refuse a template track measured on another video (frame count or size differs)."""
    if track.frame_count != info.frame_count or tuple(track.size) != (info.width, info.height):
        raise ValueError(
            f"{info.path}: the template track covers {track.frame_count} frames of {track.size[0]}x{track.size[1]}, "
            f"the template has {info.frame_count} of {info.width}x{info.height}"
        )
