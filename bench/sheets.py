"""Pictures and pixel figures of one lip-synced output beside its template, for the quality bench.

One pass over the output and the template frames it replaced gives four things a person or the
bench needs: the moments worth looking at (silence, wide-open vowels, closures), a contact sheet of
those moments (template left, output right, cropped to the lower face), a sequence sheet of mouth
and chin at full resolution over runs of consecutive frames (teeth and chin texture cannot be
judged downscaled), and a seam figure: how much of the change inside the lower face appears where
the template has no edge to move.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from heygem_ops.face.landmarks import interocular
from heygem_ops.face.regions import lower_face_polygon, polygon_mask

TILE = 160  # px side of one crop on the sheet
LABEL = 16  # px height of the caption strip above each pair
SHEET_COLOURS = 128  # palette size of the saved PNG: keeps a sheet near 100 KB
CLOSURE_PROMINENCE = 0.35  # activity a dip must fall below both neighbouring peaks to count as a closure
SEAM_EDGE = 24.0  # grey levels per px: a gradient of the change this steep is an edge...
SEAM_FLAT = 6.0  # ...where the template's own gradient is below this...
SEAM_REACH = 0.08  # ...all around, this many interocular distances (farther than the warp moves an edge)


@dataclass(frozen=True)
class Moment:
    """An output frame worth looking at: its index and what happens in the audio there."""

    index: int
    label: str


def closure_frames(activity: np.ndarray, reach: int = 6) -> np.ndarray:
    """Indices of dips in (F,) activity between two louder stretches: lips close for /p b m/ there.

    A frame is a closure when it is the lowest within ±2 frames and activity rises by at least
    CLOSURE_PROMINENCE within `reach` frames on both sides.
    """
    found = []
    for i in range(reach, len(activity) - reach):
        here = activity[i]
        if here > activity[i - 2 : i + 3].min() or here > 0.35:
            continue
        if min(activity[i - reach : i].max(), activity[i + 1 : i + 1 + reach].max()) - here >= CLOSURE_PROMINENCE:
            found.append(i)
    return np.asarray(found, dtype=np.int64)


def pick_moments(activity: np.ndarray, per_kind: int = 2) -> list[Moment]:
    """Up to `per_kind` frames each of silence, wide-open vowels and closures, spread over the clip."""
    moments: list[Moment] = []
    order = np.argsort(activity, kind="stable")
    kinds = (
        ("silence", order[: max(1, len(order) // 10)]),
        ("open", order[::-1][: max(1, len(order) // 10)]),
        ("closure", closure_frames(activity)),
    )
    for label, pool in kinds:
        for index in _spread(np.sort(pool), per_kind):
            moments.append(Moment(int(index), f"{label} #{index} a={activity[index]:.2f}"))
    return moments


def _spread(pool: np.ndarray, count: int) -> np.ndarray:
    """`count` members of a sorted pool, as far apart in time as possible."""
    if len(pool) <= count:
        return pool
    return pool[np.linspace(0, len(pool) - 1, count).round().astype(int)]


class FrameStudy:
    """Folds (output, template, template landmarks) frames into a seam figure and sheet crops.

    `sequence`: output frames cropped at full resolution for `save_sequence`, in order.
    """

    def __init__(self, moments: list[Moment], sequence: list[int] | None = None) -> None:
        self.wanted = {moment.index: moment for moment in moments}
        self.crops: dict[int, np.ndarray] = {}
        self.seam_values: list[float] = []
        self.sequence = set(sequence or [])
        self.full: dict[int, np.ndarray] = {}
        self._full_size: tuple[int, int] | None = None

    def add(self, index: int, output: np.ndarray, template: np.ndarray, landmarks: np.ndarray | None) -> None:
        """Study output frame `index` (H, W, 3 uint8) beside the template frame it replaced."""
        if landmarks is None or np.isnan(landmarks).any():
            return
        height, width = min(output.shape[0], template.shape[0]), min(output.shape[1], template.shape[1])
        output, template = output[:height, :width], template[:height, :width]
        self.seam_values.append(seam_fraction(output, template, landmarks))
        if index in self.wanted:
            self.crops[index] = np.hstack([_crop(template, landmarks), _crop(output, landmarks)])
        if index in self.sequence:
            iod = float(interocular(landmarks))
            self._full_size = self._full_size or (int(1.5 * iod) // 2 * 2, int(1.25 * iod) // 2 * 2)
            centre = tuple(float(c) for c in landmarks[48:68].mean(axis=0) + np.array([0.0, 0.3 * iod]))
            self.full[index] = np.hstack(
                [cv2.getRectSubPix(np.ascontiguousarray(f), self._full_size, centre) for f in (template, output)]
            )

    def save_sequence(self, path: Path, title: str) -> Path | None:
        """Write the full-resolution mouth-and-chin crops (template | output, one frame a row) as a palette PNG."""
        if not self.full:
            return None
        rows = [
            np.vstack([_caption(f"#{i}   template | output", self.full[i].shape[1]), self.full[i]])
            for i in sorted(self.full)
        ]
        sheet = np.vstack([_caption(title, rows[0].shape[1]), *rows])
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet).quantize(SHEET_COLOURS, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        return path

    @property
    def seam(self) -> float | None:
        """95th percentile over frames of `seam_fraction`; None when no frame had a face."""
        return float(np.percentile(self.seam_values, 95)) if self.seam_values else None

    def save_sheet(self, path: Path, title: str) -> Path | None:
        """Write the contact sheet (two pairs per row) as a palette PNG; None when nothing was cropped."""
        tiles = [_captioned(self.crops[i], self.wanted[i].label) for i in sorted(self.crops, key=self._rank)]
        if not tiles:
            return None
        if len(tiles) % 2:
            tiles.append(np.full_like(tiles[0], 255))
        rows = [
            np.hstack([tiles[k], np.full((tiles[k].shape[0], 6, 3), 255, np.uint8), tiles[k + 1]])
            for k in range(0, len(tiles), 2)
        ]
        sheet = np.vstack([_caption(title, rows[0].shape[1]), *rows])
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet).quantize(SHEET_COLOURS, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        return path

    def _rank(self, index: int) -> tuple[int, int]:
        kind = self.wanted[index].label.split()[0]
        return ("silence", "open", "closure").index(kind), index


def seam_fraction(output: np.ndarray, template: np.ndarray, landmarks: np.ndarray) -> float:
    """Share of the lower face's pixels, outside the mouth, where the change has an edge the template lacks.

    A warp only moves existing edges, so the change (output - template) is steep only near an edge
    of the template; a tear between layers or a pasted boundary draws a steep line across skin
    that is flat for some distance around.
    """
    polygon = lower_face_polygon(landmarks)
    low = np.maximum(np.floor(polygon.min(axis=0)).astype(int) - 2, 0)
    high = np.minimum(np.ceil(polygon.max(axis=0)).astype(int) + 3, output.shape[1::-1])
    box = (slice(low[1], high[1]), slice(low[0], high[0]))
    grey_out = cv2.cvtColor(output[box], cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey_tpl = cv2.cvtColor(template[box], cv2.COLOR_RGB2GRAY).astype(np.float32)
    shape = grey_out.shape
    iod = float(interocular(landmarks))
    lips = landmarks[48:60] - low
    lips = lips + (lips - lips.mean(axis=0)) * (0.35 * iod / max(float(np.ptp(lips[:, 0])), 1.0))
    area = (polygon_mask(shape, polygon - low) > 0.5) & (polygon_mask(shape, lips) < 0.5)
    if area.sum() < 50:
        return 0.0
    change = _gradient(grey_out - grey_tpl)
    reach = 2 * max(2, round(SEAM_REACH * iod)) + 1
    flat = cv2.dilate(_gradient(grey_tpl), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))) < SEAM_FLAT
    return float(((change > SEAM_EDGE) & flat & area).sum() / area.sum())


def _gradient(grey: np.ndarray) -> np.ndarray:
    """(H, W) float32 gradient magnitude (Scharr / 16: grey levels per px)."""
    gx = cv2.Scharr(grey, cv2.CV_32F, 1, 0) / 16.0
    gy = cv2.Scharr(grey, cv2.CV_32F, 0, 1) / 16.0
    return cv2.magnitude(gx, gy)


def _crop(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(TILE, TILE, 3) square around the lower face: nose tip at the top, chin near the bottom."""
    iod = float(interocular(landmarks))
    centre = (landmarks[30] + landmarks[8]) / 2.0
    half = 0.62 * iod
    matrix = np.array(
        [
            [TILE / (2 * half), 0, TILE / 2 - centre[0] * TILE / (2 * half)],
            [0, TILE / (2 * half), TILE / 2 - centre[1] * TILE / (2 * half)],
        ],
        dtype=np.float64,
    )
    return cv2.warpAffine(frame, matrix, (TILE, TILE), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def _caption(text: str, width: int) -> np.ndarray:
    strip = np.full((LABEL, width, 3), 255, np.uint8)
    cv2.putText(strip, text, (3, LABEL - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def _captioned(pair: np.ndarray, text: str) -> np.ndarray:
    return np.vstack([_caption(f"{text}   template | output", pair.shape[1]), pair])
