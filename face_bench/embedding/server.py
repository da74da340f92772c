"""The embedding workers' server: one clean process that loads what every worker needs.

Workers fork from a multiprocessing forkserver that has imported ``embedding.preload``
once (numpy, Pillow, dlib, onnxruntime, the face stage), so each worker starts ready. The
server is started early (``start_worker_server``) when a run will surely embed, so that
its loading overlaps the run's planning.
"""

from __future__ import annotations

from multiprocessing.context import BaseContext
from pathlib import Path

from face_bench.core.cpus import usable_cpus
from face_bench.core.errors import FaceBenchError
from face_bench.core.io import default_cache_dir
from face_bench.core.processes import forkserver_context, start_forkserver
from face_bench.embedding.cache import holds_embeddings

# Named, not imported: importing it is the heavy work the server does for its workers.
PRELOAD_MODULE = "face_bench.embedding.preload"


def worker_context() -> BaseContext:
    """The context embedding workers start from: the forkserver that preloaded them."""
    return forkserver_context([PRELOAD_MODULE])


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
        if holds_embeddings(cache_dir or default_cache_dir()):
            return
    except (OSError, FaceBenchError):  # an unusable cache is reported where it is used
        return
    start_forkserver([PRELOAD_MODULE])
