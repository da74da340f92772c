"""One pass per image in worker processes: decode once, find the face, feed every model.

For each image a worker decodes the file, finds the face (unless the face stage is
already cached) and, for every model that still needs the image, either computes
its embedding (dlib: the single-core descriptor is the heaviest step, so it runs
in one process per core) or cuts its input (ONNX: batched inference stays in the
parent, which owns one tuned session). Results come back in input order.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face_bench.core.errors import ImageError
from face_bench.core.records import CacheEntry
from face_bench.faces.locate import Face, FaceSettings, decode, decode_failure, locate
from face_bench.models.registry import ModelSpec

# (path, cached face vector or None, names of the models that need this image)
Task = tuple[str, np.ndarray | None, tuple[str, ...]]
# (face record computed here or None when it was cached, per model: entry or ONNX input)
Outcome = tuple[CacheEntry | None, dict[str, CacheEntry | np.ndarray]]


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
    """Everything one image needs, in the worker that owns the dlib networks."""
    from face_bench.models.dlib_backend import model_input

    assert _STATE is not None
    settings, specs, descriptors = _STATE
    path, face_vector, names = task
    try:
        rgb = decode(Path(path))
    except ImageError as exc:
        failure = decode_failure(exc)
        if face_vector is None:
            return failure, {}  # recorded as the face stage's failure, for every model
        return None, dict.fromkeys(names, failure)
    face_entry = None
    if face_vector is None:
        face_entry = locate(rgb, settings)
        if face_entry.vector is None:
            return face_entry, {}
        face_vector = face_entry.vector
    face = Face.from_vector(face_vector)
    out: dict[str, CacheEntry | np.ndarray] = {}
    for name in names:
        image = model_input(rgb, face, specs[name])
        if name in descriptors:
            out[name] = CacheEntry(descriptors[name].describe(image), n_faces=face.n_faces)
        else:
            out[name] = image
    return face_entry, out


def run(
    tasks: list[Task], settings: FaceSettings, models: Sequence[WorkerModel], workers: int
) -> Iterator[Outcome]:
    """Outcomes in task order, from ``workers`` processes (in-process for one worker)."""
    if workers <= 1 or len(tasks) < 8:
        init_state(settings, models)
        yield from map(process, tasks)
        return
    # Workers start from a clean server process rather than a fork of this one, which may
    # already run onnxruntime's thread pool (forking a threaded process is unsafe).
    context = multiprocessing.get_context("forkserver")
    # The server imports this module (numpy, dlib, Pillow) once; workers fork from it ready.
    context.set_forkserver_preload(
        ["face_bench.embedding.workers", "face_bench.models.dlib_backend"]
    )
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=init_state,
        initargs=(settings, tuple(models)),
    ) as pool:
        yield from pool.map(process, tasks, chunksize=2)
