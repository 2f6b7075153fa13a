"""Files from a browser or an HTTP client: checked by content and against the limits, stored under generated names.

An upload first lands in a private temp folder (Gradio's, or the HTTP service's). `UploadStore.ingest` then

1. refuses a file over the size limit (``HEYGEM_UI_MAX_UPLOAD_MB`` for the web UI, whose Gradio cap
   stops larger ones earlier; ``HEYGEM_API_MAX_UPLOAD_MB`` for the service);
2. sniffs its type from the first bytes (`sniff`), never from the name the browser gave it, and
   refuses a kind the field does not take (a text file called ``.mp4`` is text);
3. probes media with the library (`probe_video` / `probe_audio`): truncated or undecodable files
   fail here, and a template or recording over the duration limit is refused;
4. copies it to ``<uploads folder>/<content hash><extension of the sniffed type>``.

The client's file name is kept only as a label for display; no path or name from the client is
ever used to write. Later requests name uploads by their stored name, which `resolve` accepts only
when it has the generated shape and exists in the store.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

from heygem_ops.atomic import atomic_output
from heygem_ops.constants import ID_CHARS
from heygem_ops.errors import InputError, LimitExceededError, NoAudioStreamError, NoVideoStreamError
from heygem_ops.hashing import file_digest
from heygem_ops.i18n import N_, Message, translate
from heygem_ops.media import probe_audio, probe_video

KINDS = ("template", "audio", "manifest", "media")  # media: a template or an audio, whichever it is
SNIFF_BYTES = 4096
LABEL_CHARS = 80  # longest label kept for display
STORED_NAME = re.compile(r"^[0-9a-f]{20}\.[a-z0-9]{2,7}$")
INDEX_NAME = "index.jsonl"

# What each field accepts, by sniffed family; "container" is decided by probing (an MP4 may be sound only).
ACCEPTS = {
    "template": frozenset({"video", "image", "container"}),
    "audio": frozenset({"audio", "video", "container"}),
    "manifest": frozenset({"table"}),
    "media": frozenset({"video", "image", "audio", "container"}),
}
WANTED = {
    "template": Message("a video (mp4, mov, mkv, webm, avi) or an image (png, jpg, webp, heic, avif)"),
    "audio": Message("a recording (wav, mp3, m4a, aac, flac, ogg, opus, webm, amr) or a video with sound"),
    "manifest": Message("a job manifest (CSV, JSON Lines or Parquet)"),
    "media": Message("a video, an image or a recording"),
}
FAMILIES = {
    "video": N_("video"),
    "image": N_("image"),
    "audio": N_("audio"),
    "container": N_("media file"),
    "table": N_("table"),
    "text": N_("text"),
}  # the sniffed families, as `Upload.describe` names them


@dataclass(frozen=True)
class Sniffed:
    """What the first bytes of a file say it is."""

    family: str  # video, image, audio, container (video or audio, probe decides), table, text
    extension: str  # the stored file's extension, from the content: ".mp4", ".png", ...
    description: str  # for messages, a catalogue id: "a PNG image"


@dataclass(frozen=True)
class Upload:
    """One stored upload, as the index records it."""

    name: str  # generated: <20 hex of the content hash><extension>
    kind: str  # template, audio or manifest
    label: str  # the browser's file name, cleaned, for display only
    family: str  # sniffed family (video, image, audio, ...)
    size_bytes: int
    duration_s: float | None  # media only; None for stills and manifests
    uploaded_at: float  # seconds since the epoch

    def describe(self) -> str:
        """'people.png · image · 0.2 MiB' for pickers and messages, in the current language."""
        parts = [self.label, translate(FAMILIES.get(self.family, self.family)), f"{self.size_bytes / 2**20:.1f} MiB"]
        if self.duration_s is not None:
            parts.insert(2, f"{self.duration_s:.1f} s")
        return " · ".join(parts)


def sniff(head: bytes) -> Sniffed | None:
    """The type of a file from its first bytes (`SNIFF_BYTES` are enough), or None when unknown."""
    for test in (_sniff_riff, _sniff_image, _sniff_iso, _sniff_other_media, _sniff_table):
        found = test(head)
        if found is not None:
            return found
    return None


def _sniff_riff(head: bytes) -> Sniffed | None:
    if head[:4] != b"RIFF":
        return None
    form = head[8:12]
    return {
        b"WAVE": Sniffed("audio", ".wav", N_("a WAV recording")),
        b"AVI ": Sniffed("video", ".avi", N_("an AVI video")),
        b"WEBP": Sniffed("image", ".webp", N_("a WebP image")),
    }.get(form)


def _sniff_image(head: bytes) -> Sniffed | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image", ".png", N_("a PNG image"))
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image", ".jpg", N_("a JPEG image"))
    if head.startswith(b"BM") and len(head) > 26 and head[14] in (12, 40, 52, 56, 64, 108, 124):
        return Sniffed("image", ".bmp", N_("a BMP image"))
    return None


_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"})


def _sniff_iso(head: bytes) -> Sniffed | None:
    """ISO base media (MP4, MOV, M4A): a 'ftyp' box first; the brand says which."""
    if head[4:8] != b"ftyp":
        return None
    brand = head[8:12]
    if brand in _HEIF_BRANDS:
        avif = brand in (b"avif", b"avis")
        return Sniffed("image", ".avif" if avif else ".heic", N_("an AVIF image") if avif else N_("a HEIC/HEIF photo"))
    if brand in (b"M4A ", b"M4B "):
        return Sniffed("audio", ".m4a", N_("an M4A recording"))
    if brand == b"qt  ":
        return Sniffed("video", ".mov", N_("a QuickTime video"))
    return Sniffed("container", ".mp4", N_("an MP4 file"))


def _sniff_other_media(head: bytes) -> Sniffed | None:
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # a browser's or messenger's voice recording is WebM too
        webm = b"webm" in head[:64]
        return Sniffed("container", ".webm" if webm else ".mkv", N_("a WebM file") if webm else N_("a Matroska file"))
    if head.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        wide = head.startswith(b"#!AMR-WB")
        return Sniffed(
            "audio", ".awb" if wide else ".amr", N_("an AMR-WB recording") if wide else N_("an AMR recording")
        )
    if head.startswith(b"fLaC"):
        return Sniffed("audio", ".flac", N_("a FLAC recording"))
    if head.startswith(b"OggS"):
        opus = b"OpusHead" in head[:80]
        return Sniffed("audio", ".opus" if opus else ".ogg", N_("an Ogg recording"))
    if head.startswith(b"ID3"):
        return Sniffed("audio", ".mp3", N_("an MP3 recording"))
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return Sniffed("audio", ".aac", N_("an AAC recording"))
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return Sniffed("audio", ".mp3", N_("an MP3 recording"))
    return None


def _sniff_table(head: bytes) -> Sniffed | None:
    if head.startswith(b"PAR1"):
        return Sniffed("table", ".parquet", N_("a Parquet table"))
    if not head or b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut off at the end of the sniffed bytes
            return None
        text = head[: error.start].decode("utf-8")
    if text.lstrip().startswith("{"):
        return Sniffed("table", ".jsonl", N_("a JSON Lines table"))
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    if "," in first_line:
        return Sniffed("table", ".csv", N_("a CSV table"))
    return Sniffed("text", ".txt", N_("plain text"))


def clean_label(name: str | None) -> str:
    """The browser's file name reduced to a display label: last path part, printable, bounded."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if ch.isprintable()).strip()
    if len(base) > LABEL_CHARS:
        base = base[: LABEL_CHARS - 1] + "…"
    return base or "upload"


