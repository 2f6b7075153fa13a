"""What a user can choose for a job, validated in one place that names the offending option."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, get_args

from heygem_ops.constants import STILL_FPS, frame_rate
from heygem_ops.engines.registry import available_engines
from heygem_ops.errors import InputError
from heygem_ops.face.trackers import TrackerSpec, available_trackers
from heygem_ops.settings import Settings, get_settings
from heygem_ops.timeline import LOOPS, PINGPONG

_DEFAULTS = Settings.model_fields  # the dataclass defaults are the settings' own: one home for each
_FACE = re.compile(r"^(largest|center|\d+)$")
PARSING_MODES = ("jaw", "raw", "neck")  # MuseTalk's blending modes; see compose.paste.BLEND_REGIONS
# options added after job ids were first handed out: part of a job's identity only when changed from the default
_ADDED_LATER = ("bbox_shift", "extra_margin", "parsing_mode", "loop", "articulation", "mouths")
ARTICULATION_MODES: tuple[str, ...] = get_args(_DEFAULTS["articulation"].annotation)  # see Settings.articulation
MOUTH_MODES: tuple[str, ...] = get_args(_DEFAULTS["mouths"].annotation)  # see Settings.mouths
MAX_TEXT_CHARS = 100_000  # a transcript longer than any accepted recording could hold
_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class GenerateOptions:
    """Options of one job; everything that changes the output is part of the job's identity."""

    engine: str = _DEFAULTS["engine"].default  # lip-sync engine name (see available_engines())
    tracker: str = _DEFAULTS["tracker"].default  # face tracker backend (see available_trackers())
    device: str = _DEFAULTS["device"].default  # auto, cpu, cuda, cuda:N
    face: str = _DEFAULTS["face"].default  # which face to animate: largest, center, or a size rank (0 = largest)
    still_fps: Fraction = STILL_FPS  # frame rate of the output when the template is a still image
    video_fps: Fraction | None = None  # frame rate of the output when the template is a video; None keeps its own
    max_size: int | None = _DEFAULTS["max_size"].default  # long side templates are scaled to; None: stills 1920
    chunk_frames: int = _DEFAULTS["chunk_frames"].default  # output frames per chunk: bounds memory, unit of work
    preset: str = _DEFAULTS["x264_preset"].default  # libx264 preset
    crf: int = _DEFAULTS["x264_crf"].default  # libx264 quality (lower is better, 0-51)
    checkpoint: str | None = None  # engine weights file, for engines that have weights
    face_weights: str | None = None  # folder with the fan tracker's weights (default: the torch hub cache)
    checkpoint_dir: str | None = None  # engine weights folder, for engines with several files (musetalk)
    bbox_shift: int = _DEFAULTS["bbox_shift"].default  # px, musetalk crop: moves the nose-bridge split (+ down)
    extra_margin: int = _DEFAULTS["extra_margin"].default  # px, musetalk crop: added below the chin
    parsing_mode: str = _DEFAULTS["parsing_mode"].default  # where a generated face is blended: jaw, raw, neck
    qa: bool = _DEFAULTS["qa"].default  # measure sync and fidelity of the output while it is composed
    loop: str = PINGPONG  # a template shorter than the audio repeats: pingpong (forward-backward) or plain
    text: str | None = None  # the words spoken (English is force-aligned); None: phones are recognised
    articulation: str = _DEFAULTS["articulation"].default  # speech, loudness or auto (see ARTICULATION_MODES)
    mouths: str = _DEFAULTS["mouths"].default  # bank, warp or auto: how the warp engine draws mouths (MOUTH_MODES)

    def __post_init__(self) -> None:
        if self.text is not None and not self.text.strip():
            object.__setattr__(self, "text", None)  # a blank transcript is no transcript
        problems = []
        if self.engine not in available_engines():
            problems.append(f"engine={self.engine!r} (use one of {', '.join(available_engines())})")
        if self.tracker not in available_trackers():
            problems.append(f"tracker={self.tracker!r} (use one of {', '.join(available_trackers())})")
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
        if self.loop not in LOOPS:
            problems.append(f"loop={self.loop!r} (use {' or '.join(LOOPS)})")
        if not -200 <= self.bbox_shift <= 200:
            problems.append(f"bbox_shift={self.bbox_shift} (use -200 to 200 px)")
        if not 0 <= self.extra_margin <= 200:
            problems.append(f"extra_margin={self.extra_margin} (use 0 to 200 px)")
        if self.parsing_mode not in PARSING_MODES:
            problems.append(f"parsing_mode={self.parsing_mode!r} (use one of {', '.join(PARSING_MODES)})")
        if self.articulation not in ARTICULATION_MODES:
            problems.append(f"articulation={self.articulation!r} (use one of {', '.join(ARTICULATION_MODES)})")
        if self.mouths not in MOUTH_MODES:
            problems.append(f"mouths={self.mouths!r} (use one of {', '.join(MOUTH_MODES)})")
        if self.text is not None and len(self.text) > MAX_TEXT_CHARS:
            problems.append(f"text of {len(self.text)} characters (use at most {MAX_TEXT_CHARS})")
        if problems:
            raise InputError("invalid options: {problems}", problems="; ".join(problems))

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> GenerateOptions:
        """Defaults from the environment (HEYGEM_*), then explicit overrides that are not None."""
        settings = settings or get_settings()
        base: dict[str, Any] = {
            "engine": settings.engine,
            "tracker": settings.tracker,
            "face": settings.face,
            "still_fps": settings.still_fps,
            "device": settings.device,
            "chunk_frames": settings.chunk_frames,
            "preset": settings.x264_preset,
            "crf": settings.x264_crf,
            "qa": settings.qa,
            "articulation": settings.articulation,
            "mouths": settings.mouths,
            "checkpoint": str(settings.wav2lip_checkpoint) if settings.wav2lip_checkpoint else None,
            "checkpoint_dir": str(settings.musetalk_dir) if settings.musetalk_dir else None,
            "bbox_shift": settings.bbox_shift,
            "extra_margin": settings.extra_margin,
            "parsing_mode": settings.parsing_mode,
            "max_size": settings.max_size,
        }
        base.update({key: value for key, value in overrides.items() if value is not None})
        base["still_fps"] = frame_rate(base["still_fps"])
        if base.get("video_fps") is not None:
            base["video_fps"] = frame_rate(base["video_fps"])
        return cls(**base)

    def tracker_spec(self) -> TrackerSpec:
        """The tracker this job's template is tracked with: the key of its cached track."""
        return TrackerSpec(self.tracker, self.face, self.face_weights)

    def identity(self) -> dict[str, Any]:
        """The options that change the output pixels: device, chunking, checkpoint paths and QA do not.

        Options added later count only when changed from their default, so older job ids still hold.
        """
        fields = dataclasses.asdict(self)
        for name in ("device", "chunk_frames", "checkpoint", "face_weights", "qa", "checkpoint_dir"):
            fields.pop(name)
        defaults = {field.name: field.default for field in dataclasses.fields(self)}
        for name in _ADDED_LATER:
            if fields[name] == defaults[name]:
                fields.pop(name)
        fields["still_fps"] = str(self.still_fps)
        for name in ("video_fps", "max_size", "text"):  # unset: absent, so ids of jobs from before these options hold
            if fields[name] is None:
                fields.pop(name)
        if self.video_fps is not None:
            fields["video_fps"] = str(self.video_fps)
        return fields
