"""Prefect tasks: one per pipeline stage, each a thin, named wrapper around one heygem_ops call.

The decorators hold the policy (names, retries of transient errors only); the library holds the work.
"""

from heygem_tasks.compose import compose_chunk
from heygem_tasks.decode import decode_inputs
from heygem_tasks.encode import encode_output
from heygem_tasks.feature import extract_features
from heygem_tasks.inference import run_inference
from heygem_tasks.quality import measure_output

__all__ = ["compose_chunk", "decode_inputs", "encode_output", "extract_features", "measure_output", "run_inference"]
