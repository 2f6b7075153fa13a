#!/usr/bin/env bash
# Register HeyGem-Ops with a Prefect server: the process work pool, then every deployment in prefect.yaml.
#
#   PREFECT_API_URL=http://prefect.internal:4200/api bash infra/prefect/setup.sh
#
# Safe to rerun (the pool is overwritten, deployments are updated). It deploys from the repository
# root: prefect.yaml's pull step stores that folder's absolute path ({{ $PWD }} is resolved when
# deploying), and every worker runs the flows from there, so workers need the code at the same path
# (the image keeps it at /opt/heygem-ops). Set PREFECT to use another prefect binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
prefect="${PREFECT:-.venv/bin/prefect}"
pool="heygem-process"  # work_pool name in prefect.yaml
: "${PREFECT_API_URL:?set PREFECT_API_URL to the server, e.g. http://127.0.0.1:4200/api}"

"$prefect" work-pool create "$pool" --type process --overwrite
"$prefect" --no-prompt deploy --all
echo "Deployments registered; start a worker here or on each worker machine:"
echo "  $prefect worker start --pool $pool --type process"
