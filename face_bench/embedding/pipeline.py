"""Embed each image once per model: cache first, then one worker pass for what is missing.

Work is ordered by image index and every result is written to the cache as soon
as it exists, so an interrupted run loses at most the work in flight and a rerun
computes only what is missing. Parallel and serial runs give identical vectors
because each image is processed independently and reassembled by index.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from face_bench.core.cpus import usable_cpus
from face_bench.core.errors import ModelError, ModelShapeError
from face_bench.core.io import sha256_file
from face_bench.core.records import CacheEntry
from face_bench.data.near_duplicates import Fingerprint
from face_bench.embedding.cache import EmbeddingCache, FaceCache
from face_bench.embedding.ray_engine import RayOptions
from face_bench.embedding.workers import Outcome, Task, WorkerModel
from face_bench.embedding.workers import run as run_workers
from face_bench.faces.locate import FaceSettings
from face_bench.models.backends import backend_for
from face_bench.models.spec import ModelSpec

Progress = Callable[[str, int], Callable[[int], None]]
# An embedding at most this long has no direction: a failure to enrol (degenerate_embedding).
MIN_NORM = 1e-12
# A model whose vectors for this many distinct images all lie within this relative distance
# of each other is broken: it cannot tell anyone apart.
MIN_DISTINCT_FOR_CONSTANT = 3
CONSTANT_TOLERANCE = 1e-6


@dataclass
class Embeddings:
    """One model's vectors for a list of images; failed rows are NaN and listed."""

    model: str
    vectors: np.ndarray
    failures: dict[int, tuple[str, str]] = field(default_factory=dict)
    computed: int = 0
    cached: int = 0
    rows: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    # Images where the detector saw several faces (used the largest, or failed by policy).
    multi_face: set[int] = field(default_factory=set)
    # Images whose face only the fallback detector (--fallback-detector) found.
    fallback: set[int] = field(default_factory=set)

    @property
    def ok(self) -> np.ndarray:
        mask = np.ones(len(self.vectors), dtype=bool)
        mask[list(self.failures)] = False
        return mask


@dataclass
class ModelJob:
    """A model to embed with, its weights and its cache."""

    spec: ModelSpec
    weights: Path
    cache: EmbeddingCache


def hash_images(paths: Sequence[Path]) -> list[str | None]:
    """Content hash per image (None when the file cannot be read: it fails later with a reason)."""
    out: list[str | None] = []
    for path in paths:
        try:
            out.append(sha256_file(path))
        except OSError:
            out.append(None)
    return out


def default_workers() -> int:
    """One worker process per usable core: dlib-bin has no BLAS and uses a single core.

    Usable means this process's CPU affinity and cgroup quota, not the host's core count:
    each worker holds a decoded image, so surplus workers only multiply memory.
    """
    return usable_cpus()


def _no_progress(_label: str, _total: int) -> Callable[[int], None]:
    return lambda _n: None


def embed_all(
    jobs: Sequence[ModelJob],
    paths: Sequence[Path],
    hashes: Sequence[str | None],
    faces: FaceSettings,
    face_cache: Callable[[FaceSettings], FaceCache],
    workers: int | None = None,
    progress: Progress | None = None,
    ray: RayOptions | None = None,
    fingerprints: dict[str, Fingerprint | None] | None = None,
) -> dict[str, Embeddings]:
    """Vectors of every model for ``paths``; each missing one computed once and cached.

    Images still missing for any model go through one worker pass (decode, face, every
    model's embedding, ONNX in small batches on each worker's own session). With ``ray``
    the pass runs on a Ray cluster's actors instead, and the vectors come back here, to
    the same cache. ``fingerprints`` maps content hashes to near-duplicate fingerprints:
    those still None are asked of the workers that decode the image anyway, and filled in
    (an image no worker decodes, or decodes only at a reduced scale, stays None).
    """
    progress = progress or _no_progress
    workers = workers or default_workers()
    results: dict[str, Embeddings] = {}
    pending: dict[str, set[int]] = {}
    for job in jobs:
        result, todo = _from_cache(job, hashes)
        results[job.spec.name] = result
        pending[job.spec.name] = set(todo)
        result.computed = len(todo)
    groups: dict[int, list[ModelJob]] = {}
    for job in jobs:
        if pending[job.spec.name]:
            groups.setdefault(job.spec.upsample, []).append(job)
    for upsample, group in groups.items():
        settings = dataclasses.replace(faces, upsample=upsample)
        _embed_group(group, pending, paths, hashes, settings, face_cache(settings), workers,
                     progress, results, ray, fingerprints)  # fmt: skip
    for result in results.values():
        check_not_constant(result, hashes)
        _finalise(result)
    return results


