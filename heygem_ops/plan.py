"""The decode stage: check both inputs, decode the speech, and lay out the output timeline.

Everything that can reject a job cheaply happens here, before any heavy work: unreadable files,
missing streams, configured limits, an output path outside the allowed root.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from heygem_ops.atomic import write_atomically
from heygem_ops.constants import ID_CHARS, SAMPLE_RATE
from heygem_ops.engines.registry import EngineSpec, engine_weight_files
from heygem_ops.errors import LimitExceededError, OutputPathError
from heygem_ops.face.trackers import TrackerSpec
from heygem_ops.hashing import file_digest, value_digest
from heygem_ops.logs import get_logger
from heygem_ops.media.audio_io import decode_audio
from heygem_ops.media.probe import AudioInfo, VideoInfo, check_pixels, probe_audio, probe_video
from heygem_ops.media.timestamps import frame_starts
from heygem_ops.options import GenerateOptions
from heygem_ops.settings import Settings, get_settings
from heygem_ops.timeline import Chunk, forward_pass, frame_schedule, output_frame_count, plan_chunks

log = get_logger(__name__)

# Bump when a change alters output pixels, so reruns do not skip stale results or reuse stale segments.
# 2: frames are encoded with the template's colour matrix and tags.
# 3: stills scaled to 1920 px, HDR tone-mapped, the output timeline follows the template's timestamps.
# 4: talking templates get the template's own mouths (HEYGEM_MOUTHS=auto, heygem_ops.mouths).
# 5: a banked mouth's parted lips are pressed together on a P, B or M (mouths.place.PRESSED).
PIPELINE_VERSION = "5"


@dataclass(frozen=True)
class JobPlan:
    """Everything later stages need to know about one job; small enough to pass between tasks.

    schedule: (frame_count,) int32, template frame shown at each output frame.
    audio_16k: .npy file with the driving audio as 16 kHz mono float32.
    """

    job_id: str
    template: VideoInfo
    audio: AudioInfo
    output: Path
    options: GenerateOptions
    template_hash: str
    audio_hash: str
    work_dir: Path
    audio_16k: Path
    fps: Fraction
    frame_count: int
    schedule: np.ndarray
    chunks: tuple[Chunk, ...]
    duration_s: float  # of the decoded driving audio: the output's length

    @property
    def engine(self) -> EngineSpec:
        """The engine this job runs, as a host keys its loaded models."""
        options = self.options
        return EngineSpec(options.engine, options.device, options.checkpoint, options.checkpoint_dir)

    @property
    def tracker(self) -> TrackerSpec:
        """The tracker that follows this job's face, as a host keys its loaded trackers."""
        return self.options.tracker_spec()

    @property
    def progress_key(self) -> str:
        """The key under which this job's stages report progress (`progress.board`): its output path."""
        return str(self.output)


def job_identity(template_hash: str, audio_hash: str, options: GenerateOptions) -> str:
    """A job's id: the hash of its input contents and the options that change the output."""
    identity = {"template": template_hash, "audio": audio_hash, "options": options.identity()}
    if options.checkpoint:
        identity["checkpoint"] = file_digest(Path(options.checkpoint))
    if options.checkpoint_dir:
        identity["checkpoint_dir"] = weights_digest(options.engine, options.checkpoint_dir)
    identity["pipeline"] = PIPELINE_VERSION
    return value_digest(identity)[:ID_CHARS]


def weights_digest(engine: str, checkpoint_dir: str | Path) -> str:
    """Content hash of the files engine `engine` loads from `checkpoint_dir` (memoised per file)."""
    return value_digest([file_digest(path) for path in engine_weight_files(engine, checkpoint_dir)])


def require_mp4_name(output: Path) -> None:
    """Outputs are MP4 files; refuse any other name before work starts."""
    if output.suffix.lower() != ".mp4":
        raise OutputPathError("must end in .mp4", path=output, hint="name the output like result.mp4")


def check_output_path(output: Path, settings: Settings) -> Path:
    """Resolve `output`; refuse it outside HEYGEM_OUTPUT_ROOT (when set) or in a missing folder."""
    output = Path(output).expanduser().resolve()
    root = settings.output_root
    if root is not None and not output.is_relative_to(Path(root).expanduser().resolve()):
        raise OutputPathError(
            "is outside the output root {root}",
            root=root,
            path=output,
            hint="write under that folder or change HEYGEM_OUTPUT_ROOT",
        )
    require_mp4_name(output)
    if output.is_dir():
        raise OutputPathError("is a folder", path=output, hint="name a file inside it, like result.mp4")
    if not output.parent.is_dir():
        raise OutputPathError("its folder does not exist", path=output.parent, hint="create the folder first")
    if not _writable(output.parent):
        raise OutputPathError("its folder is not writable", path=output.parent, hint="choose a writable folder")
    return output


