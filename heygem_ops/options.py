"""What a user can choose for a job, validated in one place that names the offending option."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from heygem_ops.errors import InputError
from heygem_ops.settings import Settings, get_settings

_FACE = re.compile(r"^(largest|center|\d+)$")
PARSING_MODES = ("jaw", "raw", "neck")  # MuseTalk's blending modes; see compose.paste.BLEND_REGIONS
_DEFAULT_WHEN_OMITTED = {"bbox_shift": 0, "extra_margin": 10, "parsing_mode": "jaw"}  # ids predate them
_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class GenerateOptions:
    """Options of one job; everything that changes the output is part of the job's identity."""

    engine: str = "warp"  # lip-sync engine name (see available_engines())
    tracker: str = "mesh"  # face tracker backend: mesh or fan
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    face: str = "largest"  # which face to animate: largest, center, or a size rank (0 = largest)
    still_fps: Fraction = Fraction(25)  # frame rate of the output when the template is a still image
    chunk_frames: int = 100  # output frames per chunk: bounds memory, unit of parallel work
    preset: str = "veryfast"  # libx264 preset
    crf: int = 18  # libx264 quality (lower is better, 0-51)
    checkpoint: str | None = None  # engine weights file, for engines that have weights
    face_weights: str | None = None  # folder with the fan tracker's weights (default: the torch hub cache)
    checkpoint_dir: str | None = None  # engine weights folder, for engines with several files (musetalk)
    bbox_shift: int = 0  # px, musetalk crop: moves the nose-bridge split down (+) or up (−); MuseTalk 1.5: 0
    extra_margin: int = 10  # px, musetalk crop: added below the chin (MuseTalk 1.5's default)
    parsing_mode: str = "jaw"  # where a generated face is blended in: jaw (default), raw, or neck

    def __post_init__(self) -> None:
        problems = []
        if not _FACE.match(self.face):
            problems.append(f"face={self.face!r} (use largest, center or a number)")
        if not Fraction(1) <= Fraction(self.still_fps) <= Fraction(120):
            problems.append(f"still_fps={self.still_fps} (use 1 to 120)")
        if self.chunk_frames < 8:
            problems.append(f"chunk_frames={self.chunk_frames} (use at least 8)")
        if self.preset not in _PRESETS:
            problems.append(f"preset={self.preset!r} (use one of {', '.join(_PRESETS)})")
        if not 0 <= self.crf <= 51:
            problems.append(f"crf={self.crf} (use 0 to 51)")
        if not -200 <= self.bbox_shift <= 200:
            problems.append(f"bbox_shift={self.bbox_shift} (use -200 to 200 px)")
        if not 0 <= self.extra_margin <= 200:
            problems.append(f"extra_margin={self.extra_margin} (use 0 to 200 px)")
        if self.parsing_mode not in PARSING_MODES:
            problems.append(f"parsing_mode={self.parsing_mode!r} (use one of {', '.join(PARSING_MODES)})")
        if problems:
            raise InputError("invalid options: " + "; ".join(problems))

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> GenerateOptions:
        """Defaults from the environment (HEYGEM_*), then explicit overrides that are not None."""
        settings = settings or get_settings()
        base: dict[str, Any] = {
            "engine": settings.engine,
            "tracker": settings.tracker,
            "device": settings.device,
            "chunk_frames": settings.chunk_frames,
            "preset": settings.x264_preset,
            "crf": settings.x264_crf,
            "checkpoint": str(settings.wav2lip_checkpoint) if settings.wav2lip_checkpoint else None,
            "checkpoint_dir": str(settings.musetalk_dir) if settings.musetalk_dir else None,
        }
        base.update({key: value for key, value in overrides.items() if value is not None})
        if "still_fps" in base:
            base["still_fps"] = Fraction(base["still_fps"]).limit_denominator(1001)
        return cls(**base)

    def identity(self) -> dict[str, Any]:
        """The options that change the output pixels: device, chunking and checkpoint paths do not.

        Options added later count only when changed from their default, so older job ids still hold.
        """
        fields = dataclasses.asdict(self)
        for name in ("device", "chunk_frames", "checkpoint", "face_weights", "checkpoint_dir"):
            fields.pop(name)
        for name, default in _DEFAULT_WHEN_OMITTED.items():
            if fields[name] == default:
                fields.pop(name)
        fields["still_fps"] = str(self.still_fps)
        return fields
