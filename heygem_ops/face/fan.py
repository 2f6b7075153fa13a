"""The `fan` tracker: face-alignment's S3FD detector and 2DFAN4 landmark network, 68 points natively.

Only the networks come from the `face-alignment` package; loading, cropping and heatmap decoding
are done here, because its `FaceAlignment` class would download missing weights (nothing may be
downloaded at run time), compiles by default (slow, and pointless on a CPU) and rounds landmarks to
whole pixels (jitter). Weights are read from a given folder or the torch hub cache
(`$TORCH_HOME/hub/checkpoints`), where a previous face-alignment run leaves them.

Per frame, FAN runs on a crop placed from the previous frame's landmarks; S3FD runs on a downscaled
copy only for the first frame and when FAN's confidence says the face was lost. Points are smoothed
by the same One-Euro filter as the mesh tracker, and a frame with several faces follows the one
chosen by the shared face-choice rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from heygem_ops.errors import CheckpointError
from heygem_ops.face.landmarks import N_POINTS, interocular
from heygem_ops.face.select import parse_face_choice, pick_face
from heygem_ops.face.track import FaceRow, FaceTrack, box_of
from heygem_ops.face.tracking import OneEuroFilter

DETECTOR_FILE = "s3fd-619a316812.pth"  # S3FD state dict
LANDMARKS_FILE = "2DFAN4-11f355bf06.pth.tar"  # 2DFAN4 state dict (face-alignment >= 1.5 format)
WEIGHT_URL = "https://www.adrianbulat.com/downloads/python-fan/"
DETECT_SIDE = 480  # px: S3FD sees the frame downscaled so that its longer side is at most this
DETECT_THRESHOLD = 0.5  # S3FD score for a face (face-alignment's default)
NMS_OVERLAP = 0.3
LOST_SCORE = 0.2  # mean heatmap peak under which a followed face counts as lost
CROP = 256  # px: FAN input side
HEATMAP = 64  # px: FAN output side
SCALE_UNIT = 200.0  # FAN's crop side is scale x 200 px
REFERENCE_SCALE = 195.0  # detector box (w + h) per unit of scale
CENTER_SHIFT = 0.12  # of the box height: the crop centre sits this much above the box centre
ROI_HOLD = 0.02  # keep the crop while centre and scale moved less than this fraction of its side
MIN_FACE = 12.0  # px: landmarks spanning less than this are not a face


def weight_folders(folder: str | Path | None = None) -> list[Path]:
    """Where weights are looked for, in order: the given folder, then the torch hub cache."""
    folders = [Path(folder).expanduser()] if folder else []
    return [*folders, Path(torch.hub.get_dir()) / "checkpoints"]


def find_weights(folder: str | Path | None = None) -> dict[str, Path | None]:
    """Each needed file name -> the first folder's copy of it, or None when no folder has it."""
    found: dict[str, Path | None] = {}
    for name in (DETECTOR_FILE, LANDMARKS_FILE):
        found[name] = next((place / name for place in weight_folders(folder) if (place / name).is_file()), None)
    return found


def require_weights(folder: str | Path | None = None) -> tuple[Path, Path]:
    """(detector, landmarks) weight paths; a CheckpointError naming every missing file otherwise."""
    found = find_weights(folder)
    missing = [name for name, path in found.items() if path is None]
    if missing:
        searched = " and ".join(str(place) for place in weight_folders(folder))
        raise CheckpointError(
            "the fan tracker needs {missing}, not found in {searched}",
            hint="download them from {url}<name> into {folder} (or pass a folder holding them), "
            "or use the mesh tracker",
            missing=", ".join(missing),
            searched=searched,
            url=WEIGHT_URL,
            folder=weight_folders()[-1],
        )
    return found[DETECTOR_FILE], found[LANDMARKS_FILE]  # type: ignore[return-value]


