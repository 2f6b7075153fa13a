"""End to end: `heygem ui` driven by a real headless Chromium (Debian's, through Playwright).

One test walks the whole UI in order, because each step uses what the previous made: refused uploads
(too big, wrong type by content), two browser tabs generating at once, a batch of three templates
downloaded as a zip, History listing everything (and a deletion), the System tab. It runs once with
a Chinese browser and once with an English one; on the Chinese page every tab's text is scanned for
English words left untranslated. Screenshots of every tab go to $HEYGEM_TEST_ARTIFACTS (default
tests/artifacts/ui/<language>). The browser may reach only the app on 127.0.0.1: any other request
is blocked and fails the test.

Setup (Debian): `apt-get install -y chromium fonts-wqy-microhei` (a CJK font, for legible screenshots) and
`pip install playwright` (never `playwright install`).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from heygem_ops.media import probe_audio, probe_video

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.slow]

CHROMIUM = os.environ.get("HEYGEM_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
UPLOAD_LIMIT_MB = 3  # KatieHill (3.4 MiB) is over it; every other clip used here is under
AUDIO = "sadtalker_bus_chinese.wav"  # 3.4 s: short jobs
BATCH_TEMPLATES = ("sadtalker_happy.png", "videoretalking_face_2.mp4", "liveportrait_d12.mp4")
JOB_TIMEOUT_MS = 180_000
REPO = Path(__file__).resolve().parents[1]
# What the page says, per browser language ("zh-CN": Chinese, "en-US": English).
TEXT = {
    "en-US": {
        "ready": "Ready", "accepted": "Accepted", "done": "Done", "queued": "Queued",
        "running": r"Running .*rendering \d+/84 frames", "batch_tab": "Batch", "history_tab": "History",
        "system_tab": "System", "three_made": "3 of 3 jobs made a video", "job_done": "done",
        "manifest_mode": "Job manifest (CSV", "one_failed": "1 of 2 jobs made a video, 1 failed",
        "made_before": "done (made before)", "not_uploaded": "'nobody.png' not among the uploaded files",
        "page_1": "Page 1 of 2 · 6 results", "page_2": "Page 2 of 2", "succeeded": "succeeded",
        "deleted": "Deleted result", "five": "5 results", "ui_jobs": "UI jobs",
        "oversized": "is 3.4 MiB, over the 3 MiB upload limit; upload a smaller file, or raise HEYGEM_UI_MAX_UPLOAD_MB",
        "wrong_type": "not a video (mp4, mov, mkv, webm, avi) or an image", "by_content": "checked by content",
    },
    "zh-CN": {
        "ready": "就绪", "accepted": "已接收", "done": "完成", "queued": "排队中",
        "running": r"运行中.*渲染 \d+/84 帧", "batch_tab": "批量", "history_tab": "历史记录",
        "system_tab": "系统", "three_made": "3 个任务中 3 个生成了视频", "job_done": "完成",
        "manifest_mode": "任务清单（CSV", "one_failed": "2 个任务中 1 个生成了视频，1 个失败",
        "made_before": "完成（之前已生成）", "not_uploaded": "'nobody.png' 不在已上传的文件中",
        "page_1": "第 1 页，共 2 页 · 6 条结果", "page_2": "第 2 页，共 2 页", "succeeded": "成功",
        "deleted": "已删除结果", "five": "5 条结果", "ui_jobs": "界面任务",
        "oversized": "大小为 3.4 MiB，超出 3 MiB 的上传限制；请上传更小的文件，或调高 HEYGEM_UI_MAX_UPLOAD_MB",
        "wrong_type": "不是视频（mp4、mov、mkv、webm、avi）或图片", "by_content": "按内容而非文件名判断",
    },
}  # fmt: skip
# Words an untranslated Chinese page may show: names of products, formats, units, settings and values.
ALLOWED_ENGLISH = {
    "heygem", "heygem-ops", "ops", "mp4", "mov", "mkv", "webm", "avi", "png", "jpg", "jpeg", "webp", "heic", "heif",
    "avif",
    "wav", "mp3", "m4a", "aac", "flac", "ogg", "opus", "amr", "csv", "json", "lines", "parquet", "jsonl", "zip",
    "crf", "px", "mib", "mb", "kb", "fps", "gpu", "gpus", "cpu", "cuda", "warp", "wav2lip", "musetalk", "mesh",
    "fan", "english", "prefect", "ray", "python", "torch", "pyav", "ffmpeg", "pip", "install", "libx264",
    "h264_nvenc", "nvenc", "sm", "s3fd", "2dfan4", "ai-edge-litert", "id", "utc", "api", "nvidia", "dir",
    "models",
}  # fmt: skip
ERROR_TYPE = re.compile(r"^[A-Z][A-Za-z]*Error$")  # an error's type name is a code: the same in every language
MANIFEST_COLUMNS = {"template", "audio", "engine", "face", "crf"}  # a CSV's column names, as they must be spelled
RAW_KEY = re.compile(r"[a-z_]+(\.[a-z_]+)+")  # a Gradio translation key shown as is: its text is missing
# Keeps every text the page's aria-live regions (Gradio's screen-reader status, toasts) ever held: they
# change and clear within a second, too fast for a look at the page to catch.
RECORD_ANNOUNCEMENTS = """
window.__heygemAnnounced = [];
new MutationObserver(changes => {
    for (const change of changes) {
        const node = change.target.nodeType === 1 ? change.target : change.target.parentElement;
        const region = node?.closest("[aria-live]");
        const text = region?.textContent.trim();
        if (text) window.__heygemAnnounced.push(text);
    }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""
RECORD_STATUS = """() => {
    window.heygemStatuses = [];
    const status = document.querySelector('#single-status');
    new MutationObserver(() => window.heygemStatuses.push(status.innerText))
        .observe(status, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(params=["zh-CN", "en-US"])
def locale(request: pytest.FixtureRequest) -> str:
    """The browser's language: Chinese first (the UI's main audience), then English."""
    return request.param


@pytest.fixture
def artifacts(locale: str) -> Path:
    folder = Path(os.environ.get("HEYGEM_TEST_ARTIFACTS", REPO / "tests" / "artifacts")) / "ui" / locale
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def ui_server(tmp_path: Path, artifacts: Path) -> Iterator[str]:
    """`heygem ui` on a free loopback port with a fresh home; yields the URL it prints."""
    port = _free_port()
    env = {
        **os.environ,
        "HEYGEM_HOME": str(tmp_path / "home"),
        "HEYGEM_UI_MAX_UPLOAD_MB": str(UPLOAD_LIMIT_MB),
        "HEYGEM_UI_MAX_DURATION_S": "60",
        "HEYGEM_UI_PAGE_SIZE": "4",
    }
    command = [sys.executable, "-c", "from heygem_flows.cli import main; main()", "ui", "--port", str(port)]
    log_path = artifacts / "server.log"
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    found: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        with open(log_path, "w") as log:
            for line in server.stdout:  # type: ignore[union-attr]
                log.write(line)
                log.flush()
                match = re.search(r"HeyGem-Ops UI: (http://\S+)", line)
                if match and not found:
                    found.append(match.group(1))
                    ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    ready.wait(120)
    try:
        if not found:
            pytest.fail(f"`heygem ui` printed no URL; see {log_path}:\n{log_path.read_text()[-3000:]}")
        assert found[0].startswith(f"http://127.0.0.1:{port}")
        yield found[0]
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture
def browser(tmp_path: Path, locale: str):
    """A fresh Chromium profile in `locale` that may talk to 127.0.0.1 only; yields (context, blocked requests)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test's browser driver)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set HEYGEM_TEST_CHROMIUM)")
    blocked: list[str] = []
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            accept_downloads=True, viewport={"width": 1280, "height": 1000}, locale=locale,
        )  # fmt: skip

        def only_loopback(route) -> None:
            url = route.request.url
            if url.startswith(("http://127.0.0.1", "data:", "blob:")):
                route.continue_()
            else:
                blocked.append(url)
                route.abort()

        context.route("**/*", only_loopback)
        context.add_init_script(RECORD_ANNOUNCEMENTS)
        context.set_default_timeout(30_000)
        try:
            yield context, blocked
        finally:
            context.close()


