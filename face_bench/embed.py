"""Embed each image once per model: cache first, then batched or parallel compute.

Work is ordered by image index and every result is written to the cache as soon
as it exists, so an interrupted run loses at most the batch in flight and a
rerun computes only what is missing. Parallel and serial runs give identical
vectors because each image is processed independently and reassembled by index.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from face_bench.cache import CacheEntry, EmbeddingCache
from face_bench.images import file_sha256
from face_bench.models.registry import ModelSpec

ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class FaceSettings:
    """How faces are found in an image; shared by every model in a run."""

    align: str = "auto"
    multi_face: str = "largest"


@dataclass
class Embeddings:
    """One model's vectors for a list of images; failed rows are NaN and listed."""

    model: str
    vectors: np.ndarray
    failures: dict[int, tuple[str, str]] = field(default_factory=dict)
    computed: int = 0
    cached: int = 0

    @property
    def ok(self) -> np.ndarray:
        mask = np.ones(len(self.vectors), dtype=bool)
        mask[list(self.failures)] = False
        return mask


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


def embed_images(
    spec: ModelSpec,
    weights: Path,
    paths: Sequence[Path],
    hashes: Sequence[str | None],
    cache: EmbeddingCache,
    faces: FaceSettings,
    workers: int | None = None,
    progress: ProgressFn | None = None,
) -> Embeddings:
    """Vectors for ``paths`` from the cache, computing and storing the missing ones."""
    tick = progress or (lambda _n: None)
    dim = spec.embedding_size or 0
    rows: dict[int, np.ndarray] = {}
    failures: dict[int, tuple[str, str]] = {}
    todo: list[int] = []
    for index, digest in enumerate(hashes):
        if digest is None:
            failures[index] = ("missing", "file not found or unreadable")
            tick(1)
            continue
        entry = cache.get(digest)
        if entry is None:
            todo.append(index)
            continue
        _store(index, entry, rows, failures)
        tick(1)
    cached = len(rows) + len(failures)
    if todo:
        compute = _backend(spec)
        for index, entry in zip(
            todo, compute(spec, weights, [paths[i] for i in todo], faces, workers), strict=True
        ):
            digest = hashes[index]
            assert digest is not None
            cache.put(digest, entry)
            _store(index, entry, rows, failures)
            tick(1)
    if rows:
        dim = len(next(iter(rows.values())))
    vectors = np.full((len(paths), dim), np.nan, dtype=np.float32)
    for index, vector in rows.items():
        vectors[index] = vector
    return Embeddings(spec.name, vectors, failures, computed=len(todo), cached=cached)


def _store(
    index: int,
    entry: CacheEntry,
    rows: dict[int, np.ndarray],
    failures: dict[int, tuple[str, str]],
) -> None:
    if entry.vector is not None and np.all(np.isfinite(entry.vector)):
        rows[index] = entry.vector
    elif entry.vector is not None:
        failures[index] = ("non_finite_embedding", "the model returned NaN or inf")
    else:
        failures[index] = (entry.reason or "failed", entry.detail)


ComputeFn = Callable[[ModelSpec, Path, list[Path], FaceSettings, int | None], Iterator[CacheEntry]]


def _backend(spec: ModelSpec) -> ComputeFn:
    if spec.backend == "dlib":
        return _compute_dlib
    return _compute_onnx


# --- dlib: the whole chain per image in one process per core -----------------------------

_WORKER = None


def _init_dlib_worker(spec_json: str, weights: str, faces: FaceSettings) -> None:
    global _WORKER
    from face_bench.models.dlib_backend import DlibEmbedder

    _WORKER = DlibEmbedder(ModelSpec.model_validate_json(spec_json), Path(weights), faces)


def _dlib_one(path: str) -> CacheEntry:
    assert _WORKER is not None
    return _WORKER.embed_path(Path(path))


def _compute_dlib(
    spec: ModelSpec, weights: Path, paths: list[Path], faces: FaceSettings, workers: int | None
) -> Iterator[CacheEntry]:
    workers = workers or default_workers()
    workers = min(workers, len(paths))
    if workers <= 1:
        _init_dlib_worker(spec.model_dump_json(), str(weights), faces)
        for path in paths:
            yield _dlib_one(str(path))
        return
    with ProcessPoolExecutor(
        max_workers=workers,
        initializer=_init_dlib_worker,
        initargs=(spec.model_dump_json(), str(weights), faces),
    ) as pool:
        yield from pool.map(_dlib_one, [str(p) for p in paths], chunksize=4)


# --- ONNX: faces prepared in worker processes, inference batched in this one --------------

_PREPARER = None


def _init_onnx_preparer(spec_json: str, faces: FaceSettings) -> None:
    global _PREPARER
    from face_bench.models.dlib_backend import ChipMaker

    spec = ModelSpec.model_validate_json(spec_json)
    _PREPARER = ChipMaker(spec.chip_size or spec.input_size[0], spec.chip_padding, spec, faces)


def _onnx_prepare(path: str) -> tuple[np.ndarray | None, str, str]:
    assert _PREPARER is not None
    return _PREPARER.chip_for_path(Path(path))


def _compute_onnx(
    spec: ModelSpec, weights: Path, paths: list[Path], faces: FaceSettings, workers: int | None
) -> Iterator[CacheEntry]:
    from face_bench.models.onnx_backend import OnnxModel, to_tensor

    model = OnnxModel(spec, weights)
    workers = min(workers or default_workers(), len(paths))
    if workers <= 1:
        _init_onnx_preparer(spec.model_dump_json(), faces)
        prepared: Iterator = (_onnx_prepare(str(p)) for p in paths)
        pool = None
    else:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            initializer=_init_onnx_preparer,
            initargs=(spec.model_dump_json(), faces),
        )
        prepared = pool.map(_onnx_prepare, [str(p) for p in paths], chunksize=8)
    try:
        batch: list[tuple[np.ndarray | None, str, str]] = []
        for item in prepared:
            batch.append(item)
            if len(batch) == spec.batch_size:
                yield from _infer_batch(model, batch, to_tensor)
                batch = []
        if batch:
            yield from _infer_batch(model, batch, to_tensor)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _infer_batch(model, batch, to_tensor) -> Iterator[CacheEntry]:
    chips = [chip for chip, _r, _d in batch if chip is not None]
    vectors = iter(model.infer(to_tensor(chips, model.spec)) if chips else [])
    for chip, reason, detail in batch:
        if chip is None:
            yield CacheEntry(None, reason, detail)
        else:
            yield CacheEntry(next(vectors))
