"""Media I/O: the only part of HeyGem-Ops that talks to FFmpeg (through PyAV) and Pillow.

    probe_video / probe_audio   what a template or recording holds, or an InputError saying why not
    iter_frames                 template frames by exact index, upright RGB, streamed
    decode_audio                a whole track as 16 kHz float32 mono
    SegmentWriter               one chunk of output frames as a concatenable H.264 segment
    publish_video               segments + driving audio -> one MP4, atomically

FFmpeg's errors never leave this package: they become `UnreadableMediaError` (or another
`InputError`, `ResourceError`) naming the file and the fix.
"""

from heygem_ops.media.audio_io import decode_audio
from heygem_ops.media.frames import iter_frames
from heygem_ops.media.probe import AudioInfo, VideoInfo, probe_audio, probe_video
from heygem_ops.media.publish import aac_rate, publish_video
from heygem_ops.media.segments import SegmentWriter, output_size

__all__ = [
    "AudioInfo",
    "SegmentWriter",
    "VideoInfo",
    "aac_rate",
    "decode_audio",
    "iter_frames",
    "output_size",
    "probe_audio",
    "probe_video",
    "publish_video",
]