class UploadStore:
    """Validated uploads in one folder, named by content, with an append-only index for pickers."""

    def __init__(
        self,
        folder: Path,
        max_mb: float,
        max_duration_s: float,
        settings: tuple[str, str] = ("HEYGEM_UI_MAX_UPLOAD_MB", "HEYGEM_UI_MAX_DURATION_S"),
        max_pixels: int | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.max_mb = max_mb
        self.max_duration_s = max_duration_s
        self.max_pixels = max_pixels  # HEYGEM_MAX_PIXELS, checked on the header at upload rather than at decode
        self.size_setting, self.duration_setting = settings  # named in the messages as the way to raise a limit
        self._lock = threading.Lock()

    def ingest(self, source: str | Path, kind: str, browser_name: str | None = None) -> Upload:
        """Check the file at `source` (a temp copy of a browser upload) and store it; return its record.

        Raises `InputError` subclasses whose message names the upload by its label: too big, too long,
        a type the field does not take, or media the library cannot read.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown upload kind {kind!r}")
        source = Path(source)
        label = clean_label(browser_name or source.name)
        size = source.stat().st_size
        self._check_size(size, kind, label)
        found = self._check_type(source, kind, label)
        family = found.family if found.family != "container" else self._container_family(source, kind)
        if kind == "media":
            kind = "audio" if family == "audio" else "template"
        duration = self._check_media(source, kind, found, label)
        name = f"{file_digest(source)[:ID_CHARS]}{found.extension}"
        self._store(source, name)
        upload = Upload(name, kind, label, family, size, duration, time.time())
        self._record(upload)
        return upload

    def resolve(self, name: str | None, kind: str | None = None) -> Path:
        """The stored file of upload `name`; refuses anything that is not a generated name in this store."""
        if not name or not STORED_NAME.match(name):
            raise InputError("no such upload", hint="upload the file again or pick one from the list")
        path = self.folder / name
        if not path.is_file():
            raise InputError("upload {name} is gone", hint="upload the file again", name=name)
        if kind is not None and all(item.name != name or item.kind != kind for item in self._index()):
            raise InputError(
                "upload {name} is not a {kind}",
                hint="upload {wanted}",
                name=name,
                kind=Message(kind),
                wanted=WANTED[kind],
            )
        return path

    def recent(self, kind: str, limit: int = 30) -> list[Upload]:
        """The latest distinct uploads of `kind` still on disk, newest first."""
        seen: dict[str, Upload] = {}
        for item in reversed(self._index()):
            if item.kind == kind and item.name not in seen and (self.folder / item.name).is_file():
                seen[item.name] = item
                if len(seen) == limit:
                    break
        return list(seen.values())

    def labels(self) -> dict[str, str]:
        """Stored file name → the latest label given to it (for showing paths in results)."""
        return {item.name: item.label for item in self._index()}

    def _check_size(self, size: int, kind: str, label: str) -> None:
        if size > self.max_mb * 2**20:
            raise LimitExceededError(
                "is {size:.1f} MiB, over the {limit:g} MiB upload limit",
                path=label,
                hint="upload a smaller file, or raise {setting}",
                size=size / 2**20,
                limit=self.max_mb,
                setting=self.size_setting,
            )
        if size == 0:
            raise InputError("is empty", path=label, hint="upload {wanted}", wanted=WANTED[kind])

    def _check_type(self, source: Path, kind: str, label: str) -> Sniffed:
        with open(source, "rb") as handle:
            found = sniff(handle.read(SNIFF_BYTES))
        if found is None or found.family not in ACCEPTS[kind]:
            what = found.description if found else N_("not a media file this UI knows")
            raise InputError(
                "is {what}, not {wanted} (checked by content, not by name)",
                path=label,
                hint="upload {wanted}",
                what=Message(what),
                wanted=WANTED[kind],
            )
        return found

    def _check_media(self, source: Path, kind: str, found: Sniffed, label: str) -> float | None:
        """Probe a template or recording; return its duration (None for stills and manifests)."""
        if kind == "manifest":
            return None
        try:
            if kind == "template":
                info = probe_video(source, max_pixels=self.max_pixels)
                duration = None if info.is_still else info.duration_s
            else:
                duration = probe_audio(source).duration_s
        except (NoVideoStreamError, NoAudioStreamError) as error:
            raise type(error)(error.message, path=label, hint="upload {wanted}", wanted=WANTED[kind]) from None
        except InputError as error:
            raise type(error)(error.message, path=label, hint=error.hint_message) from None
        if duration is not None and duration > self.max_duration_s:
            raise LimitExceededError(
                "lasts {duration:.1f} s, over the {limit:g} s limit",
                path=label,
                hint="upload a shorter file, or raise {setting}",
                duration=duration,
                limit=self.max_duration_s,
                setting=self.duration_setting,
            )
        return duration

    @staticmethod
    def _container_family(source: Path, kind: str) -> str:
        """Video or audio, for an MP4 that may hold either: what the field takes, else what probing finds."""
        if kind != "media":
            return "video" if kind == "template" else "audio"
        try:
            probe_video(source)
        except InputError:
            return "audio"
        return "video"

    def _store(self, source: Path, name: str) -> None:
        """Copy under the generated name: temp file in the same folder, then an atomic rename."""
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / name
        if final.is_file() and final.stat().st_size == source.stat().st_size:
            return  # same content already stored
        with atomic_output(final) as temporary:
            shutil.copyfile(source, temporary)

    def _record(self, upload: Upload) -> None:
        with self._lock, open(self.folder / INDEX_NAME, "a", encoding="utf-8") as index:
            index.write(json.dumps(asdict(upload)) + "\n")

    def _index(self) -> list[Upload]:
        path = self.folder / INDEX_NAME
        if not path.is_file():
            return []
        items = []
        with self._lock, open(path, encoding="utf-8") as index:
            for line in index:
                try:
                    items.append(Upload(**json.loads(line)))
                except (ValueError, TypeError):
                    continue  # a torn last line after a crash
        return items
