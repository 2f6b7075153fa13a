"""Lip-sync quality measurement: correlation over lags, the report, synthetic and real end-to-end runs."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest
from media_factory import index_frame, make_audio, make_video

from heygem_ops.face.landmarks import EYE_OUTER_LEFT, EYE_OUTER_RIGHT, INNER_LOWER_MID, INNER_UPPER_MID, N_POINTS
from heygem_ops.face.track import FaceTrack
from heygem_ops.face.tracking import MeshTracker
from heygem_ops.media import SegmentWriter, probe_video
from heygem_ops.quality import (
    QualityReport,
    QualityThresholds,
    best_sync,
    lagged_correlation,
    measure_quality,
    pearson,
)

FPS = 25
SAMPLES_PER_FRAME = 16000 // FPS


def smooth_noise(count: int, seed: int = 0) -> np.ndarray:
    """(count,) float64 noise low-passed over ~3 frames: a signal with one clear correlation peak."""
    noise = np.random.default_rng(seed).normal(size=count + 8)
    return np.convolve(noise, np.ones(5) / 5, mode="valid")[:count]


def delayed(signal: np.ndarray, lag: int) -> np.ndarray:
    """signal delayed by `lag` frames (negative: advanced), NaN where nothing is known."""
    out = np.full(len(signal), np.nan)
    if lag >= 0:
        out[lag:] = signal[: len(signal) - lag]
    else:
        out[:lag] = signal[-lag:]
    return out


@pytest.mark.parametrize("lag", [4, -3, 0])
def test_lagged_correlation_finds_a_known_lag_of_either_sign(lag: int) -> None:
    speech = smooth_noise(300)
    lags, r = lagged_correlation(delayed(speech, lag), speech, 15)
    assert lags.tolist() == list(range(-15, 16))
    assert lags[np.nanargmax(r)] == lag
    assert np.nanmax(r) > 0.999


def test_nan_samples_are_skipped_not_propagated() -> None:
    speech = smooth_noise(300, seed=1)
    mouth = delayed(speech, 2) + 0.05 * np.random.default_rng(2).normal(size=300)
    mouth[::7] = np.nan  # frames where no face was found
    mouth[100:140] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lags, r = lagged_correlation(mouth, speech, 10)
    assert np.isfinite(r).all()
    assert lags[np.argmax(r)] == 2 and r.max() > 0.9


def test_constant_or_empty_input_gives_nan_without_warnings() -> None:
    speech = smooth_noise(50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(lagged_correlation(np.full(50, 0.1), speech, 5)[1]).all()
        assert np.isnan(lagged_correlation(np.full(50, np.nan), speech, 5)[1]).all()
        assert np.isnan(lagged_correlation(speech[:4], speech[:4], 5)[1][[0, -1]]).all()  # lag beyond the signal
        assert np.isnan(pearson(np.array([1.0, 2.0]), np.array([2.0, 1.0])))  # too few samples
    with pytest.raises(ValueError):
        lagged_correlation(speech, speech[:-1], 3)


def test_silent_audio_or_a_still_mouth_reports_sync_zero_with_a_reason() -> None:
    mouth = smooth_noise(100)
    silent = best_sync(mouth, np.full(100, -55.0), 15)
    assert (silent.lag, silent.r, silent.confidence) == (0, 0.0, 0.0) and "silent" in silent.note
    still = best_sync(np.full(100, 0.05), smooth_noise(100), 15)
    assert still.r == 0.0 and "never moves" in still.note
    faceless = best_sync(np.full(100, np.nan), smooth_noise(100), 15)
    assert faceless.r == 0.0 and "0 frames" in faceless.note


def report(**changes: object) -> QualityReport:
    """A report that passes the default bar, with `changes` applied."""
    values = dict(
        frames=100, face_fraction=1.0, best_lag=1, sync=0.8, confidence=0.5, template_leak=0.1,
        psnr_outside=40.0, sharpness_ratio=0.95, mouth_opening=np.zeros(100), mouth_width=np.zeros(100),
    )  # fmt: skip
    values.update(changes)
    return QualityReport(**values)  # type: ignore[arg-type]


def test_failures_name_each_measure_that_falls_short() -> None:
    assert report().failures(QualityThresholds()) == []
    bad = report(face_fraction=0.5, best_lag=-4, sync=0.3, confidence=0.1, template_leak=0.6,
                 psnr_outside=30.0, sharpness_ratio=0.5)  # fmt: skip
    text = " | ".join(bad.failures(QualityThresholds()))
    for needle in ("50% of frames", "leads the speech by 4", "sync r 0.30", "confidence 0.10",
                   "template's own mouth", "PSNR 30.0", "sharpness 0.50"):  # fmt: skip
        assert needle in text
    assert len(bad.failures(QualityThresholds())) == 7
    assert report(sync=0.0, sync_note="the driving audio is silent").failures(QualityThresholds()) == [
        "sync 0: the driving audio is silent"
    ]
    assert report(template_leak=None, psnr_outside=None, sharpness_ratio=None).failures(QualityThresholds()) == []


def test_row_is_flat_prefixed_scalars() -> None:
    row = report(template_leak=None).as_row()
    assert all(key.startswith("q_") for key in row)
    assert row["q_template_leak"] is None and row["q_best_lag"] == 1 and row["q_sync"] == 0.8
    assert all(value is None or isinstance(value, int | float) for value in row.values())


@pytest.fixture(scope="module")
def tracker() -> MeshTracker:
    return MeshTracker()


def reencode(source: Path, target: Path, change: Callable[[np.ndarray], np.ndarray] = lambda frame: frame) -> Path:
    """Write `change(frame)` of every frame of a `make_video` clip as H.264, the way outputs are written."""
    info = probe_video(source)
    with SegmentWriter(target, info.width, info.height, info.fps) as writer:
        for index in range(info.frame_count):
            writer.write(change(index_frame(index, info.width, info.height)))
    return target


@pytest.fixture
def faceless(tmp_path: Path) -> tuple[Path, Path]:
    """A 2 s clip of index cards (no face) and a 2 s tone."""
    video = make_video(tmp_path / "cards.mp4", frames=2 * FPS, fps=FPS, size=(128, 96))
    return video, make_audio(tmp_path / "tone.wav", duration_s=2.0)


def test_no_face_gives_zero_fraction_and_untouched_pixels_score_high(
    faceless: tuple[Path, Path], tracker: MeshTracker, tmp_path: Path
) -> None:
    video, audio = faceless
    same = measure_quality(video, audio, video, tracker=tracker)
    assert same.frames == 2 * FPS and same.face_fraction == 0.0
    assert np.isnan(same.mouth_opening).all() and np.isnan(same.mouth_width).all()
    assert same.sync == 0.0 and same.sync_note is not None
    assert same.psnr_outside is not None and same.psnr_outside >= 45
    assert same.sharpness_ratio is None and same.template_leak == 0.0
    assert any("a face was found in 0%" in failure for failure in same.failures(QualityThresholds()))
    copy = measure_quality(reencode(video, tmp_path / "copy.mp4"), audio, video, tracker=tracker)
    print(f"\nre-encoded copy: {copy.psnr_outside:.1f} dB outside the face")
    assert copy.psnr_outside >= 45
    brighter = reencode(
        video, tmp_path / "bright.mp4", lambda frame: np.clip(frame.astype(np.int16) + 24, 0, 255).astype(np.uint8)
    )
    shifted = measure_quality(brighter, audio, video, tracker=tracker)
    print(f"brightness +24: {shifted.psnr_outside:.1f} dB")
    assert shifted.psnr_outside < 30
    assert any("PSNR" in failure for failure in shifted.failures(QualityThresholds()))


def test_silent_audio_does_not_crash(faceless: tuple[Path, Path], tracker: MeshTracker, tmp_path: Path) -> None:
    silence = make_audio(tmp_path / "silence.wav", samples=np.zeros((1, 32000), dtype=np.float32))
    result = measure_quality(faceless[0], silence, tracker=tracker)
    assert (result.sync, result.confidence, result.best_lag) == (0.0, 0.0, 0)
    assert "silent" in result.sync_note and result.psnr_outside is None


class MouthFromScript:
    """A fake tracker: one face per frame whose mouth opens by `opening[i]` interocular distances."""

    name = "script"

    def __init__(self, opening: np.ndarray) -> None:
        self.opening = opening

    def track(self, frames: Iterable[np.ndarray], progress: object = None) -> FaceTrack:
        count = sum(1 for _ in frames)
        landmarks = np.zeros((count, N_POINTS, 2), dtype=np.float32)
        landmarks[:, EYE_OUTER_RIGHT], landmarks[:, EYE_OUTER_LEFT] = (40, 40), (90, 40)  # interocular 50 px
        landmarks[:, INNER_UPPER_MID] = (64, 80)
        landmarks[:, INNER_LOWER_MID, 0] = 64
        landmarks[:, INNER_LOWER_MID, 1] = 80 + 50 * self.opening[:count]
        boxes = np.tile(np.array([20, 20, 110, 110], dtype=np.float32), (count, 1))
        return FaceTrack(landmarks, boxes, np.ones(count, dtype=np.float32), (128, 96), self.name)


def test_a_mouth_two_frames_late_is_measured_two_frames_late(faceless: tuple[Path, Path], tmp_path: Path) -> None:
    frames = 4 * FPS
    syllables = np.repeat(np.random.default_rng(3).random(frames // 4) > 0.5, 4)  # on/off in 160 ms steps
    tone = np.sin(2 * np.pi * 1000 * np.arange(frames * SAMPLES_PER_FRAME) / 16000)
    speech = (0.3 * tone * np.repeat(syllables, SAMPLES_PER_FRAME)).astype(np.float32)[None]
    audio = make_audio(tmp_path / "syllables.wav", samples=speech)
    video = make_video(tmp_path / "cards.mp4", frames=frames, fps=FPS, size=(128, 96))
    opening = np.nan_to_num(delayed(syllables.astype(float), 2)) * 0.3
    result = measure_quality(video, audio, tracker=MouthFromScript(opening))
    assert result.best_lag == 2 and result.sync > 0.8 and result.confidence > 0.4
    assert result.failures(QualityThresholds()) == []


@pytest.mark.media
@pytest.mark.slow
def test_warp_output_on_a_real_clip(media_dir: Path, tracker: MeshTracker, tmp_path: Path) -> None:
    from heygem_ops import generate

    template, audio = media_dir / "sadtalker_WDA_KatieHill_000.mp4", media_dir / "sadtalker_chinese_news.wav"
    output = tmp_path / "out.mp4"
    generate(template, audio, output)
    started = time.perf_counter()
    result = measure_quality(output, audio, template, tracker=tracker)
    seconds = time.perf_counter() - started
    print(f"\n{result.summary()}\nmeasured in {seconds:.2f} s; failures: {result.failures(QualityThresholds())}")
    assert result.frames == 200
    assert result.face_fraction >= 0.9
    assert result.psnr_outside is not None and result.psnr_outside >= 35
    assert abs(result.best_lag) <= 2 and result.sync >= 0.5
    # The same person's real mouth, which never heard this audio, must not pass for lip-synced.
    unrelated = measure_quality(template, audio, tracker=tracker)
    print(f"template's own mouth vs this audio: {unrelated.summary()}")
    assert unrelated.sync < result.sync and unrelated.failures(QualityThresholds())
