"""The `fan` tracker (face-alignment's S3FD + 2DFAN4) with random-weight files in a temporary torch hub.

The files are written in the formats face-alignment 1.5 loads: plain state dicts saved with
`torch.save` (`s3fd-619a316812.pth`, `2DFAN4-11f355bf06.pth.tar`). The detector's classification
heads are set so that it finds a face whatever the backbone's random weights say; the landmark
network stays random, so only shapes and plumbing are checked, plus the crop/heatmap geometry,
which needs no weights at all.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from face_alignment.detection.sfd.net_s3fd import s3fd
from face_alignment.models import FAN

from heygem_ops.errors import CheckpointError
from heygem_ops.face.fan import (
    DETECTOR_FILE,
    HEATMAP,
    LANDMARKS_FILE,
    Roi,
    crop_matrix,
    decode_heatmaps,
    find_weights,
    roi_from_box,
)
from heygem_ops.face.trackers import create_tracker
from heygem_ops.media.frames import iter_frames
from heygem_ops.media.probe import probe_video


def detector_state() -> dict[str, torch.Tensor]:
    """S3FD weights that are random except for the heads: every position of the 64-px-stride head says "face"."""
    torch.manual_seed(0)
    state = s3fd().state_dict()
    for key, value in state.items():
        if "mbox" in key:
            value.zero_()
        if "mbox_conf" in key and key.endswith("bias"):
            face = key.startswith("conv6_2")
            value[-1 if face else 0] = 10.0  # logits (background..., face); conv3_3 has three background maps
    return state


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Path:
    """A TORCH_HOME whose hub cache holds both weight files, with random weights."""
    home = tmp_path_factory.mktemp("torch")
    folder = home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(detector_state(), folder / DETECTOR_FILE)
    torch.manual_seed(1)
    torch.save(FAN(4).state_dict(), folder / LANDMARKS_FILE)
    return home


def small_frames(media_dir: Path, count: int) -> list[np.ndarray]:
    """The first frames of a real talking-head clip, at 256 x 256 so that S3FD is quick on a CPU."""
    video = probe_video(media_dir / "sadtalker_WDA_KatieHill_000.mp4")
    return [cv2.resize(frame, (256, 256), interpolation=cv2.INTER_AREA) for frame in iter_frames(video, 0, count)]


@pytest.mark.media
def test_fan_tracks_a_real_frame_with_weights_from_the_torch_hub(media_dir, hub, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(hub))
    tracker = create_tracker("fan")
    track = tracker.track(small_frames(media_dir, 2))
    assert track.backend == "fan" and track.size == (256, 256)
    assert track.landmarks.shape == (2, 68, 2) and np.isfinite(track.landmarks).all()
    assert (track.confidence > 0).all() and np.isfinite(track.boxes).all()


def test_missing_weights_name_every_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(CheckpointError) as error:
        create_tracker("fan")
    message = str(error.value)
    assert DETECTOR_FILE in message and LANDMARKS_FILE in message
    assert str(tmp_path / "hub" / "checkpoints") in message and "mesh" in message


def test_a_given_folder_is_searched_before_the_hub(tmp_path, hub, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(hub))
    mine = tmp_path / "weights"
    mine.mkdir()
    (mine / LANDMARKS_FILE).symlink_to(hub / "hub" / "checkpoints" / LANDMARKS_FILE)
    found = find_weights(mine)
    assert found[LANDMARKS_FILE] == mine / LANDMARKS_FILE
    assert found[DETECTOR_FILE] == hub / "hub" / "checkpoints" / DETECTOR_FILE
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(CheckpointError, match=DETECTOR_FILE) as error:
        create_tracker("fan", weights=str(mine))
    assert LANDMARKS_FILE not in str(error.value).split("; ")[0]


def test_a_truncated_weights_file_is_named(tmp_path, hub):
    source = hub / "hub" / "checkpoints"
    (tmp_path / LANDMARKS_FILE).symlink_to(source / LANDMARKS_FILE)
    (tmp_path / DETECTOR_FILE).write_bytes((source / DETECTOR_FILE).read_bytes()[:100_000])
    with pytest.raises(CheckpointError, match="truncated") as error:
        create_tracker("fan", weights=str(tmp_path))
    assert DETECTOR_FILE in str(error.value)


def test_heatmap_peaks_map_back_to_the_frame_points_they_came_from():
    roi = roi_from_box(np.array([100.0, 80.0, 300.0, 310.0]))
    rng = np.random.default_rng(0)
    truth = np.stack([rng.uniform(120, 280, 68), rng.uniform(100, 290, 68)], axis=1)
    in_crop = truth @ crop_matrix(roi)[:, :2].T + crop_matrix(roi)[:, 2]
    grid = np.mgrid[0:HEATMAP, 0:HEATMAP].astype(np.float64)
    centres = in_crop / 4.0 - 0.5  # heatmap cell i covers crop pixels 4i .. 4i + 4
    heatmaps = np.exp(-((grid[1] - centres[:, 0, None, None]) ** 2 + (grid[0] - centres[:, 1, None, None]) ** 2) / 2)
    points, score = decode_heatmaps(heatmaps, roi)
    cell = roi.scale * 200 / HEATMAP  # frame pixels per heatmap cell
    assert np.abs(points - truth).max() <= 0.5 * cell and score > 0.6
    assert isinstance(roi, Roi) and roi.scale == pytest.approx((200 + 230) / 195)
