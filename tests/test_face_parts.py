"""The mesh tracker's parts, without real media: anchors, decoding, tiling, face choice, mapping,
smoothing, options, and frames that hold no face."""

from __future__ import annotations

import math

import numpy as np
import pytest

from heygem_ops.errors import InputError
from heygem_ops.face.blazeface import (
    VARIANTS,
    Detection,
    decode,
    drop_duplicates,
    make_anchors,
    tiles,
    weighted_nms,
)
from heygem_ops.face.facemesh import INPUT_SIZE, roi_from_landmarks
from heygem_ops.face.mesh68 import JAW_CONTOUR_LEFT, JAW_CONTOUR_RIGHT, MESH_TO_68_FACE, mesh_to_68
from heygem_ops.face.select import parse_face_choice, pick_face
from heygem_ops.face.tracking import MeshTracker, OneEuroFilter, TrackerOptions

# MediaPipe's lip contours (FACTS.md)
OUTER_LIP = {61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185}
INNER_LIP = {78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191}


@pytest.fixture(scope="module")
def tracker() -> MeshTracker:
    return MeshTracker()


@pytest.mark.parametrize(("variant", "count"), [("full", 2304), ("short", 896)])
def test_anchor_count_matches_model_output(variant: str, count: int) -> None:
    spec = VARIANTS[variant]
    anchors = make_anchors(spec.input_size, spec.anchor_layers)
    assert anchors.shape == (count, 2)
    assert anchors.min() > 0 and anchors.max() < 1


def test_decode_places_box_on_its_anchor() -> None:
    anchors = make_anchors(192, ((4, 1),))
    raw = np.zeros((len(anchors), 16), dtype=np.float32)
    raw[100, 2:4] = 40.0  # a 40 x 40 px box centred on anchor 100
    raw[100, 4:6] = (-10.0, -5.0)  # first keypoint offset
    scores = np.full(len(anchors), -10.0, dtype=np.float32)
    scores[100] = 5.0
    boxes, keypoints, found = decode(raw, scores, anchors, 192)
    centre = anchors[100] * 192
    np.testing.assert_allclose(boxes[0], [*(centre - 20), *(centre + 20)], atol=1e-4)
    np.testing.assert_allclose(keypoints[0, 0], centre + np.array([-10.0, -5.0]), atol=1e-4)
    assert found.shape == (1,) and found[0] > 0.99


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], dtype=np.float32)
    keypoints = np.zeros((3, 6, 2), dtype=np.float32)
    faces = weighted_nms(boxes, keypoints, np.array([0.9, 0.6, 0.8], dtype=np.float32))
    assert len(faces) == 2
    assert faces[0].score == pytest.approx(0.9)
    assert 0 < faces[0].box[0] < 1  # pulled towards the weaker overlapping box


def test_tiles_cover_wide_and_tall_frames_with_overlap() -> None:
    assert tiles(512, 512) == []
    wide = tiles(1920, 1080)
    assert wide == [(0, 0, 1080), (840, 0, 1080)]
    assert [t[1] for t in tiles(1080, 1920)] == [0, 840]
    big = tiles(3840, 2160)
    assert {t[2] for t in big} == {1080}
    assert max(t[0] for t in big) + 1080 == 3840 and max(t[1] for t in big) + 1080 == 2160


def test_drop_duplicates_removes_a_cut_copy_of_a_face() -> None:
    keypoints = np.zeros((6, 2), dtype=np.float32)
    whole = Detection(np.array([100, 100, 200, 200], np.float32), keypoints, 0.9)
    cut = Detection(np.array([150, 100, 200, 200], np.float32), keypoints, 0.7)
    other = Detection(np.array([400, 100, 500, 200], np.float32), keypoints, 0.6)
    assert drop_duplicates([whole, cut, other]) == [whole, other]


def test_pick_face_rules() -> None:
    boxes = np.array([[0, 0, 50, 50], [300, 200, 400, 300], [600, 0, 620, 20]], dtype=np.float32)
    size = (700, 500)
    assert pick_face(boxes, size, "largest", None) == 1
    assert pick_face(boxes, size, 0, None) == 1
    assert pick_face(boxes, size, 1, None) == 0
    assert pick_face(boxes, size, 3, None) is None
    assert pick_face(boxes, size, "center", None) == 1
    assert pick_face(boxes, size, "largest", np.array([590, 0, 630, 30])) == 2  # same person wins
    assert pick_face(np.zeros((0, 4)), size, "largest", None) is None


