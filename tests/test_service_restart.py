"""`heygem serve` survives kill -9: every job ends exactly once; and it refuses the network without a token."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from face_clips import make_face_clip, make_speech
from output_checks import playable
from service_harness import REPO, ServiceProcess, free_port, serve_command

from heygem_ops.results_store import ResultsStore

TOKEN = "s3cret-" + uuid.uuid4().hex


@pytest.mark.server
def test_a_network_address_without_a_token_is_refused(tmp_path: Path) -> None:
    env = {"HEYGEM_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [*serve_command("--host", "0.0.0.0", "--port", str(free_port()))],
        cwd=REPO, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert "refusing to listen on 0.0.0.0 without a token: set HEYGEM_API_TOKEN" in run.stderr


@pytest.mark.server
@pytest.mark.media
@pytest.mark.slow
def test_kill_9_and_restart_ends_every_job_exactly_once_then_the_token_rule(tmp_path: Path, media_dir: Path) -> None:
    home, data = tmp_path / "home", tmp_path / "data"
    data.mkdir()
    make_face_clip(data / "face.mp4", media_dir / "sadtalker_people_0.png", frames=10, size=160)
    for index in range(3):
        make_speech(data / f"speech-{index}.wav", 1.2, seed=index)
    codes = [f"crash-{index}-{uuid.uuid4().hex[:6]}" for index in range(3)]
    first = ServiceProcess.start(home, data, workers=1)
    try:
        for index, code in enumerate(codes):
            assert first.submit(audio_url=f"speech-{index}.wav", video_url="face.mp4", code=code)["code"] == 10000
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # kill when one has finished, the next runs and the last waits
            status = [first.query(code)["data"]["status"] for code in codes]
            if status == [2, 1, 1]:
                break
            time.sleep(0.1)
        assert status == [2, 1, 1], status
    finally:
        first.kill()
    outputs = data / "outputs"
    assert all(playable(path) for path in outputs.glob("*.mp4"))  # nothing half-written under an output name
    finished_before = {code: first_finished for code, first_finished in _finished_at(home, codes).items()}

    second = ServiceProcess.start(home, data, workers=1, token=TOKEN)
    try:
        anonymous = httpx.Client(base_url=second.url)
        assert anonymous.get("/healthz").status_code == 200  # the one open route
        for path in ("/easy/query?code=" + codes[0], "/v1/jobs", "/metrics", "/docs"):
            refused = anonymous.get(path)
            assert refused.status_code == 401 and refused.json()["error"]["type"] == "Unauthorized", path
            assert refused.headers["www-authenticate"] == "Bearer"
        wrong = anonymous.get("/v1/jobs", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        anonymous.close()
        ids = [job["id"] for job in second.client.get("/v1/jobs").json()["jobs"]]
        views = second.wait_for_jobs(ids, timeout_s=240)
        assert sorted(view["code"] for view in views) == sorted(codes)
        assert all(view["state"] == "succeeded" for view in views), views
        done = {code: second.query(code)["data"] for code in codes}  # still queryable after the restart
        assert all(item["status"] == 2 and (data / item["result"]).is_file() for item in done.values())
        after = _finished_at(home, codes)
        for code, when in finished_before.items():
            if when is not None:
                assert after[code] == when  # what had finished stayed finished: not run again
        assert any(view["attempts"] == 2 for view in views)  # the interrupted one ran again
    finally:
        second.stop()
    rows = ResultsStore(outputs).frame()
    succeeded = rows[rows["status"] == "succeeded"].groupby("job_id").size()
    assert len(succeeded) == 3 and (succeeded == 1).all()  # every job succeeded exactly once
    assert all(playable(path) for path in outputs.glob("*.mp4")) and len(list(outputs.glob("*.mp4"))) == 3


def _finished_at(home: Path, codes: list[str]) -> dict[str, float | None]:
    """Each task's finish time straight from the job table (no server needed)."""
    from heygem_flows.service.table import JobTable

    table = JobTable(home.resolve() / "service" / "jobs.sqlite")
    try:
        return {code: table.by_code(code).finished_at for code in codes}  # type: ignore[union-attr]
    finally:
        table.close()
