"""The articulation track: formants, phones, visemes and their fusion, on synthetic and espeak speech."""

import itertools
import logging
import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from scipy.signal import lfilter

from heygem_ops.articulation.analysis import (
    ArticulationTrack,
    analyse,
    articulation_entry_name,
    cached_articulation,
    loudness_track,
)
from heygem_ops.articulation.formants import acoustics
from heygem_ops.articulation.phones import (
    ALIGNED,
    RECOGNISED,
    Phone,
    align_phones,
    read_transcript,
    speech_phones,
    transcript_words,
)
from heygem_ops.articulation.visemes import CLOSE_RAMP_S, MIN_CLOSURE_S, ROW_S, phone_shapes
from heygem_ops.audio import AudioFeatures, audio_features
from heygem_ops.cache import TemplateCache
from heygem_ops.constants import SAMPLE_RATE
from heygem_ops.errors import InputError
from heygem_ops.media import decode_audio

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt)")
FPS = Fraction(25)
SENTENCE = "Bob made a big map of the moon, and Peter bought maple pie."


def _vowel(f1: float, f2: float, f3: float = 2600.0, seconds: float = 0.5, pitch: float = 120.0) -> np.ndarray:
    """A pulse train through three formant resonators: a synthetic vowel with known formants.

    The source falls off like a voice's (-12 dB/octave glottal pulses, +6 dB/octave from the lips).
    """
    n = int(seconds * SAMPLE_RATE)
    source = np.zeros(n)
    source[:: int(SAMPLE_RATE / pitch)] = 1.0
    out = np.diff(lfilter([1.0], [1.0, -1.9, 0.9025], source), prepend=0.0)
    for freq, bandwidth in ((f1, 80.0), (f2, 100.0), (f3, 150.0)):
        r = np.exp(-np.pi * bandwidth / SAMPLE_RATE)
        theta = 2 * np.pi * freq / SAMPLE_RATE
        out = lfilter([1.0 - r], [1.0, -2 * r * np.cos(theta), r * r], out)
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


def _espeak(tmp_path, text: str, voice: str = "en-us", rate: int = 150) -> np.ndarray:
    path = tmp_path / f"{voice}-{rate}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(path), text], check=True)
    return decode_audio(path)


def _flickers(track: ArticulationTrack, step: float = 0.2) -> int:
    """Frames where the jaw jumps one way and straight back by more than `step`, outside lip contacts.

    A closure between two vowels is open-shut-open by design (at least MIN_CLOSURE_S), so a reversal
    next to a contact is the lips' own motion; anything else that reverses within a frame is flicker.
    """
    change = np.diff(track.lip_opening)
    reversal = (change[:-1] * change[1:] < 0) & (np.minimum(abs(change[:-1]), abs(change[1:])) > step)
    touching = np.maximum(track.closure, track.teeth) > 0.3
    contact = touching[:-2] | touching[1:-1] | touching[2:]
    return int((reversal & ~contact).sum())


def _frames_of(phone: Phone, count: int) -> np.ndarray:
    centres = (np.arange(count) + 0.5) / float(FPS)
    inside = np.flatnonzero((centres >= phone.start) & (centres <= phone.end))
    return inside if inside.size else np.array([min(count - 1, int(0.5 * (phone.start + phone.end) * float(FPS)))])


@pytest.mark.parametrize(("f1", "f2"), [(300.0, 2300.0), (750.0, 1200.0), (350.0, 850.0)])
def test_lpc_finds_the_formants_of_a_synthetic_vowel(f1, f2):
    sound = acoustics(_vowel(f1, f2))
    voiced = sound.voiced
    assert voiced.mean() > 0.8
    found = np.nanmedian(sound.formants[voiced], axis=0)
    assert found[0] == pytest.approx(f1, rel=0.12)
    assert found[1] == pytest.approx(f2, rel=0.1)


def test_noise_is_unvoiced_and_has_no_formants():
    noise = np.random.default_rng(0).normal(0, 0.1, SAMPLE_RATE).astype(np.float32)
    sound = acoustics(noise)
    assert sound.voiced.mean() < 0.1
    assert np.isnan(sound.formants[~sound.voiced]).all()


