"""Process pools that never outlive an interrupted run.

``ProcessPoolExecutor.__exit__`` waits for every queued task; on Ctrl-C the workers die
with the terminal's signal, but on SIGTERM (a supervisor, ``kill``, ``timeout``) only
this process is told, so the workers would go on for the whole queue, holding memory and
the pipeline's stdout. Here any exception cancels what is queued and ends the workers
(``core.signals`` turns SIGTERM and SIGHUP into exceptions).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import Any

from face_bench.core.mainguard import require_main_guard
from face_bench.core.signals import signals_deferred


def forkserver_context(preload: Sequence[str]) -> BaseContext:
    """A multiprocessing context whose workers fork from a clean server process.

    Not a fork of this process, which may already run onnxruntime's thread pool (forking
    a threaded process is unsafe). The server imports the ``preload`` modules once; each
    worker forks from it with them loaded. The caller names them (the embedding layer
    names its own), so this module imports none of them.
    """
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    return context


def start_forkserver(preload: Sequence[str]) -> None:
    """Start the server of ``forkserver_context(preload)`` now rather than with its first
    pool (a no-op when it already runs), so that its preloading overlaps this process's
    own work."""
    from multiprocessing import forkserver

    require_main_guard()
    forkserver_context(preload)
    forkserver.ensure_running()


@contextlib.contextmanager
def stopping_pool(**kwargs: Any) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` whose workers are ended, not awaited, when the block fails
    or the pool broke.

    Workers that do not fork from this process run the main script again: a script calling
    face-bench outside ``if __name__ == "__main__":`` is refused here, with one line.
    """
    import multiprocessing

    context = kwargs.get("mp_context") or multiprocessing.get_context()
    if context.get_start_method() != "fork":
        require_main_guard()
    pool = ProcessPoolExecutor(**kwargs)
    try:
        yield pool
    except BaseException:
        stop_pool(pool)
        raise
    if getattr(pool, "_broken", False):
        # A worker died: the pool may have started another while breaking that is never
        # told to stop, and a graceful shutdown would wait for it forever.
        stop_pool(pool)
    else:
        pool.shutdown(wait=True)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel queued work, end every worker process and reap it (a second stop signal
    meanwhile waits until every worker is gone)."""
    with signals_deferred():
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
