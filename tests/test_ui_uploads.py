"""Web UI uploads: type by content, size and duration limits, generated names, safe lookups."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from heygem_flows.uploads import STORED_NAME, UploadStore, clean_label, sniff
from heygem_ops.errors import InputError, LimitExceededError, UnreadableMediaError
from tests.media_factory import (
    make_audio,
    make_random_bytes,
    make_still,
    make_truncated,
    make_video,
    make_voice_message,
)


@pytest.fixture
def store(tmp_path: Path) -> UploadStore:
    return UploadStore(tmp_path / "uploads", max_mb=5, max_duration_s=10)


@pytest.mark.parametrize(
    ("head", "family", "extension"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(8), "image", ".png"),
        (b"\xff\xd8\xff\xe0" + bytes(8), "image", ".jpg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image", ".webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio", ".wav"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "video", ".avi"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "container", ".mp4"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00", "audio", ".m4a"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00", "video", ".mov"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "container", ".webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "container", ".mkv"),
        (b"fLaC\x00\x00\x00\x22", "audio", ".flac"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image", ".heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00", "image", ".heic"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", "image", ".avif"),
        (b"#!AMR\n<\x00", "audio", ".amr"),
        (b"#!AMR-WB\n\x04", "audio", ".awb"),
        (b"OggS\x00\x02" + bytes(22) + b"OpusHead", "audio", ".opus"),
        (b"ID3\x04\x00\x00", "audio", ".mp3"),
        (b"\xff\xfb\x90\x64", "audio", ".mp3"),
        (b"\xff\xf1\x50\x80", "audio", ".aac"),
        (b"PAR1\x15\x04", "table", ".parquet"),
        (b"template,audio\na.png,b.wav\n", "table", ".csv"),
        (b'{"template": "a.png", "audio": "b.wav"}\n', "table", ".jsonl"),
        (b"just some words\n", "text", ".txt"),
    ],
)
def test_sniff_knows_types_by_their_first_bytes(head: bytes, family: str, extension: str) -> None:
    found = sniff(head)
    assert found is not None and (found.family, found.extension) == (family, extension)


def test_sniff_gives_up_on_noise() -> None:
    assert sniff(bytes(range(256)) * 4) is None
    assert sniff(b"") is None


def test_templates_and_audio_are_stored_under_generated_names(store: UploadStore, tmp_path: Path) -> None:
    still = make_still(tmp_path / "face.png", size=(64, 48))
    audio = make_audio(tmp_path / "speech.wav", duration_s=1.0)
    video = make_video(tmp_path / "clip.mp4", frames=10)
    uploaded = [
        store.ingest(still, "template", "../../etc/passwd.png"),
        store.ingest(audio, "audio", "C:\\Users\\me\\speech.wav"),
        store.ingest(video, "template", "clip.mp4"),
    ]
    assert [u.family for u in uploaded] == ["image", "audio", "video"]
    assert [Path(u.name).suffix for u in uploaded] == [".png", ".wav", ".mp4"]
    assert all(STORED_NAME.match(u.name) and (store.folder / u.name).is_file() for u in uploaded)
    assert [u.label for u in uploaded] == ["passwd.png", "speech.wav", "clip.mp4"]  # labels only, never paths
    assert sorted(p.name for p in store.folder.iterdir() if p.suffix != ".jsonl") == sorted(u.name for u in uploaded)
    assert uploaded[1].duration_s == pytest.approx(1.0, abs=0.05) and uploaded[0].duration_s is None


def test_phone_photos_and_voice_messages_are_accepted(store: UploadStore, tmp_path: Path) -> None:
    """Issue 13: an iPhone HEIC, an AMR and an Opus voice message in Ogg and in WebM."""
    from PIL import Image

    make_still(tmp_path / "p.png", size=(64, 48))
    Image.open(tmp_path / "p.png").save(tmp_path / "IMG_1.HEIC")
    amr = make_voice_message(tmp_path / "v.amr", codec="libopencore_amrnb", sample_rate=8000)
    ogg = make_voice_message(tmp_path / "v.opus", codec="libopus", sample_rate=48000)
    webm = make_voice_message(tmp_path / "v.webm", codec="libopus", sample_rate=48000)
    uploaded = [
        store.ingest(tmp_path / "IMG_1.HEIC", "template"),
        *(store.ingest(path, "audio") for path in (amr, ogg, webm)),
        store.ingest(webm, "media"),
    ]
    assert [Path(u.name).suffix for u in uploaded] == [".heic", ".amr", ".opus", ".webm", ".webm"]
    assert [u.family for u in uploaded] == ["image", "audio", "audio", "audio", "audio"]
    assert all(u.duration_s == pytest.approx(1.0, abs=0.06) for u in uploaded[1:])
    with pytest.raises(InputError, match="no video stream"):
        store.ingest(webm, "template")


def test_the_extension_comes_from_the_content_not_the_name(store: UploadStore, tmp_path: Path) -> None:
    png_named_jpg = make_still(tmp_path / "face.png")
    renamed = png_named_jpg.rename(tmp_path / "face.jpg")
    assert store.ingest(renamed, "template").name.endswith(".png")


def test_a_text_file_named_mp4_is_refused_as_a_template(store: UploadStore, tmp_path: Path) -> None:
    fake = tmp_path / "movie.mp4"
    fake.write_text("hello, this is not a video\n")
    with pytest.raises(InputError, match=r"movie\.mp4: is .*not a video .* \(checked by content, not by name\)"):
        store.ingest(fake, "template")
    assert not any(store.folder.glob("*.mp4"))


@pytest.mark.parametrize(("maker", "kind"), [("audio", "template"), ("still", "audio"), ("still", "manifest")])
def test_the_wrong_kind_for_the_field_is_refused(store: UploadStore, tmp_path: Path, maker: str, kind: str) -> None:
    path = make_audio(tmp_path / "a.wav") if maker == "audio" else make_still(tmp_path / "a.png")
    with pytest.raises(InputError, match="not a"):
        store.ingest(path, kind)


def test_a_video_without_sound_is_refused_as_audio(store: UploadStore, tmp_path: Path) -> None:
    silent = make_video(tmp_path / "silent.mp4", frames=5)
    with pytest.raises(InputError, match=r"silent\.mp4: .*audio"):
        store.ingest(silent, "audio")


def test_noise_and_truncated_media_are_refused_with_their_label(store: UploadStore, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"noise\.mp4: is not a media file"):
        store.ingest(make_random_bytes(tmp_path / "noise.mp4"), "template")
    video = make_video(tmp_path / "whole.mp4", frames=30)
    with pytest.raises(UnreadableMediaError, match=r"^cut\.mp4: "):
        store.ingest(make_truncated(tmp_path / "cut.mp4", video, 0.3), "template")


def test_uploads_over_the_size_limit_are_refused(tmp_path: Path) -> None:
    store = UploadStore(tmp_path / "uploads", max_mb=0.01, max_duration_s=10)
    with pytest.raises(
        LimitExceededError, match=r"big\.wav: is 0\.\d MiB, over the 0\.01 MiB .*HEYGEM_UI_MAX_UPLOAD_MB"
    ):
        store.ingest(make_audio(tmp_path / "big.wav", duration_s=2.0), "audio")
    assert not store.folder.exists() or not any(store.folder.iterdir())


def test_media_over_the_duration_limit_is_refused(tmp_path: Path) -> None:
    store = UploadStore(tmp_path / "uploads", max_mb=5, max_duration_s=1.5)
    with pytest.raises(
        LimitExceededError, match=r"long\.wav: lasts 3\.0 s, over the 1\.5 s .*HEYGEM_UI_MAX_DURATION_S"
    ):
        store.ingest(make_audio(tmp_path / "long.wav", duration_s=3.0), "audio")
    with pytest.raises(LimitExceededError, match="HEYGEM_UI_MAX_DURATION_S"):
        store.ingest(make_video(tmp_path / "long.mp4", frames=50, fps=25), "template")


def test_an_empty_file_is_refused(store: UploadStore, tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        store.ingest(empty, "audio")


def test_manifests_are_tables(store: UploadStore, tmp_path: Path) -> None:
    manifest = tmp_path / "jobs.txt"
    manifest.write_text("template,audio\nface.png,speech.wav\n")
    assert store.ingest(manifest, "manifest").name.endswith(".csv")


def test_media_uploads_become_templates_or_audio_by_content(store: UploadStore, tmp_path: Path) -> None:
    assert store.ingest(make_still(tmp_path / "a.png"), "media").kind == "template"
    assert store.ingest(make_audio(tmp_path / "b.wav"), "media").kind == "audio"


def test_resolve_accepts_only_stored_generated_names(store: UploadStore, tmp_path: Path) -> None:
    upload = store.ingest(make_still(tmp_path / "a.png"), "template")
    assert store.resolve(upload.name, "template") == store.folder / upload.name
    for bad in ("../a.png", "/etc/passwd", "", None, "0123456789abcdef0123.png", upload.name + "/.."):
        with pytest.raises(InputError):
            store.resolve(bad)
    with pytest.raises(InputError, match="not a audio"):
        store.resolve(upload.name, "audio")


def test_recent_lists_distinct_uploads_newest_first(store: UploadStore, tmp_path: Path) -> None:
    first = store.ingest(make_still(tmp_path / "a.png", index=1), "template", "a.png")
    second = store.ingest(make_still(tmp_path / "b.png", index=2), "template", "b.png")
    again = store.ingest(make_still(tmp_path / "a.png", index=1), "template", "a-again.png")
    assert again.name == first.name  # same content, same stored file
    assert [u.name for u in store.recent("template")] == [first.name, second.name]
    assert store.recent("audio") == []
    assert store.labels()[first.name] == "a-again.png"


def test_clean_label_keeps_only_a_printable_file_name() -> None:
    assert clean_label("../../x/y/evil\x00name.png") == "evilname.png"
    assert clean_label("C:\\dir\\file.wav") == "file.wav"
    assert clean_label("") == "upload"
    assert len(clean_label("a" * 500 + ".png")) == 80
    assert re.fullmatch(r"[^/\\]+", clean_label("a/b\\c"))
