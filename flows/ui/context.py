"""What every tab of the web UI shares: settings, folders, uploads, the job queue and the results."""

from __future__ import annotations

from dataclasses import dataclass

from heygem_flows.jobs_queue import JobQueue
from heygem_flows.ui.jobs import Workspace
from heygem_flows.uploads import UploadStore
from heygem_ops.results_store import ResultsStore
from heygem_ops.settings import Settings


@dataclass(frozen=True)
class UiContext:
    """One per running app; handlers reach everything through it."""

    settings: Settings
    workspace: Workspace
    uploads: UploadStore
    queue: JobQueue

    @classmethod
    def create(cls, settings: Settings) -> UiContext:
        workspace = Workspace.from_settings(settings).create()
        uploads = UploadStore(workspace.uploads, settings.ui_max_upload_mb, settings.ui_max_duration_s)
        return cls(settings, workspace, uploads, JobQueue(settings.ui_workers))

    @property
    def store(self) -> ResultsStore:
        return self.workspace.store

    def labels(self) -> dict[str, str]:
        """Stored upload name → the file name the user uploaded it as."""
        return self.uploads.labels()
