"""Process pools that never outlive an interrupted run.

``ProcessPoolExecutor.__exit__`` waits for every queued task; on Ctrl-C the workers die
with the terminal's signal, but on SIGTERM (a supervisor, ``kill``, ``timeout``) only
this process is told, so the workers would go on for the whole queue, holding memory and
the pipeline's stdout. Here any exception cancels what is queued and ends the workers.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from face_bench.core.errors import TerminatedRunError


@contextlib.contextmanager
def stopping_pool(**kwargs: Any) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` whose workers are ended, not awaited, when the block fails."""
    pool = ProcessPoolExecutor(**kwargs)
    try:
        yield pool
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel queued work, end every worker process and reap it."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(1)


def _raise_terminated(_signum: int, _frame: Any) -> None:
    raise TerminatedRunError(
        "terminated (SIGTERM); embeddings finished so far are kept in the cache"
    )


def handle_sigterm() -> Callable[[], None]:
    """Turn SIGTERM into ``TerminatedRunError`` (like Ctrl-C); returns the undo function."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: leave signals to whoever owns them
        return lambda: None

    def undo() -> None:
        signal.signal(signal.SIGTERM, previous)

    return undo
