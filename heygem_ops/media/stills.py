"""Still portraits (PNG, JPEG, WebP, BMP, HEIC/HEIF, AVIF) as one-frame templates, read with Pillow.

A still is recognised by its content (Pillow's header sniffing), never only by its extension, and is
shown the way a photo viewer shows it: EXIF orientation applied. HEIC/HEIF (the iPhone's default)
reads through the `pillow-heif` plugin; 10-bit HEIF and AVIF arrive as 8-bit RGB. A phone photo is
decoded straight to about the size asked for where the format allows it (JPEG's DCT scaling), so a
50 MP photo never sits in memory at full size only to be scaled down.
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from heygem_ops.errors import LimitExceededError, UnreadableMediaError
from heygem_ops.i18n import Message
from heygem_ops.media._av import _REEXPORT_HINT, reading

STILL_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "BMP", "HEIF", "AVIF"})  # Pillow format names accepted as stills
_EXIF_ORIENTATION = 0x0112
# What Pillow's decoders raise, besides OSError, on a damaged file (e.g. SyntaxError: "broken PNG file").
_DAMAGED = (SyntaxError, ValueError, EOFError, struct.error, IndexError, ZeroDivisionError)
# Clockwise degrees each EXIF orientation turns the stored picture (mirrored ones: the turn after the mirror).
_ORIENTATION_DEGREES = {1: 0, 2: 0, 3: 180, 4: 180, 5: 270, 6: 90, 7: 90, 8: 270}

pillow_heif.register_heif_opener()  # HEIC/HEIF become ordinary Pillow images (format "HEIF")


def still_format(path: Path) -> str | None:
    """Pillow's format name ("PNG", "JPEG", ...) when `path` holds a still image, else None."""
    with reading(path):
        try:
            with _opened(path) as image:
                name = image.format
        except UnidentifiedImageError:
            return None
    return name if name in STILL_FORMATS else None


def still_size(path: Path) -> tuple[int, int]:
    """(width, height) as stored, read from the header without decoding any pixels."""
    with reading(path), _opened(path) as image:
        return image.size


def still_rotation(path: Path) -> int:
    """Clockwise degrees (0, 90, 180, 270) the EXIF orientation turns the stored picture."""
    with reading(path), _opened(path) as image:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    return _ORIENTATION_DEGREES.get(orientation, 0)


def load_still(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """The picture upright (EXIF orientation applied) as RGB uint8 of shape (height, width, 3).

    `size` (upright width, height) scales it to that size (area-averaged); None keeps its own.
    """
    with reading(path), _opened(path) as image:
        if size is not None:
            turned = _ORIENTATION_DEGREES.get(image.getexif().get(_EXIF_ORIENTATION, 1), 0) in (90, 270)
            image.draft("RGB", size[::-1] if turned else size)  # JPEG: decode at 1/2, 1/4 or 1/8 when that fits
        upright = ImageOps.exif_transpose(image).convert("RGB")
        if size is not None and upright.size != size:
            upright = upright.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)  # box-reduce, then Lanczos
        return np.asarray(upright, dtype=np.uint8)


def still_picture(path: Path, size: tuple[int, int]) -> np.ndarray:
    """`load_still(path, size)`, read-only, decoded once per process for as long as the file is unchanged:
    every chunk of a still's job shows the same picture, and a 12 MP HEIC takes about a second to decode."""
    resolved = Path(path).resolve()
    with reading(resolved):
        stat = resolved.stat()
    return _still_picture(str(resolved), size, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=2)
def _still_picture(path: str, size: tuple[int, int], file_size: int, mtime_ns: int) -> np.ndarray:
    """`file_size` and `mtime_ns` only key the cache, so an edited file is decoded again."""
    picture = load_still(Path(path), size)
    picture.flags.writeable = False
    return picture


@contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    """`Image.open(path)`, with Pillow's decompression-bomb guard re-raised as a LimitExceededError and
    the non-OSError exceptions its decoders raise on damaged files as an UnreadableMediaError.

    Pillow's warning for pictures over 89 MP is silenced: HEYGEM_MAX_DECODE_PIXELS decides below its
    hard limit (179 MP), and a 108 MP phone photo is no attack."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                yield image
    except _DAMAGED as err:
        raise UnreadableMediaError(
            "is a damaged image ({error})", path=path, hint=Message(_REEXPORT_HINT), error=err
        ) from err
    except Image.DecompressionBombError as err:
        raise LimitExceededError(
            "is too large to decode safely ({error})", path=path, hint="downscale the image", error=err
        ) from err
