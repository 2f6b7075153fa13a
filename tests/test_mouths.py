"""The mouth bank: built and cached from a template's frames, one path through it per job, placed on the target lips."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from face_factory import articulation, synthetic_face_frame, synthetic_landmarks

from heygem_ops.cache import TemplateCache
from heygem_ops.face.contours import settle_inner_lips
from heygem_ops.face.regions import outside_region_mask
from heygem_ops.face.track import FaceTrack
from heygem_ops.media.probe import probe_video
from heygem_ops.mouths import bank as banks
from heygem_ops.mouths.bank import MouthBank, head_pose, load_bank, template_bank
from heygem_ops.mouths.place import place_mouth
from heygem_ops.mouths.select import FADE_FRAMES, MouthPath, choose_path, mouth_targets

FRAMES = 60
GAPS = 20.0 * (0.5 - 0.5 * np.cos(np.arange(FRAMES) * 2 * np.pi / 15))  # px: the mouth opens and closes every 15 frames


def _clip(folder: Path, gaps: np.ndarray) -> tuple[Path, FaceTrack]:
    """A 25 fps clip of the synthetic face whose inner lips part `gaps` px frame by frame, and its exact track."""
    path = folder / "talking.mp4"
    rows = [
        synthetic_landmarks(centre=(256.0 + 0.5 * np.sin(i), 240.0), iod=100.0, gap=float(gap))
        for i, gap in enumerate(gaps)
    ]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(25), options={"preset": "ultrafast", "crf": "12"})
        stream.width = stream.height = 512
        stream.pix_fmt = "yuv420p"
        for index, landmarks in enumerate(rows):
            frame = synthetic_face_frame(landmarks, chin_below=20.0, seed=index % 3)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    landmarks = np.stack(rows)
    boxes = np.concatenate([landmarks.min(axis=1), landmarks.max(axis=1)], axis=1)
    return path, FaceTrack(landmarks, boxes, np.ones(len(gaps), np.float32), (512, 512), "mesh")


@pytest.fixture
def template(tmp_path: Path) -> tuple[Path, FaceTrack]:
    """A 60-frame talking clip of the synthetic face: its mouth opens to 0.2 iod and shuts every 15 frames."""
    return _clip(tmp_path, GAPS)


def _bank(tmp_path: Path, template: tuple[Path, FaceTrack]) -> tuple[MouthBank, bool, Path]:
    path, track = template
    entry, cached = template_bank(TemplateCache(tmp_path / "cache"), "ab" * 32, probe_video(path), track, "t.npz")
    return load_bank(entry), cached, entry


def test_bank_is_built_once_and_read_back_whole(tmp_path, template):
    bank, cached, entry = _bank(tmp_path, template)
    assert not cached and bank.reason == "" and bank.size == FRAMES
    assert bank.usable.sum() >= FRAMES - 4  # every plausible, sharp frame inside the picture
    assert np.corrcoef(bank.gap[bank.usable], GAPS[bank.usable])[0, 1] > 0.99  # its shape, in interocular units
    assert abs(float(np.median(bank.width)) - 0.8) < 0.05
    frame = int(np.flatnonzero(bank.usable & (GAPS > 15))[0])
    crop = bank.crop(frame)
    assert crop.shape == (bank.layout.height, bank.layout.width, 3)
    inner = bank.landmarks[frame][60:68].mean(axis=0).round().astype(int)  # the open mouth is dark in the crop
    assert crop[inner[1], inner[0]].mean() < 60 and crop[5, 5].mean() > 120  # ...its corner is skin
    again, cached, _ = _bank(tmp_path, template)
    assert cached and np.array_equal(again.offsets, bank.offsets) and np.array_equal(again.crop(frame), crop)
    assert entry.with_suffix(".jpgs").stat().st_size == bank.offsets[-1]
    per_frame = bank.offsets[-1] / bank.usable.sum()
    assert per_frame < 0.25 * bank.layout.width * bank.layout.height * 3  # JPEG: a fraction of the raw crop


def test_a_damaged_crops_file_is_rebuilt(tmp_path, template):
    _, _, entry = _bank(tmp_path, template)
    entry.with_suffix(".jpgs").write_bytes(b"short")
    bank, cached, _ = _bank(tmp_path, template)
    assert not cached and bank.offsets[-1] == entry.with_suffix(".jpgs").stat().st_size


def test_a_template_that_never_opens_its_mouth_gives_no_bank(tmp_path):
    bank, _, _ = _bank(tmp_path, _clip(tmp_path, np.zeros(FRAMES)))
    assert bank.reason == "the mouth never opens" and bank.usable.sum() >= FRAMES - 4


def test_implausible_frames_are_not_usable(tmp_path, template):
    path, track = template
    landmarks = track.landmarks.copy()
    landmarks[20, 48:68] += np.array([0.0, 30.0], np.float32)  # a tracking glitch: the lips jump away for one frame
    landmarks[30] = landmarks[30] * 1.4 - 100  # ...and a frame whose scale jumps
    bank, _, _ = _bank(tmp_path, (path, FaceTrack(landmarks, track.boxes, track.confidence, track.size, "mesh")))
    assert not bank.usable[20] and not bank.usable[30] and bank.usable[[19, 21, 29, 31]].all()


def _toy_bank(gaps: np.ndarray, poses: np.ndarray | None = None) -> MouthBank:
    count = len(gaps)
    zeros = np.zeros(count, np.float32)
    pose = np.zeros((count, 2), np.float32) if poses is None else poses.astype(np.float32)
    layout = banks.CropLayout(np.zeros(2), 1.0, 1, 1)
    return MouthBank(
        Path("none"), np.ones(count, bool), np.zeros((count, 68, 2), np.float32), gaps.astype(np.float32),
        np.full(count, 0.8, np.float32), zeros, pose, np.zeros((count, 3), np.float32), np.zeros((8, 2)), layout,
        np.zeros(count + 1, np.int64),
    )  # fmt: skip


def test_the_path_matches_the_targets_and_prefers_continuity():
    gaps = 0.1 * (0.5 - 0.5 * np.cos(np.arange(200) * 2 * np.pi / 40))  # a bank that opens and closes every 40 frames
    bank = _toy_bank(gaps)
    wanted = np.r_[np.full(30, 0.0), np.linspace(0.0, 0.1, 20), np.full(30, 0.1), np.linspace(0.1, 0.0, 20)]
    path = choose_path(bank, wanted, np.full(100, 0.8), np.arange(100))
    assert np.abs(gaps[path.entries] - wanted).mean() < 0.01  # the shapes asked for...
    steps = np.diff(path.entries)
    assert (np.abs(steps) <= 1).mean() > 0.9  # ...mostly by playing the template on (or holding, or back)
    jumps = np.flatnonzero(np.abs(steps) > 1) + 1
    for t in jumps[jumps < 100 - FADE_FRAMES]:  # every switch cross-fades out of the old run
        assert path.fade_from[t] >= 0 and path.fade[t] > path.fade[t + 1] > 0
    single = choose_path(bank, wanted, np.full(100, 0.8), np.arange(100))
    assert np.array_equal(single.entries, path.entries)  # deterministic


def test_a_brief_closure_shows_a_closed_mouth():
    gaps = np.r_[np.full(40, 0.04), np.full(10, 0.0)]  # a template mostly half open, closed at its end
    wanted = np.r_[np.full(15, 0.04), np.zeros(2), np.full(15, 0.04)]  # a 2-frame P in the middle
    closure = np.r_[np.zeros(15), np.ones(2), np.zeros(15)].astype(np.float32)
    unweighted = choose_path(_toy_bank(gaps), wanted, np.full(32, 0.8), np.arange(32))
    assert (gaps[unweighted.entries[15:17]] > 0).all()  # two jumps cost more than two frames of a poor match...
    weighted = choose_path(_toy_bank(gaps), wanted, np.full(32, 0.8), np.arange(32), closure)
    assert (gaps[weighted.entries[15:17]] == 0).all()  # ...unless the lips must close there: then it goes shut
    assert (gaps[weighted.entries[:15]] == 0.04).all()


def test_the_path_prefers_the_shown_head_pose():
    gaps = np.zeros(40)
    poses = np.zeros((40, 2))
    poses[20:, 0] = 0.2  # the second half of the template looks aside
    path = choose_path(_toy_bank(gaps, poses), np.zeros(30), np.full(30, 0.8), np.full(30, 25))  # shown: aside
    assert (path.entries >= 20).all()
    cut = np.r_[np.full(15, 5), np.full(15, 25)]  # the template cuts to the view aside: so does the mouth, no fade
    path = choose_path(_toy_bank(gaps, poses), np.zeros(30), np.full(30, 0.8), cut)
    assert (path.entries[:15] < 20).all() and (path.entries[15:] >= 20).all() and (path.fade_from < 0).all()


def test_chunks_take_slices_of_one_job_path():
    bank = _toy_bank(0.1 * (0.5 - 0.5 * np.cos(np.arange(100) * 2 * np.pi / 25)))
    gap, width, closure = mouth_targets(articulation(np.abs(np.sin(np.arange(120) / 5.0)).astype(np.float32)), 0.8)
    path = choose_path(bank, gap, width, np.arange(120) % 100, closure)
    first, second = path.window(0, 60), path.window(60, 120)
    assert np.array_equal(np.r_[first.entries, second.entries], path.entries)
    assert first.shown(59) == path.shown(59) and second.shown(0) == path.shown(60)
    fading = MouthPath(np.array([3]), np.array([7]), np.array([0.25], np.float32))
    assert fading.shown(0) == [(3, 0.75), (7, 0.25)]


def test_placement_puts_the_banked_lips_on_the_target_and_changes_nothing_outside(tmp_path, template):
    bank, _, _ = _bank(tmp_path, template)
    track = template[1]
    shown = 0  # the template frame shown has its mouth shut...
    frame = synthetic_face_frame(track.landmarks[shown], chin_below=20.0)
    target = settle_inner_lips(synthetic_landmarks(centre=(256.0, 240.0), iod=100.0, gap=16.0))  # ...the target is
    # open, settled as the warp engine makes its targets
    entry = int(np.argmin(np.where(bank.usable, np.abs(GAPS - 16.0), np.inf)))
    out = place_mouth(frame.copy(), track.landmarks[shown], target, bank, [(entry, 1.0)])
    outside = outside_region_mask(track.landmarks[shown], frame.shape[:2], dilate=0.0)
    assert np.array_equal(out[outside], frame[outside])
    inside = ((target[62] + target[66]) / 2 + [0, 4]).round().astype(int)  # the open banked mouth lands between
    assert out[inside[1], inside[0]].mean() < 70 < frame[inside[1], inside[0]].mean()  # the target lips
    lip = np.round(target[51] + [0, 2]).astype(int)  # and its upper lip on the target's upper lip
    assert out[lip[1], lip[0], 0] > 1.5 * out[lip[1], lip[0], 1]


def test_a_shut_target_presses_a_slightly_open_banked_mouth_shut(tmp_path, template):
    """A P, B or M: the chosen crop may be open a little (the template seldom shuts its lips exactly where the
    bank's pose and light match best); its lips are pressed together onto the target's, not left apart."""
    bank, _, _ = _bank(tmp_path, template)
    track = template[1]
    frame = synthetic_face_frame(track.landmarks[0], chin_below=20.0)
    target = synthetic_landmarks(centre=(256.0, 240.0), iod=100.0, gap=0.0)
    entry = int(np.argmin(np.where(bank.usable, np.abs(GAPS - 4.0), np.inf)))  # 4 px of 20: slightly open
    out = place_mouth(frame.copy(), track.landmarks[0], target, bank, [(entry, 1.0)])
    middle = np.round((target[62] + target[66]) / 2).astype(int)
    grey = out[middle[1] - 8 : middle[1] + 9, middle[0]].mean(axis=1)  # down the middle, 8 px either side
    assert (grey < 70).sum() <= 1  # no dark opening between the lips (4-5 px of it before): their meeting line
    assert grey.max() < 140  # and lip all round it (the skin is ~170): the lips were moved, not thinned


def test_head_pose_reads_a_turned_head():
    face = synthetic_landmarks()
    turned = face.copy()
    turned[27:36, 0] += 15.0  # the nose moves across as the head turns
    yaw, pitch = head_pose(np.stack([face, turned])).T
    assert yaw[1] - yaw[0] == pytest.approx(0.15, abs=1e-3) and pitch[0] == pytest.approx(pitch[1])


def test_a_switch_fades_between_like_mouths_and_cuts_between_unlike_ones():
    from heygem_ops.mouths.select import _with_fades

    bank = _toy_bank(np.r_[np.zeros(10), np.full(10, 0.1)])
    shown = np.zeros(8, dtype=np.int64)
    alike = _with_fades(bank, np.array([0, 1, 2, 3, 7, 8, 9, 9]), shown)  # shut to shut: fades
    assert list(alike.fade_from[4:7]) == [4, 5, 6] and alike.fade[4] > alike.fade[5] > alike.fade[6] > 0
    unlike = _with_fades(bank, np.array([0, 1, 2, 3, 15, 16, 17, 18]), shown)  # shut to open: cuts
    assert (unlike.fade_from < 0).all()


def test_the_mouth_mode_is_a_setting_and_a_job_option(monkeypatch):
    from heygem_ops.errors import InputError
    from heygem_ops.options import GenerateOptions
    from heygem_ops.plan import job_identity
    from heygem_ops.settings import get_settings

    with pytest.raises(InputError, match="mouths='nope'"):
        GenerateOptions(mouths="nope")
    monkeypatch.setenv("HEYGEM_MOUTHS", "warp")
    get_settings.cache_clear()
    assert GenerateOptions.from_settings().mouths == "warp"
    assert GenerateOptions().mouths == "auto"  # the default draws banked mouths where the template has them
    ids = {job_identity("t", "a", GenerateOptions(mouths=mode)) for mode in ("auto", "bank", "warp")}
    assert len(ids) == 3  # each mode is its own output


@pytest.mark.media
def test_a_still_portrait_keeps_the_warp_and_refuses_a_forced_bank(media_dir, tmp_path, caplog):
    from face_clips import make_speech

    from heygem_ops import generate
    from heygem_ops.errors import InputError
    from heygem_ops.options import GenerateOptions

    portrait, speech = media_dir / "sadtalker_people_0.png", make_speech(tmp_path / "s.wav", 0.6)
    with pytest.raises(InputError, match="gives no mouths to bank: a still picture"):
        generate(portrait, speech, tmp_path / "bank.mp4", GenerateOptions.from_settings(mouths="bank", qa=False))
    caplog.set_level("INFO")
    options = GenerateOptions.from_settings(qa=False)
    assert generate(portrait, speech, tmp_path / "auto.mp4", options).succeeded
    assert "are warped: a still picture" in caplog.text  # auto: the warp
