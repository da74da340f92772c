"""Byte-identical images in a sample: reported always, kept out of impostor pairs by default.

The same file under two identities (a copy, a symlink) is scored as an impostor pair at
distance 0: a guaranteed false accept that says nothing about the model. The content
hashes are already known, so such groups are found for free. ``--duplicates``:
``exclude`` (default) drops cross-identity pairs of identical images from the scored
pairs, ``keep`` scores them anyway, ``error`` refuses the run. Duplicates within one
identity are genuine pairs at distance 0; they are reported and kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from face_bench.core.errors import DatasetError
from face_bench.data.datasets import Pairs

POLICIES = ("keep", "exclude", "error")


@dataclass(frozen=True)
class DuplicateReport:
    """One subset's groups of identical images and what was done about them."""

    groups: list[list[str]]
    cross_identity: int
    excluded_pairs: int
    note: str


def find_duplicates(
    paths: Sequence[str], identities: Sequence[str], hashes: Sequence[str | None]
) -> list[list[int]]:
    """Groups (indices, sorted) of two or more images with the same content hash."""
    by_hash: dict[str, list[int]] = {}
    for index, digest in enumerate(hashes):
        if digest is not None:
            by_hash.setdefault(digest, []).append(index)
    del paths, identities
    return sorted(group for group in by_hash.values() if len(group) > 1)


def apply_policy(
    subset: str,
    paths: Sequence[str],
    identities: Sequence[str],
    hashes: Sequence[str | None],
    pairs: Pairs | None,
    policy: str,
) -> tuple[Pairs | None, DuplicateReport]:
    """The pairs to score under ``policy`` and the report for notes and results.json."""
    if policy not in POLICIES:
        raise ValueError(f"unknown duplicates policy {policy!r}")
    groups = find_duplicates(paths, identities, hashes)
    cross = [g for g in groups if len({identities[i] for i in g}) > 1]
    named = [[paths[i] for i in g] for g in groups]
    if cross and policy == "error":
        first = ", ".join(f"{paths[i]} ({identities[i]})" for i in cross[0])
        raise DatasetError(
            f"subset {subset!r}: {len(cross)} group(s) of identical images under different "
            f"identities, first: {first} (--duplicates error)"
        )
    excluded = 0
    if cross and policy == "exclude":
        if pairs is None:
            raise DatasetError(
                f"subset {subset!r}: identical images under different identities cannot be "
                "left out of all-pairs block scoring; fix the data, or pass --duplicates keep "
                "or --sample-pairs N"
            )
        digest = np.array([h or f"#{i}" for i, h in enumerate(hashes)], dtype=object)
        same = (digest[pairs.a] == digest[pairs.b]) & ~pairs.label
        excluded = int(same.sum())
        if excluded:
            keep = ~same
            pairs = Pairs(pairs.a[keep], pairs.b[keep], pairs.label[keep])
    note = ""
    if groups:
        note = (
            f"subset {subset!r}: {len(groups)} group(s) of byte-identical images "
            f"({len(groups) - len(cross)} within one identity, {len(cross)} across identities)"
        )
        if excluded:
            note += f"; {excluded} impostor pair(s) of identical images left out"
        elif cross and policy == "keep":
            note += "; their impostor pairs are scored (--duplicates keep)"
    return pairs, DuplicateReport(named, len(cross), excluded, note)
