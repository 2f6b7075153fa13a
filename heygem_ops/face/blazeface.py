"""BlazeFace face detection on LiteRT: boxes and six keypoints for every face in a frame.

The detector sees the frame downscaled (area averaging) into its square input, top-left aligned and
padded: a few ms per frame whatever the video size. Two variants ship:
- "full" (full range, 192×192 input, one 48×48 anchor grid): on a whole 720p frame it finds faces
  down to ~60 px (measured), so it is the default;
- "short" (short range, 128×128, 896 anchors): misses faces under ~150 px in 720p, but scores
  faces that fill the whole frame higher, so it is the last resort.
`FaceDetector` combines them; when the whole frame shows no face it looks again in overlapping
square tiles, which brings the smallest face found in 1080p from ~90 px down to ~50 px (720p:
~40 px).
Anchors, box decoding and weighted non-maximum suppression follow MediaPipe's published
SSD-anchor, tensors-to-detections and NMS calculator settings for these models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from heygem_ops.face.mesh import load_interpreter

MIN_SCORE = 0.5  # detection threshold on the sigmoid score (MediaPipe's setting)
NMS_IOU = 0.3  # boxes overlapping more than this are merged into one face
RAW_SCORE_CLIP = 80.0  # logits are clipped so the sigmoid cannot overflow float32
TILE_MAX = 1080  # largest square tile side, pixels: a 70 px face still spans ~12 input pixels
TILE_OVERLAP = 0.2  # least overlap of neighbouring tiles, as a fraction of their side
DUPLICATE_SHARE = 0.5  # a box sharing more than this of its area with a kept face is the same face


@dataclass(frozen=True)
class _Variant:
    file_name: str
    input_size: int  # square input side, pixels
    anchor_layers: tuple[tuple[int, int], ...]  # (stride, anchors per grid cell) per feature map


VARIANTS = {
    "full": _Variant("face_detection_full_range.tflite", 192, ((4, 1),)),
    "short": _Variant("face_detection_short_range.tflite", 128, ((8, 2), (16, 6))),
}


@dataclass(frozen=True)
class Detection:
    """One detected face, in pixels of the frame given to the detector.

    box:       (4,) float32 x0, y0, x1, y1.
    keypoints: (6, 2) float32 x, y of: eye on the image left, eye on the image right, nose tip,
               mouth centre, ear tragion on the image left, ear tragion on the image right.
    score:     detector confidence in [0, 1].
    """

    box: np.ndarray
    keypoints: np.ndarray
    score: float


def make_anchors(input_size: int, layers: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Anchor centres (A, 2) float32 in [0, 1], in the order of the model's output rows.

    Each feature map of stride s is a grid of (input_size / s)² cells, row-major, each cell holding
    its anchors consecutively; all anchors are unit-size, so only centres matter.
    """
    grids = []
    for stride, per_cell in layers:
        cells = input_size // stride
        centres = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grids.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), per_cell, axis=0))
    return np.concatenate(grids)


