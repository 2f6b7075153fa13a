"""Chinese and English: catalogues in step with the code, messages keep their parameters, and the
CLI, the HTTP service and the error tree speak the reader's language (the web UI: test_ui_browser.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from click.testing import CliRunner

from heygem_ops.errors import InputError, LimitExceededError
from heygem_ops.i18n import (
    LANGUAGES,
    Message,
    catalogue_path,
    from_accept_language,
    from_environment,
    normalize,
    placeholders,
    translate,
    use_language,
)
from heygem_ops.i18n.extract import POT, extract
from heygem_ops.results_store import RESULTS_DIRNAME
from heygem_ops.settings import Settings

CHINESE = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")  # CJK characters or punctuation
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _read(path: Path) -> dict[str, str]:
    with open(path, "rb") as handle:
        return {message.id: message.string for message in read_po(handle) if message.id}


def test_every_message_is_given_as_an_id_not_built_from_pieces() -> None:
    _, problems = extract()
    assert not problems, f"f-strings or concatenations where a catalogue id belongs: {problems}"


def test_the_english_catalogue_is_the_code_s_messages() -> None:
    ids, _ = extract()
    assert set(_read(POT)) == set(ids), "heygem.pot is stale: run python -m heygem_ops.i18n.extract"


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_catalogue_has_every_key_and_the_same_parameters(lang: str) -> None:
    english, translated = _read(POT), _read(catalogue_path(lang))
    assert not set(english) - set(translated), f"missing in {lang}: {sorted(set(english) - set(translated))}"
    assert not set(translated) - set(english), f"only in {lang}: {sorted(set(translated) - set(english))}"
    empty = [msgid for msgid, text in translated.items() if not text]
    assert not empty, f"untranslated in {lang}: {empty}"
    for msgid, text in translated.items():
        assert placeholders(text) == placeholders(msgid), f"{lang}: {msgid!r} → {text!r}"
        assert all(IDENTIFIER.match(name) for name in placeholders(msgid)), f"not a named parameter: {msgid!r}"
        if lang == "zh" and re.search(r"[a-z]{3}", re.sub(r"\{[^}]*\}", "", msgid)):
            assert CHINESE.search(text), f"not translated into Chinese: {msgid!r} → {text!r}"


def test_a_translated_error_still_names_the_file_the_limit_and_the_fix() -> None:
    error = LimitExceededError(
        "is {size:.1f} MiB, over the {limit:g} MiB upload limit",
        path="big.mp4",
        hint="upload a smaller file, or raise {setting}",
        size=3.4,
        limit=3.0,
        setting="HEYGEM_UI_MAX_UPLOAD_MB",
    )
    assert str(error) == (
        "big.mp4: is 3.4 MiB, over the 3 MiB upload limit; upload a smaller file, or raise HEYGEM_UI_MAX_UPLOAD_MB"
    )
    chinese = error.localized("zh")
    assert chinese == "big.mp4：大小为 3.4 MiB，超出 3 MiB 的上传限制；请上传更小的文件，或调高 HEYGEM_UI_MAX_UPLOAD_MB"
    with use_language("zh"):
        assert error.localized() == chinese
        assert str(error).startswith("big.mp4: is 3.4 MiB")  # logs and the results manifest stay English
    assert error.kind == "LimitExceededError" and error.detail == "is 3.4 MiB, over the 3 MiB upload limit"


def test_parameters_that_are_messages_render_in_the_same_language() -> None:
    wanted = Message("a video, an image or a recording")
    error = InputError(
        "is {what}, not {wanted} (checked by content, not by name)",
        path="x.mp4",
        what=Message("a CSV table"),
        wanted=wanted,
    )
    assert error.localized("zh") == "x.mp4：是一个 CSV 表格，不是视频、图片或录音（按内容而非文件名判断）"
    assert "a CSV table, not a video, an image or a recording" in str(error)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("en;q=0.5, zh-Hans;q=0.9", "zh"),  # q-values, not order, decide
        ("zh-TW", "zh"),
        ("fr-FR, de;q=0.9", None),
        ("zh;q=0, en;q=0.1", "en"),  # q=0: not acceptable
        ("", None),
        ("*", None),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert from_accept_language(header) == expected


@pytest.mark.parametrize(
    ("setting", "environ", "expected"),
    [
        ("auto", {"LANG": "zh_CN.UTF-8"}, "zh"),
        ("auto", {"LANG": "en_US.UTF-8"}, "en"),
        ("auto", {"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),  # LC_ALL wins, as in POSIX
        ("auto", {"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "C"}, "zh"),
        ("auto", {}, "en"),
        ("zh", {"LANG": "en_US.UTF-8"}, "zh"),  # HEYGEM_LANG over the locale
        ("en", {"LANG": "zh_CN.UTF-8"}, "en"),
    ],
)
def test_language_from_the_environment(setting: str, environ: dict[str, str], expected: str) -> None:
    assert from_environment(setting, environ) == expected


def test_normalize() -> None:
    assert [normalize(tag) for tag in ("zh_CN.UTF-8", "zh-Hans", "ZH", "en-GB", "C", "POSIX", "ja", None)] == [
        "zh", "zh", "zh", "en", "en", "en", None, None,
    ]  # fmt: skip


@pytest.mark.parametrize(("variable", "value"), [("LANG", "zh_CN.UTF-8"), ("HEYGEM_LANG", "zh")])
def test_cli_errors_follow_the_locale(variable: str, value: str, tmp_path: Path, monkeypatch) -> None:
    from heygem_flows.cli.main import cli
    from heygem_ops.settings import get_settings

    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "HEYGEM_LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 1
    folder = tmp_path / RESULTS_DIRNAME
    assert result.output.strip() == f"InputError：{folder}：不含结果数据集；请先向该文件夹运行一次批量任务"
    monkeypatch.setenv(variable, "en_US.UTF-8" if variable == "LANG" else "en")
    get_settings.cache_clear()
    english = CliRunner().invoke(cli, ["report", str(tmp_path)]).output
    assert "holds no results dataset; run a bulk job into that folder first" in english
    assert translate("done") == "done"  # the command's language ended with it


def test_a_malformed_setting_is_reported_in_the_locale_s_language(monkeypatch) -> None:
    from heygem_flows.cli.main import cli
    from heygem_ops.settings import get_settings

    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.setenv("HEYGEM_CHUNK_FRAMES", "many")
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert "InputError：无效的设置：HEYGEM_CHUNK_FRAMES='many'" in result.output
    assert "请修正或取消设置这些环境变量" in result.output


@pytest.fixture
def api(tmp_path: Path):
    from fastapi.testclient import TestClient

    from heygem_flows.service.app import create_app

    settings = Settings(home=tmp_path / "home", data_root=tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize(
    ("accept", "query_msg", "missing_msg", "job_msg"),
    [
        (
            "zh-CN,zh;q=0.9",
            "缺少 code：GET /easy/query?code=<提交 /easy/submit 时给的 code>",
            "InputError：缺少 video_url；请以 {root} 下的路径或 URL 的形式提供 video_url",
            "没有任务 'nope'；可用 GET /v1/jobs 列出任务",
        ),
        (
            "en-US,en;q=0.9",
            "code is missing: GET /easy/query?code=<the code given to /easy/submit>",
            "InputError: video_url is missing; give video_url as a path under {root} or a URL",
            "no job 'nope'; list jobs with GET /v1/jobs",
        ),
        (None, None, None, None),  # no header: English, as before
    ],
)
def test_service_messages_follow_accept_language(api, tmp_path, accept, query_msg, missing_msg, job_msg) -> None:
    headers = {"Accept-Language": accept} if accept else {}
    root = (tmp_path / "data").resolve()
    query_msg = query_msg or "code is missing: GET /easy/query?code=<the code given to /easy/submit>"
    missing_msg = missing_msg or "InputError: video_url is missing; give video_url as a path under {root} or a URL"
    job_msg = job_msg or "no job 'nope'; list jobs with GET /v1/jobs"

    answer = api.get("/easy/query", headers=headers).json()
    assert (answer["code"], answer["success"], answer["msg"]) == (10002, False, query_msg)
    body = {"audio_url": "a.wav", "video_url": " ", "code": "c-1"}
    answer = api.post("/easy/submit", json=body, headers=headers).json()
    assert (answer["code"], answer["msg"]) == (10002, missing_msg.format(root=root))
    reply = api.get("/v1/jobs/nope", headers=headers)
    assert reply.status_code == 404 and reply.json() == {"error": {"type": "NotFound", "message": job_msg}}


def test_a_recorded_failure_reads_in_the_reader_s_language(tmp_path: Path) -> None:
    """The results manifest keeps the English text and the message's id and parameters beside it."""
    from heygem_ops.i18n import stored
    from heygem_ops.results import JobResult
    from heygem_ops.results_store import ResultsStore

    error = InputError(
        "is {what}, not {wanted} (checked by content, not by name)",
        path="x.mp4",
        hint="upload {wanted}",
        what=Message("a CSV table"),
        wanted=Message("a video, an image or a recording"),
    )
    failed = JobResult("j1", "x.mp4", "a.wav", "o.mp4")
    failed.fail(error)
    store = ResultsStore(tmp_path)
    store.append([failed])
    row = store.latest().iloc[0]
    assert row["error_message"] == str(error)
    assert stored(row["error_i18n"], row["error_message"], "zh") == error.localized("zh")
    assert stored(row["error_i18n"], row["error_message"], "en") == str(error)
    assert stored(None, "as recorded", "zh") == stored("{not json", "as recorded", "zh") == "as recorded"