def test_ui_end_to_end(ui_server: str, browser, locale: str, media_dir: Path, tmp_path: Path, artifacts: Path) -> None:
    from playwright.sync_api import expect

    context, blocked = browser
    text = TEXT[locale]
    started = time.monotonic()
    first = _open(context, ui_server, text)
    assert first.locator("#language input:checked").get_attribute("value") == locale[:2]  # from the browser
    first.screenshot(path=str(artifacts / "start.png"), full_page=True)
    _no_english_left(first, locale, "Single (fresh page)")
    _refused_uploads(first, media_dir, tmp_path, artifacts, locale)

    # Two browser tabs submit at once; both get their own video.
    _upload(first, "#single-template-upload", media_dir / "sadtalker_people_0.png", "#single-upload-message", text)
    _upload(first, "#single-audio-upload", media_dir / AUDIO, "#single-upload-message", text)
    second = _open(context, ui_server, text)
    _upload(second, "#single-template-upload", media_dir / "hallo_reference_6.jpg", "#single-upload-message", text)
    _pick(second, "#single-audio", AUDIO)  # from the recent uploads
    for page in (first, second):
        page.evaluate(RECORD_STATUS)
    first.click("#single-generate")
    second.click("#single-generate")
    for page in (first, second):
        expect(page.locator("#single-status")).to_contain_text(text["done"], timeout=JOB_TIMEOUT_MS)
    shown = first.evaluate("window.heygemStatuses") + second.evaluate("window.heygemStatuses")
    assert any(text["queued"] in line for line in shown), shown  # one tab waited for the other
    assert any(re.search(text["running"], line) for line in shown), shown  # live progress
    _check_preview(first, "#single-video")
    first.screenshot(path=str(artifacts / "single.png"), full_page=True)
    _no_english_left(first, locale, "Single")
    _check_mp4(_download(first, "#single-download", tmp_path / "single-1.mp4"), (474, 474))
    _check_mp4(_download(second, "#single-download", tmp_path / "single-2.mp4"), (624, 624))
    second.close()
    single_s = time.monotonic() - started

    # Batch: one audio with three templates, then everything as one zip.
    first.get_by_role("tab", name=text["batch_tab"]).click()
    templates = [media_dir / name for name in BATCH_TEMPLATES]
    _upload(first, "#batch-templates-upload", templates, "#batch-upload-message", text)
    _upload(first, "#batch-audios-upload", media_dir / AUDIO, "#batch-upload-message", text)
    first.click("#batch-run")
    expect(first.locator("#batch-status")).to_contain_text(text["done"], timeout=JOB_TIMEOUT_MS)
    expect(first.locator("#batch-status")).to_contain_text(text["three_made"])
    table = first.locator("#batch-table").inner_text()
    assert table.count(text["job_done"]) == 3, table
    first.screenshot(path=str(artifacts / "batch.png"), full_page=True)
    _no_english_left(first, locale, "Batch")
    archive = _download(first, "#batch-zip", tmp_path / "batch.zip")
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        assert len(names) == 3 and all(name.endswith(".mp4") for name in names), names
        zipped.extractall(tmp_path / "unzipped")
    for name in names:
        _check_mp4(tmp_path / "unzipped" / name)
    batch_s = time.monotonic() - started - single_s

    # A manifest batch with the media it names: a row naming a file not uploaded fails alone.
    manifest = tmp_path / "jobs.csv"
    manifest.write_text(f"template,audio\nsadtalker_people_0.png,{AUDIO}\nnobody.png,{AUDIO}\n")
    first.get_by_text(text["manifest_mode"]).click()
    _upload(first, "#batch-manifest-upload", manifest, "#batch-upload-message", text)
    _upload(first, "#batch-media-upload", [media_dir / "sadtalker_people_0.png", media_dir / AUDIO],
            "#batch-upload-message", text)  # fmt: skip
    first.click("#batch-run")
    expect(first.locator("#batch-status")).to_contain_text(text["one_failed"], timeout=JOB_TIMEOUT_MS)
    expect(first.locator("#batch-table")).to_contain_text(text["made_before"])  # the Single tab made it already
    expect(first.locator("#batch-table")).to_contain_text(text["not_uploaded"])
    first.screenshot(path=str(artifacts / "batch-manifest.png"), full_page=True)
    _no_english_left(first, locale, "Batch (manifest)")

    # History: all six results (five videos, one failed row), newest first, four to a page; delete one.
    first.get_by_role("tab", name=text["history_tab"]).click()
    history, page_line = first.locator("#history-table"), first.locator("#history-page")
    expect(page_line).to_contain_text(text["page_1"])
    expect(history).to_contain_text("nobody.png")  # the newest
    seen = history.inner_text()
    first.screenshot(path=str(artifacts / "history.png"), full_page=True)
    _no_english_left(first, locale, "History")
    first.click("#history-next")
    expect(page_line).to_contain_text(text["page_2"])
    expect(history).to_contain_text("sadtalker_people_0.png")  # the oldest
    seen += history.inner_text()
    for name in ("sadtalker_people_0.png", "hallo_reference_6.jpg", *BATCH_TEMPLATES, "nobody.png"):
        assert name in seen, f"{name} not in History:\n{seen}"
    history.get_by_text("hallo_reference_6.jpg").first.click()
    expect(first.locator("#history-details")).to_contain_text(text["succeeded"])
    _check_preview(first, "#history-video")
    first.screenshot(path=str(artifacts / "history-selected.png"), full_page=True)
    first.click("#history-delete")
    expect(first.locator("#history-details")).to_contain_text(text["deleted"])
    expect(page_line).to_contain_text(text["five"])
    expect(history).not_to_contain_text("hallo_reference_6.jpg")

    # System: device, engines, trackers, Ray/Prefect, and the log.
    first.get_by_role("tab", name=text["system_tab"]).click()
    expect(first.locator("#system-summary")).to_contain_text(text["ui_jobs"])
    expect(first.locator("#system-log")).to_contain_text("heygem_ops")
    first.screenshot(path=str(artifacts / "system.png"), full_page=True)
    _no_english_left(first, locale, "System", skip=("#system-log", "#system-report"))
    _announcements_readable(first, locale)

    # The switch: the other language, on the same page, without a reload.
    other = "en-US" if locale.startswith("zh") else "zh-CN"
    first.locator(f"#language input[value={other[:2]}]").check()
    expect(first.locator("#app-footer")).to_contain_text(TEXT[other]["ready"])
    expect(first.get_by_role("tab", name=TEXT[other]["history_tab"])).to_be_visible()
    expect(first.locator("#system-summary")).to_contain_text(TEXT[other]["ui_jobs"])
    first.screenshot(path=str(artifacts / "switched.png"), full_page=True)

    assert not blocked, f"the page tried to reach beyond 127.0.0.1: {blocked}"
    (artifacts / "timings.txt").write_text(
        f"single (2 tabs at once) {single_s:.1f} s\nbatch of 3 {batch_s:.1f} s\n"
        f"whole test {time.monotonic() - started:.1f} s\n"
    )


