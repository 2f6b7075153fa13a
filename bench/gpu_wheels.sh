#!/usr/bin/env bash
# Download the wheels bench/gpu_check.py needs on the device tool's GPU machine (Python 3.12, x86_64,
# nothing fetchable there) into .gpu/wheels, an ignored folder that a `run` call carries.
#
# That machine already has torch (CUDA), numpy, OpenCV, scipy, pandas, pyarrow, Pillow, tqdm, transformers,
# safetensors and huggingface-hub; it lacks PyAV, pydantic(-settings) and LiteRT. LiteRT (22 MB) would not fit
# beside PyAV (36 MB) in the 64 MiB a call carries, so the face tracks travel as a cache built here instead
# (python bench/gpu_check.py --prepare). The versions are the ones this repo's tests run with.
#
#   bash bench/gpu_wheels.sh            # then: du -sh .gpu
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"  # any Python with pip: it only downloads
[ -x "$python" ] || python=python3
wheels=.gpu/wheels
rm -rf "$wheels" && mkdir -p "$wheels"
needed=(
  av==18.1.0
  pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
  typing-extensions==4.16.0  # pydantic-core needs a newer one than an older image may hold
  pydantic-settings==2.16.3 python-dotenv==1.2.4
)
if [ -f bench/musetalk_speed.py ]; then  # the musetalk extra: transformers and safetensors are there already
  needed+=(diffusers==0.42.1 importlib-metadata==10.2.0 lazy-importer==0.1.0)  # 6.1 MiB; hub 1.33 there suffices
fi
"$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$wheels" "${needed[@]}"
ls -l "$wheels"
du -sh "$wheels"