def test_the_service_table_answers_a_recorded_failure_in_the_request_s_language(tmp_path: Path) -> None:
    import sqlite3

    from heygem_flows.service.table import FAILED, JobTable

    old = sqlite3.connect(tmp_path / "jobs.sqlite")  # a table from before messages were kept by id
    old.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, code TEXT UNIQUE, state TEXT NOT NULL, template TEXT NOT NULL,"
                " audio TEXT NOT NULL, labels TEXT NOT NULL, choices TEXT NOT NULL, job_id TEXT NOT NULL,"
                " output TEXT NOT NULL, error_type TEXT, error_message TEXT, row TEXT,"
                " output_deleted INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
                " created_at REAL NOT NULL, started_at REAL, finished_at REAL)")  # fmt: skip
    old.close()
    table = JobTable(tmp_path / "jobs.sqlite")
    record = table.add(
        code="c", template=Path("/d/t.mp4"), audio=Path("/d/a.wav"), labels={}, choices={}, job_id="j",
        output=Path("/d/o.mp4"),
    )  # fmt: skip
    error = InputError("holds no audio stream", path="t.mp4", hint="use a recording with sound")
    assert table.finish(record.id, FAILED, error=(error.kind, error.as_message()))
    ended = table.get(record.id)
    assert ended.error_message == "t.mp4: holds no audio stream; use a recording with sound"
    assert ended.error_text() == ended.error_message
    with use_language("zh"):
        assert ended.error_text() == "t.mp4：没有音频流；请使用有声音的录音"


def test_a_bad_upload_to_heygem_generate_is_explained_in_chinese(tmp_path: Path, monkeypatch) -> None:
    from media_factory import make_audio, make_random_bytes

    from heygem_flows.cli.main import cli
    from heygem_ops.settings import get_settings

    noise, speech = make_random_bytes(tmp_path / "noise.mp4"), make_audio(tmp_path / "speech.wav", duration_s=1.0)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    get_settings.cache_clear()
    output = tmp_path / "out.mp4"
    result = CliRunner().invoke(cli, ["generate", "-t", str(noise), "-a", str(speech), "-o", str(output)])
    assert result.exit_code == 1 and not output.exists()
    line = result.output.strip().splitlines()[-1]
    assert line.startswith(f"UnreadableMediaError：{noise}：无法作为媒体文件读取（"), line
    assert line.endswith("；请确认这是完整的音频、视频或图片文件（重新导出或重新下载）"), line
