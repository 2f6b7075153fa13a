"""A template's mouth bank: its own lower faces, one per frame, pose-normalised and described.

Built once per template content and face track in the feature stage, in one decoding pass, beside
the track in the template cache: each frame's lower face (nose base to below the chin, cheek to
cheek) is cut through the similarity transform that maps its eyes and nose onto the template's
mean face (`canonical_transforms`), at one scale for the whole template (its median interocular
distance, at most IOD_MAX px), and stored as a JPEG: a minute of template costs 10-26 MiB of
disk at 25 fps (7-18 KiB a frame at 124-176 px per interocular distance; ~200 MB as raw
pixels), and a chunk decodes only the crops it shows.
Beside each crop: its landmarks in crop pixels, its mouth shape (inner-lip gap and width in
interocular distances, as the warp engine measures its targets), its teeth share, its head pose
(`head_pose`), the light on the skin around its lips, and whether it is usable: sharp (no motion
blur), wholly inside the picture, tracked plausibly (scale, width and gap like the template's other
frames, no jump from its neighbours) and not occluded (the lips' colour like the template's lips:
a hand or a microphone is not).

A template too still to give mouths (a photo, one that never opens its mouth, or too few usable
frames) gets an entry that says so, so later jobs fall back to the warp without looking again.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import cv2
import numpy as np
from scipy.ndimage import median_filter

from heygem_ops.atomic import atomic_output
from heygem_ops.cache import TemplateCache
from heygem_ops.face.contours import settle_inner_lips
from heygem_ops.face.landmarks import EYE_OUTER_LEFT, EYE_OUTER_RIGHT, interocular
from heygem_ops.face.track import FaceTrack
from heygem_ops.i18n import N_
from heygem_ops.media.frames import iter_frames
from heygem_ops.media.probe import VideoInfo
from heygem_ops.quality.mouth import interior
from heygem_ops.quality.pixels import laplacian_variance

BANK_VERSION = "3"  # bump when crops or their descriptions change, so stale banks are rebuilt
STABLE = np.array([36, 39, 42, 45, 27, 28, 29, 30])  # eye corners and the nose ridge: what a mouth never moves
IOD_MAX = 176  # px per interocular distance of the stored crops at most: enough for a 1080p face's lips
JPEG_QUALITY = 95
MAX_ENTRIES = 4500  # template frames whose crops are banked at most (3 minutes at 25 fps): the size is bounded
BELOW_CHIN = 0.12  # interocular distances kept below the lowest chin of the template
ABOVE_NOSE = 0.02  # ...and above the nose's base
SIDE = 0.15  # ...and beyond the cheek points 3 and 13
MIN_SHARPNESS = 0.5  # a frame's lower face sharper than this share of the template's median, or it is blurred
MAX_SCALE_CHANGE = 0.15  # relative change of the interocular distance from its running median: a tracking glitch
MAX_WIDTH_CHANGE = 0.3  # relative difference of the mouth width from the template's median
MAX_JUMP = 0.1  # interocular distances the lips may move from both neighbouring frames
MAX_LIP_SHIFT = 14.0  # Lab distance of a frame's lip colour from the template's median lips: occluded
MIN_USABLE = 25  # usable frames a bank needs...
OPEN_GAP, MIN_OPEN = 0.07, 6  # ...of which this many open at least this wide (interocular distances)...
CLOSED_GAP, MIN_CLOSED = 0.025, 6  # ...and this many at most this open: else the template gives no mouths
TEETH_SHARE = 0.05  # teeth-like share of the open interior from which a crop shows teeth
_RUNNING = 25  # frames of the running median the scale is compared with
_CANONICAL_EYES = np.array([[-0.5, 0.0], [0.5, 0.0]])


def similarity(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Least-squares similarity transforms taking (N, P, 2) `points` onto (P, 2) `reference`: (N, 2, 3) float64.

    Complex arithmetic: z' = a z + b minimises sum |a z + b - w|^2 with a = <w - w̄, z - z̄> / |z - z̄|^2.
    """
    z = points[..., 0].astype(np.float64) + 1j * points[..., 1]
    w = reference[:, 0].astype(np.float64) + 1j * reference[:, 1]
    zc = z - z.mean(axis=-1, keepdims=True)
    a = (np.conj(zc) * (w - w.mean())).sum(axis=-1) / np.maximum((np.abs(zc) ** 2).sum(axis=-1), 1e-12)
    b = w.mean() - a * z.mean(axis=-1)
    return np.stack(
        [np.stack([a.real, -a.imag, b.real], axis=-1), np.stack([a.imag, a.real, b.imag], axis=-1)], axis=-2
    )


