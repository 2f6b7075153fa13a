"""The feature stage: the template's face track (cached by content) and the audio's per-frame features."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from heygem_ops.articulation.analysis import ArticulationTrack, cached_articulation, loudness_track
from heygem_ops.audio import AudioFeatures, audio_features
from heygem_ops.cache import TemplateCache
from heygem_ops.engines.registry import engine_needs
from heygem_ops.errors import InputError, NoFaceError
from heygem_ops.face.crops import CropRule, template_crops
from heygem_ops.face.landmarks import mouth_width
from heygem_ops.face.prepared import prepared_entry_name, template_prepared
from heygem_ops.face.track import FaceTrack
from heygem_ops.face.trackers import TrackerSpec
from heygem_ops.hashing import file_digest
from heygem_ops.host import ModelHost
from heygem_ops.i18n import Message
from heygem_ops.logs import get_logger
from heygem_ops.media.probe import VideoInfo, probe_video
from heygem_ops.media.segments import EncodeSettings
from heygem_ops.mouths.bank import load_bank, template_bank
from heygem_ops.mouths.select import MouthPath, choose_path, mouth_targets
from heygem_ops.orders import ChunkInputs, ChunkOrder
from heygem_ops.plan import JobPlan, weights_digest
from heygem_ops.settings import get_settings

log = get_logger(__name__)
TRACK_VERSION = "1"  # bump when tracking changes, so stale tracks are rebuilt


@dataclass(frozen=True)
class JobFeatures:
    """What inference and compose need beyond the plan.

    track_path:   the cached face track of the template (load with `face.track.load_track`).
    audio:        per-output-frame audio features.
    mouth_width:  the template's median mouth width, in interocular distances.
    track_cached: True when the track came from the cache (no face detection ran).
    track_seconds: time spent getting the track (tracking, or loading it).
    crops_path:   see `heygem_ops.face.crops.load_template_crops`; None unless the engine needs crops.
    prepared_path: see `heygem_ops.face.prepared`; None unless the engine prepares its crops.
    articulation: what the speech articulates per output frame; None unless the engine asks for it.
    bank_path:    the template's mouth bank (`mouths.bank`) when the job draws banked mouths, else None...
    mouths:       ...and the banked mouth each output frame shows (`mouths.select`).
    """

    track_path: Path
    audio: AudioFeatures
    mouth_width: float
    face_frames: int
    track_cached: bool
    track_seconds: float
    crops_path: Path | None = None  # cache entry of the template's face crops, for engines that ask for them
    prepared_path: Path | None = None  # cache entry of the engine's preparation of those crops
    articulation: ArticulationTrack | None = None
    bank_path: Path | None = None
    mouths: MouthPath | None = None


def track_cache_name(spec: TrackerSpec, size: tuple[int, int]) -> str:
    """The cache entry of a track: per tracker, face choice and the (width, height) frames were tracked at,
    so a job scaled by --max-size never borrows the landmarks of the full-size frames."""
    return f"track-{spec.name}-face{spec.face}-{size[0]}x{size[1]}-v{TRACK_VERSION}.npz"


def template_track(
    video: VideoInfo,
    template_hash: str,
    spec: TrackerSpec,
    host: ModelHost,
    progress: Callable[[int], None] | None = None,
) -> tuple[FaceTrack, Path, bool]:
    """The template's face track from the cache, or tracked now and cached. Returns (track, path, cached).

    Keyed by content hash, tracker, face choice and frame size: a renamed or copied template is not
    tracked again.
    """
    cache = TemplateCache(get_settings().resolved_cache_dir)
    name = track_cache_name(spec, (video.width, video.height))

    def build() -> FaceTrack:
        log.info("Tracking faces in %d frames of %s", video.frame_count, video.path.name)
        return host.track(spec, video, progress=progress)

    track, cached = cache.get_or_build(template_hash, name, build, FaceTrack.to_bytes, FaceTrack.from_bytes)
    if cached:
        log.info("Face track of %s loaded from cache (no detection)", video.path.name)
    return track, cache.path(template_hash, name), cached


@dataclass(frozen=True)
class PreparedTemplate:
    """A template whose face track is in the cache."""

    template: Path
    template_hash: str
    track_path: Path
    frames: int
    face_frames: int
    was_cached: bool


def prepare_template(
    template: Path, spec: TrackerSpec, host: ModelHost, still_fps: Fraction = Fraction(25)
) -> PreparedTemplate:
    """Warm the template cache for `template` ahead of the jobs that will use it."""
    video = probe_video(template, still_fps=still_fps)
    digest = file_digest(video.path)
    track, path, cached = template_track(video, digest, spec, host)
    return PreparedTemplate(video.path, digest, path, track.frame_count, int(track.present.sum()), cached)


def job_crops(plan: JobPlan, track: FaceTrack) -> Path | None:
    """The cache entry of the template's face crops when the job's engine wants crops, else None."""
    options = plan.options
    needs = engine_needs(options.engine)
    if needs.crop_size is None:
        return None
    rule = CropRule(needs.crop_box, options.bbox_shift, options.extra_margin)
    cache = TemplateCache(get_settings().resolved_cache_dir)
    name = track_cache_name(plan.tracker, (plan.template.width, plan.template.height))
    path, cached = template_crops(cache, plan.template_hash, plan.template, track, name, needs.crop_size, rule)
    log.info("Face crops of %s %s", plan.template.path.name, "loaded from cache" if cached else "cut and cached")
    return path


def job_prepared(plan: JobPlan, crops: Path | None, host: ModelHost) -> Path | None:
    """The cache entry of the engine's preparation of the template's crops (built now on first use),
    None when the engine prepares nothing. This is MuseTalk's avatar preparation: once per template
    content, crops and weights, whichever job comes first.
    """
    options = plan.options
    if crops is None or not engine_needs(options.engine).prepares:
        return None
    weights = weights_digest(options.engine, options.checkpoint_dir) if options.checkpoint_dir else "default"
    name = prepared_entry_name(options.engine, weights, crops)
    cache = TemplateCache(get_settings().resolved_cache_dir)
    spec = plan.engine
    path, cached = template_prepared(cache, plan.template_hash, crops, name, lambda faces: host.prepare(spec, faces))
    log.info("%s preparation of %s %s", options.engine, plan.template.path.name, "from cache" if cached else "done")
    return path


def prepare_features(plan: JobPlan, host: ModelHost, progress: Callable[[int], None] | None = None) -> JobFeatures:
    """Run the feature stage for `plan`; raises NoFaceError when the template never shows a face."""
    started = time.perf_counter()
    track, path, cached = template_track(plan.template, plan.template_hash, plan.tracker, host, progress)
    seconds = time.perf_counter() - started
    present = track.present
    if not present.any():
        raise NoFaceError(
            "no face found in any frame",
            path=plan.template.path,
            hint="use a template where one face is clearly visible, frontal, at least ~80 px wide",
        )
    width = float(np.nanmedian(mouth_width(track.landmarks[present])))
    samples = np.load(plan.audio_16k)
    features = audio_features(samples, plan.fps, plan.frame_count)
    crops = job_crops(plan, track)
    prepared = job_prepared(plan, crops, host)
    articulation = job_articulation(plan, samples, features)
    bank, mouths = job_mouths(plan, track, articulation, width)
    return JobFeatures(
        path, features, width, int(present.sum()), cached, seconds, crops, prepared, articulation, bank, mouths
    )


def job_mouths(
    plan: JobPlan, track: FaceTrack, articulation: ArticulationTrack | None, width: float
) -> tuple[Path | None, MouthPath | None]:
    """The template's mouth bank and the job's path through it, when the job draws banked mouths.

    Only for an engine whose targets may be drawn so (`EngineNeeds.mouths`), `mouths` not "warp",
    and a template that gives mouths (a talking video: see `mouths.bank`); "auto" falls back to the
    warp otherwise, "bank" refuses. The path is chosen here, once per job, so every chunk agrees.
    """
    mode = plan.options.mouths
    if mode == "warp" or articulation is None or not engine_needs(plan.options.engine).mouths:
        return None, None
    started = time.perf_counter()
    cache = TemplateCache(get_settings().resolved_cache_dir)
    name = track_cache_name(plan.tracker, (plan.template.width, plan.template.height))
    entry, cached = template_bank(cache, plan.template_hash, plan.template, track, name)
    bank = load_bank(entry)
    if bank.reason:
        if mode == "bank":
            raise InputError(
                "gives no mouths to bank: {reason}",
                reason=Message(bank.reason),
                path=plan.template.path,
                hint="use a talking video as the template, or HEYGEM_MOUTHS=auto or warp",
            )
        log.info("Mouths of %s are warped: %s", plan.template.path.name, bank.reason)
        return None, None
    gap, target, closure = mouth_targets(articulation, width)
    path = choose_path(bank, gap, target, plan.schedule, closure)
    log.info(
        "Mouth bank of %s %s: %d usable frames; %d switches in %.2f s",
        plan.template.path.name, "from cache" if cached else "built", int(bank.usable.sum()),
        int((np.abs(np.diff(path.entries)) > 1).sum()), time.perf_counter() - started,
    )  # fmt: skip
    return entry, path


def job_articulation(plan: JobPlan, samples: np.ndarray, audio: AudioFeatures) -> ArticulationTrack | None:
    """The speech's articulation per output frame when the job's engine wants it, else None.

    Phones (the transcript's, else recognised) when the job's `articulation` is speech, or auto with
    the words given; else the level and brightness (`loudness_track`). Analysis is cached by the
    audio's content (and transcript): a batch of templates with one recording analyses it once.
    """
    if not engine_needs(plan.options.engine).articulation:
        return None
    mode = plan.options.articulation
    if mode == "loudness" or (mode == "auto" and plan.options.text is None):
        why = "no transcript given: HEYGEM_ARTICULATION=speech recognises phones" if mode == "auto" else mode
        log.info("Mouth driven by the speech's loudness (%s)", why)
        return loudness_track(audio)
    started = time.perf_counter()
    cache = TemplateCache(get_settings().resolved_cache_dir)
    track, cached = cached_articulation(cache, plan.audio_hash, samples, plan.fps, plan.frame_count, plan.options.text)
    how = "loaded from cache" if cached else f"analysed in {time.perf_counter() - started:.2f} s"
    log.info("Articulation of the speech (%s) %s", track.source, how)
    return track


def chunk_orders(plan: JobPlan, features: JobFeatures) -> tuple[ChunkOrder, ...]:
    """Cut the plan and the features into one small work order per chunk, once per job.

    The one place where per-frame inputs are sliced for a chunk: a new one is a field of
    `ChunkInputs` and a slice here.
    """
    encode = EncodeSettings(plan.options.preset, plan.options.crf, get_settings().encoder)
    return tuple(
        ChunkOrder(
            job_id=plan.job_id,
            chunk=chunk,
            frames=plan.schedule[chunk.start : chunk.stop],  # a slice pickles as its own frames only
            video=plan.template,
            fps=plan.fps,
            encode=encode,
            work_dir=plan.work_dir,
            track_path=features.track_path,
            engine=plan.engine,
            inputs=ChunkInputs(
                audio=features.audio.window(chunk.start, chunk.stop),
                mouth_width=features.mouth_width,
                audio_16k=plan.audio_16k,
                crops_path=features.crops_path,
                prepared_path=features.prepared_path,
                articulation=features.articulation.window(chunk.start, chunk.stop) if features.articulation else None,
                bank_path=features.bank_path,
                mouths=features.mouths.window(chunk.start, chunk.stop) if features.mouths else None,
            ),
            progress_key=plan.progress_key,
            job_frames=plan.frame_count,
            qa=plan.options.qa,
            blend=plan.options.parsing_mode,
        )
        for chunk in plan.chunks
    )