def _load_network(network: torch.nn.Module, path: Path, device: torch.device) -> torch.nn.Module:
    """Strictly load a state dict file into `network`; a CheckpointError names the file otherwise."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        network.load_state_dict({key.removeprefix("module."): value for key, value in state.items()})
    except Exception as err:  # torch reports damage as RuntimeError, EOFError, UnpicklingError, KeyError ...
        raise CheckpointError(
            "cannot be loaded into {network} ({error})",
            path=path,
            hint="the file is truncated or of another model; download it again from {url}{name}",
            network=type(network).__name__,
            error=str(err).strip().splitlines()[0][:200],
            url=WEIGHT_URL,
            name=path.name,
        ) from err
    return network.to(device).eval()


@dataclass(frozen=True)
class Roi:
    """Where FAN looks: crop centre (x, y) in frame pixels and scale (crop side = scale x 200 px)."""

    centre: tuple[float, float]
    scale: float


def roi_from_box(box: np.ndarray) -> Roi:
    """FAN's crop for a detector box x0, y0, x1, y1 (face-alignment's convention)."""
    width, height = box[2] - box[0], box[3] - box[1]
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2 - CENTER_SHIFT * height)
    return Roi((float(centre[0]), float(centre[1])), float((width + height) / REFERENCE_SCALE))


def crop_matrix(roi: Roi) -> np.ndarray:
    """(2, 3) affine map from frame pixels to FAN's 256 x 256 input crop."""
    side = roi.scale * SCALE_UNIT
    factor = CROP / side
    cx, cy = roi.centre
    return np.array([[factor, 0, CROP / 2 - factor * cx], [0, factor, CROP / 2 - factor * cy]], dtype=np.float64)


