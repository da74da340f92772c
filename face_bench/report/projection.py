"""2-D projections of embeddings, for looking at how a model groups people.

Pure: vectors and identity labels in, coordinates out. Images a model could not
embed (NaN rows) cannot be placed, so they are left out and counted, never drawn
at a made-up position.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face_bench.core.errors import MetricError

MIN_POINTS = 4
"""UMAP's spectral layout needs more points than its two output dimensions plus one."""

DEFAULT_NEIGHBORS = 15

CACHE_FOLDER = "projections"
"""Under the cache folder: one ``<key>.npy`` of coordinates per layout already computed."""


class TooFewPointsError(MetricError):
    """Too few embedded images for a meaningful 2-D layout."""


@dataclass(frozen=True)
class Projection:
    """One model's layout: ``coords[k]`` is input row ``rows[k]``, labelled ``identities[k]``."""

    model: str
    coords: np.ndarray
    rows: np.ndarray
    identities: np.ndarray
    excluded: int
    method: str = "UMAP"

    @property
    def n_points(self) -> int:
        return len(self.rows)


def project_umap(
    vectors: np.ndarray,
    identities: np.ndarray | list[str],
    *,
    model: str = "",
    seed: int = 0,
    n_neighbors: int = DEFAULT_NEIGHBORS,
    cache_dir: Path | None = None,
) -> Projection:
    """UMAP (cosine metric, seeded) of the finite rows of ``vectors``.

    Cosine for every model, so layouts show angular structure alike whether the model
    compares by angle or by Euclidean distance. Imports umap here: it is slow to import
    and compiles with numba on first use. With ``cache_dir`` a layout already computed
    for the same vectors and parameters is read back instead (see ``layout_key``).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    labels = np.asarray([str(i) for i in identities], dtype=object)
    if vectors.ndim != 2 or len(vectors) != len(labels):
        raise ValueError(
            f"{model or 'model'}: expected one identity per row, got {vectors.shape} "
            f"vectors and {len(labels)} identities"
        )
    finite = np.isfinite(vectors).all(axis=1)
    rows = np.flatnonzero(finite)
    if len(rows) < MIN_POINTS:
        raise TooFewPointsError(
            f"{model or 'model'}: {len(rows)} embedded image(s); a 2-D projection needs "
            f"at least {MIN_POINTS}"
        )
    coords = _cached_layout(vectors[rows], seed, min(n_neighbors, len(rows) - 1), cache_dir)
    return Projection(
        model=model,
        coords=coords,
        rows=rows,
        identities=labels[rows],
        excluded=int(len(vectors) - len(rows)),
    )


def layout_key(vectors: np.ndarray, seed: int, n_neighbors: int) -> str:
    """What a layout depends on: the exact vectors, the parameters and umap-learn's version.

    A seeded UMAP is deterministic, so a warm report can reuse the coordinates instead of
    paying umap's import and numba compilation (most of a warm report's CPU time).
    """
    from importlib.metadata import version

    digest = hashlib.sha256()
    digest.update(f"umap-learn {version('umap-learn')} cosine {seed} {n_neighbors} ".encode())
    digest.update(f"{vectors.shape} {vectors.dtype.str} ".encode())
    digest.update(np.ascontiguousarray(vectors).tobytes())
    return digest.hexdigest()


def cached_layout_path(vectors: np.ndarray, seed: int, n_neighbors: int, cache_dir: Path) -> Path:
    return Path(cache_dir) / CACHE_FOLDER / f"{layout_key(vectors, seed, n_neighbors)}.npy"


def read_cached_layout(path: Path, n_points: int) -> np.ndarray | None:
    """The stored coordinates, or None when absent or not a finite (n_points, 2) array."""
    try:
        coords = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    ok = coords.shape == (n_points, 2) and coords.dtype == np.float64
    return coords if ok and np.isfinite(coords).all() else None


def _cached_layout(
    vectors: np.ndarray, seed: int, n_neighbors: int, cache_dir: Path | None
) -> np.ndarray:
    path = None if cache_dir is None else cached_layout_path(vectors, seed, n_neighbors, cache_dir)
    if path is not None and (coords := read_cached_layout(path, len(vectors))) is not None:
        return coords
    coords = _umap_layout(vectors, seed, n_neighbors)
    if path is not None:
        from face_bench.core.errors import OutputError
        from face_bench.core.io import atomic_write_bytes

        buffer = io.BytesIO()
        np.save(buffer, coords, allow_pickle=False)
        # A read-only cache costs the next run a recomputation, nothing more.
        with contextlib.suppress(OutputError):
            atomic_write_bytes(path, buffer.getvalue())
    return coords


def _umap_layout(vectors: np.ndarray, seed: int, n_neighbors: int) -> np.ndarray:
    import umap

    reducer = umap.UMAP(metric="cosine", random_state=seed, n_neighbors=n_neighbors)
    with warnings.catch_warnings():
        # Seeding forces one thread; that is the point, not news.
        warnings.filterwarnings("ignore", message=r"n_jobs value", category=UserWarning)
        coords = reducer.fit_transform(vectors)
    return np.asarray(coords, dtype=np.float64)
