"""The Wav2Lip engine: network, strict checkpoint loading, and the engine that runs it on batches."""

from heygem_ops.engines.wav2lip.checkpoint import load_wav2lip, read_state_dict
from heygem_ops.engines.wav2lip.engine import Wav2LipEngine
from heygem_ops.engines.wav2lip.model import FACE_SIZE, Wav2Lip

__all__ = ["FACE_SIZE", "Wav2Lip", "Wav2LipEngine", "load_wav2lip", "read_state_dict"]