def test_formants_alone_round_u_and_spread_i_in_any_language():
    """No phones to go by (a recognised nothing): /i/ spreads and /u/ rounds from F2 and F3 alone."""
    gap = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
    speech = np.concatenate([_vowel(300, 2300, 3000), gap, _vowel(320, 800, 2200), gap, _vowel(750, 1250)])
    track = analyse(speech, FPS, int(len(speech) / SAMPLE_RATE * 25))
    i, u, a = track.spread[3:10].mean(), track.spread[23:30].mean(), track.jaw[43:50].mean()
    assert i > 0.3 and u < -0.3
    assert a > 1.3 * track.jaw[23:30].mean()  # /a/ opens the jaw more than /u/, as loud


def _shapes(phones: list[Phone], seconds: float = 1.0):
    return phone_shapes(tuple(phones), int(seconds / ROW_S))


def test_lips_close_before_a_p_burst_and_part_before_the_vowel():
    phones = [Phone("AA", 0.0, 0.3), Phone("P", 0.3, 0.42), Phone("AA", 0.42, 0.8)]
    closure = _shapes(phones).closure
    row = lambda t: round(t / ROW_S)  # noqa: E731
    assert closure[row(0.3)] == pytest.approx(1.0)  # closed when the stop starts
    assert 0.0 < closure[row(0.3 - CLOSE_RAMP_S / 2)] < 1.0  # closing before it
    assert closure[row(0.42)] < 1.0  # already parting at the burst
    assert closure[row(0.2)] == 0.0 and closure[row(0.55)] == 0.0


def test_a_closure_is_never_shorter_than_lips_can_make_it():
    closure = _shapes([Phone("AA", 0.0, 0.4), Phone("M", 0.4, 0.42), Phone("AA", 0.42, 0.8)]).closure
    assert (closure >= 0.999).sum() * ROW_S >= MIN_CLOSURE_S - ROW_S


def test_rounding_anticipates_u_through_the_consonants_before_it():
    phones = [Phone("IY", 0.0, 0.3), Phone("S", 0.3, 0.4), Phone("T", 0.4, 0.45), Phone("UW", 0.45, 0.8)]
    spread = _shapes(phones).spread
    assert spread[int(0.15 / ROW_S)] > 0.5  # /i/ spreads
    assert spread[int(0.42 / ROW_S)] < 0.0  # rounded already in the /t/ before /u/
    assert spread[int(0.7 / ROW_S)] < -0.7


def test_weak_consonants_take_their_neighbours_jaw():
    jaw = _shapes([Phone("AA", 0.0, 0.3), Phone("HH", 0.3, 0.36), Phone("AA", 0.36, 0.7)]).jaw
    assert jaw[int(0.33 / ROW_S)] > 0.8


def test_labiodentals_tuck_the_lower_lip():
    shapes = _shapes([Phone("AA", 0.0, 0.3), Phone("F", 0.3, 0.4), Phone("AA", 0.4, 0.7)])
    assert shapes.teeth[int(0.35 / ROW_S)] == pytest.approx(1.0)
    assert shapes.closure.max() == 0.0


def test_transcript_words_drop_punctuation_and_case():
    assert transcript_words("Peter's MAP, of the moon!") == ["peter's", "map", "of", "the", "moon"]


def test_an_unreadable_transcript_names_its_file(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(InputError, match=r"nope\.txt"):
        read_transcript(missing)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"caf\xe9 \xff")
    with pytest.raises(InputError, match=r"latin1\.txt"):
        read_transcript(bad)


@needs_espeak
def test_the_transcript_aligns_and_times_its_bilabials(tmp_path):
    speech = _espeak(tmp_path, SENTENCE)
    phones = align_phones(speech, transcript_words(SENTENCE))
    assert phones is not None
    labels = [p.label for p in phones if p.label != "SIL"]
    assert labels[:3] == ["B", "AA", "B"] and labels.count("M") == 4 and labels.count("P") == 4
    assert all(b.start >= a.start for a, b in itertools.pairwise(phones))
    assert phones[-1].end <= len(speech) / SAMPLE_RATE + 0.02