def decode_heatmaps(heatmaps: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
    """(68, 64, 64) heatmaps -> (68, 2) float32 frame-pixel points and their mean peak value.

    Each peak is refined a quarter pixel towards its higher neighbour (as face-alignment does), but
    the result is kept fractional rather than truncated to whole pixels.
    """
    flat = heatmaps.reshape(N_POINTS, -1)
    peak = flat.argmax(axis=1)
    y, x = np.divmod(peak, HEATMAP)
    points = np.stack([x, y], axis=1).astype(np.float64)
    inner = (x > 0) & (x < HEATMAP - 1) & (y > 0) & (y < HEATMAP - 1)
    rows = np.arange(N_POINTS)[inner]
    xi, yi = x[inner], y[inner]
    dx = heatmaps[rows, yi, xi + 1] - heatmaps[rows, yi, xi - 1]
    dy = heatmaps[rows, yi + 1, xi] - heatmaps[rows, yi - 1, xi]
    points[inner] += 0.25 * np.sign(np.stack([dx, dy], axis=1))
    side = roi.scale * SCALE_UNIT
    frame_points = (points + 0.5) * (side / HEATMAP) + np.asarray(roi.centre) - side / 2
    return frame_points.astype(np.float32), float(flat.max(axis=1).mean())


@dataclass
class _Follow:
    """What the tracker carries from frame to frame."""

    smoother: OneEuroFilter
    roi: Roi | None = None  # crop for the next frame; None: detect
    box: np.ndarray | None = None  # last box of the followed person, to find them again
    calibration: tuple[float, np.ndarray] = field(default_factory=lambda: (1.0, np.zeros(2)))


class FanTracker:
    """S3FD + 2DFAN4 from face-alignment, loaded once; `track` serves any number of videos."""

    name = "fan"

    def __init__(
        self,
        face: str = "largest",
        weights: str | Path | None = None,
        device: torch.device | None = None,
        smoothing: float = 3.0,
    ) -> None:
        from face_alignment.detection.sfd.net_s3fd import s3fd
        from face_alignment.models import FAN

        self._choice = parse_face_choice(face)
        self.smoothing = smoothing
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        detector_path, landmarks_path = require_weights(weights)
        self._detector = _load_network(s3fd(), detector_path, self.device)
        self._fan = _load_network(FAN(4), landmarks_path, self.device)

    def track(self, frames: Iterable[np.ndarray], progress: Callable[[int], None] | None = None) -> FaceTrack:
        """Follow one face through RGB uint8 (H, W, 3) frames; progress(1) per frame (a count, not a total)."""
        state = _Follow(OneEuroFilter(self.smoothing))
        rows: list[FaceRow | None] = []
        size = (0, 0)
        with torch.inference_mode():
            for frame in frames:
                size = (frame.shape[1], frame.shape[0])
                rows.append(self._step(frame, state))
                if progress is not None:
                    progress(1)
        return FaceTrack.from_rows(rows, size, self.name)

    def landmarks_one(self, frame: np.ndarray) -> np.ndarray | None:
        """(68, 2) float32 landmarks of the chosen face in one RGB uint8 image, or None."""
        with torch.inference_mode():
            found = self._find(frame, _Follow(OneEuroFilter(0.0)))
        return None if found is None else found[0]

    def _step(self, frame: np.ndarray, state: _Follow) -> FaceRow | None:
        """The followed face in this frame (smoothed landmarks, their box, confidence), or None."""
        found = self._follow(frame, state) if state.roi is not None else None
        if found is None:
            found = self._find(frame, state)
        if found is None:
            state.roi = None
            state.smoother.reset()
            return None
        points, score = found
        state.box = box_of(points)
        state.roi = _hold(state.roi, self._roi_from_points(points, state))
        smoothed = state.smoother(points.astype(np.float64), float(interocular(points)))
        landmarks = np.asarray(smoothed, dtype=np.float32)
        return FaceRow(landmarks, box_of(landmarks), float(np.clip(score, 0.01, 1.0)))

    def _follow(self, frame: np.ndarray, state: _Follow) -> tuple[np.ndarray, float] | None:
        """FAN on the crop carried from the previous frame; None when the face is no longer there."""
        points, score = self._landmarks(frame, state.roi)  # type: ignore[arg-type]
        spread = np.ptp(points, axis=0)
        return None if score < LOST_SCORE or spread.min() < MIN_FACE else (points, score)

    def _find(self, frame: np.ndarray, state: _Follow) -> tuple[np.ndarray, float] | None:
        """Detect, choose the face, run FAN on it, and calibrate crops placed from landmarks."""
        boxes = self.detect(frame)
        index = pick_face(boxes, (frame.shape[1], frame.shape[0]), self._choice, state.box)
        if index is None:
            return None
        roi = roi_from_box(boxes[index])
        points, score = self._landmarks(frame, roi)
        state.calibration = _calibrate(roi, points)
        return points, score

    def detect(self, frame: np.ndarray) -> np.ndarray:
        """Face boxes in an RGB frame: (K, 4) float32 x0, y0, x1, y1 in frame pixels, best first."""
        from face_alignment.detection.sfd.bbox import nms
        from face_alignment.detection.sfd.detect import batch_detect

        factor = min(1.0, DETECT_SIDE / max(frame.shape[:2]))
        small = cv2.resize(frame, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else frame
        tensor = torch.from_numpy(np.ascontiguousarray(small.transpose(2, 0, 1)))[None].float()
        found = np.asarray(batch_detect(self._detector, tensor, device=str(self.device)))
        candidates = found[0] if found.ndim == 3 else np.zeros((0, 5))
        if len(candidates):
            candidates = candidates[nms(candidates, NMS_OVERLAP)]
            candidates = candidates[candidates[:, 4] > DETECT_THRESHOLD]
        return (candidates[:, :4] / factor).astype(np.float32).reshape(-1, 4)

    def _landmarks(self, frame: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """FAN on the crop `roi`: (68, 2) frame-pixel points and the mean heatmap peak."""
        crop = cv2.warpAffine(frame, crop_matrix(roi), (CROP, CROP), flags=cv2.INTER_LINEAR)
        tensor = torch.from_numpy(crop.transpose(2, 0, 1).copy())[None].to(self.device).float().div_(255.0)
        output = self._fan(tensor)
        heatmaps = (output[-1] if isinstance(output, list | tuple) else output)[0].float().cpu().numpy()
        return decode_heatmaps(heatmaps, roi)

    @staticmethod
    def _roi_from_points(points: np.ndarray, state: _Follow) -> Roi:
        """The crop for the next frame, placed from these landmarks the way the detector would have."""
        ratio, offset = state.calibration
        low, high = points.min(axis=0), points.max(axis=0)
        extent = float((high - low).mean())
        centre = (low + high) / 2 + offset * extent
        return Roi((float(centre[0]), float(centre[1])), ratio * extent / SCALE_UNIT)


def _calibrate(roi: Roi, points: np.ndarray) -> tuple[float, np.ndarray]:
    """How a detector-placed crop relates to the landmarks inside it: (side / extent, centre offset / extent)."""
    low, high = points.min(axis=0), points.max(axis=0)
    extent = max(float((high - low).mean()), 1e-3)
    offset = (np.asarray(roi.centre) - (low + high) / 2) / extent
    return roi.scale * SCALE_UNIT / extent, offset


def _hold(old: Roi | None, new: Roi) -> Roi:
    """Keep the old crop while the face has not really moved, so a still face gets identical crops."""
    if old is None:
        return new
    side = old.scale * SCALE_UNIT
    moved = math.dist(old.centre, new.centre) > ROI_HOLD * side or abs(new.scale - old.scale) > ROI_HOLD * old.scale
    return new if moved else old