def test_bad_options_name_the_field() -> None:
    assert parse_face_choice("2") == 2
    with pytest.raises(InputError, match="largest"):
        TrackerOptions(face="biggest")
    with pytest.raises(InputError, match="detect_every"):
        TrackerOptions(detect_every=-1)
    with pytest.raises(InputError, match="smoothing"):
        TrackerOptions(smoothing=-0.5)


def test_mapping_uses_exact_mediapipe_lip_and_eye_points() -> None:
    table = MESH_TO_68_FACE  # iBUG 17..67
    assert len(table) + 17 == 68
    outer, inner = table[48 - 17 : 60 - 17], table[60 - 17 :]
    assert set(outer) <= OUTER_LIP and set(inner) <= INNER_LIP
    assert (outer[0], outer[6], outer[3], outer[9]) == (61, 291, 0, 17)
    assert (inner[0], inner[2], inner[4], inner[6]) == (78, 13, 308, 14)
    assert (table[36 - 17], table[45 - 17]) == (33, 263)
    assert JAW_CONTOUR_LEFT[-1] == JAW_CONTOUR_RIGHT[0] == 152


def test_mesh_to_68_places_jaw_ends_and_chin_on_mesh_vertices() -> None:
    points = np.random.default_rng(0).uniform(0, 100, (468, 3)).astype(np.float32)
    landmarks = mesh_to_68(points)
    assert landmarks.shape == (68, 2) and landmarks.dtype == np.float32
    np.testing.assert_allclose(landmarks[[0, 8, 16]], points[[127, 152, 356], :2], atol=1e-4)
    np.testing.assert_allclose(landmarks[48:], points[MESH_TO_68_FACE[31:], :2])


def test_roi_from_landmarks_follows_roll_and_maps_its_centre() -> None:
    angle = math.radians(20)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    square = np.random.default_rng(1).uniform(-50, 50, (468, 2))
    square[33], square[263] = (-40, 0), (40, 0)
    points = square @ rotation.T + (300, 200)
    roi = roi_from_landmarks(points)
    assert roi.angle == pytest.approx(angle)
    assert roi.size == pytest.approx(1.5 * np.ptp(square, axis=0).max(), rel=1e-6)
    crop_centre = [INPUT_SIZE / 2 - 0.5, INPUT_SIZE / 2 - 0.5, 1.0]  # pixel-index coordinates
    np.testing.assert_allclose(roi.crop_to_frame() @ crop_centre, roi.centre, atol=1e-6)


def test_one_euro_is_still_on_noise_and_quick_on_a_jump() -> None:
    rng = np.random.default_rng(2)
    smoother = OneEuroFilter(time_constant=3.0)
    base = rng.uniform(0, 100, (68, 2))
    still = [smoother(base + rng.normal(0, 0.3, base.shape), scale=100.0) for _ in range(50)]
    assert np.std(np.diff(still[10:], axis=0)) < 0.5 * 0.3 * math.sqrt(2)
    jumped = smoother(base + 20.0, scale=100.0)  # a jump of 0.2 interocular in one frame
    assert np.mean(jumped - base) > 0.85 * 20.0


@pytest.mark.parametrize("kind", ["noise", "flat"])
def test_frames_without_a_face_give_zero_confidence_and_nan(tracker: MeshTracker, kind: str) -> None:
    rng = np.random.default_rng(3)
    frame = (
        rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
        if kind == "noise"
        else np.full((360, 640, 3), 128, dtype=np.uint8)
    )
    done: list[int] = []
    track = tracker.track([frame] * 3, progress=done.append)
    assert done == [1, 1, 1]  # one more frame each time: what a progress board counter adds up
    assert track.size == (640, 360) and track.backend == "mesh"
    assert np.all(track.confidence == 0)
    assert np.isnan(track.landmarks).all() and np.isnan(track.boxes).all()
    assert tracker.landmarks_one(frame) is None


def test_no_frames_give_an_empty_track(tracker: MeshTracker) -> None:
    track = tracker.track(iter([]))
    assert track.frame_count == 0 and track.landmarks.shape == (0, 68, 2)