@needs_espeak
def test_unknown_words_fall_back_to_recognition_with_a_log_line(tmp_path, caplog):
    speech = _espeak(tmp_path, "Bob made a zqxvbl map.")
    with caplog.at_level(logging.INFO):
        sequence = speech_phones(speech, "Bob made a zqxvbl map.")
    assert sequence.source == RECOGNISED
    assert "zqxvbl" in caplog.text and "recognising phones instead" in caplog.text
    assert sequence.phones


@needs_espeak
@pytest.mark.parametrize("rate", [130, 190])
def test_with_the_transcript_the_lips_close_on_every_bilabial_however_loud(tmp_path, rate):
    speech = _espeak(tmp_path, SENTENCE, rate=rate)
    count = int(len(speech) / SAMPLE_RATE * 25)
    track = analyse(speech, FPS, count, SENTENCE)
    assert track.source == ALIGNED
    phones = speech_phones(speech, SENTENCE).phones
    bilabial = [_frames_of(p, count) for p in phones if p.label in ("P", "B", "M")]
    vowels = [_frames_of(p, count) for p in phones if p.label in ("AA", "AE", "AY", "AW")]
    assert all(track.closure[f].max() > 0.95 for f in bilabial)
    assert all(track.lip_opening[f].min() < 0.02 for f in bilabial)
    assert np.mean([track.jaw[f].mean() for f in vowels]) > 0.3
    assert _flickers(track) == 0


@needs_espeak
def test_without_the_transcript_most_bilabials_still_close(tmp_path):
    speech = _espeak(tmp_path, SENTENCE, rate=150)
    count = int(len(speech) / SAMPLE_RATE * 25)
    track = analyse(speech, FPS, count)
    assert track.source == RECOGNISED
    reference = speech_phones(speech, SENTENCE).phones
    bilabial = [_frames_of(p, count) for p in reference if p.label in ("P", "B", "M")]
    closed = [track.lip_opening[f].min() < 0.1 for f in bilabial]
    assert np.mean(closed) >= 0.5  # the phone loop alone found ~38 % on espeak speech


@needs_espeak
@pytest.mark.parametrize("voice", ["cmn", "ja", "de", "ru", "fr-fr"])
def test_in_other_languages_lips_close_between_vowels_and_round_on_u(tmp_path, voice):
    """The English recogniser's broad classes and the formants carry over: a labial between vowels closes
    the mouth, and /u/ is rounder than /i/ (no transcript: phones recognised)."""
    closing = _espeak(tmp_path, "amapa", voice=voice, rate=120)
    track = analyse(closing, FPS, int(len(closing) / SAMPLE_RATE * 25))
    loud = np.flatnonzero(track.jaw > 0.5 * track.jaw.max())
    between = track.lip_opening[loud[0] : loud[-1] + 1]
    assert between.min() < 0.05 and track.closure[loud[0] : loud[-1] + 1].max() > 0.5
    vowels = _espeak(tmp_path, "i", voice=voice, rate=120), _espeak(tmp_path, "u", voice=voice, rate=120)
    spread = []
    for speech in vowels:
        shape = analyse(speech, FPS, int(len(speech) / SAMPLE_RATE * 25))
        spread.append(shape.spread[shape.jaw > 0.3 * shape.jaw.max()].mean())
    assert spread[0] > spread[1] + 0.2


def test_track_windows_and_round_trips_its_bytes():
    frames = 7
    track = ArticulationTrack(*(np.linspace(0, 1, frames, dtype=np.float32) for _ in range(5)), source=ALIGNED)
    again = ArticulationTrack.from_bytes(track.to_bytes())
    assert again.source == ALIGNED and np.array_equal(again.jaw, track.jaw)
    assert track.window(2, 5).frame_count == 3 and track.take(np.array([0, 6])).jaw.tolist() == [0.0, 1.0]


