import cv2
import numpy as np
import pytest
from face_factory import articulation, synthetic_landmarks

from heygem_ops.audio import AudioFeatures
from heygem_ops.compose.spline import thin_plate
from heygem_ops.compose.warp import _box, _warp_offsets, chin_block, render_warp
from heygem_ops.engines.base import InferenceBatch
from heygem_ops.engines.registry import available_engines, create_engine
from heygem_ops.engines.warp import OPEN_MAX, PRESS, WarpEngine, target_landmarks
from heygem_ops.errors import InputError
from heygem_ops.face.contours import LOWER_LIP_LAG, lip_curve, settle_inner_lips
from heygem_ops.face.landmarks import lip_gap, mouth_opening, mouth_width
from heygem_ops.face.regions import lower_face_polygon, polygon_mask


def _targets(gap: float, jaw: float, spread: float = 0.0, closure: float = 0.0, teeth: float = 0.0) -> np.ndarray:
    source = synthetic_landmarks(gap=gap)[None]
    return target_landmarks(source, articulation(jaw, spread, closure, teeth), mouth_width=0.8)[0]


@pytest.mark.parametrize("template_gap", [0.0, 8.0, 20.0])
def test_opening_follows_the_articulation_not_the_template(template_gap):
    assert mouth_opening(_targets(template_gap, 0.0)) == pytest.approx(0.0, abs=1e-4)
    assert mouth_opening(_targets(template_gap, 1.0)) == pytest.approx(OPEN_MAX, rel=1e-3)


@pytest.mark.parametrize("template_gap", [0.0, 20.0])
def test_closure_presses_the_lips_together_however_open_the_jaw_asks(template_gap):
    target = _targets(template_gap, 1.0, closure=1.0)
    signed_gap = (target[66, 1] - target[62, 1]) / 100.0  # synthetic faces: upright, 100 px between the eyes
    assert signed_gap == pytest.approx(-PRESS, abs=1e-4)


def test_rounding_narrows_and_spreading_widens():
    rounded, neutral, spread = (mouth_width(_targets(0.0, 0.4, spread=s)) for s in (-1.0, 0.0, 1.0))
    assert rounded < 0.8 * neutral < 0.8 * spread
    assert mouth_width(_targets(0.0, 1.0, spread=1.0)) > mouth_width(_targets(0.0, 1.0, spread=-1.0)) + 0.2


def test_rounded_lips_pout_and_open_as_an_ellipse():
    source = synthetic_landmarks(gap=0.0)
    rounded, plain = _targets(0.0, 0.5, spread=-1.0), _targets(0.0, 0.5)
    assert rounded[57, 1] - rounded[51, 1] > plain[57, 1] - plain[51, 1] + 1.0  # outer lips pushed apart
    assert rounded[51, 1] < source[51, 1]


def test_labiodental_tucks_the_lower_lip_under_the_teeth():
    source = synthetic_landmarks(gap=0.0)
    tucked = _targets(0.0, 0.6, teeth=1.0)
    lower_lip = tucked[57, 1] - tucked[66, 1]
    assert lower_lip < 0.8 * (source[57, 1] - source[66, 1])  # less of the lower lip shows
    assert mouth_opening(tucked) < 0.2 * mouth_opening(_targets(0.0, 0.6))


def test_only_lips_and_jaw_move():
    source = synthetic_landmarks(gap=5.0)
    moved = np.abs(_targets(5.0, 1.0) - source).max(axis=1) > 1e-3
    assert not moved[17:48].any()  # brows, nose, eyes stay
    assert moved[48:68].any() and moved[8]  # lips and chin move


def test_engine_passes_faceless_frames_through():
    landmarks = np.stack([synthetic_landmarks(), np.full((68, 2), np.nan, np.float32)])
    features = AudioFeatures(np.zeros(2, np.float32), np.array([1.0, 1.0], np.float32), np.full(2, 0.5, np.float32))
    update = WarpEngine()(
        InferenceBatch(landmarks, features, mouth_width=0.8, articulation=articulation(1.0, frames=2))
    )
    assert update.present.tolist() == [True, False]
    assert np.isnan(update.landmarks[1]).all()


