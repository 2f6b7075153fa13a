#!/usr/bin/env bash
# Build (and with --push, push) the HeyGem-Ops CUDA image. Every manifest under infra/ names this
# image; if you push it elsewhere, change IMAGE here and in infra/kuberay/*.yaml, infra/ray/cluster.yaml
# and infra/prefect/worker.k8s.yaml (tests/test_infra.py checks that they agree).
#
#   bash infra/docker/build.sh [--push] [extra docker build args...]
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE="ghcr.io/heygem-ops/heygem-ops:0.1.0-cuda12.8"
push=false
if [ "${1:-}" = "--push" ]; then push=true; shift; fi
DOCKER_BUILDKIT=1 docker build -f infra/docker/Dockerfile -t "$IMAGE" "$@" .
if $push; then docker push "$IMAGE"; fi
echo "built $IMAGE"
