"""Face crops for image engines (boxes, smoothing, the cache) and pasting generated patches back."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from face_factory import synthetic_landmarks
from media_factory import make_video

from heygem_ops.cache import TemplateCache
from heygem_ops.compose.chunk import compose_frame
from heygem_ops.compose.paste import paste_mask, paste_patch, region_inside
from heygem_ops.engines.base import MouthUpdate
from heygem_ops.face.crops import (
    crop_boxes,
    cut_crop,
    face_boxes,
    load_template_crops,
    smooth_boxes,
    template_crops,
)
from heygem_ops.face.regions import lower_face_polygon, outside_region_mask
from heygem_ops.face.track import FaceTrack
from heygem_ops.media.frames import iter_frames
from heygem_ops.media.probe import probe_video


def track_of(landmarks: np.ndarray, size: tuple[int, int]) -> FaceTrack:
    present = ~np.isnan(landmarks).any(axis=(1, 2))
    boxes = np.zeros((len(landmarks), 4), dtype=np.float32)
    return FaceTrack(landmarks.astype(np.float32), boxes, present.astype(np.float32), size, "mesh")


def test_boxes_cover_brows_to_below_the_chin():
    face = synthetic_landmarks((128, 128), iod=60)
    x0, y0, x1, y1 = face_boxes(face[None])[0]
    assert x0 == pytest.approx(face[:, 0].min()) and x1 == pytest.approx(face[:, 0].max())
    assert y0 < face[17:27, 1].min() and y1 > face[8, 1]


def test_smoothing_averages_within_runs_and_never_across_gaps():
    boxes = np.tile([10.0, 10.0, 50.0, 50.0], (9, 1))
    boxes[2] += 5.0  # one jittery frame
    boxes[5] = np.nan  # the face leaves for a frame
    boxes[6:] += 100.0  # and comes back elsewhere
    smoothed = smooth_boxes(boxes)
    assert smoothed[2, 0] == pytest.approx(11.0)  # 5 px spread over the five-frame window
    assert np.isnan(smoothed[5]).all()
    assert np.allclose(smoothed[6:], boxes[6:])


def test_crop_boxes_are_whole_pixels_inside_the_frame():
    faces = np.stack([synthetic_landmarks((40, 60), iod=50), synthetic_landmarks((40, 60), iod=50)])
    faces = np.concatenate([faces, np.full((1, 68, 2), np.nan, dtype=np.float32)])
    boxes = crop_boxes(track_of(faces, (100, 120)))
    assert np.isnan(boxes[2]).all()
    assert (boxes[:2] >= 0).all() and (boxes[:2, [0, 2]] <= 100).all() and (boxes[:2, [1, 3]] <= 120).all()
    assert np.array_equal(boxes[:2], np.round(boxes[:2]))


def test_template_crops_are_cut_once_and_read_back_by_frame(tmp_path):
    video = probe_video(make_video(tmp_path / "t.mp4", frames=6, fps=Fraction(25), size=(160, 128)))
    faces = np.stack([synthetic_landmarks((80 + i, 64), iod=40) for i in range(6)])
    faces[3] = np.nan
    track, cache = track_of(faces, (160, 128)), TemplateCache(tmp_path / "cache")
    entry, cached = template_crops(cache, "ab" * 16, video, track, "track-mesh-facelargest-v1.npz", 96)
    again, cached_again = template_crops(cache, "ab" * 16, video, track, "track-mesh-facelargest-v1.npz", 96)
    assert (cached, cached_again, again) == (False, True, entry)
    crops = load_template_crops(entry)
    assert np.isnan(crops.boxes[3]).all()
    frames = list(iter_frames(video))
    taken = crops.take(np.array([4, 0, 3, 4]))
    assert taken.shape == (4, 96, 96, 3) and not taken[2].any()
    assert np.array_equal(taken[1], cut_crop(frames[0], crops.boxes[0], 96))
    assert np.array_equal(taken[0], taken[3]) and np.array_equal(taken[0], cut_crop(frames[4], crops.boxes[4], 96))


def face_picture(size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A textured frame, its face landmarks, and the face's crop box."""
    rng = np.random.default_rng(0)
    frame = np.clip(rng.normal(140, 25, (size, size, 3)), 0, 255).astype(np.uint8)
    landmarks = synthetic_landmarks((size / 2, size / 2 - 10), iod=70)
    box = crop_boxes(track_of(landmarks[None], (size, size)))[0]
    return frame, landmarks, box


def test_paste_changes_only_the_lower_face():
    frame, landmarks, box = face_picture()
    patch = np.zeros((96, 96, 3), dtype=np.uint8)
    out = paste_patch(frame, patch, box, landmarks)
    outside = outside_region_mask(landmarks, frame.shape[:2], dilate=0.0)
    assert np.array_equal(out[outside], frame[outside])
    changed = np.abs(out.astype(int) - frame.astype(int)).max(axis=2) > 0
    assert changed.sum() > 1000
    rows = np.flatnonzero(changed.any(axis=1))
    assert rows.min() >= (box[1] + box[3]) / 2  # nothing from the patch's upper (reference) half


def test_paste_matches_colour_and_fades_into_the_template():
    frame, landmarks, box = face_picture()
    x0, y0, x1, y1 = box.astype(int)
    shifted = np.clip(cut_crop(frame, box, 96).astype(int) + 40, 0, 255).astype(np.uint8)  # a patch drawn 40 too bright
    out = paste_patch(frame, shifted, box, landmarks).astype(float)
    mask = paste_mask(region_inside(frame.shape[:2], (x0, y0, x1, y1), lower_face_polygon(landmarks)))
    inside = mask > 0.99
    bias = (out[y0:y1, x0:x1][inside] - frame[y0:y1, x0:x1][inside]).mean()
    assert abs(bias) < 3  # the 40-level colour shift is gone (the 96 px round trip only blurs)
    assert mask.max() == pytest.approx(1.0) and mask[0].max() == mask[:, 0].max() == 0.0


def test_compose_frame_dispatches_patches_to_paste():
    frame, landmarks, box = face_picture()
    patches = np.zeros((2, 96, 96, 3), dtype=np.uint8)
    update = MouthUpdate(present=np.array([True, False]), patches=patches, boxes=np.stack([box, box]))
    assert np.array_equal(compose_frame(frame, landmarks, update, 0), paste_patch(frame, patches[0], box, landmarks))
    assert compose_frame(frame, landmarks, update, 1) is frame
