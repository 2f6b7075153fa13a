"""Quality measured during compose (small face crops, a few published frames per chunk) gives the
figures of the full-size measurement of the published file, on real clips at 512x512 and 1080p."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from heygem_ops import generate
from heygem_ops.face.tracking import MeshTracker
from heygem_ops.media import decode_audio
from heygem_ops.options import GenerateOptions
from heygem_ops.quality import job as quality_job
from heygem_ops.quality import measure_quality
from heygem_ops.quality.chunk import face_region
from tests.face_clips import make_speech, write_wav

pytestmark = [pytest.mark.media, pytest.mark.slow]

# (what compose measured) - (full-size measurement of the file) may differ by at most this much
TOLERANCE = {
    "q_face_fraction": 0.03,
    "q_best_lag": 1,
    "sync_score": 0.1,
    "q_confidence": 0.15,
    "q_template_leak": 0.15,
    "q_psnr_outside": 1.5,
    "q_mouth_flicker": 0.1,
}
# a ratio of Laplacian variances: it is sampled on each chunk's first frames, so it may differ by this share
SHARPNESS_REL = 0.1
OLD_NAMES = {name: "q_sync" if name == "sync_score" else name for name in TOLERANCE}  # QualityReport.as_row


@pytest.mark.parametrize("clip", ["sadtalker_WDA_KatieHill_000.mp4", "latentsync_demo1_video.mp4"])
def test_figures_measured_in_compose_match_the_full_size_measurement(
    media_dir: Path, tmp_path: Path, clip: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_file_pass(*args: object, **kwargs: object) -> None:
        raise AssertionError("the job measured its published file instead of using the chunks' measurements")

    monkeypatch.setattr(quality_job, "measure_quality", no_file_pass)
    speech = decode_audio(media_dir / "sadtalker_chinese_news.wav")[: 8 * 16000]  # real speech: no periodic peaks
    template, audio, output = media_dir / clip, write_wav(tmp_path / "speech.wav", speech), tmp_path / "out.mp4"
    row = generate(template, audio, output, GenerateOptions.from_settings(chunk_frames=50)).as_row()
    full = measure_quality(output, audio, template, tracker=MeshTracker()).as_row()
    names = [*TOLERANCE, "q_sharpness_ratio"]
    print(f"\n{clip}\n  compose {[row[k] for k in names]}\n  file    {[full[OLD_NAMES.get(k, k)] for k in names]}")
    for name, tolerance in TOLERANCE.items():
        assert row[name] == pytest.approx(full[OLD_NAMES[name]], abs=tolerance), name
    assert row["q_sharpness_ratio"] == pytest.approx(full["q_sharpness_ratio"], rel=SHARPNESS_REL)
    assert row["q_flags"] is None
    assert row["quality_worker_s"] > 0 and row["compose_worker_s"] > 0  # measuring is counted apart from composing


def test_a_job_with_qa_off_measures_nothing(media_dir: Path, tmp_path: Path) -> None:
    template, audio = media_dir / "sadtalker_WDA_KatieHill_000.mp4", make_speech(tmp_path / "speech.wav", 1.0)
    result = generate(template, audio, tmp_path / "out.mp4", GenerateOptions.from_settings(qa=False))
    assert result.sync_score is None and "quality" not in result.stage_seconds
    assert "quality" not in result.worker_seconds


def test_the_face_region_is_a_square_inside_the_frame_around_every_box() -> None:
    boxes = np.array([[100, 50, 200, 170], [np.nan] * 4, [120, 60, 230, 180]], dtype=np.float32)
    x0, y0, x1, y1 = face_region(boxes, (320, 240))
    assert x1 - x0 == y1 - y0 <= 240 and x0 >= 0 and y0 >= 0 and x1 <= 320 and y1 <= 240
    assert x0 <= 100 and y0 <= 50 and x1 >= 230 and y1 >= 180
    assert face_region(np.full((2, 4), np.nan, dtype=np.float32), (320, 240)) is None
