"""UMAP layouts are reused from the cache folder: same vectors and parameters, same coordinates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from face_bench.report import projection


def _vectors(seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(12, 8)).astype(np.float32)
    vectors[3] = np.nan
    return vectors, [f"p{i % 3}" for i in range(12)]


@pytest.fixture
def layouts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """Stand in for umap (no numba compilation); records every layout actually computed."""
    calls: list[tuple[int, int, int]] = []

    def fake(vectors: np.ndarray, seed: int, n_neighbors: int) -> np.ndarray:
        calls.append((len(vectors), seed, n_neighbors))
        return np.column_stack([vectors[:, 0], vectors[:, 1] + seed]).astype(np.float64)

    monkeypatch.setattr(projection, "_umap_layout", fake)
    return calls


def test_a_cached_layout_is_read_back_not_recomputed(tmp_path: Path, layouts: list) -> None:
    vectors, identities = _vectors()
    first = projection.project_umap(vectors, identities, model="m", seed=1, cache_dir=tmp_path)
    again = projection.project_umap(vectors, identities, model="m", seed=1, cache_dir=tmp_path)
    assert layouts == [(11, 1, 10)]  # the finite rows, the seed, min(15, n - 1) neighbours
    assert np.array_equal(first.coords, again.coords) and again.coords.dtype == np.float64
    assert np.array_equal(first.rows, again.rows) and again.excluded == 1
    assert len(list((tmp_path / projection.CACHE_FOLDER).glob("*.npy"))) == 1


def test_other_vectors_or_seed_get_their_own_layout(tmp_path: Path, layouts: list) -> None:
    vectors, identities = _vectors()
    projection.project_umap(vectors, identities, seed=1, cache_dir=tmp_path)
    projection.project_umap(vectors, identities, seed=2, cache_dir=tmp_path)
    changed = vectors.copy()
    changed[0, 0] += 1e-3
    projection.project_umap(changed, identities, seed=1, cache_dir=tmp_path)
    assert len(layouts) == 3
    assert len(list((tmp_path / projection.CACHE_FOLDER).glob("*.npy"))) == 3


def test_a_damaged_cache_entry_is_recomputed(tmp_path: Path, layouts: list) -> None:
    vectors, identities = _vectors()
    first = projection.project_umap(vectors, identities, seed=1, cache_dir=tmp_path)
    (entry,) = (tmp_path / projection.CACHE_FOLDER).glob("*.npy")
    entry.write_bytes(b"not an array")
    again = projection.project_umap(vectors, identities, seed=1, cache_dir=tmp_path)
    assert len(layouts) == 2 and np.array_equal(first.coords, again.coords)
    assert projection.read_cached_layout(entry, 11) is not None  # rewritten whole


def test_without_a_cache_folder_nothing_is_stored(tmp_path: Path, layouts: list) -> None:
    vectors, identities = _vectors()
    projection.project_umap(vectors, identities, seed=1)
    projection.project_umap(vectors, identities, seed=1)
    assert len(layouts) == 2 and not list(tmp_path.iterdir())


@pytest.mark.slow  # real UMAP: numba compiles on first use
def test_real_umap_layout_from_the_cache_equals_a_fresh_one(tmp_path: Path) -> None:
    vectors, identities = _vectors()
    fresh = projection.project_umap(vectors, identities, seed=1)
    stored = projection.project_umap(vectors, identities, seed=1, cache_dir=tmp_path)
    reused = projection.project_umap(vectors, identities, seed=1, cache_dir=tmp_path)
    assert np.array_equal(fresh.coords, stored.coords)
    assert np.array_equal(fresh.coords, reused.coords)
