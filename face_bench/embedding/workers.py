"""One pass per image in worker processes: decode once, find the face, feed every model.

For each image a worker decodes the file, finds the face (unless the face stage is
already cached) and, for every model that still needs the image, cuts its input; each
model then embeds the inputs of a few images at once, loaded by its backend
(``models.backend``) once per worker, ONNX on the worker's own one-thread session.
Messages to and from workers are named records (``Task``, ``Outcome``, ``WorkerModel``)
that pickle for process pools and Ray actors alike. One process per core does the whole
chain, so every core stays busy and no image crosses a process boundary as pixels.
Results come back in input order.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from face_bench.core.errors import ImageError
from face_bench.core.processes import stopping_pool
from face_bench.core.records import CacheEntry
from face_bench.data.images import read_image_bytes
from face_bench.data.near_duplicates import Fingerprint, fingerprint_of
from face_bench.embedding.server import worker_context
from face_bench.faces.locate import (
    Face,
    FaceEntry,
    FaceSettings,
    decode_bytes,
    decode_failure,
    locate,
)
from face_bench.models.backend import Backend, Embedder
from face_bench.models.spec import ModelSpec


class Task(NamedTuple):
    """One image for a worker: where it is, what it should hash to, and who needs it."""

    path: str
    sha256: str  # the content hash the image was planned under
    face: Face | None  # its cached face record, or None: the worker locates the face
    models: tuple[str, ...]  # the models still missing its embedding
    fingerprint: bool = False  # also its near-duplicate fingerprint, from the same decode


class Outcome(NamedTuple):
    """What a worker made of one image."""

    sha256: str | None  # the hash of the bytes decoded; None when the file was unreadable
    face: FaceEntry | None  # the face stage's outcome here (None when it came from the cache)
    # Per model: its entry, or (inside a worker, until its batch is embedded) its input.
    outputs: dict[str, CacheEntry | np.ndarray]
    # The image's near-duplicate fingerprint when asked for and decoded at full size.
    fingerprint: Fingerprint | None = None


# How many tasks each worker has queued at once: enough to keep it busy, few enough that a
# crash loses little work and an interrupted run stops soon.
_QUEUE_PER_WORKER = 2
# Images per worker call: ONNX runs them as one batch (no faster per image beyond this on
# CPU), and a worker that finishes early waits for at most this many images of the other.
CHUNK_IMAGES = 4
CRASHED = "worker_crashed"


@dataclass(frozen=True)
class WorkerModel:
    """What a worker needs to load a model; it pickles (to pool workers and Ray actors)."""

    name: str
    spec: ModelSpec
    files: str  # what its backend prepared for loading (``Backend.prepare``)
    backend: Backend


@dataclass
class _Loaded:
    spec: ModelSpec
    backend: Backend
    embedder: Embedder


@dataclass
class _State:
    settings: FaceSettings
    models: dict[str, _Loaded]


_STATE: _State | None = None
_STATE_ERROR: Exception | None = None  # a model that failed to load, raised on first use


def init_state(settings: FaceSettings, models: Sequence[WorkerModel]) -> None:
    """Load every model once per process (what every run shares: see ``preload``)."""
    global _STATE
    if settings.detector == "yunet" and settings.detector_weights:
        from face_bench.faces.yunet import get_yunet

        get_yunet(settings.detector_weights)  # this worker's one-thread YuNet session
    loaded = {
        m.name: _Loaded(m.spec, m.backend, m.backend.load(m.spec, Path(m.files), threads=1))
        for m in models
    }
    _STATE = _State(settings, loaded)


def init_worker(settings: FaceSettings, models: Sequence[WorkerModel]) -> None:
    """``init_state`` in a pool worker: a model that cannot load (a wrong ONNX shape) is
    raised by the first call, as the clear error it is, instead of breaking the pool
    (which would read as a crash on every image)."""
    global _STATE_ERROR
    try:
        init_state(settings, models)
    except Exception as exc:
        _STATE_ERROR = exc


def process(task: Task) -> tuple[Outcome, Face | None]:
    """Everything one image needs but the models' inference, and the face they are fed.

    The file is read once; its hash and its pixels come from the same bytes, so what is
    cached under a hash is always the embedding of exactly those bytes, even when the
    file changed since it was first hashed (a cached face record of other bytes is then
    not used).
    """
    assert _STATE is not None
    settings, models = _STATE.settings, _STATE.models
    path, expected, face, names, wants_print = task
    try:
        data = read_image_bytes(path)
    except ImageError as exc:
        return Outcome(None, FaceEntry.failed(decode_failure(exc)), {}), None
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        face = None
    prints: list[Fingerprint] = []
    try:
        rgb = decode_bytes(
            data, path, (lambda im: prints.append(fingerprint_of(im))) if wants_print else None
        )
    except ImageError as exc:
        failure = decode_failure(exc)
        if face is None:  # the face stage's failure, for every model
            return Outcome(digest, FaceEntry.failed(failure), {}), None
        return Outcome(digest, None, dict.fromkeys(names, failure)), None
    found = prints[0] if prints else None
    face_entry = None
    if face is None:
        face_entry = locate(rgb, settings)
        if face_entry.face is None:
            return Outcome(digest, face_entry, {}, found), None
        face = face_entry.face
    out: dict[str, CacheEntry | np.ndarray] = {}
    for name in names:  # embedded by ``process_batch``, with its neighbours
        model = models[name]
        out[name] = model.backend.chip(model.spec, rgb, face)
    return Outcome(digest, face_entry, out, found), face


def _embedded(vector: np.ndarray, face: Face) -> CacheEntry:
    """A model's vector as a cache entry, with the provenance of the face it saw."""
    return CacheEntry(vector, n_faces=face.n_faces, detector=face.fallback)