def test_registry_lists_and_rejects_names():
    assert "warp" in available_engines()
    with pytest.raises(InputError, match="choose one of"):
        create_engine("nope", device=None)


def _textured_frame(size: int = 512) -> np.ndarray:
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:size, 0:size]
    base = np.stack(
        [120 + 60 * np.sin(xs / 17.0), 110 + 50 * np.cos(ys / 13.0), 100 + 40 * np.sin((xs + ys) / 29.0)], -1
    )
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def test_render_changes_nothing_outside_the_lower_face():
    frame, source = _textured_frame(), synthetic_landmarks(gap=2.0)
    target = _targets(2.0, 1.0, 0.8)
    out = render_warp(frame, source, target, activity=1.0)
    outside = polygon_mask(frame.shape[:2], lower_face_polygon(source)) == 0
    assert np.array_equal(out[outside], frame[outside])
    assert np.abs(out.astype(int) - frame).sum() > 0


def test_render_paints_a_dark_mouth_with_teeth_when_open():
    frame, source = _textured_frame(), synthetic_landmarks(gap=0.0)
    target = _targets(0.0, 1.0)
    out = render_warp(frame, source, target, activity=1.0)
    mouth = polygon_mask(frame.shape[:2], target[60:68]) > 0.99
    assert mouth.sum() > 100
    luma = out[mouth].astype(float) @ [0.299, 0.587, 0.114]
    skin = float(np.median(frame.reshape(-1, 3) @ [0.299, 0.587, 0.114]))
    assert luma.min() < 0.5 * skin  # a dark cavity
    assert luma.max() > 1.1 * skin  # teeth brighter than the skin around them


def test_open_mouth_is_a_rounded_arc_not_a_diamond():
    target = _targets(0.0, 1.0)
    lower = lip_curve(target[[60, 67, 66, 65, 64]], 16)
    centre, half = (target[60] + target[64]) / 2, (target[64, 0] - target[60, 0]) / 2
    t, depth = (lower[:, 0] - centre[0]) / half, lower[:, 1] - centre[1]
    middle = depth[np.argmin(np.abs(t))]
    halfway = depth[np.argmin(np.abs(t - 0.7))]
    assert halfway > 0.6 * middle  # a diamond (straight from the corner) would give 0.3


def test_painted_interior_follows_the_pictures_blur():
    source = synthetic_landmarks(gap=0.0)
    target = _targets(0.0, 1.0)
    sharp_frame = _textured_frame()
    soft_frame = cv2.GaussianBlur(sharp_frame, (0, 0), 3.0)
    mouth = polygon_mask(sharp_frame.shape[:2], target[60:68]) > 0.99
    sharpness = []
    for frame in (sharp_frame, soft_frame):
        grey = cv2.cvtColor(render_warp(frame, source, target, 1.0), cv2.COLOR_RGB2GRAY).astype(np.float32)
        sharpness.append(np.abs(cv2.Laplacian(grey, cv2.CV_32F))[mouth].mean())
    assert sharpness[1] < 0.7 * sharpness[0]


def test_cheeks_stretch_without_tearing_when_the_jaw_drops():
    source = synthetic_landmarks(gap=0.0)
    target = source.copy()
    target[3:14, 1] += 25.0  # a big jaw drop; the lower lip goes with it, the upper lip stays
    target[[55, 56, 57, 58, 59, 65, 66, 67], 1] += 20.0
    region = lower_face_polygon(source)
    box = _box(region, 512, 512)
    inside = polygon_mask(box.shape, region - box.origin) > 0
    vertical = _warp_offsets(source, target, region, box, 100.0, inside, chin_block(source, target, 0.0, 100.0))[1]
    x, top = float(target[48, 0] - box.x0), int(target[48, 1] - box.y0) - 20
    beside = vertical[top : top + 40, int(x) - 50 : int(x) - 15]  # cheek beside the left corner
    assert np.abs(np.diff(beside, axis=0)).max() < 2.0  # px per px: a stretch; a tear jumps by most of the drop