def _refused_uploads(page, media_dir: Path, tmp_path: Path, artifacts: Path, locale: str) -> None:
    """Too big: refused naming the limit and its setting. Wrong type: a text file named .mp4, refused by content."""
    from playwright.sync_api import expect

    text = TEXT[locale]
    page.set_input_files("#single-template-upload input[type=file]", str(media_dir / "sadtalker_WDA_KatieHill_000.mp4"))
    expect(page.locator("#single-upload-message")).to_contain_text(text["oversized"], timeout=60_000)
    _no_english_left(page, locale, "Single (refused upload)")
    page.screenshot(path=str(artifacts / "refused-oversized.png"))
    fake = tmp_path / "not-a-video.mp4"
    fake.write_text("template,audio\nthis is text, not a video\n")
    page.reload()
    _wait_ready(page, text)
    page.set_input_files("#single-template-upload input[type=file]", str(fake))
    message = page.locator("#single-upload-message")
    expect(message).to_contain_text(text["wrong_type"])
    expect(message).to_contain_text(text["by_content"])
    page.screenshot(path=str(artifacts / "refused-wrong-type.png"))


def _open(context, url: str, text: dict[str, str]):
    page = context.new_page()
    page.goto(url)
    _wait_ready(page, text)
    return page


def _wait_ready(page, text: dict[str, str]) -> None:
    """The page is up and its load events ran (they set the language, then fill the footer)."""
    from playwright.sync_api import expect

    expect(page.locator("#app-footer")).to_contain_text(text["ready"], timeout=60_000)


