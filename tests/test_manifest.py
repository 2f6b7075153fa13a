"""Job manifests in: formats, path resolution, per-row errors, duplicates and the batch shortcuts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from heygem_ops.errors import InputError, OutputPathError
from heygem_ops.hashing import file_digest
from heygem_ops.manifest import JobSpec, JobSpecError, jobs_from_pairs, pending, read_jobs
from heygem_ops.options import GenerateOptions
from heygem_ops.plan import job_identity

DEFAULTS = GenerateOptions()


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """tmp/inputs with two templates and two audios: distinct bytes (only hashed, never decoded)."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name in ("t1.mp4", "t2 portrait.png", "a1.wav", "a2.wav"):
        (folder / name).write_bytes(name.encode() * 100)
    (folder / "notes.txt").write_text("not media")
    return folder


def _write(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` as the manifest format `path`'s suffix names."""
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in frame.to_dict("records")))
    return path


def _only(jobs: list, kind: type) -> list:
    return [job for job in jobs if isinstance(job, kind)]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_every_format_gives_the_same_jobs(tmp_path: Path, inputs: Path, suffix: str) -> None:
    rows = pd.DataFrame(
        {
            "template": ["inputs/t1.mp4", "inputs/t2 portrait.png"],
            "audio": ["inputs/a1.wav", "inputs/a1.wav"],
            "crf": [None, 20],
            "engine": ["", "warp"],
        }
    )
    jobs = read_jobs(_write(rows, tmp_path / f"jobs{suffix}"), tmp_path / "out", DEFAULTS)
    assert all(isinstance(job, JobSpec) for job in jobs)
    first, second = jobs
    assert first.template == inputs / "t1.mp4" and first.audio == inputs / "a1.wav"
    assert first.options == DEFAULTS and second.options.crf == 20 and second.row == 2
    expected = job_identity(file_digest(inputs / "t1.mp4"), file_digest(inputs / "a1.wav"), DEFAULTS)
    assert first.job_id == expected
    assert first.output.parent == (tmp_path / "out").resolve()
    assert first.output.name.startswith("t1__a1__") and second.output.name.startswith("t2_portrait__a1__")


def test_relative_paths_resolve_against_the_manifest_folder(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    rows = pd.DataFrame(
        {
            "template": ["../inputs/t1.mp4"],
            "audio": [str(inputs / "a2.wav")],
            "checkpoint": ["../weights.pth"],
            "output": ["sub/x.mp4"],
        }
    )
    (tmp_path / "weights.pth").write_bytes(b"w")
    [job] = read_jobs(_write(rows, tmp_path / "manifests" / "jobs.csv"), tmp_path / "out", DEFAULTS)
    assert job.template == inputs / "t1.mp4" and job.audio == inputs / "a2.wav"
    assert job.options.checkpoint == str(tmp_path / "weights.pth")
    assert job.output == tmp_path / "out" / "sub" / "x.mp4"  # outputs resolve against the output folder


@pytest.mark.parametrize("output", ["../x.mp4", "/tmp/elsewhere/x.mp4", "sub/../../x.mp4", "_results/x.mp4"])
def test_an_escaping_output_fails_its_job_alone(tmp_path: Path, inputs: Path, output: str) -> None:
    rows = pd.DataFrame(
        {"template": ["inputs/t1.mp4"] * 2, "audio": ["inputs/a1.wav", "inputs/a2.wav"], "output": ["", output]}
    )
    good, bad = read_jobs(_write(rows, tmp_path / "jobs.csv"), tmp_path / "out", DEFAULTS)
    assert isinstance(good, JobSpec)
    assert isinstance(bad, JobSpecError) and isinstance(bad.error, OutputPathError)
    result = bad.as_result()
    assert result.status == "failed" and result.error_type == "OutputPathError"
    assert result.error_message.startswith("jobs.csv row 2:") and result.finished_at is not None
    assert bad.job_id == job_identity(file_digest(inputs / "t1.mp4"), file_digest(inputs / "a2.wav"), DEFAULTS)


def test_an_output_inside_the_folder_by_absolute_path_is_accepted(tmp_path: Path, inputs: Path) -> None:
    output = tmp_path / "out" / "abs.mp4"
    rows = pd.DataFrame({"template": ["inputs/t1.mp4"], "audio": ["inputs/a1.wav"], "output": [str(output)]})
    [job] = read_jobs(_write(rows, tmp_path / "jobs.jsonl"), tmp_path / "out", DEFAULTS)
    assert isinstance(job, JobSpec) and job.output == output


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = _write(pd.DataFrame({"template": ["a.mp4"], "voice": ["b.wav"]}), tmp_path / "jobs.csv")
    with pytest.raises(InputError, match=r"jobs\.csv.*lacks the column\(s\) audio"):
        read_jobs(path, tmp_path / "out", DEFAULTS)


def test_unreadable_or_unknown_manifests_raise_input_error(tmp_path: Path) -> None:
    broken = tmp_path / "jobs.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="cannot be read as a parquet job manifest"):
        read_jobs(broken, tmp_path / "out", DEFAULTS)
    with pytest.raises(InputError, match="not a job manifest format"):
        read_jobs(tmp_path / "jobs.xlsx", tmp_path / "out", DEFAULTS)
    with pytest.raises(InputError, match="cannot be read"):
        read_jobs(tmp_path / "missing.csv", tmp_path / "out", DEFAULTS)


def test_bad_rows_become_errors_with_stable_ids(tmp_path: Path, inputs: Path) -> None:
    rows = pd.DataFrame(
        {
            "template": ["inputs/nope.mp4", "inputs/t1.mp4", "inputs/t1.mp4", "", "inputs/t1.mp4"],
            "audio": ["inputs/a1.wav", "inputs/a1.wav", "inputs/a1.wav", "inputs/a1.wav", "inputs/a2.wav"],
            "crf": ["", "abc", "99", "", "18"],
        }
    )
    path = _write(rows, tmp_path / "jobs.csv")
    jobs = read_jobs(path, tmp_path / "out", DEFAULTS)
    errors = _only(jobs, JobSpecError)
    assert [e.row for e in errors] == [1, 2, 3, 4]
    messages = [e.as_result().error_message for e in errors]
    assert "template file does not exist" in messages[0] and "crf='abc'" in messages[1]
    assert "crf=99" in messages[2] and "no template given" in messages[3]
    again = _only(read_jobs(path, tmp_path / "out", DEFAULTS), JobSpecError)
    assert [e.job_id for e in errors] == [e.job_id for e in again]
    assert len(_only(jobs, JobSpec)) == 1


def test_duplicate_rows_collapse_to_one_job(tmp_path: Path, inputs: Path) -> None:
    rows = pd.DataFrame(
        {
            "template": ["inputs/t1.mp4", "inputs/t1.mp4", str(inputs / "t1.mp4"), "inputs/t1.mp4", "inputs/t1.mp4"],
            "audio": ["inputs/a1.wav", "inputs/a1.wav", "inputs/a1.wav", "inputs/a2.wav", "inputs/a2.wav"],
            "job_id": ["", "", "", "mine", "mine"],
        }
    )
    jobs = read_jobs(_write(rows, tmp_path / "jobs.csv"), tmp_path / "out", DEFAULTS)
    assert [(job.row, type(job).__name__) for job in jobs] == [(1, "JobSpec"), (4, "JobSpec")]
    assert jobs[1].job_id == "mine"


def test_a_valid_row_wins_over_an_error_row_of_the_same_job(tmp_path: Path, inputs: Path) -> None:
    rows = pd.DataFrame({"template": ["inputs/t1.mp4"] * 2, "audio": ["inputs/a1.wav"] * 2, "output": ["../x.mp4", ""]})
    [job] = read_jobs(_write(rows, tmp_path / "jobs.csv"), tmp_path / "out", DEFAULTS)
    assert isinstance(job, JobSpec) and job.row == 2


def test_two_jobs_writing_one_output_fail_the_second(tmp_path: Path, inputs: Path) -> None:
    audios = ["inputs/a1.wav", "inputs/a2.wav"]
    rows = pd.DataFrame({"template": ["inputs/t1.mp4"] * 2, "audio": audios, "output": ["o.mp4"] * 2})
    first, second = read_jobs(_write(rows, tmp_path / "jobs.csv"), tmp_path / "out", DEFAULTS)
    assert isinstance(first, JobSpec)
    assert isinstance(second, JobSpecError) and "also the output of job" in str(second.error)


def test_default_outputs_are_unique_and_stable(tmp_path: Path, inputs: Path) -> None:
    rows = pd.DataFrame({"template": ["inputs/t1.mp4"] * 3, "audio": ["inputs/a1.wav"] * 3, "crf": [18, 19, 20]})
    path = _write(rows, tmp_path / "jobs.parquet")
    outputs = [job.output for job in read_jobs(path, tmp_path / "out", DEFAULTS)]
    assert len(set(outputs)) == 3
    assert outputs == [job.output for job in read_jobs(path, tmp_path / "out", DEFAULTS)]


def test_one_audio_many_templates_from_a_folder_or_glob(tmp_path: Path, inputs: Path) -> None:
    by_folder = jobs_from_pairs([inputs], [inputs / "a1.wav"], tmp_path / "out", DEFAULTS)
    assert [job.template.name for job in by_folder] == ["t1.mp4", "t2 portrait.png"]  # notes.txt and audio left out
    by_glob = jobs_from_pairs([str(inputs / "t*")], [inputs / "a1.wav"], tmp_path / "out", DEFAULTS)
    assert [job.job_id for job in by_glob] == [job.job_id for job in by_folder]


def test_one_template_many_audios(tmp_path: Path, inputs: Path) -> None:
    jobs = jobs_from_pairs([inputs / "t1.mp4"], [str(inputs / "a*.wav")], tmp_path / "out", DEFAULTS)
    assert [job.audio.name for job in jobs] == ["a1.wav", "a2.wav"] and all(isinstance(j, JobSpec) for j in jobs)


def test_pairs_refuse_many_to_many_and_empty_globs(tmp_path: Path, inputs: Path) -> None:
    with pytest.raises(InputError, match="pair one audio with many templates"):
        jobs_from_pairs([inputs], [inputs], tmp_path / "out", DEFAULTS)
    with pytest.raises(InputError, match="matches no audio files"):
        jobs_from_pairs([inputs / "t1.mp4"], [str(inputs / "*.flac")], tmp_path / "out", DEFAULTS)
    [missing] = jobs_from_pairs([inputs / "gone.mp4"], [inputs / "a1.wav"], tmp_path / "out", DEFAULTS)
    assert isinstance(missing, JobSpecError) and missing.source == "pairs"


def test_pending_skips_only_jobs_done_at_the_same_output(tmp_path: Path, inputs: Path) -> None:
    jobs = jobs_from_pairs([inputs / "t1.mp4"], [inputs], tmp_path / "out", DEFAULTS)
    finished = {jobs[0].job_id: jobs[0].output, jobs[1].job_id: tmp_path / "out" / "moved.mp4"}
    assert pending(jobs, finished) == [jobs[1]]
    skipped = jobs[0].skipped()
    assert skipped.status == "skipped" and skipped.job_id == jobs[0].job_id and skipped.finished_at is not None


def test_max_size_and_video_fps_columns_are_options_of_the_job(tmp_path: Path, inputs: Path) -> None:
    """Issue 13: a batch (or the HTTP service, through a manifest-style row) chooses the output size."""
    rows = pd.DataFrame(
        {
            "template": ["inputs/t1.mp4"] * 4,
            "audio": ["inputs/a1.wav"] * 4,
            "max_size": ["", "1280", "1280.5", "8"],
            "video_fps": ["", "30", "", ""],
        }
    )
    plain, scaled, fractional, tiny = read_jobs(_write(rows, tmp_path / "jobs.csv"), tmp_path / "out", DEFAULTS)
    assert plain.options.max_size is None and plain.options.video_fps is None
    assert scaled.options.max_size == 1280 and scaled.options.video_fps == 30
    assert scaled.job_id != plain.job_id  # a scaled job is another job
    assert isinstance(fractional, JobSpecError) and "max_size='1280.5' is not a whole number" in str(fractional.error)
    assert isinstance(tiny, JobSpecError) and "max_size=8" in str(tiny.error)


def test_a_text_column_gives_the_job_its_transcript(tmp_path: Path, inputs: Path) -> None:
    """Issue 11: the words spoken, when known (TTS), time the lips; a blank cell recognises phones."""
    rows = pd.DataFrame(
        {"template": ["inputs/t1.mp4"] * 2, "audio": ["inputs/a1.wav"] * 2, "text": ["", "Bob made a big map."]}
    )
    plain, spoken = read_jobs(_write(rows, tmp_path / "jobs.csv"), tmp_path / "out", DEFAULTS)
    assert plain.options.text is None and spoken.options.text == "Bob made a big map."
    assert spoken.job_id != plain.job_id  # the words change the mouth, so they are part of the job
    assert "text" not in plain.options.identity()  # ids of jobs without a transcript are unchanged
