"""Worker functions that die the way a native crash or the OOM killer kills a process.

Importable by name from the worker processes (they start from a clean interpreter).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np

from face_bench.core.records import CacheEntry
from face_bench.embedding.workers import Outcome


def die_on_marked(tasks):
    """SIGKILL this worker for files named ``crash*``, every time (a deterministic crash)."""
    for task in tasks:
        if Path(task.path).name.startswith("crash"):
            os.kill(os.getpid(), signal.SIGKILL)
    return [_fine(task) for task in tasks]


def die_once(tasks):
    """SIGKILL this worker the first time it meets ``flaky*`` (a transient out-of-memory)."""
    for task in tasks:
        path = Path(task.path)
        marker = path.with_suffix(".died")
        if path.name.startswith("flaky") and not marker.exists():
            marker.write_text("x")
            os.kill(os.getpid(), signal.SIGKILL)
    return [_fine(task) for task in tasks]


def _fine(task):
    value = float(len(Path(task.path).name))
    outputs = {name: CacheEntry(np.full(3, value, np.float32)) for name in task.models}
    return Outcome(task.sha256, None, outputs)
