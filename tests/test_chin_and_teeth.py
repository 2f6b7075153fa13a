"""The chin moves as a block, the template's own teeth are kept, and the measures that see both."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from face_factory import synthetic_face_frame, synthetic_landmarks

from heygem_ops.compose.warp import render_warp
from heygem_ops.face.chin import chin_offset
from heygem_ops.face.landmarks import JAW
from heygem_ops.face.regions import chin_weights, lower_face_polygon, polygon_mask
from heygem_ops.quality import QualityReport, QualityThresholds
from heygem_ops.quality.job import thresholds_from_settings
from heygem_ops.quality.mouth import MouthStats, chin_texture, interior
from heygem_ops.settings import Settings

LIP = [55, 56, 57, 58, 59, 65, 66, 67]


def _face(gap: float, chin_below: float) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks with a 12 px thick lower lip under a `gap` px opening, and the picture of that face."""
    landmarks = synthetic_landmarks(gap=gap)
    landmarks[[55, 56, 57, 58, 59], 1] += 12.0 + gap / 2.0
    return landmarks, synthetic_face_frame(landmarks, chin_below)


def _moved(source: np.ndarray, drop: float) -> np.ndarray:
    """Target landmarks: lower lip and chin moved down by `drop` px (up when negative), as the engine does."""
    target = source.copy()
    target[LIP, 1] += drop
    target[JAW, 1] += drop * chin_weights(JAW)
    return target


def _edge_row(frame: np.ndarray, column: int, start: int) -> int:
    """First row below `start` in `column` where the lit face gives way to the dark neck."""
    luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)[:, column].astype(float)
    luma = np.convolve(luma, np.ones(3) / 3, mode="same")
    return start + int(np.argmax(luma[start:] < 120))


def test_the_chin_edge_is_found_below_the_tracked_chin():
    landmarks, frame = _face(gap=16.0, chin_below=20.0)
    assert chin_offset(frame, landmarks) == pytest.approx(20.0, abs=2.0)
    _, tight = _face(gap=0.0, chin_below=0.0)
    assert chin_offset(tight, synthetic_landmarks(gap=0.0)) <= 2.0
    assert chin_offset(np.full_like(frame, 128), landmarks) == 0.0  # no edge: trust the tracker


def test_the_search_prefers_the_chin_to_a_collar_further_down():
    landmarks, frame = _face(gap=0.0, chin_below=12.0)
    collar = synthetic_face_frame(landmarks, 30.0)
    darker = (collar.astype(int) - 120).clip(0).astype(np.uint8)
    neck = (frame.mean(axis=2) < 120) & (collar.mean(axis=2) < 120)  # below the 30 px line: a darker collar
    frame[neck] = darker[neck]
    assert chin_offset(frame, landmarks) == pytest.approx(12.0, abs=2.0)


@pytest.mark.parametrize(("gap", "drop", "chin_below"), [(16.0, -16.0, 20.0), (0.0, 16.0, 10.0)])
def test_the_chin_moves_as_a_block_with_the_lower_lip(gap, drop, chin_below):
    source, frame = _face(gap, chin_below)
    target = _moved(source, drop)
    out = render_warp(frame, source, target, activity=0.5)
    column = int(source[8, 0])
    shift = _edge_row(out, column, int(target[57, 1]) + 5) - _edge_row(frame, column, int(source[57, 1]) + 5)
    assert shift == pytest.approx(drop, abs=3.0)  # the real chin edge went with the lip: nothing stretched
    ratio = chin_texture(out, target) / chin_texture(frame, source)
    assert ratio > 0.85  # the skin between lip and chin kept its grain
    outside = polygon_mask(frame.shape[:2], lower_face_polygon(source)) == 0
    assert np.array_equal(out[outside], frame[outside])


def test_an_open_template_keeps_its_own_teeth():
    source, frame = _face(gap=16.0, chin_below=10.0)
    mouth = polygon_mask(frame.shape[:2], source[60:68]) > 0.5
    frame[mouth] = [235, 232, 225]  # the template shows its teeth
    target = _moved(source, -4.0)
    out = render_warp(frame, source, target, activity=1.0)
    opening = mouth & (polygon_mask(frame.shape[:2], target[60:68]) > 0.5)
    inner = cv2.erode(opening.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)  # off the lip edges
    assert inner.sum() > 50
    assert np.abs(out[inner].astype(int) - 235).mean() < 12  # real teeth, not painted ones


def test_measures_tell_a_smeared_chin_and_missing_teeth():
    source, frame = _face(gap=16.0, chin_below=20.0)
    smeared = cv2.GaussianBlur(frame, (0, 0), 2.0)
    assert chin_texture(smeared, source) < 0.3 * chin_texture(frame, source)
    teeth = frame.copy()
    teeth[polygon_mask(frame.shape[:2], source[60:68]) > 0.5] = [235, 232, 225]
    shown, dark = interior(teeth, source), interior(frame, source)
    assert shown.teeth > 0.9 and shown.brightness > 1.5
    assert dark.teeth == 0.0 and dark.brightness < 0.5
    assert interior(frame, synthetic_landmarks(gap=0.0)) is None  # a shut mouth has no interior
    stats = MouthStats()
    for _ in range(48):
        stats.add(frame, teeth, source, source)
    for _ in range(2):
        stats.add(smeared, frame, source, source)
    assert stats.teeth_ratio == pytest.approx(0.0) and stats.interior_ratio < 0.3
    assert stats.chin_median == pytest.approx(1.0, abs=0.05) and stats.chin_low < 0.5  # 2 bad frames in 50 show


def test_mouth_figures_are_reported_flagged_and_set_from_the_settings(monkeypatch):
    values = dict(frames=10, face_fraction=1.0, best_lag=0, sync=0.8, confidence=0.5, template_leak=0.0,
                  psnr_outside=40.0, sharpness_ratio=1.0, mouth_opening=np.zeros(10),
                  mouth_width=np.zeros(10))  # fmt: skip
    good = QualityReport(**values, chin_texture=0.9, chin_texture_low=0.6, teeth_ratio=0.8, interior_ratio=0.9,
                         mouth_flicker=1.2)  # fmt: skip
    assert good.failures(QualityThresholds()) == []
    bad = QualityReport(**values, chin_texture=0.7, chin_texture_low=0.4, teeth_ratio=0.5, interior_ratio=0.6,
                        mouth_flicker=2.5)  # fmt: skip
    text = " | ".join(bad.failures(QualityThresholds()))
    for needle in ("smoothed: texture 0.70", "worst frames it smears: texture 0.40", "teeth share 0.50",
                   "interior brightness 0.60", "flickers: its frame-to-frame jolts are 2.50 times"):  # fmt: skip
        assert needle in text
    assert bad.as_row()["q_chin_texture_low"] == 0.4 and bad.as_row()["q_interior_ratio"] == 0.6
    assert bad.as_row()["q_mouth_flicker"] == 2.5
    monkeypatch.setenv("HEYGEM_QA_MIN_CHIN_TEXTURE_LOW", "0.3")
    monkeypatch.setenv("HEYGEM_QA_MAX_MOUTH_FLICKER", "3")
    assert thresholds_from_settings(Settings()).min_chin_texture_low == 0.3
    assert thresholds_from_settings(Settings()).max_mouth_flicker == 3.0
    assert bad.failures(thresholds_from_settings(Settings())).__len__() == 3
