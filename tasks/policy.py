"""Task policy shared by every stage: retry only what a retry can fix."""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE

from heygem_ops.errors import is_retryable

RETRY_DELAYS = [2, 10, 30]  # seconds before the 1st, 2nd and 3rd retry of a transient failure

# Prefect's own result caching is off: inputs carry numpy arrays and paths whose meaning is their
# content. Reuse happens one level down, keyed by content hash (template cache, finished segments,
# succeeded jobs in the results manifest), where it survives processes and machines.
CACHE = NO_CACHE


def transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry ResourceError (memory, disk, a lost worker), nothing else."""
    try:
        state.result()
    except Exception as error:  # the state's own exception, re-raised by result()
        return is_retryable(error)
    return False


STAGE_POLICY: dict[str, Any] = {
    "retries": len(RETRY_DELAYS),
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_condition_fn": transient_only,
    "cache_policy": CACHE,
}
