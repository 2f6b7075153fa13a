"""HDR phone video (BT.2020 with the PQ or HLG transfer) turned into SDR BT.709 pictures.

Phones record HDR by default (iPhone: HEVC Main 10, BT.2020, HLG). Encoding those pixels as if
they were SDR BT.709 looks grey and washed out, and tagging the output as HDR would make every
SDR step after us (our compositing, most players' thumbnails) wrong. So frames are decoded to
16-bit RGB and mapped here, in display light:

1. the transfer's EOTF (PQ: SMPTE ST 2084; HLG: BT.2100's inverse OETF and a per-channel system
   gamma of 1.2 for a 1000 cd/m2 display) -> linear light, relative to HDR reference white
   (203 cd/m2, BT.2408), as a 65536-entry table indexed by the 16-bit code;
2. BT.2020 -> BT.709 primaries (a 3x3 matrix in linear light; out-of-gamut values clip);
3. a knee curve that leaves everything up to 75 % of SDR white as it is and compresses the
   highlights above it smoothly towards white, then the BT.709 OETF -> 8-bit, as one table indexed
   by the square root of the linear value (fine steps in the shadows).

Each channel goes through the same curves and the matrix rows sum to one, so a grey stays grey.
FFmpeg's own `tonemap` filter needs `zscale` to linearise, which PyAV's FFmpeg lacks.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

HDR_TRANSFERS = {16: "PQ", 18: "HLG"}  # AVCOL_TRC_SMPTE2084, AVCOL_TRC_ARIB_STD_B67
REFERENCE_WHITE = 203.0  # cd/m2: HDR diffuse white (BT.2408), mapped to SDR white
KNEE = 0.75  # relative linear light where highlight compression starts
_PEAK = 10000.0 / REFERENCE_WHITE  # the brightest PQ code, relative to reference white
_SQRT_STEPS = 16384  # entries of the output table over sqrt(linear / _PEAK)

# BT.2087: linear BT.2020 RGB -> linear BT.709 RGB.
_BT2020_TO_BT709 = np.array(
    [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]], dtype=np.float32
)


def tone_map(rgb48: np.ndarray, transfer: str) -> np.ndarray:
    """(H, W, 3) uint16 full-range BT.2020 R'G'B' with transfer `transfer` ("PQ" or "HLG") -> (H, W, 3)
    uint8 BT.709 R'G'B'."""
    linear = cv2.transform(_to_linear(transfer)[rgb48], _BT2020_TO_BT709)
    np.clip(linear, 0.0, _PEAK, out=linear)
    linear *= np.float32((_SQRT_STEPS - 1) ** 2 / _PEAK)
    return _to_sdr()[cv2.sqrt(linear).astype(np.uint16)]


@lru_cache(maxsize=2)
def _to_linear(transfer: str) -> np.ndarray:
    """(65536,) float32: 16-bit code -> linear light relative to reference white."""
    signal = np.arange(65536, dtype=np.float64) / 65535.0
    nits = _pq_eotf(signal) if transfer == "PQ" else _hlg_display(signal)
    return (nits / REFERENCE_WHITE).astype(np.float32)


@lru_cache(maxsize=1)
def _to_sdr() -> np.ndarray:
    """(_SQRT_STEPS,) uint8: sqrt-spaced linear light -> knee-compressed, BT.709-encoded 8-bit code."""
    linear = (np.arange(_SQRT_STEPS, dtype=np.float64) / (_SQRT_STEPS - 1)) ** 2 * _PEAK
    above = np.maximum(linear - KNEE, 0.0)
    compressed = np.where(linear <= KNEE, linear, KNEE + (1 - KNEE) * above / (above + (1 - KNEE)))
    return np.round(_bt709_oetf(compressed) * 255.0).astype(np.uint8)


def _pq_eotf(signal: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084: non-linear signal in [0, 1] -> display light, cd/m2."""
    m1, m2, c1, c2, c3 = 2610 / 16384, 2523 / 4096 * 128, 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    power = signal ** (1 / m2)
    return 10000.0 * (np.maximum(power - c1, 0.0) / (c2 - c3 * power)) ** (1 / m1)


def _hlg_display(signal: np.ndarray) -> np.ndarray:
    """BT.2100 HLG: non-linear signal in [0, 1] -> display light, cd/m2, on a 1000 cd/m2 display.

    The system gamma (1.2) is applied per channel rather than on luminance, which keeps the table 1-D.
    """
    a, b = 0.17883277, 0.28466892
    c = 0.5 - a * np.log(4 * a)
    scene = np.where(signal <= 0.5, signal**2 / 3, (np.exp((signal - c) / a) + b) / 12)
    return 1000.0 * scene**1.2


def _bt709_oetf(linear: np.ndarray) -> np.ndarray:
    """BT.709: linear light in [0, 1] -> non-linear signal in [0, 1]."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear < 0.018, 4.5 * linear, 1.099 * linear**0.45 - 0.099)
