"""Driving audio decoded to samples: the whole track as float32 mono, or resampled frames.

Any container and codec FFmpeg reads works (wav, mp3, m4a/aac, flac, ogg/opus, the audio track of
mp4/mov/mkv), at any rate and channel count.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from av.audio.frame import AudioFrame
from av.audio.resampler import AudioResampler

from heygem_ops.constants import SAMPLE_RATE
from heygem_ops.errors import EmptyAudioError, LimitExceededError, NoAudioStreamError
from heygem_ops.media._av import audio_stream, open_input


def decode_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, max_seconds: float | None = None) -> np.ndarray:
    """The whole audio track as float32 mono in [-1, 1], shape (samples,), at `sample_rate` Hz.

    Channels are averaged (not summed by FFmpeg's downmix matrix, which would clip a loud stereo
    file), so a stereo file with identical channels decodes to the same samples as its mono twin.
    Raises NoAudioStreamError, EmptyAudioError (no samples), UnreadableMediaError, and
    LimitExceededError once more than `max_seconds` are decoded (a header can understate the length).
    """
    path = Path(path)
    limit = None if max_seconds is None else round(max_seconds * sample_rate)
    chunks, total = [], 0
    for frame in resampled_frames(path, "fltp", None, sample_rate):
        chunks.append(frame.to_ndarray().mean(axis=0))
        total += chunks[-1].size
        if limit is not None and total > limit:
            raise LimitExceededError(
                "decodes to more than {limit:g} s of sound, over the limit",
                limit=max_seconds,
                path=path,
                hint="raise HEYGEM_MAX_DURATION_S or split the recording",
            )
    samples = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.float32)
    if samples.size == 0:
        raise EmptyAudioError("holds no audio samples", path=path, hint="use a recording with sound")
    return np.clip(samples, -1.0, 1.0).astype(np.float32, copy=False)


def resampled_frames(path: Path, sample_format: str, layout: str | None, sample_rate: int) -> Iterator[AudioFrame]:
    """Stream the first audio track converted by FFmpeg's resampler (flushed at the end).

    `layout` None keeps the source channels ("mono", "stereo" mix them as FFmpeg does). A stream whose
    rate, layout or sample format changes midway (concatenated MP3s do) gets a fresh resampler there.
    """
    with open_input(path) as container:
        stream = audio_stream(container)
        if stream is None:
            raise NoAudioStreamError(
                "holds no audio stream", path=path, hint="use a recording with sound, or a video with an audio track"
            )
        stream.thread_type = "AUTO"
        resampler, source = None, None
        for frame in container.decode(stream):
            if (frame.format.name, frame.layout.name, frame.sample_rate) != source:
                if resampler is not None:
                    yield from resampler.resample(None)
                resampler = AudioResampler(format=sample_format, layout=layout, rate=sample_rate)
                source = (frame.format.name, frame.layout.name, frame.sample_rate)
            yield from resampler.resample(frame)
        if resampler is not None:
            yield from resampler.resample(None)
