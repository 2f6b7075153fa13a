"""Where a request's inputs come from: a path under the data root, an http(s) URL, or an upload.

Every input ends as a stored upload (`heygem_flows.uploads.UploadStore`): sniffed by content, probed,
held to the size and duration limits, copied under a generated name. So a URL that serves HTML,
a file that is not media, or one over the limits is refused at submit, before any heavy work, and
nothing a client sends is ever used as a path to write.

- A path (HeyGem's `audio_url` / `video_url`, our `template` / `audio`): relative paths resolve
  under HEYGEM_DATA_ROOT; a path that resolves outside it (``..``, an absolute path elsewhere, a
  symlink out) is refused.
- A URL is downloaded with a size cap (HEYGEM_API_MAX_UPLOAD_MB, checked on the announced length
  and on the bytes received) and a time cap (HEYGEM_API_URL_TIMEOUT_S for the whole download).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from heygem_flows.uploads import Upload, UploadStore
from heygem_ops.errors import InputError, LimitExceededError
from heygem_ops.i18n import Message
from heygem_ops.settings import Settings

URL_SCHEMES = ("http", "https")
CHUNK_BYTES = 1 << 16


class InputResolver:
    """Turns what a request names into checked, stored inputs."""

    def __init__(self, settings: Settings, uploads: UploadStore, temp: Path) -> None:
        self.data_root = settings.resolved_data_root
        self.uploads = uploads
        self.temp = temp
        self.max_bytes = int(settings.api_max_upload_mb * 2**20)
        self.timeout_s = settings.api_url_timeout_s

    def resolve(self, value: object, kind: str, field: str) -> Upload:
        """The stored upload for request field `field` (a path or URL); InputError names the field."""
        if not isinstance(value, str) or not value.strip():
            raise InputError(
                "{field} is missing",
                hint="give {field} as a path under {root} or a URL",
                field=field,
                root=self.data_root,
            )
        value = value.strip()
        if urlsplit(value).scheme.lower() in URL_SCHEMES:
            return self._fetch(value, kind, field)
        if "://" in value:
            raise InputError(
                "{field} {value!r} is not an http(s) URL",
                hint="use http://, https:// or a path",
                field=field,
                value=value,
            )
        return self._ingest(self.local_path(value, field), kind, field, value)

    def ingest_upload(self, source: Path, kind: str, field: str, file_name: str | None) -> Upload:
        """A file received in a multipart request (already in a private temp file)."""
        return self._ingest(source, kind, field, file_name or field)

    def local_path(self, value: str, field: str) -> Path:
        """`value` resolved under the data root (symlinks followed); refuses anything that leaves it."""
        path = (self.data_root / value).resolve()  # an absolute `value` stays absolute, then must be inside
        if not path.is_relative_to(self.data_root):
            raise InputError(
                "{field} {value!r} is outside the data root {root}",
                field=field,
                value=value,
                root=self.data_root,
                hint="put the file under HEYGEM_DATA_ROOT and give its path relative to it, or send a URL",
            )
        if not path.is_file():
            raise InputError(
                "{field} {value!r}: no such file under the data root {root}",
                field=field,
                value=value,
                root=self.data_root,
            )
        return path

    def _ingest(self, source: Path, kind: str, field: str, label: str) -> Upload:
        try:
            return self.uploads.ingest(source, kind, label)
        except InputError as error:
            raise type(error)(Message("{field}: {error}", field=field, error=error)) from None

    def _fetch(self, url: str, kind: str, field: str) -> Upload:
        """Download `url` into a private temp file within the limits, then ingest it."""
        self.temp.mkdir(parents=True, exist_ok=True)
        label = Path(urlsplit(url).path).name or urlsplit(url).netloc
        with tempfile.NamedTemporaryFile(dir=self.temp, prefix="url-", suffix=".part") as handle:
            try:
                self._download(url, handle, field)
            except httpx.HTTPError as error:
                raise InputError(
                    "{field} {url} could not be downloaded ({error})",
                    field=field,
                    url=url,
                    error=f"{type(error).__name__}: {error}",
                    hint="check that the URL is reachable from the server",
                ) from None
            handle.flush()
            return self._ingest(Path(handle.name), kind, field, label)

    def _download(self, url: str, handle, field: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        timeout = httpx.Timeout(self.timeout_s, connect=min(10.0, self.timeout_s))
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            if response.status_code != 200:
                raise InputError(
                    "{field} {url} answered HTTP {status}",
                    hint="check the URL",
                    field=field,
                    url=url,
                    status=response.status_code,
                )
            announced = int(response.headers.get("content-length") or 0)
            if announced > self.max_bytes:
                raise self._too_big(field, url, announced)
            received = 0
            for chunk in response.iter_bytes(CHUNK_BYTES):
                received += len(chunk)
                if received > self.max_bytes:
                    raise self._too_big(field, url, received)
                if time.monotonic() > deadline:
                    raise LimitExceededError(
                        "{field} {url} took over {limit:g} s to download",
                        field=field,
                        url=url,
                        limit=self.timeout_s,
                        hint="use a faster source or raise HEYGEM_API_URL_TIMEOUT_S",
                    )
                handle.write(chunk)

    def _too_big(self, field: str, url: str, size: int) -> LimitExceededError:
        return LimitExceededError(
            "{field} {url} is over the {limit:g} MiB limit (at least {size:.1f} MiB)",
            field=field,
            url=url,
            limit=self.max_bytes / 2**20,
            size=size / 2**20,
            hint="use a smaller file or raise HEYGEM_API_MAX_UPLOAD_MB",
        )
