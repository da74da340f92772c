"""One pair table for every protocol: pairs as indices into one image list.

Sampled subsets, every pair of a sample, a pair file, LFW's folds and ``compare`` all
build a :class:`PairSet`. Its indices point into the one image list that is embedded, so
an embedding row, a pair's ``a``/``b`` and a failure share one index space from the
manifest to the report; nothing is translated back and forth after planning.

Every pair of a large sample (tens of millions) is not materialised: ``a`` and ``b`` are
None and the pairs are every i<j of ``members`` in ``np.triu_indices`` order, which the
all-pairs scorer consumes block by block.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from face_bench.data.datasets import Pairs

PairMode = Literal["all", "random", "file", "lfw", "compare"]


@dataclass(frozen=True)
class PairSet:
    """Labelled pairs of images, as rows of one image list, and where they came from.

    ``members``: the rows of the images this set is about (a subset's sample), in sample
    order. ``a``/``b``: the two rows of each pair, or None for every i<j of ``members``.
    ``label``: same person (None where unknown, as in ``compare``); ``fold``: LFW's folds.
    ``mode``, ``requested`` and ``source`` say how the pairs were chosen.
    """

    members: np.ndarray
    a: np.ndarray | None
    b: np.ndarray | None
    label: np.ndarray | None
    mode: PairMode
    requested: int | None = None
    source: str | None = None
    fold: np.ndarray | None = None
    source_sha256: str | None = None  # the pair file's bytes, so runs on other files differ

    @property
    def implicit(self) -> bool:
        """Every i<j pair of ``members``, scored in blocks rather than listed."""
        return self.a is None

    def __len__(self) -> int:
        if self.a is None:
            n = len(self.members)
            return n * (n - 1) // 2
        return len(self.a)

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(a, b): the image-list rows of each listed pair."""
        if self.a is None or self.b is None:
            raise ValueError("every pair of a large sample is scored in blocks, not listed")
        return self.a, self.b

    def explicit(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(a, b, label) of labelled listed pairs."""
        a, b = self.rows()
        if self.label is None:
            raise ValueError("these pairs carry no same-person labels")
        return a, b, self.label

    def digest(self) -> str | None:
        """SHA-256 of which pairs were drawn with which labels, independent of their order.

        Over the members' positions in the sample (not image-list rows), so the same sample
        gives the same digest whatever other subsets ran beside it; None for every pair of
        a large sample, which is not listed.
        """
        if self.a is None or self.b is None or self.label is None:
            return None
        ia = np.searchsorted(self.members, self.a)  # members ascend: rows in path order
        ib = np.searchsorted(self.members, self.b)
        a = np.minimum(ia, ib).astype("<i8")
        b = np.maximum(ia, ib).astype("<i8")
        label = np.asarray(self.label, dtype="<i8")
        order = np.lexsort((label, b, a))
        table = np.stack([a[order], b[order], label[order]], axis=1)
        return hashlib.sha256(np.ascontiguousarray(table).tobytes()).hexdigest()

    def without(self, failed_rows: np.ndarray) -> PairSet:
        """The pairs that touch no failed image (``failed_rows``: a mask over the image list).

        Listed pairs touching a failed image are dropped; for every pair of a sample the
        failed members are dropped instead, so the pairs stay every pair of the rest.
        """
        if self.a is None:
            return replace(self, members=self.members[~failed_rows[self.members]])
        keep = ~(failed_rows[self.a] | failed_rows[self.b])
        return self.select(keep)

    def select(self, keep: np.ndarray) -> PairSet:
        """The listed pairs where ``keep`` is True."""
        a, b, label = self.explicit()
        fold = None if self.fold is None else self.fold[keep]
        return replace(self, a=a[keep], b=b[keep], label=label[keep], fold=fold)


def from_local(
    pairs: Pairs | None,
    rows: np.ndarray,
    mode: PairMode,
    requested: int | None = None,
    source: str | None = None,
    source_sha256: str | None = None,
) -> PairSet:
    """A sample's pairs (indices into the sample) as rows of the embedded image list.

    ``rows[i]`` is the image-list row of sample image i; ``pairs`` None means every pair.
    The one place where a sample's own positions are translated.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if pairs is None:
        return PairSet(rows, None, None, None, mode, requested, source, None, source_sha256)
    a, b = rows[pairs.a], rows[pairs.b]
    return PairSet(rows, a, b, pairs.label, mode, requested, source, None, source_sha256)


def every_pair_of(n_images: int, mode: PairMode = "compare") -> PairSet:
    """Every unordered pair of a short image list, listed, without labels (``compare``)."""
    a, b = np.triu_indices(n_images, k=1)
    members = np.arange(n_images, dtype=np.int64)
    return PairSet(members, a.astype(np.int64), b.astype(np.int64), None, mode)