def _no_english_left(page, locale: str, where: str, skip: tuple[str, ...] = ()) -> None:
    """On a Chinese page, the visible text has no English words but names, formats, units and values."""
    if not locale.startswith("zh"):
        return
    shown = page.evaluate(
        """skip => {
            const hidden = skip.flatMap(s => [...document.querySelectorAll(s)]);
            const before = hidden.map(e => e.style.display);
            hidden.forEach(e => { e.style.display = "none"; });
            const text = document.body.innerText;
            hidden.forEach((e, i) => { e.style.display = before[i]; });
            return text;
        }""",
        list(skip),
    )
    left = _english_words(shown)
    assert not left, f"English left on the Chinese {where} tab: {left}"


def _announcements_readable(page, locale: str) -> None:
    """What the page announced to screen readers so far (its aria-live regions, gone a second later) is
    words in the page's language: no raw Gradio translation key ("common.complete"), no English on a Chinese page."""
    announced = page.evaluate("window.__heygemAnnounced")
    assert announced, "no aria-live announcement was recorded: did Gradio's status tracker change?"
    keys = sorted({text for text in announced if RAW_KEY.fullmatch(text)})
    assert not keys, f"the page announced untranslated keys: {keys}"
    if locale.startswith("zh"):
        left = _english_words("\n".join(announced))
        assert not left, f"English in the Chinese page's announcements: {left} (of {sorted(set(announced))})"