def test_thin_plate_reproduces_its_centres_and_affine_maps():
    rng = np.random.default_rng(1)
    centres = rng.uniform(-1, 1, (30, 2))
    values = rng.normal(0, 0.1, (30, 2))
    assert np.allclose(thin_plate(centres, values, centres, 0.0), values, atol=1e-4)
    affine = centres @ np.array([[0.3, -0.1], [0.2, 0.5]]) + 0.05
    points = rng.uniform(-1, 1, (50, 2))
    expected = points @ np.array([[0.3, -0.1], [0.2, 0.5]]) + 0.05
    assert np.allclose(thin_plate(centres, affine, points, 1e-4), expected, atol=1e-4)


def test_settled_lower_lip_moves_down_by_a_share_of_the_gap():
    open_lips = synthetic_landmarks(gap=20.0)
    settled = settle_inner_lips(open_lips)
    assert np.allclose(settled[66] - open_lips[66], [0.0, LOWER_LIP_LAG * 20.0], atol=1e-3)
    assert np.array_equal(np.delete(settled, [65, 66, 67], axis=0), np.delete(open_lips, [65, 66, 67], axis=0))
    closed = synthetic_landmarks(gap=0.0)
    assert np.array_equal(settle_inner_lips(closed), closed)


def test_lip_gap_reads_crossed_lips_as_closed_and_turns_with_the_face():
    open_lips = synthetic_landmarks(gap=12.0)
    assert np.isclose(lip_gap(open_lips), mouth_opening(open_lips), atol=1e-6)  # upright: the same 0.12
    crossed = synthetic_landmarks(gap=-4.0)  # pressed lips, read with the lower inner lip above the upper
    assert lip_gap(crossed) == 0.0 and mouth_opening(crossed) > 0.03
    angle = np.radians(25.0)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    turned = (open_lips - 256.0) @ turn.T * 1.7 + 300.0  # rotated, scaled and moved
    assert np.isclose(lip_gap(turned), lip_gap(open_lips), atol=1e-5)


def test_closed_target_leaves_the_mouth_closed():
    frame, source = _textured_frame(), synthetic_landmarks(gap=0.0)
    out = render_warp(frame, source, _targets(0.0, 0.0), activity=0.0)
    assert np.abs(out.astype(int) - frame).max() < 40  # only the small width change, no hole


def test_wider_jaw_opens_wider_and_shows_more_interior():
    landmarks = np.repeat(synthetic_landmarks()[None], 3, axis=0)
    jaw = np.array([0.0, 0.5, 1.0], np.float32)
    batch = InferenceBatch(landmarks, AudioFeatures(jaw, jaw, jaw), 0.8, articulation=articulation(jaw))
    update = WarpEngine()(batch)
    assert np.all(np.diff(mouth_opening(update.landmarks)) > 0)
    assert np.all(np.diff(update.activity) > 0)


def test_engine_refuses_a_batch_without_articulation():
    landmarks = synthetic_landmarks()[None]
    features = AudioFeatures(np.zeros(1, np.float32), np.ones(1, np.float32), np.ones(1, np.float32))
    with pytest.raises(ValueError, match="articulation"):
        WarpEngine()(InferenceBatch(landmarks, features, mouth_width=0.8))


def test_closing_a_hanging_lower_lip_lifts_its_sides_too():
    """A wide-open template's lower lip hangs lowest in the middle but also at its sides: closing the
    mouth must lift the sides (55, 59) as well, or they hang in a W under the closed lips."""
    source = synthetic_landmarks().astype(np.float64)
    lower = [55, 56, 57, 58, 59, 65, 66, 67]
    source[lower, 1] += np.array([0.6, 0.9, 1.0, 0.9, 0.6, 0.9, 1.0, 0.9]) * 25.0  # dropped lower lip
    source = source.astype(np.float32)
    target = target_landmarks(source[None], articulation(0.0, closure=1.0), mouth_width=0.8)[0]
    rise = source[:, 1] - target[:, 1]
    assert rise[66] > 20.0  # the middle closes
    assert min(rise[55], rise[59]) > 0.05 * rise[57]  # and the sides follow (pivoting alone left them at 0)
    assert min(rise[56], rise[58]) >= 0.9 * min(rise[65], rise[67])  # near the middle the lip keeps its thickness