def _embed_group(
    group: list[ModelJob],
    pending: dict[str, set[int]],
    paths: Sequence[Path],
    hashes: Sequence[str | None],
    settings: FaceSettings,
    faces: FaceCache,
    workers: int,
    progress: Progress,
    results: dict[str, Embeddings],
    ray: RayOptions | None = None,
    fingerprints: dict[str, Fingerprint | None] | None = None,
) -> None:
    by_name = {job.spec.name: job for job in group}
    prints: dict[str, Fingerprint | None] = {} if fingerprints is None else fingerprints
    needed = sorted(set().union(*(pending[name] for name in by_name)))
    tick = progress(f"embedding with {', '.join(by_name)}", len(needed))

    # The hash of the bytes each worker actually decoded: what its results are cached under.
    decoded: dict[int, str | None] = {}

    def keep(name: str, index: int, entry: CacheEntry) -> None:
        _keep(by_name[name], decoded.get(index, hashes[index]), entry, index, results[name])

    def fail_known(index: int, names: tuple[str, ...], entry: CacheEntry) -> None:
        for name in names:  # no face, or not decodable: the same failure for every model
            keep(name, index, entry)
        tick(1)

    tasks, order = _plan_tasks(needed, by_name, pending, paths, hashes, faces, fail_known)
    tasks = [task._replace(fingerprint=True) if _wanted(prints, task.sha256) else task
             for task in tasks]  # fmt: skip
    outcomes = _run_tasks(tasks, settings, [_worker_model(job) for job in group], workers, ray)
    # Closed on any exception (SIGTERM, Ctrl-C, a model error): the workers are ended now,
    # not left to finish the whole queue while the interpreter waits for them.
    with _closing(outcomes) as stream:
        for index, task, outcome in zip(order, tasks, stream, strict=True):
            decoded[index] = outcome.sha256
            if outcome.fingerprint is not None and outcome.sha256 is not None:
                prints[outcome.sha256] = outcome.fingerprint
            _store_outcome(index, task, outcome, faces, results, keep)
            tick(1)


def _wanted(prints: dict[str, Fingerprint | None], digest: str) -> bool:
    return digest in prints and prints[digest] is None


def _plan_tasks(
    needed: list[int],
    by_name: dict[str, ModelJob],
    pending: dict[str, set[int]],
    paths: Sequence[Path],
    hashes: Sequence[str | None],
    faces: FaceCache,
    fail_known: Callable[[int, tuple[str, ...], CacheEntry], None],
) -> tuple[list[Task], list[int]]:
    """The images workers must open, with their indices; one the face cache already knows
    has no face goes to ``fail_known`` instead, so no worker opens it again."""
    tasks: list[Task] = []
    order: list[int] = []
    for index in needed:
        names = tuple(name for name in by_name if index in pending[name])
        digest = hashes[index]
        assert digest is not None
        known = faces.get(digest)
        if known is not None and known.face is None:
            fail_known(index, names, known.failure())
            continue
        cached_face = None if known is None else known.face
        tasks.append(Task(str(paths[index]), digest, cached_face, names))
        order.append(index)
    return tasks, order


