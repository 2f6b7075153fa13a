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
_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class GenerateOptions:
    """Options of one job; everything that changes the output is part of the job's identity."""

    engine: str = "warp"  # lip-sync engine name (see available_engines())
    tracker: str = "mesh"  # face tracker backend: mesh or fan
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    face: str = "largest"  # which face to animate: largest, center, or a size rank (0 = largest)
    still_fps: Fraction = Fraction(25)  # frame rate of the output when the template is a still image
    video_fps: Fraction | None = None  # frame rate of the output when the template is a video; None keeps its own
    max_size: int | None = None  # long side, px, templates are scaled down to; None: stills 1920, videos kept
    chunk_frames: int = 100  # output frames per chunk: bounds memory, unit of parallel work
    preset: str = "veryfast"  # libx264 preset
    crf: int = 18  # libx264 quality (lower is better, 0-51)
    checkpoint: str | None = None  # engine weights file, for engines that have weights
    face_weights: str | None = None  # folder with the fan tracker's weights (default: the torch hub cache)

    def __post_init__(self) -> None:
        problems = []
        if not _FACE.match(self.face):
            problems.append(f"face={self.face!r} (use largest, center or a number)")
        if not Fraction(1) <= Fraction(self.still_fps) <= Fraction(120):
            problems.append(f"still_fps={self.still_fps} (use 1 to 120)")
        if self.video_fps is not None and not Fraction(1) <= Fraction(self.video_fps) <= Fraction(120):
            problems.append(f"video_fps={self.video_fps} (use 1 to 120)")
        if self.max_size is not None and self.max_size < 16:
            problems.append(f"max_size={self.max_size} (use at least 16 pixels)")
        if self.chunk_frames < 8:
            problems.append(f"chunk_frames={self.chunk_frames} (use at least 8)")
        if self.preset not in _PRESETS:
            problems.append(f"preset={self.preset!r} (use one of {', '.join(_PRESETS)})")
        if not 0 <= self.crf <= 51:
            problems.append(f"crf={self.crf} (use 0 to 51)")
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
            "max_size": settings.max_size,
        }
        base.update({key: value for key, value in overrides.items() if value is not None})
        for rate in ("still_fps", "video_fps"):
            if base.get(rate) is not None:
                base[rate] = Fraction(base[rate]).limit_denominator(1001)
        return cls(**base)

    def identity(self) -> dict[str, Any]:
        """The options that change the output pixels: device, chunking and checkpoint path do not."""
        fields = dataclasses.asdict(self)
        for name in ("device", "chunk_frames", "checkpoint", "face_weights"):
            fields.pop(name)
        fields["still_fps"] = str(self.still_fps)
        for name in ("video_fps", "max_size"):  # unset: absent, so ids of jobs from before these options hold
            if fields[name] is None:
                fields.pop(name)
        if self.video_fps is not None:
            fields["video_fps"] = str(self.video_fps)
        return fields
