"""Embed each image once per model: cache first, then one shared face stage, then models.

Work is ordered by image index and every result is written to the cache as soon
as it exists, so an interrupted run loses at most the work in flight and a rerun
computes only what is missing. Parallel and serial runs give identical vectors
because each image is processed independently and reassembled by index.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from face_bench.cache import CacheEntry, EmbeddingCache
from face_bench.faces import Face, FaceSettings, locate_many
from face_bench.images import file_sha256
from face_bench.models.registry import ModelSpec

Progress = Callable[[str, int], Callable[[int], None]]


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
            out.append(file_sha256(path))
        except OSError:
            out.append(None)
    return out


def default_workers() -> int:
    """One worker process per core: dlib-bin has no BLAS and uses a single core."""
    return max(1, os.cpu_count() or 1)


def _no_progress(_label: str, _total: int) -> Callable[[int], None]:
    return lambda _n: None


def embed_all(
    jobs: Sequence[ModelJob],
    paths: Sequence[Path],
    hashes: Sequence[str | None],
    faces: FaceSettings,
    face_cache: Callable[[FaceSettings], EmbeddingCache],
    workers: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Embeddings]:
    """Vectors of every model for ``paths``; each missing one computed once and cached."""
    progress = progress or _no_progress
    workers = workers or default_workers()
    results: dict[str, Embeddings] = {}
    pending: dict[str, list[int]] = {}
    for job in jobs:
        result, todo = _from_cache(job, hashes)
        results[job.spec.name] = result
        pending[job.spec.name] = todo
    # One face stage per distinct upsample setting among models with work left.
    located: dict[int, dict[int, CacheEntry]] = {}
    for job in jobs:
        todo = pending[job.spec.name]
        upsample = job.spec.upsample
        if not todo:
            continue
        settings = FaceSettings(faces.align, faces.multi_face, upsample)
        known = located.setdefault(upsample, {})
        missing = [i for i in todo if i not in known]
        if missing:
            known.update(
                _locate(missing, paths, hashes, settings, face_cache(settings), workers, progress)
            )
    for job in jobs:
        todo = pending[job.spec.name]
        if not todo:
            continue
        known = located[job.spec.upsample]
        tick = progress(f"embedding with {job.spec.name}", len(todo))
        compute = _compute_dlib if job.spec.backend == "dlib" else _compute_onnx
        ready = [i for i in todo if known[i].ok]
        entries: dict[int, CacheEntry] = {i: known[i] for i in todo if not known[i].ok}
        for index, entry in zip(
            ready, compute(job, [(paths[i], known[i]) for i in ready], workers), strict=True
        ):
            if entry.ok:
                entry = replace(entry, n_faces=Face.from_vector(known[index].vector).n_faces)
            entries[index] = entry
            _keep(job, hashes[index], entry, index, results[job.spec.name])
            tick(1)
        for index in todo:
            if index not in ready:
                _keep(job, hashes[index], entries[index], index, results[job.spec.name])
                tick(1)
        results[job.spec.name].computed = len(todo)
    for result in results.values():
        _finalise(result)
    return results


def _from_cache(job: ModelJob, hashes: Sequence[str | None]) -> tuple[Embeddings, list[int]]:
    result = Embeddings(job.spec.name, np.empty((len(hashes), 0), dtype=np.float32))
    todo: list[int] = []
    for index, digest in enumerate(hashes):
        if digest is None:
            result.failures[index] = ("missing", "file not found or unreadable")
            continue
        entry = job.cache.get(digest)
        if entry is None:
            todo.append(index)
        else:
            _record(result, index, entry)
    result.cached = len(hashes) - len(todo)
    return result, todo


def _record(result: Embeddings, index: int, entry: CacheEntry) -> None:
    if (entry.n_faces or 0) > 1 or (entry.reason or "").startswith("multiple_faces"):
        result.multi_face.add(index)
    if entry.vector is not None and np.all(np.isfinite(entry.vector)):
        result.rows[index] = entry.vector
    elif entry.vector is not None:
        result.failures[index] = ("non_finite_embedding", "the model returned NaN or inf")
    else:
        result.failures[index] = (entry.reason or "failed", entry.detail)


def _keep(job: ModelJob, digest: str | None, entry: CacheEntry, index: int, result: Embeddings):
    assert digest is not None
    job.cache.put(digest, entry)
    _record(result, index, entry)


def _finalise(result: Embeddings) -> None:
    """Assemble the (n, d) matrix by index; rows of failed images stay NaN."""
    dim = len(next(iter(result.rows.values()))) if result.rows else 0
    vectors = np.full((len(result.vectors), dim), np.nan, dtype=np.float32)
    for index, vector in result.rows.items():
        vectors[index] = vector
    result.vectors = vectors
    result.rows = {}


def _locate(
    indices: list[int],
    paths: Sequence[Path],
    hashes: Sequence[str | None],
    settings: FaceSettings,
    cache: EmbeddingCache,
    workers: int,
    progress: Progress,
) -> dict[int, CacheEntry]:
    """Face records for ``indices``: cached ones first, the rest computed and stored."""
    out: dict[int, CacheEntry] = {}
    missing: list[int] = []
    for index in indices:
        digest = hashes[index]
        assert digest is not None
        entry = cache.get(digest)
        if entry is None:
            missing.append(index)
        else:
            out[index] = entry
    if missing:
        tick = progress("finding faces", len(missing))
        for index, entry in zip(
            missing, locate_many([paths[i] for i in missing], settings, workers), strict=True
        ):
            digest = hashes[index]
            assert digest is not None
            cache.put(digest, entry)
            out[index] = entry
            tick(1)
    return out


# --- dlib: chip + descriptor in one process per core --------------------------------------

_DESCRIPTOR = None


def _init_dlib(spec_json: str, weights: str) -> None:
    global _DESCRIPTOR
    from face_bench.models.dlib_backend import DlibDescriptor

    _DESCRIPTOR = DlibDescriptor(ModelSpec.model_validate_json(spec_json), Path(weights))


def _dlib_task(item: tuple[str, np.ndarray]) -> CacheEntry:
    assert _DESCRIPTOR is not None
    return _DESCRIPTOR.embed(Path(item[0]), Face.from_vector(item[1]))


def _compute_dlib(
    job: ModelJob, items: list[tuple[Path, CacheEntry]], workers: int
) -> Iterator[CacheEntry]:
    tasks = [(str(path), entry.vector) for path, entry in items]
    args = (job.spec.model_dump_json(), str(job.weights))
    if workers <= 1 or len(tasks) < 8:
        _init_dlib(*args)
        yield from map(_dlib_task, tasks)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_dlib, initargs=args) as pool:
        yield from pool.map(_dlib_task, tasks, chunksize=4)


# --- ONNX: inputs prepared in a background thread while the session runs ------------------


def _compute_onnx(
    job: ModelJob, items: list[tuple[Path, CacheEntry]], workers: int
) -> Iterator[CacheEntry]:
    from face_bench.models.dlib_backend import input_for_path
    from face_bench.models.onnx_backend import OnnxModel, to_tensor

    spec = job.spec
    model = OnnxModel(spec, job.weights, threads=workers)
    batches = [items[i : i + spec.batch_size] for i in range(0, len(items), spec.batch_size)]

    def prepare(batch):
        return [input_for_path(path, Face.from_vector(entry.vector), spec) for path, entry in batch]

    with ThreadPoolExecutor(max_workers=1) as prefetch:
        futures = [prefetch.submit(prepare, batches[0])] if batches else []
        for k in range(len(batches)):
            if k + 1 < len(batches):
                futures.append(prefetch.submit(prepare, batches[k + 1]))
            prepared = futures[k].result()
            futures[k] = None  # type: ignore[call-overload]
            images = [image for image, _r, _d in prepared if image is not None]
            vectors = iter(model.infer(to_tensor(images, spec)) if images else [])
            for image, reason, detail in prepared:
                yield (
                    CacheEntry(next(vectors))
                    if image is not None
                    else CacheEntry(None, reason, detail)
                )