def apply(transforms: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2, 3) affine transforms applied to (N, P, 2) points: (N, P, 2) float64."""
    return np.einsum("nij,npj->npi", transforms[..., :2], points) + transforms[:, None, :, 2]


def mean_face(landmarks: np.ndarray) -> np.ndarray:
    """(P, 2) the STABLE points of (N, 68, 2) faces in eye coordinates (outer eye corners at x = ∓0.5), median."""
    eyes = similarity(landmarks[:, [EYE_OUTER_RIGHT, EYE_OUTER_LEFT]], _CANONICAL_EYES)
    return np.median(apply(eyes, landmarks[:, STABLE]), axis=0)


def canonical_transforms(landmarks: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(N, 2, 3) frame pixels -> canonical units (interocular distances of the mean face) per frame."""
    return similarity(landmarks[:, STABLE], reference)


def head_pose(landmarks: np.ndarray) -> np.ndarray:
    """(N, 2) yaw and pitch proxies of (N, 68, 2) faces: the nose tip off the eyes' midpoint, in interocular
    distances, across and down the eye line (a turned head moves the tip sideways, a nod shortens it)."""
    across = landmarks[:, EYE_OUTER_LEFT] - landmarks[:, EYE_OUTER_RIGHT]
    iod = np.maximum(np.linalg.norm(across, axis=1), 1e-6)
    u = across / iod[:, None]
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)
    tip = landmarks[:, 30] - (landmarks[:, EYE_OUTER_LEFT] + landmarks[:, EYE_OUTER_RIGHT]) / 2.0
    return np.stack([(tip * u).sum(axis=1), (tip * v).sum(axis=1)], axis=1) / iod[:, None]


def mouth_shape(canonical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) inner-lip gap at the middle and (N,) corner-to-corner width of canonical faces, in interocular
    distances, the lower inner lip settled on its edge as the warp engine measures its targets."""
    settled = settle_inner_lips(canonical.astype(np.float32))
    gap = settled[:, 66, 1] - settled[:, 62, 1]
    width = np.linalg.norm(settled[:, 54] - settled[:, 48], axis=1)
    return gap.astype(np.float32), width.astype(np.float32)


@dataclass(frozen=True)
class CropLayout:
    """Where a crop lies in canonical units: its top-left corner `origin` (2,), `scale` px per unit, size px."""

    origin: np.ndarray
    scale: float
    width: int
    height: int

    def to_crop(self, transforms: np.ndarray) -> np.ndarray:
        """(N, 2, 3) frame px -> canonical affines turned into frame px -> crop px."""
        out = transforms * self.scale
        out[:, :, 2] -= self.origin * self.scale
        return out


def crop_layout(canonical: np.ndarray, iod_px: float) -> CropLayout:
    """The lower face of every frame of (N, 68, 2) canonical landmarks, at the template's own scale."""
    top = float(np.median(canonical[:, 31:36, 1])) - ABOVE_NOSE
    bottom = float(np.percentile(canonical[:, 8, 1], 98)) + BELOW_CHIN
    left = float(np.median(canonical[:, 3, 0])) - SIDE
    right = float(np.median(canonical[:, 13, 0])) + SIDE
    scale = float(min(iod_px, IOD_MAX))
    return CropLayout(
        np.array([left, top]), scale, int(np.ceil((right - left) * scale)), int(np.ceil((bottom - top) * scale))
    )


