"""`GET /metrics`: Prometheus text exposition, written by hand (a few families need no client library).

Jobs by state and the queue length come from the job table (they survive restarts); the stage
seconds histogram and the request counter count what this process saw since it started, as
Prometheus counters do (a restart is a counter reset, which Prometheus handles).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from heygem_ops.results import WALL_COLUMNS

BUCKETS_S = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
HISTOGRAM_STAGES = tuple(WALL_COLUMNS)  # the wall-clock stages a user waits for, and "total"


class Metrics:
    """This process's counters; `render` adds the table's gauges."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stage_buckets: dict[str, list[int]] = {stage: [0] * len(BUCKETS_S) for stage in HISTOGRAM_STAGES}
        self._stage_sum: Counter[str] = Counter()
        self._stage_count: Counter[str] = Counter()
        self._finished: Counter[str] = Counter()
        self._requests: Counter[tuple[str, str, int]] = Counter()
        self._last_device = "none yet"  # what the latest succeeded job ran on, as its results row says

    def finished(self, state: str, row: Mapping[str, Any] | None) -> None:
        """Count a job that ended in `state`; a succeeded job's `<stage>_s` figures go into the histogram."""
        with self._lock:
            self._finished[state] += 1
            if row and row.get("device"):
                self._last_device = str(row["device"])
            for stage in HISTOGRAM_STAGES:
                seconds = (row or {}).get(WALL_COLUMNS[stage])
                if seconds is None:
                    continue
                self._stage_sum[stage] += float(seconds)
                self._stage_count[stage] += 1
                for index, bound in enumerate(BUCKETS_S):
                    if seconds <= bound:
                        self._stage_buckets[stage][index] += 1

    def request(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self._requests[(method, route, status)] += 1

    def render(self, states: Mapping[str, int], queue_length: int, running: int, workers: int, device: str) -> str:
        """The exposition text; `device` is the configured HEYGEM_DEVICE."""
        lines = [
            "# HELP heygem_jobs Jobs in the service's table by state.",
            "# TYPE heygem_jobs gauge",
            *(f'heygem_jobs{{state="{state}"}} {count}' for state, count in states.items()),
            "# HELP heygem_queue_length Jobs waiting for a worker.",
            "# TYPE heygem_queue_length gauge",
            f"heygem_queue_length {queue_length}",
            "# HELP heygem_jobs_running Jobs running now.",
            "# TYPE heygem_jobs_running gauge",
            f"heygem_jobs_running {running}",
            "# HELP heygem_workers Jobs the service runs at once (HEYGEM_API_WORKERS).",
            "# TYPE heygem_workers gauge",
            f"heygem_workers {workers}",
        ]
        with self._lock:
            lines += [
                "# HELP heygem_device_info The configured device (HEYGEM_DEVICE) and the one the latest job ran on.",
                "# TYPE heygem_device_info gauge",
                f'heygem_device_info{{configured="{_escape(device)}",last_used="{_escape(self._last_device)}"}} 1',
            ]
            lines += ["# HELP heygem_jobs_finished_total Jobs this process saw end, by state.",
                      "# TYPE heygem_jobs_finished_total counter"]  # fmt: skip
            lines += [f'heygem_jobs_finished_total{{state="{s}"}} {n}' for s, n in sorted(self._finished.items())]
            lines += ["# HELP heygem_stage_seconds Seconds per pipeline stage of succeeded jobs.",
                      "# TYPE heygem_stage_seconds histogram"]  # fmt: skip
            for stage in HISTOGRAM_STAGES:
                for bound, count in zip(BUCKETS_S, self._stage_buckets[stage], strict=True):
                    lines.append(f'heygem_stage_seconds_bucket{{stage="{stage}",le="{bound:g}"}} {count}')
                lines.append(f'heygem_stage_seconds_bucket{{stage="{stage}",le="+Inf"}} {self._stage_count[stage]}')
                lines.append(f'heygem_stage_seconds_sum{{stage="{stage}"}} {self._stage_sum[stage]:.6g}')
                lines.append(f'heygem_stage_seconds_count{{stage="{stage}"}} {self._stage_count[stage]}')
            lines += ["# HELP heygem_http_requests_total Requests answered, by method, route and status.",
                      "# TYPE heygem_http_requests_total counter"]  # fmt: skip
            lines += [
                f'heygem_http_requests_total{{method="{m}",route="{_escape(r)}",status="{c}"}} {n}'
                for (m, r, c), n in sorted(self._requests.items())
            ]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