def _run_tasks(
    tasks: list[Task],
    settings: FaceSettings,
    models: list[WorkerModel],
    workers: int,
    ray: RayOptions | None,
) -> Iterator[Outcome]:
    """Outcomes in task order: from a Ray cluster's actors when asked, else local workers."""
    if ray is not None:
        from face_bench.embedding import ray_engine

        return ray_engine.run(tasks, settings, models, ray)
    return run_workers(tasks, settings, models, workers)


def _store_outcome(
    index: int,
    task: Task,
    outcome: Outcome,
    faces: FaceCache,
    results: dict[str, Embeddings],
    keep: Callable[[str, int, CacheEntry], None],
) -> None:
    """Cache what a worker found for one image: its face, then each model's entry. An image
    unreadable now is a failure for its models, cached under no hash."""
    digest, face_entry = outcome.sha256, outcome.face
    if digest is None:  # unreadable now: a failure, cached under no hash
        reason = face_entry.failure() if face_entry else CacheEntry(None, "unreadable", "")
        for name in task.models:
            _record(results[name], index, reason)
        return
    if face_entry is not None:
        faces.put(digest, face_entry)
        if face_entry.face is None:
            for name in task.models:
                keep(name, index, face_entry.failure())
    for name, output in outcome.outputs.items():
        assert isinstance(output, CacheEntry)  # every model is inferred by the workers
        keep(name, index, output)


@contextlib.contextmanager
def _closing(stream: Iterator[Outcome]) -> Iterator[Iterator[Outcome]]:
    """Close a generator of outcomes however the block ends, so its worker pool stops."""
    try:
        yield stream
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def _worker_model(job: ModelJob) -> WorkerModel:
    """What workers load for ``job``, prepared here once by its backend (dlib's network is
    converted to ONNX into the cache)."""
    backend = backend_for(job.spec)
    files = backend.prepare(job.spec, job.weights, job.cache.root)
    return WorkerModel(job.spec.name, job.spec, str(files), backend)


def _from_cache(job: ModelJob, hashes: Sequence[str | None]) -> tuple[Embeddings, list[int]]:
    """Cached entries of ``job``'s model; the indices still to compute.

    A vector whose width is not the model's (its ``embedding_size``, else the width most
    cached vectors have) is a miss: its checksum only says the entry is whole, not that
    this model wrote it, and one odd row cannot be scored with the rest.
    """
    result = Embeddings(job.spec.name, np.empty((len(hashes), 0), dtype=np.float32))
    found: dict[int, CacheEntry | None] = {}
    for index, digest in enumerate(hashes):
        if digest is None:
            result.failures[index] = ("missing", "file not found or unreadable")
        else:
            found[index] = job.cache.get(digest)
    width = job.spec.embedding_size or _usual_width(found.values())
    todo: list[int] = []
    for index, entry in found.items():
        if entry is None:
            todo.append(index)
        elif entry.vector is not None and entry.vector.size != width:
            job.cache.corrupt_seen += 1
            todo.append(index)
        else:
            _record(result, index, entry)
    result.cached = len(hashes) - len(todo)
    return result, todo


def _usual_width(entries: Iterable[CacheEntry | None]) -> int | None:
    """The most common width among cached vectors (None when none is cached)."""
    widths = Counter(e.vector.size for e in entries if e is not None and e.vector is not None)
    return widths.most_common(1)[0][0] if widths else None


def _record(result: Embeddings, index: int, entry: CacheEntry) -> None:
    if (entry.n_faces or 0) > 1 or (entry.reason or "").startswith("multiple_faces"):
        result.multi_face.add(index)
    if entry.detector is not None and entry.vector is not None:
        result.fallback.add(index)
    if entry.vector is not None:
        problem = degenerate(entry.vector)
        if problem is None:
            result.rows[index] = entry.vector
        else:
            result.failures[index] = ("degenerate_embedding", problem)
    else:
        result.failures[index] = (entry.reason or "failed", entry.detail)


