"""The mouth-flicker figure: a real template against itself reads 1, the same frames with pops read high,
slowed-down motion does not, and a still template, or one that never opens its mouth, has nothing to
compare with."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from heygem_ops.face.tracking import MeshTracker
from heygem_ops.media import iter_frames, probe_video
from heygem_ops.quality.chunk import face_region
from heygem_ops.quality.flicker import MIN_FRAMES, MIN_OPEN, FlickerMeter, FlickerStats
from heygem_ops.quality.report import QualityThresholds

FRAMES = 90


@pytest.fixture(scope="module")
def talking(media_dir: Path) -> tuple[list[np.ndarray], np.ndarray, tuple[int, int, int, int]]:
    """90 frames of a real talking clip, their landmarks, and the face region around them."""
    info = probe_video(media_dir / "sadtalker_WDA_KatieHill_000.mp4")
    frames = list(itertools.islice(iter_frames(info), FRAMES))
    track = MeshTracker().track(frames)
    region = face_region(track.boxes, track.size)
    assert region is not None
    return frames, track.landmarks, region


def _ratio(outputs: list[np.ndarray], templates: list[np.ndarray], landmarks: np.ndarray, region) -> float | None:
    meter = FlickerMeter(region)
    for output, template, points in zip(outputs, templates, landmarks, strict=True):
        meter.add(output, template, points)
    return meter.stats.ratio


@pytest.mark.media
def test_a_template_against_itself_reads_one(talking) -> None:
    frames, landmarks, region = talking
    assert _ratio(frames, frames, landmarks, region) == pytest.approx(1.0)


@pytest.mark.media
def test_pops_read_as_flicker_and_slowed_motion_does_not(talking) -> None:
    frames, landmarks, region = talking
    # every 10th frame and the next show a moment half a second away: the mouth jumps there and back
    popped = [frames[min(k + 12, FRAMES - 1)] if k % 10 in (4, 5) else frame for k, frame in enumerate(frames)]
    popping = _ratio(popped, frames, landmarks, region)
    print(f"popped {popping:.2f}")
    assert popping is not None and popping > QualityThresholds().max_mouth_flicker, popping
    # the same mouth moving at half speed: steadier than the template, not a flicker
    slowed = [frames[k // 2] for k in range(FRAMES)]
    steady = _ratio(slowed, frames, landmarks, region)
    print(f"slowed {steady:.2f}")
    assert steady is not None and steady < 1.2, steady


def test_a_still_template_or_a_short_run_has_no_figure() -> None:
    rng = np.random.default_rng(0)
    still = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    landmarks = _face_points(64)
    moving = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(40)]
    meter = FlickerMeter((0, 0, 64, 64))
    for frame in moving:
        meter.add(frame, still, landmarks)
    assert len(meter.stats.output) == 18  # 20 sampled frames (every 2nd of 40), less the first two
    assert meter.stats.ratio is None  # the template never changes: no change to compare with
    short = FlickerStats(meter.stats.output[: MIN_FRAMES - 1], [5.0] * (MIN_FRAMES - 1), MIN_FRAMES)
    assert short.ratio is None
    parts = [FlickerStats([1.0] * 10, [2.0] * 10, MIN_OPEN - 1), FlickerStats([3.0] * 10, [2.0] * 10, 1)]
    assert parts[0].ratio is None  # the template's mouth hardly opened in that run: nothing to compare with
    assert FlickerStats.joined(parts).ratio == pytest.approx(3.0 / 2.0)


@pytest.mark.media
def test_a_template_that_never_opens_its_mouth_has_no_figure(talking) -> None:
    """Its frames change (head, light), but its mouth never moves: speech's motion there is not flicker."""
    frames, landmarks, region = talking
    shut = landmarks.copy()
    shut[:, 60:68] = shut[:, 60:68].mean(axis=1, keepdims=True)  # the inner lips read as meeting
    popped = [frames[min(k + 12, FRAMES - 1)] if k % 10 in (4, 5) else frame for k, frame in enumerate(frames)]
    assert _ratio(popped, frames, landmarks, region) is not None
    assert _ratio(popped, frames, shut, region) is None


def test_no_region_measures_nothing() -> None:
    meter = FlickerMeter(None)
    frame = np.zeros((32, 32, 3), dtype=np.uint8)
    for _ in range(20):
        meter.add(frame, frame, _face_points(32))
    assert meter.stats.output == [] and meter.stats.ratio is None


def _face_points(side: int) -> np.ndarray:
    """68 landmarks of a face filling a `side`-px frame: the jaw round the bottom, the rest inside."""
    angles = np.linspace(np.pi * 0.95, np.pi * 0.05, 17)
    jaw = np.stack([0.5 + 0.4 * np.cos(angles), 0.45 + 0.45 * np.sin(angles)], axis=1)
    rest = np.tile([[0.5, 0.5]], (51, 1)) + np.linspace(-0.2, 0.2, 51)[:, None] * [[1.0, 0.3]]
    return (np.concatenate([jaw, rest]) * side).astype(np.float32)