@dataclass(frozen=True)
class MouthBank:
    """The bank of one template (F frames, entry i = template frame i; see the module docstring); crops
    of the first MAX_ENTRIES frames at most, descriptions of all (the path compares them with the shown frame).

    usable:    (F,) bool, frames whose crop may be shown; the rest hold no crop.
    landmarks: (F, 68, 2) float32 landmarks in crop pixels.
    gap, width: (F,) float32 mouth shape in interocular distances (`mouth_shape`).
    teeth:     (F,) float32 teeth-like share of the open interior (0 when closed).
    pose:      (F, 2) float32 `head_pose` of the template frame.
    light:     (F, 3) float32 mean Lab colour of the skin around the lips (0 where no crop was cut): its light.
    reference: (P, 2) the mean face's STABLE points that `canonical_transforms` maps onto.
    layout:    where crops lie in canonical units.
    offsets:   (F + 1,) int64 byte ranges of the JPEG crops in `pixels`.
    reason:    why the template gives no mouths ("" when it does).
    """

    pixels: Path
    usable: np.ndarray
    landmarks: np.ndarray
    gap: np.ndarray
    width: np.ndarray
    teeth: np.ndarray
    pose: np.ndarray
    light: np.ndarray
    reference: np.ndarray
    layout: CropLayout
    offsets: np.ndarray
    reason: str = ""

    @property
    def size(self) -> int:
        return len(self.usable)

    @cached_property
    def _bytes(self) -> np.ndarray:
        return np.memmap(self.pixels, dtype=np.uint8, mode="r")

    def crop(self, frame: int) -> np.ndarray:
        """(height, width, 3) uint8 RGB crop of template frame `frame` (usable frames only)."""
        data = self._bytes[self.offsets[frame] : self.offsets[frame + 1]]
        return cv2.cvtColor(cv2.imdecode(np.asarray(data), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        layout = self.layout
        np.savez(
            buffer,
            usable=self.usable,
            landmarks=self.landmarks,
            gap=self.gap,
            width=self.width,
            teeth=self.teeth,
            pose=self.pose,
            light=self.light,
            reference=self.reference,
            offsets=self.offsets,
            reason=np.asarray(self.reason),
            layout=np.array([*layout.origin, layout.scale, layout.width, layout.height]),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, pixels: Path) -> MouthBank:
        """The bank of an entry; raises (so the cache rebuilds it) when its crops file is gone or does not fit."""
        with np.load(io.BytesIO(data), allow_pickle=False) as a:
            x, y, scale, width, height = a["layout"]
            bank = cls(
                pixels,
                a["usable"],
                a["landmarks"],
                a["gap"],
                a["width"],
                a["teeth"],
                a["pose"],
                a["light"],
                a["reference"],
                CropLayout(np.array([x, y]), float(scale), int(width), int(height)),
                a["offsets"],
                str(a["reason"]),
            )
        if pixels.stat().st_size != int(bank.offsets[-1]):
            raise ValueError(f"{pixels.name} holds {pixels.stat().st_size} bytes, the bank {int(bank.offsets[-1])}")
        return bank


def _plausible(landmarks: np.ndarray, canonical: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(F,) bool: tracked like the template's other frames (scale, width, gap, no jump between neighbours)."""
    iod = np.where(present, interocular(landmarks), np.nan)
    running = median_filter(np.nan_to_num(iod, nan=np.nanmedian(iod)), size=_RUNNING, mode="nearest")
    steady = np.abs(iod / running - 1.0) <= MAX_SCALE_CHANGE
    gap, width = mouth_shape(canonical)
    typical = np.nanmedian(width[present])
    shaped = (np.abs(width / typical - 1.0) <= MAX_WIDTH_CHANGE) & (gap > -0.03)
    lips = canonical[:, 48:68]
    moved = [np.abs(lips - np.roll(lips, shift, axis=0)).max(axis=(1, 2)) for shift in (1, -1)]
    jump = np.nan_to_num(np.minimum(*moved), nan=0.0)  # a glitch differs from both neighbours, fast speech from one
    jump[[0, -1]] = 0.0
    return present & steady & shaped & (jump <= MAX_JUMP)


def _colours(crop: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(3,) mean Lab colour of the lips (between the outer and inner contours) and (3,) of the skin around
    them (the rest of the crop) of one crop; NaN when too small."""
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB)
    lips = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.round(landmarks[48:60]).astype(np.int32)], 1)
    skin = np.asarray(cv2.mean(lab, 1 - lips)[:3])
    cv2.fillPoly(lips, [np.round(landmarks[60:68]).astype(np.int32)], 0)
    if lips.sum() < 12:
        return np.full(3, np.nan), skin
    return np.asarray(cv2.mean(lab, lips)[:3]), skin


def build_bank(video: VideoInfo, track: FaceTrack, pixels: Path) -> MouthBank:
    """Cut, describe and store the crops of every frame of `video` with a face, in one decoding pass."""
    count, cut = track.frame_count, min(track.frame_count, MAX_ENTRIES)
    landmarks = track.landmarks.astype(np.float64)
    present = track.present & np.isfinite(landmarks).all(axis=(1, 2))
    if present.sum() < MIN_USABLE or video.is_still:
        return _empty(pixels, count, N_("a still picture") if video.is_still else N_("too few frames with a face"))
    reference = mean_face(landmarks[present])
    transforms = np.zeros((count, 2, 3))
    transforms[present] = canonical_transforms(landmarks[present], reference)
    canonical = np.where(present[:, None, None], apply(transforms, np.nan_to_num(landmarks)), np.nan)
    layout = crop_layout(canonical[present], float(np.median(interocular(landmarks[present]))))
    to_crop = layout.to_crop(transforms)
    in_crop = (canonical - layout.origin) * layout.scale
    candidate = _plausible(landmarks, canonical, present) & _inside_frame(to_crop, layout, video)
    candidate[cut:] = False
    sharpness, teeth, lips, skin = np.zeros(count), np.zeros(count), np.full((count, 3), np.nan), np.zeros((count, 3))
    offsets = np.zeros(count + 1, dtype=np.int64)
    with atomic_output(pixels) as temporary, open(temporary, "wb") as out:
        for index, frame in enumerate(iter_frames(video, 0, cut)):
            if candidate[index]:
                crop = cv2.warpAffine(frame, to_crop[index], (layout.width, layout.height), flags=cv2.INTER_CUBIC)
                sharpness[index], teeth[index], lips[index], skin[index] = _describe(
                    crop, in_crop[index].astype(np.float32)
                )
                _, data = cv2.imencode(
                    ".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
                )
                out.write(data.tobytes())
                offsets[index + 1] = len(data)
    offsets = np.cumsum(offsets)
    usable = (
        candidate & (sharpness >= MIN_SHARPNESS * np.median(sharpness[candidate])) if candidate.any() else candidate
    )
    if usable.any():
        lip_shift = np.linalg.norm(lips - np.nanmedian(lips[usable], axis=0), axis=1)
        usable &= np.nan_to_num(lip_shift, nan=np.inf) <= MAX_LIP_SHIFT
    gap, width = mouth_shape(np.nan_to_num(canonical))
    bank = MouthBank(
        pixels,
        usable,
        in_crop.astype(np.float32),
        gap,
        width,
        teeth.astype(np.float32),
        head_pose(np.nan_to_num(landmarks)).astype(np.float32),
        skin.astype(np.float32),
        reference,
        layout,
        offsets,
    )
    return _with_reason(bank)


def _describe(crop: np.ndarray, landmarks: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Sharpness (Laplacian variance of the whole crop), teeth share, lip and skin colour of one crop."""
    sharp = laplacian_variance(crop, np.ones(crop.shape[:2], bool))
    seen = interior(crop, landmarks)
    return sharp, (seen.teeth if seen is not None else 0.0), *_colours(crop, landmarks)


def _inside_frame(to_crop: np.ndarray, layout: CropLayout, video: VideoInfo) -> np.ndarray:
    """(F,) bool: the crop's corners lie inside the picture (a face partly out of frame gives no mouth)."""
    corners = np.array([[0, 0], [layout.width, 0], [0, layout.height], [layout.width, layout.height]], float)
    inverse = np.array(
        [cv2.invertAffineTransform(m) if np.isfinite(m).all() and m.any() else np.zeros((2, 3)) for m in to_crop]
    )
    frame = apply(inverse, np.broadcast_to(corners, (len(to_crop), 4, 2)))
    inside = (
        (frame >= 0).all(axis=(1, 2))
        & (frame[..., 0] <= video.width).all(axis=1)
        & (frame[..., 1] <= video.height).all(axis=1)
    )
    return inside & to_crop.any(axis=(1, 2))


def _with_reason(bank: MouthBank) -> MouthBank:
    """The bank, with `reason` set when it has too few usable frames or openings to give mouths."""
    usable, gap = bank.usable, bank.gap
    if usable.sum() < MIN_USABLE:
        reason = N_("too few usable frames")
    elif (usable & (gap >= OPEN_GAP)).sum() < MIN_OPEN:
        reason = N_("the mouth never opens")
    elif (usable & (gap <= CLOSED_GAP)).sum() < MIN_CLOSED:
        reason = N_("the mouth never closes")
    else:
        return bank
    return dataclasses.replace(bank, reason=reason)


def _empty(pixels: Path, count: int, reason: str) -> MouthBank:
    with atomic_output(pixels):
        pass
    zeros = np.zeros(count, np.float32)
    layout = CropLayout(np.zeros(2), 1.0, 1, 1)
    return MouthBank(
        pixels,
        np.zeros(count, bool),
        np.zeros((count, 68, 2), np.float32),
        zeros,
        zeros,
        zeros,
        np.zeros((count, 2), np.float32),
        np.zeros((count, 3), np.float32),
        np.zeros((len(STABLE), 2)),
        layout,
        np.zeros(count + 1, np.int64),
        reason,
    )


ENTRY_PREFIX = "mouths-"  # what every bank's cache entry name starts with


def bank_entry_name(track_name: str) -> str:
    """Cache entry name of the bank of a track (the track's own name keeps tracker, face choice and size)."""
    return f"{ENTRY_PREFIX}v{BANK_VERSION}-{Path(track_name).stem}.npz"


def template_bank(
    cache: TemplateCache, template_hash: str, video: VideoInfo, track: FaceTrack, track_name: str
) -> tuple[Path, bool]:
    """Build (once per template and track) or find the bank; returns (entry path, was_cached)."""
    name = bank_entry_name(track_name)
    pixels = cache.path(template_hash, name).with_suffix(".jpgs")
    _, cached = cache.get_or_build(
        template_hash,
        name,
        lambda: build_bank(video, track, pixels),
        MouthBank.to_bytes,
        lambda data: MouthBank.from_bytes(data, pixels),
    )
    return cache.path(template_hash, name), cached


def load_bank(entry: Path) -> MouthBank:
    """The bank whose cache entry is `entry` (kept in memory: every chunk of a job reads the same)."""
    return _load_bank(str(entry), entry.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load_bank(entry: str, mtime_ns: int) -> MouthBank:
    return MouthBank.from_bytes(Path(entry).read_bytes(), Path(entry).with_suffix(".jpgs"))