def _keep(job: ModelJob, digest: str | None, entry: CacheEntry, index: int, result: Embeddings):
    assert digest is not None
    job.cache.put(digest, entry)
    _record(result, index, entry)


def degenerate(vector: np.ndarray) -> str | None:
    """Why an embedding cannot be compared (NaN/inf, or no direction), or None when it can.

    A zero vector has no cosine with anything and sits at distance 0 from every other
    zero vector, so scoring it would invent matches: it is a failure to enrol instead,
    on every scoring path alike.
    """
    if vector.size == 0:
        return "the model returned an empty vector"
    if not np.all(np.isfinite(vector)):
        return "the model returned NaN or inf"
    if float(np.linalg.norm(vector.astype(np.float64))) <= MIN_NORM:
        return "the model returned a zero vector"
    return None


def check_not_constant(result: Embeddings, hashes: Sequence[str | None]) -> None:
    """Refuse a model that gives (nearly) one vector for every distinct image it saw.

    Such a model tells nobody apart; its AUC of 0.5 would read as a measurement. Images
    with the same content hash rightly share a vector, so only distinct contents count.
    """
    rows: dict[str, np.ndarray] = {}
    for index, vector in result.rows.items():
        digest = hashes[index] if index < len(hashes) else None
        rows.setdefault(digest or f"#{index}", vector)
    if len(rows) < MIN_DISTINCT_FOR_CONSTANT or len({v.size for v in rows.values()}) > 1:
        return  # vectors of several widths: _finalise names them
    matrix = np.stack([v.astype(np.float64) for v in rows.values()])
    scale = float(np.linalg.norm(matrix, axis=1).max())
    spread = float(np.linalg.norm(matrix - matrix[0], axis=1).max())
    if spread <= CONSTANT_TOLERANCE * scale:
        raise ModelError(
            f"model {result.model!r} returned the same embedding for all {len(rows)} distinct "
            "images it embedded: the model is broken (a constant or disconnected output, or "
            "inputs it ignores), so nothing can be measured with it"
        )


def _finalise(result: Embeddings) -> None:
    """Assemble the (n, d) matrix by index; rows of failed images stay NaN."""
    widths = sorted({len(v) for v in result.rows.values()})
    if len(widths) > 1:
        raise ModelShapeError(
            f"model {result.model!r} returned vectors of different widths {widths}; "
            "set its embedding_size to the width it should have (cached vectors of another "
            "width are then never reused)"
        )
    dim = widths[0] if widths else 0
    vectors = np.full((len(result.vectors), dim), np.nan, dtype=np.float32)
    for index, vector in result.rows.items():
        vectors[index] = vector
    result.vectors = vectors
    result.rows = {}


def merge_embeddings(parts: Sequence[tuple[Sequence[int], Embeddings]], total: int) -> Embeddings:
    """One model's embeddings of ``total`` images from runs over disjoint index subsets.

    Used when images of one run are located under different face settings (a manifest's
    ``aligned`` column); each part's row ``i`` belongs to image ``indices[i]``.
    """
    dims = {part.vectors.shape[1] for _idx, part in parts if part.vectors.shape[1]}
    dim = dims.pop() if dims else 0
    merged = Embeddings(parts[0][1].model, np.full((total, dim), np.nan, dtype=np.float32))
    for indices, part in parts:
        index = np.asarray(indices, dtype=int)
        if part.vectors.shape[1]:
            merged.vectors[index] = part.vectors
        merged.failures.update({int(index[i]): why for i, why in part.failures.items()})
        merged.multi_face.update(int(index[i]) for i in part.multi_face)
        merged.fallback.update(int(index[i]) for i in part.fallback)
        merged.computed += part.computed
        merged.cached += part.cached
    return merged
