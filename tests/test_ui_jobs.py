"""What the web UI runs: job plans, flow calls (faked here), recorded rows, batch tables and zips."""

from __future__ import annotations

import time
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from heygem_flows import single_job
from heygem_flows.jobs_queue import JobQueue, Ticket
from heygem_flows.single_job import Choices, result_from_row, run_single
from heygem_flows.ui.jobs import (
    Workspace,
    batch_table,
    plan_manifest,
    plan_pairs,
    run_batch,
    zip_entry_name,
    zip_outputs,
)
from heygem_ops.errors import InputError, NoFaceError
from heygem_ops.manifest import JobSpec
from heygem_ops.progress import board
from heygem_ops.results import JobResult, utc_now
from heygem_ops.settings import Settings
from tests.media_factory import make_audio, make_still


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace.from_settings(Settings(home=tmp_path / "home")).create()


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "media"
    folder.mkdir()
    return {
        "t1": make_still(folder / "1a2b.png", index=1),
        "t2": make_still(folder / "3c4d.png", index=2),
        "a1": make_audio(folder / "5e6f.wav", frequency_hz=300),
        "a2": make_audio(folder / "7a8b.wav", frequency_hz=500),
    }


def test_workspace_lives_under_the_ui_dir_or_the_output_root(tmp_path: Path) -> None:
    plain = Workspace.from_settings(Settings(home=tmp_path))
    assert plain.outputs == tmp_path.resolve() / "ui" / "outputs" and plain.uploads.parent == plain.outputs.parent
    rooted = Workspace.from_settings(Settings(home=tmp_path, output_root=tmp_path / "root"))
    assert rooted.outputs == (tmp_path / "root" / "ui").resolve()


def test_pairs_make_one_job_per_template(media: dict[str, Path], workspace: Workspace) -> None:
    plan = plan_pairs([media["t1"], media["t2"]], [media["a1"]], Choices(crf=23), workspace, {"1a2b.png": "me.png"})
    assert len(plan.jobs) == 2 and all(isinstance(job, JobSpec) for job in plan.jobs)
    assert {job.template for job in plan.jobs} == {media["t1"], media["t2"]}
    assert all(job.options.crf == 23 and job.output.parent == workspace.outputs for job in plan.jobs)
    assert plan.manifest.parent == workspace.downloads
    with pytest.raises(InputError, match="2 templates and 2 audios"):
        plan_pairs([media["t1"], media["t2"]], [media["a1"], media["a2"]], Choices(), workspace, {})
    with pytest.raises(InputError, match="at least one template"):
        plan_pairs([], [media["a1"]], Choices(), workspace, {})
    with pytest.raises(InputError, match="face="):
        plan_pairs([media["t1"]], [media["a1"]], Choices(face="left ear"), workspace, {})


def test_a_browser_manifest_uses_only_uploaded_files_and_never_its_outputs(
    media: dict[str, Path], workspace: Workspace, tmp_path: Path
) -> None:
    manifest = tmp_path / "jobs.csv"
    manifest.write_text(
        "template,audio,output,crf\n"
        "face.png,speech.wav,../../../etc/evil.mp4,28\n"
        "C:\\photos\\face.png,/home/me/other.wav,,\n"
        "/etc/passwd,speech.wav,,\n"
    )
    uploaded = {"face.png": media["t1"], "speech.wav": media["a1"], "other.wav": media["a2"]}
    plan = plan_manifest(manifest, uploaded, Choices(), workspace, {})
    specs = [job for job in plan.jobs if isinstance(job, JobSpec)]
    assert [(job.template, job.audio) for job in specs] == [(media["t1"], media["a1"]), (media["t1"], media["a2"])]
    assert all(job.output.parent == workspace.outputs for job in specs)  # the output column is ignored
    assert specs[0].options.crf == 28
    assert len(plan.refused) == 1
    assert "manifest row 3: template '/etc/passwd' not among the uploaded files" in plan.refused[0].error_message


def test_a_manifest_without_the_columns_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    manifest = tmp_path / "jobs.csv"
    manifest.write_text("video,sound\na,b\n")
    with pytest.raises(InputError, match="lacks the column"):
        plan_manifest(manifest, {}, Choices(), workspace, {})


