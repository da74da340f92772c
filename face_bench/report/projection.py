"""2-D projections of embeddings, for looking at how a model groups people.

Pure: vectors and identity labels in, coordinates out. Images a model could not
embed (NaN rows) cannot be placed, so they are left out and counted, never drawn
at a made-up position.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from face_bench.core.errors import MetricError

MIN_POINTS = 4
"""UMAP's spectral layout needs more points than its two output dimensions plus one."""

DEFAULT_NEIGHBORS = 15


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
) -> Projection:
    """UMAP (cosine metric, seeded) of the finite rows of ``vectors``.

    Cosine for every model, so layouts show angular structure alike whether the model
    compares by angle or by Euclidean distance. Imports umap here: it is slow to import
    and compiles with numba on first use.
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
    import umap

    reducer = umap.UMAP(
        metric="cosine",
        random_state=seed,
        n_neighbors=min(n_neighbors, len(rows) - 1),
    )
    with warnings.catch_warnings():
        # Seeding forces one thread; that is the point, not news.
        warnings.filterwarnings("ignore", message=r"n_jobs value", category=UserWarning)
        coords = reducer.fit_transform(vectors[rows])
    return Projection(
        model=model,
        coords=np.asarray(coords, dtype=np.float64),
        rows=rows,
        identities=labels[rows],
        excluded=int(len(vectors) - len(rows)),
    )
