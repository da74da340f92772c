"""The outcome of one per-image step: a vector, or the recorded reason there is none."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CacheEntry:
    """An embedding, or the recorded reason an image could not be embedded."""

    vector: np.ndarray | None
    reason: str | None = None
    detail: str = ""
    n_faces: int | None = None  # faces the detector saw, kept with a model's embedding
    detector: str | None = None  # the fallback detector, when it and not HOG found the face

    @property
    def ok(self) -> bool:
        return self.vector is not None