def _row(template: Path, audio: Path, output: Path, job_id: str) -> dict[str, Any]:
    result = JobResult(job_id, str(template), str(audio), str(output), status="succeeded")
    result.frames, result.fps, result.duration_s, result.finished_at = 25, 25.0, 1.0, utc_now()
    result.stage_seconds = {"decode": 0.1, "total": 0.5}
    return result.as_row()


def _wait(queue: JobQueue, ticket: Ticket):
    for _ in range(500):
        view = queue.view(ticket.id)
        if view.done:
            return view
        time.sleep(0.01)
    raise AssertionError("ticket did not finish")


def test_single_jobs_run_the_generate_flow_and_record_their_row(
    media: dict[str, Path], workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake_flow(name: str, deployment: str | None, parameters: dict[str, Any]) -> dict[str, Any]:
        calls.append((name, deployment, parameters))
        board.counter(parameters["output"], "render", 25)(25)  # the flow's tasks report by output path
        Path(parameters["output"]).write_bytes(b"mp4")
        return _row(media["t1"], media["a1"], Path(parameters["output"]), "job-1")

    monkeypatch.setattr(single_job, "call_flow", fake_flow)
    queue = JobQueue()
    ticket = queue.submit("one", lambda t: run_single(t, media["t1"], media["a1"], Choices(face="center"),
                                                      workspace.outputs, None, "ray://head:10001"))  # fmt: skip
    view = _wait(queue, ticket)
    assert view.state == "succeeded" and view.result["job_id"] == "job-1"
    name, deployment, parameters = calls[0]
    assert (name, deployment, parameters["face"], parameters["ray_address"]) == (
        "generate",
        None,
        "center",
        "ray://head:10001",
    )
    assert Path(parameters["output"]).parent == workspace.outputs
    assert view.progress == {parameters["output"]: {"render": (25, 25)}}
    recorded = workspace.store.latest()
    assert list(recorded["job_id"]) == ["job-1"] and recorded["decode_s"][0] == pytest.approx(0.1)


def test_a_failed_single_job_is_recorded_and_reported(
    media: dict[str, Path], workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_face(*args: Any) -> None:
        raise NoFaceError("no face in any frame", path="1a2b.png", hint="use another template")

    monkeypatch.setattr(single_job, "call_flow", no_face)
    queue = JobQueue()
    ticket = queue.submit("one", lambda t: run_single(t, media["t1"], media["a1"], Choices(), workspace.outputs))
    view = _wait(queue, ticket)
    assert view.state == "failed" and view.error.startswith("NoFaceError: 1a2b.png: no face")
    row = workspace.store.latest().iloc[0]
    assert (row["status"], row["error_type"]) == ("failed", "NoFaceError")


def test_batches_run_the_bulk_flow_and_the_table_follows_the_rows(
    media: dict[str, Path], workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = {"1a2b.png": "me.png", "3c4d.png": "you.png", "5e6f.wav": "hi.wav"}
    plan = plan_pairs([media["t1"], media["t2"]], [media["a1"]], Choices(), workspace, labels)
    specs = [job for job in plan.jobs if isinstance(job, JobSpec)]

    def fake_bulk(name: str, deployment: str | None, parameters: dict[str, Any]) -> dict[str, Any]:
        assert name == "bulk" and parameters["manifest"] == str(plan.manifest)
        good, bad = specs
        good.output.write_bytes(b"\x00\x00\x00\x20ftypisom video")
        done = JobResult(good.job_id, str(good.template), str(good.audio), str(good.output), status="succeeded")
        done.finished_at = utc_now()
        failed = JobResult(bad.job_id, str(bad.template), str(bad.audio), str(bad.output))
        failed.fail(NoFaceError("no face", path="3c4d.png"))
        workspace.store.append([done, failed])
        return {"jobs": 2, "succeeded": 1, "failed": 1, "skipped": 0, "invalid": 0}

    monkeypatch.setattr(single_job, "call_flow", fake_bulk)
    queue = JobQueue()
    ticket = queue.submit("batch", lambda t: run_batch(t, plan, workspace.outputs))
    view = _wait(queue, ticket)
    assert view.result["failed"] == 1
    table = batch_table(plan, view, workspace.store)
    assert [[str(cell) for cell in line[:3]] for line in table] == [
        ["me.png", "hi.wav", "done"],
        ["you.png", "hi.wav", "failed"],
    ]  # status cells are messages: English by str(), the page's language when shown
    assert "no face" in table[1][4]
    since = datetime.fromtimestamp(view.submitted_at).astimezone()
    archive, count = zip_outputs(plan, workspace.store, since, workspace.downloads / "all.zip")
    with zipfile.ZipFile(archive) as zipped:
        assert count == 1 and zipped.namelist() == [zip_entry_name(specs[0], labels)]
    assert zip_entry_name(specs[0], labels).startswith("me__hi__")


def test_a_queued_batch_shows_every_job_queued(media: dict[str, Path], workspace: Workspace) -> None:
    plan = plan_pairs([media["t1"]], [media["a1"], media["a2"]], Choices(), workspace, {})
    view = Ticket("batch", lambda t: None).view()
    assert [line[2].render("en") for line in batch_table(plan, view, workspace.store)] == ["queued", "queued"]
    assert [line[2].render("zh") for line in batch_table(plan, view, workspace.store)] == ["排队中", "排队中"]


def test_result_rows_round_trip(media: dict[str, Path], tmp_path: Path) -> None:
    row = _row(media["t1"], media["a1"], tmp_path / "o.mp4", "j")
    result = result_from_row({**row, "started_at": row["started_at"].isoformat()})
    assert result.as_row() == row


def test_the_ui_command_is_registered_and_documents_its_settings() -> None:
    from heygem_flows.cli.main import cli

    result = CliRunner().invoke(cli, ["ui", "--help"])
    assert result.exit_code == 0
    assert "HEYGEM_UI_USER" in result.output and "--share" in result.output


def test_a_half_configured_login_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from heygem_flows.ui.app import login

    assert login(Settings()) is None
    assert login(Settings(ui_user="ann", ui_password="secret")) == ("ann", "secret")
    with pytest.raises(InputError, match="HEYGEM_UI_USER and HEYGEM_UI_PASSWORD"):
        login(Settings(ui_user="ann"))


def test_importing_the_ui_package_does_not_import_gradio() -> None:
    import subprocess
    import sys

    modules = (
        "heygem_flows.ui, heygem_flows.ui.jobs, heygem_flows.uploads, heygem_flows.ui.history, heygem_flows.single_job"
    )
    code = f"import sys, {modules}; print('gradio' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_serve_starts_the_app_with_the_settings_and_blocks_until_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    import heygem_flows.ui
    from heygem_flows.ui import app

    events: list[str] = []

    class FakeBlocks:
        def block_thread(self) -> None:
            events.append("blocked")
            raise KeyboardInterrupt

        def close(self) -> None:
            events.append("closed")

    class FakeQueue:
        def shutdown(self, wait: bool) -> None:
            events.append(f"queue down wait={wait}")

    def fake_start(settings: Settings, **kwargs: Any) -> app.Served:
        events.append(f"started {type(settings).__name__} {sorted(kwargs.items())}")
        return app.Served("http://127.0.0.1:1", None, FakeBlocks(), type("Ctx", (), {"queue": FakeQueue()})())

    monkeypatch.setattr(app, "start", fake_start)
    heygem_flows.ui.serve(port=1)
    assert events == [
        "started Settings [('host', None), ('port', 1), ('quiet', True), ('share', False)]",
        "blocked",
        "closed",
        "queue down wait=False",
    ]


def test_the_size_choice_reaches_the_job_options() -> None:
    """Issue 13: the UI's "Largest side" dropdown (0: the default) becomes GenerateOptions.max_size."""
    from heygem_flows.ui.common import choices_from

    assert choices_from("warp", "cpu", "largest", 18, 25, 1280).options().max_size == 1280
    assert choices_from("warp", "cpu", "largest", 18, 25, 0).options().max_size is None


def test_the_transcript_reaches_the_flow_and_the_job_options() -> None:
    """Issue 11: the Single tab's "Words spoken" field travels as Choices.text to the generate flow."""
    import inspect

    from heygem_flows.generate import generate

    choices = Choices(text="Bob made a big map.")
    assert choices.given()["text"] == "Bob made a big map." and choices.options().text == "Bob made a big map."
    assert "text" in inspect.signature(generate.fn).parameters
    assert Choices(text="  ").options().text is None  # a blank field is no transcript
