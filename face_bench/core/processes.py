"""Process pools that never outlive an interrupted run.

``ProcessPoolExecutor.__exit__`` waits for every queued task; on Ctrl-C the workers die
with the terminal's signal, but on SIGTERM (a supervisor, ``kill``, ``timeout``) only
this process is told, so the workers would go on for the whole queue, holding memory and
the pipeline's stdout. Here any exception cancels what is queued and ends the workers
(``core.signals`` turns SIGTERM and SIGHUP into exceptions).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

from face_bench.core.cpus import usable_cpus
from face_bench.core.errors import FaceBenchError
from face_bench.core.io import default_cache_dir
from face_bench.core.mainguard import require_main_guard
from face_bench.core.signals import signals_deferred

# What the embedding workers' server loads once for every worker (a module name, so this
# light module needs none of it).
WORKER_PRELOAD = "face_bench.embedding.preload"


def worker_context() -> BaseContext:
    """The multiprocessing context embedding workers start from: a clean server process.

    Not a fork of this process, which may already run onnxruntime's thread pool (forking
    a threaded process is unsafe). The server loads ``WORKER_PRELOAD`` once; each worker
    forks from it ready.
    """
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([WORKER_PRELOAD])
    return context


def start_worker_server(workers: int | None = None, cache_dir: Path | None = None) -> None:
    """Start the embedding workers' server now, when the run will surely embed.

    What it loads then loads on a core the single-threaded start-up and planning leave
    idle, and the first worker forks from it ready when embedding begins. Only for a cache
    that holds no embedding yet (a first run, a CI job): on a warm cache the run may embed
    nothing, and on two cores the server's loading would slow the run's own start. Nothing
    to do when one worker (in-process) will embed, or when the server already runs.
    """
    if (workers or usable_cpus()) <= 1:
        return
    try:
        embeddings = (cache_dir or default_cache_dir()) / "embeddings"
        if embeddings.exists():
            return
    except (OSError, FaceBenchError):  # an unusable cache is reported where it is used
        return
    from multiprocessing import forkserver

    require_main_guard()
    worker_context()
    forkserver.ensure_running()


@contextlib.contextmanager
def stopping_pool(**kwargs: Any) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` whose workers are ended, not awaited, when the block fails.

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
