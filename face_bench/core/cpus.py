"""How many CPUs this process may really use: affinity mask and cgroup quota, not the host's.

A container limited to 2 CPUs on a 64-core host reports 64 from ``os.cpu_count()``;
starting 64 decoding workers there multiplies memory by 32 for no speed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cpus(cgroup_root: Path = CGROUP_ROOT) -> int:
    """The smaller of the CPUs in this process's affinity mask and its cgroup CPU quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        count = min(count, quota)
    return max(1, count)


def cgroup_cpu_quota(cgroup_root: Path = CGROUP_ROOT) -> int | None:
    """CPUs allowed by the cgroup (v2 ``cpu.max`` or v1 ``cfs_quota_us``), rounded up."""
    candidates = (
        (cgroup_root / "cpu.max", None),
        (cgroup_root / "cpu" / "cpu.cfs_quota_us", cgroup_root / "cpu" / "cpu.cfs_period_us"),
        (cgroup_root / "cpu,cpuacct" / "cpu.cfs_quota_us",
         cgroup_root / "cpu,cpuacct" / "cpu.cfs_period_us"),
    )  # fmt: skip
    for quota_file, period_file in candidates:
        try:
            fields = quota_file.read_text(encoding="ascii").split()
            if period_file is not None:
                fields = [fields[0], period_file.read_text(encoding="ascii").split()[0]]
            if len(fields) < 2 or fields[0] in ("max", "-1"):
                continue
            quota, period = int(fields[0]), int(fields[1])
        except (OSError, ValueError, IndexError):
            continue
        if quota > 0 and period > 0:
            return max(1, math.ceil(quota / period))
    return None
