"""The MuseTalk 1.5 engine: its files' layout, strict loading, whisper windows, and the engine."""

from heygem_ops.engines.musetalk.checkpoint import MuseTalkModels, load_musetalk
from heygem_ops.engines.musetalk.engine import FACE_SIZE, MuseTalkEngine
from heygem_ops.engines.musetalk.layout import MuseTalkFiles, locate

__all__ = ["FACE_SIZE", "MuseTalkEngine", "MuseTalkFiles", "MuseTalkModels", "load_musetalk", "locate"]
