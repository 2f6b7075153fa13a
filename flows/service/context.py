"""What every route of the service shares: settings, folders, uploads, the job table, jobs and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from heygem_flows.service.inputs import InputResolver
from heygem_flows.service.jobs import JobService
from heygem_flows.service.metrics import Metrics
from heygem_flows.service.table import JobTable
from heygem_flows.uploads import UploadStore
from heygem_ops.errors import OutputPathError
from heygem_ops.settings import Settings

UPLOAD_LIMIT_SETTINGS = ("HEYGEM_API_MAX_UPLOAD_MB", "HEYGEM_API_MAX_DURATION_S")


@dataclass(frozen=True)
class Folders:
    """Under the data root: stored inputs and outputs (with their results dataset); in HOME: table and temp."""

    data_root: Path
    uploads: Path
    outputs: Path
    table: Path
    temp: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> Folders:
        root = settings.resolved_data_root
        service = settings.home.expanduser().resolve() / "service"
        return cls(root, root / "uploads", root / "outputs", service / "jobs.sqlite", service / "tmp")

    def create(self, settings: Settings) -> Folders:
        """Make the folders; refuse an output folder outside HEYGEM_OUTPUT_ROOT (every job would fail there)."""
        if settings.output_root and not self.outputs.is_relative_to(Path(settings.output_root).expanduser().resolve()):
            raise OutputPathError(
                "the service writes under the data root, which is outside the output root {root}",
                root=settings.output_root,
                path=self.outputs,
                hint="set HEYGEM_DATA_ROOT to a folder inside HEYGEM_OUTPUT_ROOT, or unset HEYGEM_OUTPUT_ROOT",
            )
        for folder in (self.uploads, self.outputs, self.table.parent, self.temp):
            folder.mkdir(parents=True, exist_ok=True)
        for stale in self.temp.glob("*.part"):  # downloads and uploads a killed process left half-way
            stale.unlink(missing_ok=True)
        return self

    def relative(self, path: str | Path) -> str:
        """`path` relative to the data root, as HeyGem's `result` is (absolute if the root has moved since)."""
        path = Path(path).resolve()
        return str(path.relative_to(self.data_root)) if path.is_relative_to(self.data_root) else str(path)


@dataclass(frozen=True)
class ServiceContext:
    """One per running app."""

    settings: Settings
    folders: Folders
    uploads: UploadStore
    inputs: InputResolver
    jobs: JobService
    metrics: Metrics

    @classmethod
    def create(cls, settings: Settings) -> ServiceContext:
        folders = Folders.from_settings(settings).create(settings)
        uploads = UploadStore(
            folders.uploads, settings.api_max_upload_mb, settings.api_max_duration_s, UPLOAD_LIMIT_SETTINGS,
            settings.max_pixels,
        )  # fmt: skip
        metrics = Metrics()
        jobs = JobService(settings, JobTable(folders.table), uploads.folder, folders.outputs, metrics)
        return cls(settings, folders, uploads, InputResolver(settings, uploads, folders.temp), jobs, metrics)
