"""The library and the Prefect flow run one orchestration: same options in, same bytes and same row out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from face_clips import make_face_clip, make_speech

from heygem_ops.results import WALL_COLUMNS, WORKER_COLUMNS

pytestmark = pytest.mark.media
REPO = Path(__file__).resolve().parents[1]

BOTH_PATHS = """\
import json, sys
from heygem_flows.cli.prefect_api import temporary_prefect_api

if __name__ == "__main__":
    template, audio, out = sys.argv[1:4]
    with temporary_prefect_api():
        from heygem_flows.generate import generate as flow_generate
        from heygem_ops import GenerateOptions, generate

        library = generate(template, audio, f"{out}/library.mp4", GenerateOptions.from_settings(chunk_frames=16))
        flow = flow_generate(template=template, audio=audio, output=f"{out}/flow.mp4", chunk_frames=16)
    print(json.dumps({"library": library.as_row(), "flow": flow}, default=str))
"""
# What differs between two attempts by nature: where, when, how long, by which flow run, and whether the
# template was already tracked (the second attempt finds it in the cache).
VOLATILE = {"output", "flow_run_id", "started_at", "finished_at", "track_cached"}


def test_library_and_flow_write_the_same_file_and_row(media_dir, tmp_path):
    template = make_face_clip(tmp_path / "template.mp4", media_dir / "sadtalker_people_0.png", frames=30, seed=3)
    audio = make_speech(tmp_path / "speech.wav", 2.0, seed=3)  # 50 frames: 4 chunks of 16, over a ping-pong turn
    script = tmp_path / "both.py"
    script.write_text(BOTH_PATHS)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    run = subprocess.run(
        [sys.executable, str(script), str(template), str(audio), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    rows = json.loads(run.stdout.strip().splitlines()[-1])
    library, flow = rows["library"], rows["flow"]
    assert (tmp_path / "library.mp4").read_bytes() == (tmp_path / "flow.mp4").read_bytes()
    assert library.keys() == flow.keys()
    timing = {key for key in library if key.endswith("_s") and key != "duration_s"}
    for row in (library, flow):  # wall seconds add up to the total; worker seconds are there beside them
        stages = sum(row[column] for stage, column in WALL_COLUMNS.items() if stage != "total")
        assert stages == pytest.approx(row["total_s"], abs=0.01)
        assert all(row[column] is not None and row[column] > 0 for column in WORKER_COLUMNS.values())
    same = {key: library[key] for key in library.keys() - VOLATILE - timing}
    assert same == {key: flow[key] for key in same}
    assert library["status"] == "succeeded" and library["frames"] == 50 and library["sync_score"] is not None
    assert flow["flow_run_id"] and library["flow_run_id"] is None
