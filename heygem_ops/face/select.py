"""Which face to follow when a frame holds several.

The first time a face is chosen the user's rule applies: the largest, the one nearest the frame
centre, or the N-th largest. After that the tracker keeps the same person: whenever it has to
detect again it takes the face nearest the box it followed last, wherever the rule would point.
"""

from __future__ import annotations

import numpy as np

from heygem_ops.errors import InputError

NAMED_CHOICES = ("largest", "center")


def parse_face_choice(face: str) -> str | int:
    """ "largest" / "center" as given, or a size rank ("0" = largest, "1" = second largest ...)."""
    if face in NAMED_CHOICES:
        return face
    if face.isdigit():
        return int(face)
    raise InputError(
        "face={face!r} is not a face choice",
        face=face,
        hint="use 'largest', 'center', or a size rank such as '0' (largest) or '1' (second largest)",
    )


def pick_face(
    boxes: np.ndarray, frame_size: tuple[int, int], choice: str | int, previous: np.ndarray | None
) -> int | None:
    """Index of the face to follow among (N, 4) x0, y0, x1, y1 pixel boxes, or None.

    previous: (4,) box of the person followed so far, or None the first time; when given it wins
    over `choice`. None is returned when there are no boxes, or fewer than a rank asks for.
    """
    if len(boxes) == 0:
        return None
    if previous is not None:
        return int(np.argmin(np.abs(boxes - previous).sum(axis=1)))
    if choice == "center":
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        return int(np.argmin(np.linalg.norm(centres - np.asarray(frame_size) / 2, axis=1)))
    by_size = np.argsort(-np.prod(boxes[:, 2:] - boxes[:, :2], axis=1), kind="stable")
    rank = 0 if choice == "largest" else int(choice)
    return int(by_size[rank]) if rank < len(by_size) else None
