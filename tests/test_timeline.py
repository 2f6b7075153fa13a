import itertools
from fractions import Fraction

import numpy as np
import pytest
from media_factory import make_audio, make_video

from heygem_ops.errors import InputError
from heygem_ops.options import GenerateOptions
from heygem_ops.plan import job_identity, plan_job
from heygem_ops.timeline import PINGPONG, PLAIN, frame_schedule, output_frame_count, plan_chunks


def test_schedule_cuts_a_longer_template():
    assert frame_schedule(10, 4).tolist() == [0, 1, 2, 3]


def test_schedule_ping_pongs_without_jump_or_freeze():
    schedule = frame_schedule(4, 12)
    assert schedule.tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1]
    assert np.all(np.abs(np.diff(schedule)) == 1)  # never a jump, never a repeated frame


def test_plain_loop_jumps_back_to_the_first_frame():
    assert frame_schedule(4, 10, PLAIN).tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert frame_schedule(10, 4, PLAIN).tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="loop"):
        frame_schedule(4, 10, "backwards")


def test_the_loop_is_part_of_a_jobs_identity_and_validated():
    pingpong, plain = GenerateOptions(), GenerateOptions(loop=PLAIN)
    assert job_identity("t", "a", pingpong) != job_identity("t", "a", plain)
    assert "loop" not in pingpong.identity()  # ids of jobs made before the option existed stay as they were
    with pytest.raises(InputError, match="loop='backwards'"):
        GenerateOptions(loop="backwards")


def test_still_template_repeats_its_only_frame():
    assert frame_schedule(1, 5).tolist() == [0] * 5


def test_output_length_matches_audio_within_a_frame():
    fps = Fraction(1350, 61)
    for seconds in (0.1, 1.0, 7.31, 60.0):
        frames = output_frame_count(seconds, fps)
        assert abs(frames / float(fps) - seconds) <= 0.5 / float(fps) + 1e-9


@pytest.mark.parametrize(("template", "output", "size"), [(300, 250, 64), (7, 100, 16), (1, 40, 8), (50, 1000, 100)])
def test_chunks_cover_the_timeline_and_bound_memory(template, output, size):
    schedule = frame_schedule(template, output)
    chunks = plan_chunks(schedule, size)
    assert chunks[0].start == 0 and chunks[-1].stop == output
    assert all(a.stop == b.start for a, b in itertools.pairwise(chunks))
    for chunk in chunks:
        run = schedule[chunk.start : chunk.stop]
        assert chunk.frame_count <= size
        assert chunk.template_stop - chunk.template_start <= size  # frames a chunk may need to hold
        assert run.min() == chunk.template_start and run.max() == chunk.template_stop - 1
        assert chunk.sequential == bool(np.array_equal(run, np.arange(chunk.template_start, chunk.template_stop)))


@pytest.mark.parametrize("loop", [PINGPONG, PLAIN])
def test_the_job_plan_follows_the_loop_option(tmp_path, loop):
    template = make_video(tmp_path / "t.mp4", frames=4)
    audio = make_audio(tmp_path / "a.wav", duration_s=0.4)  # 10 output frames at 25 fps
    plan = plan_job(template, audio, tmp_path / "out.mp4", GenerateOptions(loop=loop))
    assert plan.schedule.tolist() == frame_schedule(4, 10, loop).tolist() and plan.options.loop == loop