def process_batch(tasks: Sequence[Task]) -> list[Outcome]:
    """``process`` for each image, then each model on all of their inputs at once."""
    if _STATE_ERROR is not None:
        raise _STATE_ERROR
    processed = [process(task) for task in tasks]
    outcomes = [outcome for outcome, _face in processed]
    assert _STATE is not None
    for name, model in _STATE.models.items():
        _embed(name, model.embedder, processed)
    return outcomes


def _embed(name: str, model: Embedder, processed: list[tuple[Outcome, Face | None]]) -> None:
    # A model's input is an array (and has its face); anything else is already an entry.
    rows = [
        (outcome.outputs, image, face)
        for outcome, face in processed
        if isinstance(image := outcome.outputs.get(name), np.ndarray) and face is not None
    ]
    step = model.batch_size
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        vectors = model.embed([image for _o, image, _f in chunk])
        for (outputs, _image, face), vector in zip(chunk, vectors, strict=True):
            outputs[name] = _embedded(vector, face)


def crashed(task: Task) -> Outcome:
    """The outcome of an image whose worker died twice (a native crash, the OOM killer)."""
    detail = "the worker process died on this image twice (native crash or out of memory)"
    failure = CacheEntry(None, CRASHED, detail)
    return Outcome(task.sha256, None, dict.fromkeys(task.models, failure))


Batch = Callable[[Sequence[Task]], list[Outcome]]


def run(
    tasks: list[Task],
    settings: FaceSettings,
    models: Sequence[WorkerModel],
    workers: int,
    func: Batch = process_batch,
) -> Iterator[Outcome]:
    """Outcomes in task order, from ``workers`` processes (in-process for one worker).

    Tasks go out ``CHUNK_IMAGES`` at a time. A worker that dies takes the pool with it:
    the pool is restarted, the images that were in flight are retried one at a time, and
    an image that kills its worker again is recorded as ``worker_crashed`` instead of
    ending the run.
    """
    setup = (settings, tuple(models))
    if workers <= 1 or len(tasks) < 8:
        init_state(*setup)
        for start in range(0, len(tasks), CHUNK_IMAGES):
            yield from func(tasks[start : start + CHUNK_IMAGES])
        return
    done: dict[int, Outcome] = {}
    todo = list(range(len(tasks)))
    emitted = 0
    while todo:
        lost: list[int] = []
        passes = _pool_pass(tasks, todo, setup, workers, func, lost)
        with contextlib.closing(passes):  # closing ends the pool's workers
            for index, outcome in passes:
                done[index] = outcome
                while emitted in done:
                    yield done.pop(emitted)
                    emitted += 1
        for index in lost:  # retried alone, so a second death names its image
            done[index] = _alone(tasks[index], setup, func)
        todo = [i for i in todo if i not in done and i >= emitted and i not in lost]
        while emitted in done:
            yield done.pop(emitted)
            emitted += 1


def _new_pool(setup: tuple, workers: int):
    return stopping_pool(
        max_workers=workers, mp_context=worker_context(), initializer=init_worker, initargs=setup
    )


def _pool_pass(tasks, todo, setup: tuple, workers: int, func: Batch, lost: list[int]):
    """(index, outcome) as chunks finish; on a broken pool the unfinished images go to
    ``lost``."""
    chunks = iter([todo[i : i + CHUNK_IMAGES] for i in range(0, len(todo), CHUNK_IMAGES)])
    with _new_pool(setup, workers) as pool:
        running: dict[Future, list[int]] = {}

        def top_up() -> None:
            while len(running) < workers * _QUEUE_PER_WORKER:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                try:
                    future = pool.submit(func, [tasks[i] for i in chunk])
                except BrokenProcessPool:
                    # A worker died since the last wait: the chunks in flight fail below,
                    # and this one, never run, is retried with them.
                    _raise_if_stopped()
                    lost.extend(chunk)
                    return
                running[future] = chunk

        top_up()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                chunk = running.pop(future)
                try:
                    outcomes = future.result()
                except BrokenProcessPool:
                    _raise_if_stopped()
                    lost.extend(chunk)
                    continue
                yield from zip(chunk, outcomes, strict=True)
            if lost:
                for chunk in running.values():
                    lost.extend(chunk)
                break
            top_up()
        lost.sort()


def _alone(task: Task, setup: tuple, func: Batch) -> Outcome:
    """One task in a fresh single-worker pool; a second death is ``worker_crashed``."""
    with _new_pool(setup, 1) as pool:
        try:
            return pool.submit(func, [task]).result()[0]
        except BrokenProcessPool:
            _raise_if_stopped()
            return crashed(task)


def _raise_if_stopped() -> None:
    """A worker that died while the run was being stopped died of the stop (SIGTERM or
    SIGHUP sent to the whole process group, as systemd and terminals do), not of its
    image: never record, and cache, its images as crashes."""
    from face_bench.core.signals import received_stop

    stop = received_stop()
    if stop is not None:
        raise stop
