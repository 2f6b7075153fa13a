"""`heygem serve` as its clients see it: a real server process on loopback, a real HTTP client.

HeyGem's desktop-client loop on real media, eight submits at once under a two-worker limit, every
bad parameter with its code and message, inputs from a local web server (one too large, one not
media), range requests on the video, the REST API's list / cancel / delete, and (in
test_service_restart.py) kill -9 and restart plus the token rule.
"""

from __future__ import annotations

import http.server
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from face_clips import make_face_clip, make_speech
from media_factory import make_audio, make_random_bytes, make_video
from service_harness import ServiceProcess

from heygem_ops.options import MAX_TEXT_CHARS
from heygem_ops.results_store import ResultsStore

pytestmark = [pytest.mark.server, pytest.mark.media, pytest.mark.slow]
MAX_UPLOAD_MB = 2  # the server's HEYGEM_API_MAX_UPLOAD_MB: small, so "too large" is cheap to serve


def cut_clip(source: Path, target: Path, seconds: float) -> Path:
    """The first `seconds` of `source`'s pictures, re-encoded as H.264 (no sound)."""
    with av.open(str(source)) as reader, av.open(str(target), "w") as writer:
        video = reader.streams.video[0]
        stream = writer.add_stream("libx264", rate=video.average_rate, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, "yuv420p"
        for frame in reader.decode(video=0):
            if frame.time is not None and frame.time >= seconds:
                break
            writer.mux(stream.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")))
        writer.mux(stream.encode(None))
    return target


def cut_audio(source: Path, target: Path, seconds: float) -> Path:
    """The first `seconds` of `source` as a 16 kHz mono WAV."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    with av.open(str(source)) as reader, av.open(str(target), "w") as writer:
        stream = writer.add_stream("pcm_s16le", rate=16000, layout="mono")
        for frame in reader.decode(audio=0):
            if frame.time is not None and frame.time >= seconds:
                break
            for piece in resampler.resample(frame):
                writer.mux(stream.encode(piece))
        writer.mux(stream.encode(None))
    return target


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Path:
    """The server's data root: a real talking clip and speech cut to 2 s, small face clips, bad files."""
    root = tmp_path_factory.mktemp("data")
    cut_clip(media_dir / "liveportrait_d12.mp4", root / "talking.mp4", 2.0)
    cut_audio(media_dir / "sadtalker_chinese_news.wav", root / "speech.wav", 2.0)
    portrait = media_dir / "sadtalker_people_0.png"
    make_face_clip(root / "face.mp4", portrait, frames=10, size=160)
    for index in range(8):
        make_speech(root / f"short-{index}.wav", 0.4 + 0.04 * index, seed=index)
    (root / "notes.mp4").write_text("a text file wearing a video's name\n")
    make_video(root / "silent.mp4", frames=5)  # pictures, no sound: not a recording
    make_video(root / "big.mp4", frames=2, size=(640, 480))  # over the server's pixel limit
    make_audio(root / "twelve.wav", duration_s=12.0)  # over the server's duration limit
    return root


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Iterator[ServiceProcess]:
    home = tmp_path_factory.mktemp("home")
    extra = {
        "HEYGEM_API_MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
        "HEYGEM_API_MAX_DURATION_S": "10",
        "HEYGEM_MAX_PIXELS": "300000",
    }
    with ServiceProcess.start(home, data, workers=2, extra=extra) as served:
        yield served


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Iterator[str]:
    """A local web server on 127.0.0.1: a good clip, a too-large file (announced or not), a page that is not media."""
    root = tmp_path_factory.mktemp("web")
    (root / "face.mp4").write_bytes((data / "face.mp4").read_bytes())
    (root / "speech.wav").write_bytes((data / "short-0.wav").read_bytes())
    make_random_bytes(root / "huge.mp4", size=(MAX_UPLOAD_MB + 1) * 2**20)
    (root / "page.mp4").write_text("<!doctype html><html><body>Not found, but 200</body></html>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path != "/unannounced.mp4":
                return super().do_GET()
            self.send_response(200)  # no Content-Length: only counting the bytes can stop it
            self.end_headers()
            try:
                for _ in range((MAX_UPLOAD_MB + 1) * 16):
                    self.wfile.write(b"\0" * 2**16)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the service stopped reading at its limit

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def desktop_client(service: ServiceProcess, video: str, audio: str, poll_s: float = 2.0) -> dict:
    """What HeyGem's desktop client does: submit with a fresh UUID, poll every `poll_s` until done, read result."""
    code = str(uuid.uuid4())
    submitted = service.submit(audio_url=audio, video_url=video, code=code)
    assert submitted == {"code": 10000, "success": True, "msg": submitted["msg"], "data": {}}, submitted
    progress, deadline = [], time.monotonic() + 240
    while time.monotonic() < deadline:
        answer = service.query(code)
        assert answer["code"] == 10000 and answer["success"], answer
        data = answer["data"]
        assert data["status"] in (1, 2), data  # 3 would be a failure
        progress.append(data["progress"])
        if data["status"] == 2:
            return {**data, "code": code, "seen": progress}
        time.sleep(poll_s)
    raise AssertionError(f"task {code} not done in time: {progress}\n{service.log_text()}")


def test_heygem_desktop_client_loop_on_real_media(service: ServiceProcess, data: Path) -> None:
    done = desktop_client(service, "talking.mp4", str(data / "speech.wav"))  # relative and absolute paths
    assert done["seen"] == sorted(done["seen"]) and done["seen"][-1] == 100 and len(done["seen"]) > 1
    assert all(0 <= value <= 100 for value in done["seen"])
    output = data / done["result"]  # relative to the data root, as HeyGem's result is
    assert not Path(done["result"]).is_absolute() and output.is_file()
    with av.open(str(output)) as container:
        picture, sound = container.streams.video[0], container.streams.audio[0]
        assert (picture.width, picture.height) == (done["width"], done["height"]) == (512, 512)
        assert sound.codec_context.name == "aac"
        assert abs(float(container.duration / av.time_base) - 2.0) < 0.15
    assert abs(done["video_duration"] - 2.0) < 0.05 and done["cost"] > 0
    again = service.query(done["code"])  # HeyGem forgets a task after its first query; we do not
    assert again["data"]["status"] == 2 and again["data"]["result"] == done["result"]
    rows = ResultsStore(data / "outputs").latest()
    assert (rows[rows["output"] == str(output)]["status"] == "succeeded").all()  # the shared results dataset
    metrics = service.client.get("/metrics").text
    assert 'heygem_jobs{state="succeeded"}' in metrics and "heygem_queue_length" in metrics
    assert 'heygem_stage_seconds_count{stage="total"} 1' in metrics
    assert 'heygem_device_info{configured="auto",last_used="cpu"} 1' in metrics
    assert f"code={done['code']}" in service.log_text()  # every request is logged with its task code
    assert "/easy/submit" in service.client.get("/openapi.json").json()["paths"]
    assert service.client.get("/docs").status_code == 200


def test_eight_submits_at_once_all_finish_two_at_a_time(service: ServiceProcess) -> None:
    codes = [f"burst-{index}-{uuid.uuid4().hex[:8]}" for index in range(8)]
    threads = [
        threading.Thread(target=lambda c=code, i=index: answers.append(
            service.submit(audio_url=f"short-{i}.wav", video_url="face.mp4", code=c, pn=i % 2)))
        for index, code in enumerate(codes)
    ]  # fmt: skip
    answers: list[dict] = []
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer["code"] for answer in answers] == [10000] * 8, answers  # never 10001 (busy)
    jobs = service.client.get("/v1/jobs", params={"page_size": 50}).json()["jobs"]
    ids = [job["id"] for job in jobs if job["code"] in codes]
    views = service.wait_for_jobs(ids, timeout_s=180)
    assert [view["state"] for view in views] == ["succeeded"] * 8, views
    assert {view["options"].get("loop") for view in views} == {"pingpong", "plain"}  # pn 1 and pn 0
    spans = [(view["started_at"], view["finished_at"]) for view in views]
    assert max_overlap(spans) == 2  # at most the two configured workers ran at once, and both were used


def max_overlap(spans: list[tuple[str, str]]) -> int:
    events = sorted(itertools.chain(((start, 1) for start, _ in spans), ((end, -1) for _, end in spans)))
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def _body(**changes: object) -> dict:
    """A good submit body with `changes` (None drops the field); each case gets its own code."""
    body = {"audio_url": "short-0.wav", "video_url": "face.mp4", "code": f"bad-{uuid.uuid4().hex[:12]}", **changes}
    return {key: value for key, value in body.items() if value is not None}


BAD_SUBMITS = [
    (_body(audio_url=None), "field audio_url: Field required"),
    (_body(video_url=None), "field video_url: Field required"),
    (_body(code=None), "field code: Field required"),
    (_body(code="has spaces"), "is not a task id"),
    (_body(chaofen=1), "chaofen=1 (GFPGAN face enhancement) is not available in HeyGem-Ops; send chaofen=0"),
    (_body(watermark_switch=1), "watermark_switch=1 (a watermark) is not available"),
    (_body(pn=2), "pn=2 is not 0 or 1"),
    (_body(pn="yes"), "field pn"),
    (_body(video_url="../../../etc/passwd"), "video_url '../../../etc/passwd' is outside the data root"),
    (_body(audio_url="/etc/hostname"), "audio_url '/etc/hostname' is outside the data root"),
    (_body(video_url="missing.mp4"), "video_url 'missing.mp4': no such file"),
    (_body(video_url="notes.mp4"), "video_url: notes.mp4: is plain text, not a video"),
    (_body(audio_url="silent.mp4"), "audio_url: silent.mp4"),
    (_body(audio_url="ftp://example.org/a.wav"), "is not an http(s) URL"),
    (_body(video_url="big.mp4"), "video_url: big.mp4: has 307200 pixels per frame, over the 300000 limit"),
    (_body(audio_url="twelve.wav"), "audio_url: twelve.wav: lasts 12.0 s, over the 10 s limit"),
]


@pytest.mark.parametrize(("body", "message"), BAD_SUBMITS, ids=[case[1][:30] for case in BAD_SUBMITS])
def test_bad_parameters_are_10002_naming_the_field(service: ServiceProcess, body: dict, message: str) -> None:
    response = service.client.post("/easy/submit", json=body)
    assert response.status_code == 200
    answer = response.json()
    assert (answer["code"], answer["success"]) == (10002, False), answer
    assert message in answer["msg"], answer["msg"]
    if "code" in body:
        assert service.query(body["code"])["code"] == 10004  # nothing was queued


def test_malformed_bodies_queries_and_reused_codes(service: ServiceProcess) -> None:
    response = service.client.post("/easy/submit", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json()["code"] == 10002
    assert service.client.get("/easy/query").json()["code"] == 10002  # no code given
    unknown = service.query("never-submitted")
    assert unknown["code"] == 10004 and "never-submitted" in unknown["msg"]
    code = f"reuse-{uuid.uuid4().hex[:8]}"
    assert service.submit(audio_url="short-1.wav", video_url="face.mp4", code=code)["code"] == 10000
    again = service.submit(audio_url="short-1.wav", video_url="face.mp4", code=code)
    assert again["code"] == 10002 and "already used" in again["msg"]


def test_inputs_from_a_web_server(service: ServiceProcess, web: str, data: Path) -> None:
    code = f"url-{uuid.uuid4().hex[:8]}"
    ok = service.submit(audio_url=f"{web}/speech.wav", video_url=f"{web}/face.mp4", code=code)
    assert ok["code"] == 10000, ok
    huge = service.submit(audio_url="short-0.wav", video_url=f"{web}/huge.mp4", code="url-huge")
    assert huge["code"] == 10002 and f"over the {MAX_UPLOAD_MB} MiB limit" in huge["msg"], huge
    endless = service.submit(audio_url="short-0.wav", video_url=f"{web}/unannounced.mp4", code="url-endless")
    assert endless["code"] == 10002 and f"over the {MAX_UPLOAD_MB} MiB limit" in endless["msg"], endless
    page = service.submit(audio_url="short-0.wav", video_url=f"{web}/page.mp4", code="url-page")
    assert page["code"] == 10002 and "not a video" in page["msg"] and "checked by content" in page["msg"], page
    gone = service.submit(audio_url=f"{web}/nothing.wav", video_url="face.mp4", code="url-404")
    assert gone["code"] == 10002 and "HTTP 404" in gone["msg"], gone
    job = service.client.get("/v1/jobs", params={"page_size": 100}).json()["jobs"]
    (record,) = [item for item in job if item["code"] == code]
    (view,) = service.wait_for_jobs([record["id"]])
    assert view["state"] == "succeeded" and view["template"] == f"{web}/face.mp4"
    stored = sorted(path.name for path in (data / "uploads").iterdir())
    assert "huge.mp4" not in stored and all(name == "index.jsonl" or len(name.split(".")[0]) == 20 for name in stored)


def test_v1_jobs_video_ranges_list_and_delete(service: ServiceProcess, data: Path, tmp_path: Path) -> None:
    client = service.client
    created = client.post("/v1/jobs", json={"template": "face.mp4", "audio": "short-3.wav", "options": {"crf": 23}})
    assert created.status_code == 202, created.text
    job = created.json()
    assert created.headers["location"] == f"/v1/jobs/{job['id']}" and job["state"] in ("queued", "running")
    early = client.get(f"/v1/jobs/{job['id']}/video")
    assert early.status_code in (409, 200)  # 409 unless the job already finished
    (view,) = service.wait_for_jobs([job["id"]])
    assert view["state"] == "succeeded" and view["progress"] == 100 and view["result"]["frames"] > 0
    whole = client.get(view["video_url"])
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes" and whole.content == (data / view["output"]).read_bytes()
    part = client.get(view["video_url"], headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206 and part.content == whole.content[100:1124]
    assert part.headers["content-range"] == f"bytes 100-1123/{len(whole.content)}"
    tail = client.get(view["video_url"], headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == whole.content[-16:]

    upload = client.post(
        "/v1/jobs",
        files={
            "template": ("me.mp4", (data / "face.mp4").read_bytes()),
            "audio": ("hi.wav", (data / "short-4.wav").read_bytes()),
        },
        data={"loop": "plain", "face": "largest", "text": "Hi."},
    )
    assert upload.status_code == 202, upload.text
    assert (upload.json()["template"], upload.json()["options"]["loop"]) == ("me.mp4", "plain")
    assert upload.json()["options"]["text"] == "Hi."  # the words spoken travel with the job
    newest = client.get("/v1/jobs", params={"page_size": 2}).json()
    assert newest["jobs"][0]["id"] == upload.json()["id"] and newest["total"] >= 2 and len(newest["jobs"]) == 2
    succeeded = client.get("/v1/jobs", params={"status": "succeeded", "page": 1, "page_size": 100}).json()
    assert {item["state"] for item in succeeded["jobs"]} == {"succeeded"} and view["id"] in {
        item["id"] for item in succeeded["jobs"]
    }

    deleted = client.delete(f"/v1/jobs/{view['id']}")
    assert deleted.status_code == 200 and deleted.json()["output_deleted"] and not (data / view["output"]).exists()
    assert client.get(view["video_url"]).status_code == 410
    latest = ResultsStore(data / "outputs").latest()
    assert latest[latest["job_id"] == view["job_id"]]["status"].tolist() == ["deleted"]  # the deletion is recorded
    assert client.delete(f"/v1/jobs/{view['id']}").status_code == 409  # nothing left to delete
    service.wait_for_jobs([upload.json()["id"]])


def test_v1_errors_are_json_with_type_and_message(service: ServiceProcess) -> None:
    client = service.client
    cases = [
        (client.get("/v1/jobs/nope"), 404, "NotFound", "no job 'nope'"),
        (client.get("/v1/jobs", params={"status": "done"}), 400, "InputError", "status done is not a job state"),
        (client.post("/v1/jobs", json={"template": "face.mp4"}), 422, "InvalidBody", "field audio"),
        (client.post("/v1/jobs", json={"template": "face.mp4", "audio": "short-0.wav", "options": {"crf": 99}}),
         400, "InputError", "crf=99"),
        (client.post("/v1/jobs", json={"template": "face.mp4", "audio": "short-0.wav", "options": {"color": "red"}}),
         422, "InvalidBody", "field options.color"),
        (client.post("/v1/jobs", json={"template": "face.mp4", "audio": "short-0.wav",
                                       "options": {"text": "x" * (MAX_TEXT_CHARS + 1)}}),
         422, "InvalidBody", "field options.text"),
        (client.post("/v1/jobs", json={"template": "../outside.mp4", "audio": "short-0.wav"}),
         400, "InputError", "outside the data root"),
        (client.post("/v1/jobs", files={"template": ("a.mp4", b"x")}), 422, "InvalidBody", "audio must be files"),
    ]  # fmt: skip
    for response, status, kind, message in cases:
        assert response.status_code == status, (response.request.url, response.text)
        error = response.json()["error"]
        assert error["type"] == kind and message in error["message"], error


def test_cancel_a_running_and_a_queued_job(service: ServiceProcess, data: Path) -> None:
    speech = [make_speech(data / f"long-{seed}.wav", 2.5, seed=seed).name for seed in (11, 12, 13)]
    jobs = [service.client.post("/v1/jobs", json={"template": "face.mp4", "audio": name}).json() for name in speech]
    running, queued = jobs[0], jobs[2]  # two workers: the third waits
    deadline = time.monotonic() + 60
    while service.client.get(f"/v1/jobs/{running['id']}").json()["state"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
    for job in (queued, running):
        answer = service.client.delete(f"/v1/jobs/{job['id']}")
        assert answer.status_code == 200 and answer.json()["state"] == "cancelled", answer.text
    views = service.wait_for_jobs([job["id"] for job in jobs], timeout_s=120)
    assert [view["state"] for view in views] == ["cancelled", "succeeded", "cancelled"]
    assert views[2]["started_at"] is None and views[2]["error"]["type"] == "Cancelled"
    deadline = time.monotonic() + 120  # the running one ends its work, then its output is discarded
    while not service.client.get(f"/v1/jobs/{running['id']}").json()["output_deleted"]:
        assert time.monotonic() < deadline, service.log_text()
        time.sleep(0.2)
    assert not (data / views[0]["output"]).exists()