def decode(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, input_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn raw outputs into candidate boxes, keypoints and scores, all in input-tensor pixels.

    raw_boxes (A, 16): centre offset, width, height, then six keypoint offsets, in input pixels
    relative to the anchor centre; raw_scores (A,) logits. Returns boxes (K, 4), keypoints (K, 6, 2),
    scores (K,) for the K candidates above MIN_SCORE.
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -RAW_SCORE_CLIP, RAW_SCORE_CLIP)))
    keep = (scores > MIN_SCORE) & (raw_boxes[:, 2] > 0) & (raw_boxes[:, 3] > 0)
    values = raw_boxes[keep].reshape(-1, 8, 2)
    centres = anchors[keep][:, None, :] * input_size
    points = values + centres  # centre (row 0) and keypoints (rows 2..7) are anchor-relative
    half = values[:, 1] / 2
    boxes = np.concatenate([points[:, 0] - half, points[:, 0] + half], axis=1)
    return boxes, points[:, 2:], scores[keep]


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (4,) box with each of (N, 4) boxes -> (N,)."""
    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> list[Detection]:
    """Merge overlapping candidates into one face each, best score first.

    Each face's box and keypoints are the score-weighted mean of its overlapping candidates (steadier
    than keeping only the best one); its score is the best candidate's.
    """
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    remaining = np.ones(len(scores), dtype=bool)
    faces = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        group = remaining & (iou(boxes[i], boxes) > NMS_IOU)
        group[i] = True
        weights = scores[group] / scores[group].sum()
        box = np.tensordot(weights, boxes[group], axes=1)
        points = np.tensordot(weights, keypoints[group], axes=1)
        faces.append(Detection(box.astype(np.float32), points.astype(np.float32), float(scores[i])))
        remaining &= ~group
    return faces


class BlazeFace:
    """A loaded detector variant; call it on an RGB uint8 (H, W, 3) frame to get its faces."""

    def __init__(self, variant: str = "full", threads: int | None = None) -> None:
        self.variant = VARIANTS[variant]
        self._interpreter = load_interpreter(self.variant.file_name, threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = self._interpreter.get_output_details()
        self._boxes_out, self._scores_out = (o["index"] for o in sorted(outputs, key=lambda o: -o["shape"][-1]))
        self._anchors = make_anchors(self.variant.input_size, self.variant.anchor_layers)

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        """Faces in `frame`, best score first, in frame pixels."""
        tensor, scale = self._to_tensor(frame)
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        raw_boxes = self._interpreter.get_tensor(self._boxes_out)[0]
        raw_scores = self._interpreter.get_tensor(self._scores_out)[0, :, 0]
        boxes, keypoints, scores = decode(raw_boxes, raw_scores, self._anchors, self.variant.input_size)
        faces = weighted_nms(boxes, keypoints, scores)
        return [Detection(f.box / np.tile(scale, 2), f.keypoints / scale, f.score) for f in faces]

    def _to_tensor(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame -> (1, S, S, 3) float32 in [-1, 1], and the (2,) x/y scale from frame to tensor pixels.

        The frame keeps its aspect ratio: it is shrunk so its long side is S and the rest is padded
        with -1 (black) on the right or bottom, so tensor pixels map back by one division.
        """
        size = self.variant.input_size
        height, width = frame.shape[:2]
        new_w = max(1, round(width * size / max(height, width)))
        new_h = max(1, round(height * size / max(height, width)))
        small = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA)
        tensor = np.full((1, size, size, 3), -1.0, dtype=np.float32)
        tensor[0, :new_h, :new_w] = small.astype(np.float32) / 127.5 - 1.0
        return tensor, np.array([new_w / width, new_h / height], dtype=np.float32)


class FaceDetector:
    """The tracker's detection policy: the whole frame, then tiles, then the short-range model.

    Later stages run only when the earlier ones found nothing, so the common case costs one pass.
    """

    def __init__(self, threads: int | None = None) -> None:
        self._full = BlazeFace("full", threads)
        self._short = BlazeFace("short", threads)

    def __call__(self, frame: np.ndarray) -> list[Detection]:
        """Faces in an RGB uint8 (H, W, 3) frame, in frame pixels, best score first."""
        return self._full(frame) or self._tiled(frame) or self._short(frame)

    def _tiled(self, frame: np.ndarray) -> list[Detection]:
        """Full-range detection in each tile, shifted to frame pixels, duplicates dropped."""
        faces = []
        for x, y, side in tiles(frame.shape[1], frame.shape[0]):
            offset = np.array([x, y], dtype=np.float32)
            for face in self._full(frame[y : y + side, x : x + side]):
                faces.append(Detection(face.box + np.tile(offset, 2), face.keypoints + offset, face.score))
        return drop_duplicates(sorted(faces, key=lambda face: -face.score))


def tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side) covering a frame, overlapping by at least TILE_OVERLAP.

    Empty when one tile would be the whole frame (tiling would show the detector nothing new).
    """
    side = min(width, height, TILE_MAX)
    if side >= max(width, height):
        return []

    def starts(length: int) -> np.ndarray:
        count = 1 if length <= side else math.ceil((length - side) / (side * (1 - TILE_OVERLAP))) + 1
        return np.linspace(0, length - side, count).round().astype(int)

    return [(int(x), int(y), side) for y in starts(height) for x in starts(width)]


def drop_duplicates(faces: list[Detection]) -> list[Detection]:
    """Keep faces in order, dropping any whose box mostly lies in an already kept one.

    Tiles overlap, so one face can be found whole in one tile and cut in its neighbour; a cut
    face's box lies mostly inside the whole one, which (better scored) comes first.
    """
    kept: list[Detection] = []
    for face in faces:
        boxes = np.array([k.box for k in kept]).reshape(-1, 4)
        top_left = np.maximum(face.box[:2], boxes[:, :2])
        bottom_right = np.minimum(face.box[2:], boxes[:, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=1)
        smaller = np.minimum(np.prod(face.box[2:] - face.box[:2]), np.prod(boxes[:, 2:] - boxes[:, :2], axis=1))
        if not np.any(inter > DUPLICATE_SHARE * smaller):
            kept.append(face)
    return kept