def test_analysis_is_cached_per_audio_content_and_transcript(tmp_path, monkeypatch):
    from heygem_ops.articulation import analysis

    speech = np.concatenate([_vowel(700, 1200), np.zeros(2000, np.float32), _vowel(300, 2200)])
    cache, calls = TemplateCache(tmp_path), []
    real = analysis.analyse
    monkeypatch.setattr(analysis, "analyse", lambda *args: calls.append(args) or real(*args))
    first, cached = cached_articulation(cache, "ab" * 16, speech, FPS, 30, None)
    second, cached_again = cached_articulation(cache, "ab" * 16, speech, FPS, 30, None)
    assert (cached, cached_again, len(calls)) == (False, True, 1)
    assert np.array_equal(first.jaw, second.jaw)
    cached_articulation(cache, "ab" * 16, speech, FPS, 30, "some words")
    assert len(calls) == 2  # another transcript is another entry
    assert articulation_entry_name(FPS, 30, None) != articulation_entry_name(FPS, 30, "some words")


def _job(engine: str, template: str, *, text: str | None = None, mode: str = "speech"):
    from types import SimpleNamespace

    options = SimpleNamespace(engine=engine, text=text, articulation=mode)
    return SimpleNamespace(options=options, audio_hash="cd" * 16, template_hash=template, fps=FPS, frame_count=30)


def _speech_and_features() -> tuple[np.ndarray, AudioFeatures]:
    speech = np.concatenate([_vowel(700, 1200), np.zeros(2000, np.float32), _vowel(300, 2200)])
    return speech, audio_features(speech, FPS, 30)


def test_a_batch_on_one_recording_analyses_it_once_and_other_engines_not_at_all(monkeypatch):
    from heygem_ops.articulation import analysis
    from heygem_ops.features import job_articulation

    speech, features = _speech_and_features()
    calls = []
    real = analysis.analyse
    monkeypatch.setattr(analysis, "analyse", lambda *args: calls.append(args) or real(*args))
    tracks = [job_articulation(_job("warp", template), speech, features) for template in ("t1", "t2", "t3")]
    assert len(calls) == 1 and all(np.array_equal(t.jaw, tracks[0].jaw) for t in tracks)
    assert job_articulation(_job("wav2lip", "t1"), speech, features) is None


@pytest.mark.parametrize(
    ("mode", "text", "source"),
    [
        ("auto", None, "loudness"),
        ("auto", "ma", "alignment"),
        ("speech", None, "recognition"),
        ("loudness", "ma", "loudness"),
    ],
)
def test_the_articulation_mode_chooses_phones_or_loudness(monkeypatch, mode, text, source):
    from heygem_ops.articulation import analysis
    from heygem_ops.features import job_articulation

    speech, features = _speech_and_features()
    calls = []
    real = analysis.analyse
    monkeypatch.setattr(analysis, "analyse", lambda *args: calls.append(args) or real(*args))
    track = job_articulation(_job("warp", "t1", text=text, mode=mode), speech, features)
    assert track.source == source and track.frame_count == 30
    assert len(calls) == (0 if source == "loudness" else 1)  # loudness needs no analysis at all


def test_the_loudness_track_opens_with_the_level_and_never_closes_on_its_own():
    activity = np.linspace(0.0, 1.0, 50, dtype=np.float32)
    brightness = np.where(np.arange(50) % 2, 0.9, 0.1).astype(np.float32)
    track = loudness_track(AudioFeatures(np.zeros(50, np.float32), activity, brightness))
    assert track.source == "loudness" and not track.closure.any() and not track.teeth.any()
    assert (track.jaw[activity < 0.18] == 0).all() and (np.diff(track.jaw) >= 0).all() and track.jaw[-1] == 1.0
    loud = activity > 0.5
    assert (track.spread[loud & (brightness > 0.5)] > 0).all() and (track.spread[loud & (brightness < 0.5)] < 0).all()
    assert track.spread.max() > -2 * track.spread.min()  # a dark sound only hints at rounding
