"""Worker functions that die the way a native crash or the OOM killer kills a process.

Importable by name from the worker processes (they start from a clean interpreter).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np

from face_bench.core.records import CacheEntry


def die_on_marked(task):
    """SIGKILL this worker for files named ``crash*``, every time (a deterministic crash)."""
    path = Path(task[0])
    if path.name.startswith("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    return _fine(task)


def die_once(task):
    """SIGKILL this worker the first time it meets ``flaky*`` (a transient out-of-memory)."""
    path = Path(task[0])
    marker = path.with_suffix(".died")
    if path.name.startswith("flaky") and not marker.exists():
        marker.write_text("x")
        os.kill(os.getpid(), signal.SIGKILL)
    return _fine(task)


def _fine(task):
    value = float(len(Path(task[0]).name))
    return task[1], None, {name: CacheEntry(np.full(3, value, np.float32)) for name in task[3]}
