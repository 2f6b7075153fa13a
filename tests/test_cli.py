"""The `heygem` CLI as a user meets it: one clear line per failure, exit codes, no stray files."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from media_factory import make_audio, make_random_bytes, make_video, make_zero_byte

from heygem_flows.cli.main import SUBCOMMANDS, cli
from heygem_ops.errors import InputError


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli-media")
    return {
        "video": make_video(root / "faceless.mp4", frames=25, size=(128, 96)),
        "speech": make_audio(root / "speech.wav", duration_s=1.0),
        "random": make_random_bytes(root / "noise.mp4"),
        "empty_file": make_zero_byte(root / "zero.mp4"),
        "empty_audio": make_audio(root / "empty.wav", duration_s=0),
    }


@pytest.mark.parametrize(
    ("template", "audio", "error", "words"),
    [
        ("random", "speech", "UnreadableMediaError", "noise.mp4"),
        ("empty_file", "speech", "UnreadableMediaError", "zero.mp4"),
        ("speech", "speech", "NoVideoStreamError", "speech.wav"),
        ("video", "video", "NoAudioStreamError", "faceless.mp4"),
        ("video", "empty_audio", "EmptyAudioError", "empty.wav"),
        ("video", "speech", "NoFaceError", "faceless.mp4"),
    ],
)
def test_bad_input_is_one_clear_line(media, tmp_path, template, audio, error, words):
    output = tmp_path / "out.mp4"
    code, text = _run("generate", "-t", str(media[template]), "-a", str(media[audio]), "-o", str(output))
    assert code == 1, text
    assert f"{error}: " in text and words in text
    assert "Traceback" not in text
    assert not output.exists() and not list(tmp_path.iterdir())


def test_missing_file_names_it(media, tmp_path):
    code, text = _run(
        "generate", "-t", str(tmp_path / "nope.mp4"), "-a", str(media["speech"]), "-o", str(tmp_path / "o.mp4")
    )
    assert code == 1 and "nope.mp4" in text and "Traceback" not in text


def test_unknown_engine_is_a_usage_error_listing_engines(media, tmp_path):
    code, text = _run(
        "generate",
        "-t",
        str(media["video"]),
        "-a",
        str(media["speech"]),
        "-o",
        str(tmp_path / "o.mp4"),
        "--engine",
        "magic",
    )
    assert code == 2 and "warp" in text


def test_output_must_be_an_mp4_in_an_existing_folder(media, tmp_path):
    code, text = _run(
        "generate", "-t", str(media["video"]), "-a", str(media["speech"]), "-o", str(tmp_path / "no" / "o.mp4")
    )
    assert code == 1 and "OutputPathError" in text and "create the folder" in text


@pytest.mark.media
def test_portrait_job_through_the_flow(media_dir, tmp_path):
    output = tmp_path / "portrait.mp4"
    code, text = _run(
        "generate",
        "-t",
        str(media_dir / "sadtalker_people_0.png"),
        "-a",
        str(media_dir / "sadtalker_bus_chinese.wav"),
        "-o",
        str(output),
    )
    assert code == 0, text
    assert output.is_file() and "Stage seconds:" in text and "encode" in text


def test_doctor_lists_what_runs_here():
    code, text = _run("doctor")
    assert code == 0, text
    assert "warp" in text and "libx264" in text and "mesh" in text


@pytest.mark.media
def test_fan_tracker_without_weights_names_the_missing_files(media_dir, tmp_path):
    empty = tmp_path / "weights"
    empty.mkdir()
    output = tmp_path / "o.mp4"
    code, text = _run(
        "generate", "-t", str(media_dir / "sadtalker_people_0.png"), "-a", str(media_dir / "sadtalker_bus_chinese.wav"),
        "-o", str(output), "--tracker", "fan", "--face-weights", str(empty),
    )  # fmt: skip
    assert code == 1 and "2DFAN4" in text and str(empty) in text, text
    assert not output.exists()


def test_the_group_is_complete_on_import_and_lists_every_subcommand():
    code = (
        "import sys, click; from heygem_flows.cli.main import cli; "
        "names = cli.list_commands(click.Context(cli)); "
        "print(' '.join(names), all(cli.get_command(click.Context(cli), n).name == n for n in names))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [*sorted(SUBCOMMANDS), "True"]
    code, text = _run("--help")
    assert code == 0 and all(name in text for name in SUBCOMMANDS), text


def test_errors_are_handled_once_by_the_group(monkeypatch):
    import heygem_flows.cli.report as report

    def broken(out_dir, slowest):
        raise InputError("is not a results folder", path=out_dir, hint="give the batch's output folder")

    monkeypatch.setattr("heygem_ops.report.summarise", broken)
    code, text = _run("report", "/nowhere")
    assert code == 1 and text.strip().splitlines() == [text.strip()] and text.startswith("InputError: ")
    monkeypatch.setattr("heygem_ops.report.summarise", lambda *a, **k: 1 / 0)
    code, text = _run("report", "/nowhere")
    assert code == 1 and "InternalError: ZeroDivisionError" in text and "this is a bug" in text
    assert report.report_command.callback.__name__ == "report_command"  # no per-command wrapper any more


def test_text_and_text_file_are_one_or_the_other_and_a_bad_file_is_named(media, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("Bob made a big map.")
    base = ["generate", "-t", str(media["video"]), "-a", str(media["speech"]), "-o", str(tmp_path / "o.mp4")]
    code, text = _run(*base, "--text", "Bob", "--text-file", str(words))
    assert code == 2 and "not both" in text
    code, text = _run(*base, "--text-file", str(tmp_path / "missing-words.txt"))
    assert code == 1 and "missing-words.txt" in text and "InputError" in text and "Traceback" not in text
