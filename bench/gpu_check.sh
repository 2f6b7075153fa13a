#!/usr/bin/env bash
# bench/gpu_check.py on the device tool's bare GPU machine: install the wheels carried in .gpu/wheels into
# /tmp/site (nothing can be fetched there), put them and the repo on the path, run the check.
# Arguments go to gpu_check.py (default --device cuda, results to $OUT). See bench/README.md for the call.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/wheels/*.whl
export PYTHONPATH="$PWD:/tmp/site" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv || true
exec python3 bench/gpu_check.py "$@"
