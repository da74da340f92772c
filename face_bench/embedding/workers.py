"""One pass per image in worker processes: decode once, find the face, feed every model.

For each image a worker decodes the file, finds the face (unless the face stage is
already cached) and, for every model that still needs the image, either computes
its embedding (dlib: the single-core descriptor is the heaviest step, so it runs
in one process per core) or cuts its input (ONNX: batched inference stays in the
parent, which owns one tuned session). Results come back in input order.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face_bench.core.errors import ImageError
from face_bench.core.processes import stopping_pool
from face_bench.core.records import CacheEntry
from face_bench.data.images import read_image_bytes
from face_bench.faces.locate import Face, FaceSettings, decode_bytes, decode_failure, locate
from face_bench.models.registry import ModelSpec

# (path, expected content hash, cached face vector or None, names of the models needing it)
Task = tuple[str, str, np.ndarray | None, tuple[str, ...]]
# (hash of the bytes decoded or None when unreadable, face record computed here or None
#  when it was cached, per model: entry or ONNX input)
Outcome = tuple[str | None, CacheEntry | None, dict[str, CacheEntry | np.ndarray]]

# How many tasks each worker has queued at once: enough to keep it busy, few enough that a
# crash loses little work and an interrupted run stops soon.
_QUEUE_PER_WORKER = 4
CRASHED = "worker_crashed"


@dataclass(frozen=True)
class WorkerModel:
    """What a worker needs to know of a model; plain data so it pickles cheaply."""

    name: str
    spec_json: str
    weights: str
    graph: str | None = None  # dlib on onnxruntime: the graph converted from ``weights``


_STATE: tuple[FaceSettings, dict[str, ModelSpec], dict] | None = None


def init_state(settings: FaceSettings, models: Sequence[WorkerModel]) -> None:
    global _STATE
    from face_bench.models.dlib_backend import DlibDescriptor

    specs = {m.name: ModelSpec.model_validate_json(m.spec_json) for m in models}
    descriptors = {
        m.name: DlibDescriptor(specs[m.name], Path(m.weights))
        for m in models
        if specs[m.name].on_dlib_runtime
    }
    _STATE = (settings, specs, descriptors)


def process(task: Task) -> Outcome:
    """Everything one image needs, in the worker that owns the dlib networks.

    The file is read once; its hash and its pixels come from the same bytes, so what is
    cached under a hash is always the embedding of exactly those bytes, even when the
    file changed since it was first hashed (a cached face record of other bytes is then
    not used).
    """
    from face_bench.models.dlib_backend import model_input

    assert _STATE is not None
    settings, specs, descriptors = _STATE
    path, expected, face_vector, names = task
    try:
        data = read_image_bytes(path)
    except ImageError as exc:
        return None, decode_failure(exc), {}
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        face_vector = None
    try:
        rgb = decode_bytes(data, path)
    except ImageError as exc:
        failure = decode_failure(exc)
        if face_vector is None:
            return digest, failure, {}  # the face stage's failure, for every model
        return digest, None, dict.fromkeys(names, failure)
    face_entry = None
    if face_vector is None:
        face_entry = locate(rgb, settings)
        if face_entry.vector is None:
            return digest, face_entry, {}
        face_vector = face_entry.vector
    face = Face.from_vector(face_vector)
    out: dict[str, CacheEntry | np.ndarray] = {}
    for name in names:
        image = model_input(rgb, face, specs[name])
        if name in descriptors:
            vector = descriptors[name].describe(image)
            out[name] = CacheEntry(vector, n_faces=face.n_faces, detector=face.fallback)
        else:
            out[name] = image
    return digest, face_entry, out


def crashed(task: Task) -> Outcome:
    """The outcome of an image whose worker died twice (a native crash, the OOM killer)."""
    detail = "the worker process died on this image twice (native crash or out of memory)"
    failure = CacheEntry(None, CRASHED, detail)
    return task[1], None, dict.fromkeys(task[3], failure)


def run(
    tasks: list[Task],
    settings: FaceSettings,
    models: Sequence[WorkerModel],
    workers: int,
    func: Callable[[Task], Outcome] = process,
) -> Iterator[Outcome]:
    """Outcomes in task order, from ``workers`` processes (in-process for one worker).

    A worker that dies takes the pool with it: the pool is restarted, the images that
    were in flight are retried one at a time, and an image that kills its worker again
    is recorded as ``worker_crashed`` instead of ending the run.
    """
    if workers <= 1 or len(tasks) < 8:
        init_state(settings, models)
        yield from map(func, tasks)
        return
    done: dict[int, Outcome] = {}
    todo = list(range(len(tasks)))
    emitted = 0
    while todo:
        lost: list[int] = []
        passes = _pool_pass(tasks, todo, settings, models, workers, func, lost)
        with contextlib.closing(passes):  # closing ends the pool's workers
            for index, outcome in passes:
                done[index] = outcome
                while emitted in done:
                    yield done.pop(emitted)
                    emitted += 1
        for index in lost:  # retried alone, so a second death names its image
            done[index] = _alone(tasks[index], settings, models, func)
        todo = [i for i in todo if i not in done and i >= emitted and i not in lost]
        while emitted in done:
            yield done.pop(emitted)
            emitted += 1


def _new_pool(settings: FaceSettings, models: Sequence[WorkerModel], workers: int):
    # Workers start from a clean server process rather than a fork of this one, which may
    # already run onnxruntime's thread pool (forking a threaded process is unsafe).
    context = multiprocessing.get_context("forkserver")
    # The server imports this module (numpy, dlib, Pillow) once; workers fork from it ready.
    context.set_forkserver_preload(
        ["face_bench.embedding.workers", "face_bench.models.dlib_backend"]
    )
    return stopping_pool(
        max_workers=workers,
        mp_context=context,
        initializer=init_state,
        initargs=(settings, tuple(models)),
    )


def _pool_pass(tasks, todo, settings, models, workers, func, lost: list[int]):
    """(index, outcome) as tasks finish; on a broken pool the unfinished ones go to ``lost``."""
    queue = iter(todo)
    with _new_pool(settings, models, workers) as pool:
        running: dict[Future, int] = {}

        def top_up() -> None:
            while len(running) < workers * _QUEUE_PER_WORKER:
                index = next(queue, None)
                if index is None:
                    return
                running[pool.submit(func, tasks[index])] = index

        top_up()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                index = running.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    lost.append(index)
                    continue
                yield index, outcome
            if lost:
                lost.extend(running.values())
                lost.sort()
                return
            top_up()


def _alone(task: Task, settings, models, func) -> Outcome:
    """One task in a fresh single-worker pool; a second death is ``worker_crashed``."""
    with _new_pool(settings, models, 1) as pool:
        try:
            return pool.submit(func, task).result()
        except BrokenProcessPool:
            return crashed(task)