def _writable(folder: Path) -> bool:
    """Whether a file can be created in `folder`: tried, since permission bits do not tell root about a
    read-only mount or an immutable folder."""
    if not os.access(folder, os.W_OK):
        return False
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def check_file_size(path: Path, settings: Settings) -> None:
    """Reject a file over HEYGEM_MAX_FILE_MB before it is opened at all."""
    try:
        size_mb = path.stat().st_size / 2**20
    except OSError:
        return  # missing or unreadable: the probe says so, naming the file
    if size_mb > settings.max_file_mb:
        raise LimitExceededError(
            "is {size:.1f} MiB, over the {limit:g} MiB limit",
            size=size_mb,
            limit=settings.max_file_mb,
            path=path,
            hint="raise HEYGEM_MAX_FILE_MB or use a smaller file",
        )


def check_limits(path: Path, duration_s: float, pixels: int, settings: Settings) -> None:
    """Reject inputs over the configured limits before any decoding, naming the setting to raise."""
    check_file_size(path, settings)
    if duration_s > settings.max_duration_s:
        raise LimitExceededError(
            "lasts {duration:.1f} s, over the {limit:g} s limit",
            duration=duration_s,
            limit=settings.max_duration_s,
            path=path,
            hint="raise HEYGEM_MAX_DURATION_S or split the input",
        )
    check_pixels(path, pixels, settings.max_pixels)


def save_samples(path: Path, samples: np.ndarray) -> None:
    """Store `samples` as a .npy file that appears whole or not at all (ResourceError on a full disk)."""
    buffer = io.BytesIO()
    np.save(buffer, samples)
    write_atomically(path, buffer.getvalue())


def probe_template(template: Path, options: GenerateOptions, settings: Settings) -> VideoInfo:
    """The template as the job will see it: scaled by the job's max size, tone-mapped when HDR,
    within the pixel limits; each of those changes is logged in one line."""
    video = probe_video(
        template,
        still_fps=options.still_fps,
        max_pixels=settings.max_pixels,
        max_size=options.max_size,
        max_decode_pixels=settings.max_decode_pixels,
    )
    if video.scaled:
        width, height = video.decoded_size
        log.info("Scaling %s from %dx%d to %dx%d", video.path.name, width, height, video.width, video.height)
    if video.hdr:
        log.info("Tone-mapping %s from HDR (BT.2020 %s) to SDR BT.709", video.path.name, video.hdr)
    return video


def output_rate(video: VideoInfo, options: GenerateOptions) -> Fraction:
    """Frames per second of the output: a still's chosen rate, else `video_fps` or the template's own."""
    if video.is_still or options.video_fps is None:
        return video.fps
    return Fraction(options.video_fps)


def template_forward(video: VideoInfo, fps: Fraction) -> np.ndarray:
    """One forward play of the template at the output rate `fps`, following its real frame timestamps."""
    if video.is_still:
        return np.zeros(1, dtype=np.int32)
    starts = frame_starts(video.path)
    return forward_pass(starts, float(starts[-1]) + 1 / float(video.fps), fps)


def plan_job(template: Path, audio: Path, output: Path, options: GenerateOptions) -> JobPlan:
    """Probe and check both inputs, decode the audio once, and plan frames and chunks."""
    settings = get_settings()
    output = check_output_path(output, settings)
    for source in (template, audio):
        if Path(source).expanduser().resolve() == output:
            raise OutputPathError("is also an input of the job", path=output, hint="write the output to another file")
    check_file_size(Path(template), settings)
    check_file_size(Path(audio), settings)
    video = probe_template(Path(template), options, settings)
    frames_s = video.frame_count / float(video.fps)  # a header can understate the length; packets cannot
    check_limits(video.path, max(video.duration_s, frames_s), video.width * video.height, settings)
    sound = probe_audio(audio)
    check_limits(sound.path, sound.duration_s, 0, settings)
    template_hash, audio_hash = file_digest(video.path), file_digest(sound.path)
    job_id = job_identity(template_hash, audio_hash, options)
    work_dir = settings.resolved_work_dir / job_id
    work_dir.mkdir(parents=True, exist_ok=True)
    samples = decode_audio(sound.path, SAMPLE_RATE, max_seconds=settings.max_duration_s)
    audio_16k = work_dir / "audio16k.npy"
    save_samples(audio_16k, samples)
    fps, duration_s = output_rate(video, options), len(samples) / SAMPLE_RATE
    frame_count = output_frame_count(duration_s, fps)
    schedule = frame_schedule(video.frame_count, frame_count, options.loop, template_forward(video, fps))
    chunks = tuple(plan_chunks(schedule, options.chunk_frames))
    return JobPlan(
        job_id, video, sound, output, options, template_hash, audio_hash, work_dir, audio_16k, fps,
        frame_count, schedule, chunks, duration_s,
    )  # fmt: skip
