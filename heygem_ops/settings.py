"""The one home of configuration: typed settings read from ``HEYGEM_*`` environment variables.

Every default works on a laptop with no setup; a cluster overrides them through the environment
(e.g. ``HEYGEM_CACHE_DIR=/shared/cache``) so that flows, workers and actors agree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    chunk_frames: int = Field(100, ge=8, description="output frames per chunk; bounds memory")
    x264_preset: str = Field("veryfast", description="libx264 preset for the output video")
    x264_crf: int = Field(18, ge=0, le=51, description="libx264 constant rate factor")

    max_duration_s: float = Field(4 * 3600.0, gt=0, description="longest accepted input, seconds")
    max_pixels: int = Field(3840 * 2160, gt=0, description="largest accepted template frame, pixels")
    max_file_mb: float = Field(4096.0, gt=0, description="largest accepted input file, MiB")

    wav2lip_checkpoint: Path | None = Field(None, description="Wav2Lip weights (.pth)")
    ray_address: str | None = Field(None, description="Ray cluster to join ('local' starts one)")
    ray_gpus_per_actor: float | None = Field(None, gt=0, description="GPU share per model actor (default 1)")

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.home / "cache"

    @property
    def resolved_work_dir(self) -> Path:
        return self.work_dir or self.home / "work"

    @property
    def resolved_log_dir(self) -> Path:
        return self.log_dir or self.home / "logs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment on first use."""
    return Settings()
