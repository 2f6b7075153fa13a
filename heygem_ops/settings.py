"""The one home of configuration: typed settings read from ``HEYGEM_*`` environment variables.

Every default works on a laptop with no setup; a cluster overrides them through the environment
(e.g. ``HEYGEM_CACHE_DIR=/shared/cache``) so that flows, workers and actors agree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from heygem_ops.constants import STILL_FPS
from heygem_ops.errors import InputError


def _default_home() -> Path:
    return Path.home() / ".heygem"


class Settings(BaseSettings):
    """Process-wide settings; read once, overridable per job through `GenerateOptions`."""

    model_config = SettingsConfigDict(env_prefix="HEYGEM_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="root of cache, work and log folders")
    cache_dir: Path | None = Field(None, description="template cache (face tracks); default HOME/cache")
    work_dir: Path | None = Field(None, description="per-job scratch (segments, audio); default HOME/work")
    log_dir: Path | None = Field(None, description="log files; default HOME/logs")
    output_root: Path | None = Field(None, description="outputs must land under this folder when set")

    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    engine: str = Field("warp", description="lip-sync engine name")
    tracker: str = Field("mesh", description="face tracker backend")
    face: str = Field("largest", description="which face: largest, center, or a size rank 0, 1, ...")
    still_fps: float = Field(float(STILL_FPS), ge=1, le=120, description="output frame rate for image templates")
    chunk_frames: int = Field(100, ge=8, description="output frames per chunk; bounds memory")
    x264_preset: str = Field("veryfast", description="libx264 preset for the output video")
    x264_crf: int = Field(
        16, ge=0, le=51, description="libx264 constant rate factor (16: the chin's skin texture survives)"
    )
    encoder: Literal["auto", "libx264", "h264_nvenc"] = Field(
        "libx264", description="video encoder of the segments: auto takes h264_nvenc when it opens here, else libx264"
    )
    compose_workers: int | None = Field(
        None, ge=0, description="processes rendering chunks on this machine; default one per CPU, 0 renders in threads"
    )

    max_duration_s: float = Field(4 * 3600.0, gt=0, description="longest accepted input, seconds")
    max_pixels: int = Field(3840 * 2160, gt=0, description="largest template frame the pipeline works on, pixels")
    max_decode_pixels: int = Field(
        128_000_000, gt=0, description="largest picture decoded at all (the decompression-bomb guard), pixels"
    )
    max_size: int | None = Field(
        None, ge=16, description="scale templates down to this long side, pixels; default: stills 1920, videos kept"
    )
    max_file_mb: float = Field(4096.0, gt=0, description="largest accepted input file, MiB")

    articulation: Literal["auto", "speech", "loudness"] = Field(
        "auto",
        description="what drives the default engine's mouth: speech (phones: the transcript's, else recognised), "
        "loudness (level and brightness), or auto (speech when the words are given, else loudness)",
    )
    mouths: Literal["auto", "bank", "warp"] = Field(
        "auto",
        description="how the default engine draws the mouth: bank (the template's own mouths, chosen per frame and "
        "placed on the target lips), warp (the template frame's own lips moved, the opened interior painted), or "
        "auto (bank where the template has usable mouths: a talking video; else warp)",
    )
    qa: bool = Field(True, description="measure sync and fidelity of every output (a tracker pass over it)")
    qa_max_abs_lag: int = Field(2, ge=0, description="frames the mouth may lead or trail the speech")
    qa_min_sync: float = Field(0.5, description="correlation of mouth opening with speech level")
    qa_min_confidence: float = Field(0.25, description="sync peak above the median over lags")
    qa_max_template_leak: float = Field(0.3, description="correlation with the template's own mouth motion")
    qa_min_psnr_outside: float = Field(35.0, description="dB outside the lower face vs the template")
    qa_min_sharpness_ratio: float = Field(0.8, description="mouth sharpness, output over template")
    qa_min_face_fraction: float = Field(0.9, description="share of output frames with a face")
    qa_min_chin_texture: float = Field(0.85, description="lip-to-chin skin texture, output over template, median frame")
    qa_min_chin_texture_low: float = Field(0.5, description="the same in the worst 2 % of frames")
    qa_min_teeth_ratio: float = Field(0.7, description="teeth-like share of open mouths, output over template")
    qa_min_interior_ratio: float = Field(0.85, description="open mouths' interior brightness, output over template")
    qa_max_mouth_flicker: float = Field(2.0, description="lower face's frame-to-frame jolts, output over template")

    wav2lip_checkpoint: Path | None = Field(None, description="Wav2Lip weights (.pth)")
    musetalk_dir: Path | None = Field(None, description="MuseTalk's models folder (musetalkV15/, sd-vae/, whisper/)")
    bbox_shift: int = Field(0, ge=-200, le=200, description="musetalk crop: px moving its nose-bridge split (+ down)")
    extra_margin: int = Field(10, ge=0, le=200, description="musetalk crop: px added below the chin")
    parsing_mode: str = Field("jaw", description="where an image engine's face is blended in: jaw, raw or neck")
    ray_address: str | None = Field(None, description="Ray cluster to join ('local' starts one)")
    lang: Literal["auto", "zh", "en"] = Field(
        "auto",
        description="language of messages: zh (简体中文) or en; auto follows the locale (LC_ALL, LC_MESSAGES, LANG) in "
        "the CLI, Accept-Language in the HTTP service and the browser's language in the web UI",
    )

    # The web UI (`heygem ui`): HEYGEM_UI_* variables.
    ui_host: str = Field("127.0.0.1", description="address the web UI listens on; 0.0.0.0 exposes it")
    ui_port: int = Field(7860, ge=1, le=65535, description="port of the web UI")
    ui_user: str | None = Field(None, description="web UI login name; a login is required when set")
    ui_password: SecretStr | None = Field(None, description="web UI login password (with HEYGEM_UI_USER)")
    ui_max_upload_mb: float = Field(500.0, gt=0, description="largest file the web UI accepts, MiB")
    ui_max_duration_s: float = Field(600.0, gt=0, description="longest template or audio the web UI accepts, s")
    ui_dir: Path | None = Field(None, description="web UI uploads, outputs and downloads; default HOME/ui")
    ui_workers: int = Field(1, ge=1, description="jobs (or batches) the web UI runs at once; the rest queue")
    ui_page_size: int = Field(10, ge=1, le=200, description="rows per page in the web UI's History tab")
    ui_generate_deployment: str | None = Field(
        None, description="run web UI jobs as this Prefect deployment ('generate/<name>') instead of in-process"
    )
    ui_bulk_deployment: str | None = Field(
        None, description="run web UI batches as this Prefect deployment ('bulk/<name>') instead of in-process"
    )

    # The HTTP service (`heygem serve`): HEYGEM_API_* variables, and the HeyGem-style data folder.
    data_root: Path | None = Field(
        None,
        description="folder request paths are read from (relative ones resolve there) and outputs go under; HOME/data",
    )
    api_host: str = Field(
        "127.0.0.1", description="address the HTTP service listens on; another needs HEYGEM_API_TOKEN"
    )
    api_port: int = Field(8383, ge=1, le=65535, description="port of the HTTP service (HeyGem's own)")
    api_token: SecretStr | None = Field(
        None, description="Bearer token the HTTP service requires on every route but /healthz"
    )
    api_workers: int = Field(1, ge=1, description="jobs the HTTP service runs at once; the rest queue")
    api_max_upload_mb: float = Field(
        500.0, gt=0, description="largest file the HTTP service takes (upload or URL), MiB"
    )
    api_max_duration_s: float = Field(600.0, gt=0, description="longest template or audio the HTTP service takes, s")
    api_url_timeout_s: float = Field(60.0, gt=0, description="longest an input URL may take to download, s")
    api_page_size: int = Field(20, ge=1, le=500, description="jobs per page of GET /v1/jobs unless asked")
    api_generate_deployment: str | None = Field(
        None, description="run HTTP service jobs as this Prefect deployment ('generate/<name>') instead of in-process"
    )
    ray_gpus_per_actor: float | None = Field(None, gt=0, description="GPU share per model actor (default 1)")
    ray_actors: int | None = Field(None, ge=1, description="model actors to run (default: one per GPU share)")
    ray_actor_cpus: float = Field(1.0, gt=0, description="CPUs each model actor claims")

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.home / "cache"

    @property
    def resolved_work_dir(self) -> Path:
        return self.work_dir or self.home / "work"

    @property
    def resolved_log_dir(self) -> Path:
        return self.log_dir or self.home / "logs"

    @property
    def resolved_ui_dir(self) -> Path:
        return self.ui_dir or self.home / "ui"

    @property
    def resolved_data_root(self) -> Path:
        return (self.data_root or self.home / "data").expanduser().resolve()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use.

    A malformed HEYGEM_* value is the user's to fix, so it is an InputError naming the variable.
    """
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"HEYGEM_{'_'.join(map(str, issue['loc'])).upper()}={issue.get('input')!r}: {issue['msg']}"
            for issue in error.errors()
        )
        raise InputError(
            "invalid settings: {problems}", hint="fix or unset those environment variables", problems=problems
        ) from None
