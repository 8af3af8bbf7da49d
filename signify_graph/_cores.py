"""How many CPU cores this process may use: the graph sizes its branch threads by it, the
service its workers and fair share."""

from __future__ import annotations

import math
import os
from pathlib import Path

#: Set by ``serve --workers`` for each worker process: its share of the cores. N workers on
#: C cores each size their threads, fair share and landmarker openings for C/N, not C.
SHARE_VARIABLE = "SIGNIFY_CORE_SHARE"


def cpu_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """Cores this process may use: its CPU set, capped by a container's CPU quota.

    A container limited to 2 CPUs on a 32-core host still sees 32 cores in ``os.cpu_count()``
    and in its CPU set; sizing threads and fair sharing for 32 would undo both. The quota
    (cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``) is rounded up to whole cores.
    """
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:  # pragma: no cover - macOS, Windows
        cores = os.cpu_count() or 1
    quota = _cpu_quota(cgroup)
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    share = os.environ.get(SHARE_VARIABLE, "")
    if share.isdigit() and int(share) > 0:
        cores = min(cores, int(share))
    return max(1, cores)


def core_share(cores: int, processes: int) -> int:
    """The cores each of ``processes`` workers counts on (at least one)."""
    return max(1, cores // max(1, processes))


def _cpu_quota(cgroup: Path) -> float | None:
    """CPUs granted by the cgroup's quota, or None when there is none (or no cgroup)."""
    try:
        limit, window = (cgroup / "cpu.max").read_text().split()[:2]
        return None if limit == "max" else int(limit) / int(window)
    except (OSError, ValueError):
        pass
    try:
        quota = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None
