"""How big the frames the pipeline works on are: a template's size, scaled down to a long side.

A phone photo (12-50 MP) or a 4K video is far more pixels than a talking head needs, and every
later stage (face track, compose, encode) pays for each one. So templates are scaled down, aspect
kept, before any heavy work: stills to `STILL_MAX_SIZE` on the long side unless told otherwise,
videos only when a max size is given (a video's size is the user's framing; over the pixel limit
it is refused, naming `--max-size`).
"""

from __future__ import annotations

STILL_MAX_SIZE = 1920  # px, long side a still portrait is scaled to by default: a 1080p frame's


def long_side_limit(is_still: bool, max_size: int | None) -> int | None:
    """The long side a template is scaled down to: `max_size` when given, else the still default."""
    if max_size is not None:
        return max_size
    return STILL_MAX_SIZE if is_still else None


def scaled_size(width: int, height: int, max_size: int | None) -> tuple[int, int]:
    """(width, height) fitted within `max_size` on the long side, aspect kept, both even.

    Unchanged when `max_size` is None or the picture already fits (an odd size is then cropped to
    even by the segment writer, as before).
    """
    if max_size is None or max(width, height) <= max_size:
        return width, height
    scale, cap = max_size / max(width, height), max_size - max_size % 2
    return _even(width * scale, cap), _even(height * scale, cap)


def _even(length: float, cap: int) -> int:
    """The nearest even whole number from 2 to `cap` (yuv420p needs even sides; the long side stays within)."""
    return min(cap, max(2, 2 * round(length / 2)))