def _english_words(shown: str) -> list[str]:
    """The English words of `shown` but code, settings, options, paths, file names, ids and allowed terms."""
    code = r"`[^`]*`|\b\w+=[\w.:/-]+|\bHEYGEM_[A-Z_]+\b|--[\w-]+|\S*[/\\]\S*|\S+\.[A-Za-z0-9]{2,5}\b|\b[0-9a-f]{8,}\b"
    shown = re.sub(code, " ", shown)
    words = {word for word in re.findall(r"[A-Za-z][A-Za-z0-9_'\-]*[A-Za-z0-9]", shown)}
    return sorted(
        word
        for word in words
        if word.lower() not in ALLOWED_ENGLISH and word not in MANIFEST_COLUMNS and not ERROR_TYPE.match(word)
    )


def _upload(page, field: str, files: Path | list[Path], message: str, text: dict[str, str]) -> None:
    """Upload through the field's file input and wait until every file was accepted."""
    from playwright.sync_api import expect

    files = files if isinstance(files, list) else [files]
    page.set_input_files(f"{field} input[type=file]", [str(f) for f in files])
    for path in files:
        expect(page.locator(message)).to_contain_text(text["accepted"], timeout=60_000)
        expect(page.locator(message)).to_contain_text(path.name, timeout=60_000)


def _pick(page, dropdown: str, text: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=re.compile(re.escape(text))).first.click()


def _check_preview(page, player: str) -> None:
    """The preview player loaded the MP4: the browser decoded its header and knows its length."""
    video = page.locator(f"{player} video")
    video.wait_for()
    page.wait_for_function("v => v.readyState >= 2", arg=video.element_handle(), timeout=30_000)
    assert abs(video.evaluate("v => v.duration") - 3.38) < 0.1


def _download(page, button: str, destination: Path) -> Path:
    with page.expect_download() as download:
        page.click(button)
    download.value.save_as(str(destination))
    return destination


def _check_mp4(path: Path, size: tuple[int, int] | None = None) -> None:
    """An H.264 MP4 with the speech as AAC, as long as the 3.4 s recording."""
    assert path.read_bytes()[4:8] == b"ftyp", f"{path} is not an MP4"
    video, sound = probe_video(path), probe_audio(path)
    assert video.codec == "h264" and video.has_audio and sound.codec == "aac"
    assert abs(video.duration_s - 3.38) < 0.1, video.duration_s
    if size is not None:
        assert (video.width, video.height) == size


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
