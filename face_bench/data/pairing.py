"""Labelled pairs from a pair-list CSV, matched to a dataset's images and a subset.

A published pair list (deepface's ``master.csv``) is a protocol: its labels are what
is being measured against, so they are used as written and only checked against the
manifest's identities, never replaced by them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from face_bench.core.errors import EmptySubsetError, PairsFileError
from face_bench.data.datasets import Dataset, Pairs
from face_bench.data.protocols import parse_pairs_csv, resolve_pair_paths


def _keep_pairs(listed, resolved, known: list[str], in_pool: set[str], path: Path):
    """Distinct pairs with both images in the subset; (kept, n merged, n outside, n seen).

    Two file lines naming the same two dataset images are one pair; the same two images
    with both labels are an error.
    """
    seen: dict[tuple[str, str], tuple[int, bool]] = {}
    kept: list[tuple[str, str, bool]] = []
    n_outside = n_merged = 0
    for item, (ia, ib, label) in zip(listed.pairs, resolved, strict=True):
        a, b = known[ia], known[ib]
        key = (min(a, b), max(a, b))
        if key in seen:
            if seen[key][1] != label:
                raise PairsFileError(
                    f"{path} line {item.line}: {a!r} and {b!r} were already paired on line "
                    f"{seen[key][0]} with the other label"
                )
            n_merged += 1
            continue
        seen[key] = (item.line, label)
        if a in in_pool and b in in_pool:
            kept.append((a, b, label))
        else:
            n_outside += 1
    return kept, n_merged, n_outside, len(seen)


def _note(path: Path, summary, kept, n_merged: int, n_outside: int, disagree: int) -> str:
    """One line saying what the pair file gave and what was skipped."""
    n_genuine = sum(label for _, _, label in kept)
    parts = [
        f"pairs file {Path(path).name}: {len(kept)} pairs scored "
        f"({n_genuine} same, {len(kept) - n_genuine} different) of {summary.n_rows} rows",
        f"{summary.n_duplicates + n_merged} duplicate(s) skipped",
        f"{summary.n_self_pairs} self-pair(s) skipped",
        f"{n_outside} dropped outside this subset",
    ]
    if disagree:
        parts.append(
            f"{disagree} label(s) disagree with the manifest's identities (the file's labels "
            "are used)"
        )
    else:
        parts.append("labels agree with the manifest's identities")
    return "; ".join(parts)


def pairs_from_file(
    dataset: Dataset, pool: pd.DataFrame, path: Path
) -> tuple[pd.DataFrame, Pairs, str]:
    """The subset's images named by the pairs file, the pairs as indices into them, a note.

    Names are resolved against the whole dataset, so a pair whose images exist but lie
    outside the subset is dropped and counted rather than reported as unknown. Two
    file lines that name the same two dataset images (say ``img1.jpg`` and
    ``images/x/img1.jpg``) are one pair. The returned images are sorted by path.
    """
    listed = parse_pairs_csv(path)
    known = dataset.table["path"].tolist()
    resolved = resolve_pair_paths(listed.pairs, known, source=str(path))
    kept, n_merged, n_outside, n_seen = _keep_pairs(
        listed, resolved, known, set(pool["path"]), path
    )
    if not kept:
        raise EmptySubsetError(
            f"{path}: none of its {n_seen} pairs has both images in this subset "
            f"({len(pool)} images)"
        )
    used = {p for a, b, _ in kept for p in (a, b)}
    images = (
        pool.loc[pool["path"].isin(used)]
        .sort_values("path", kind="mergesort")
        .reset_index(drop=True)
    )
    position = {p: i for i, p in enumerate(images["path"])}
    a_idx = np.array([position[a] for a, _, _ in kept], dtype=np.int64)
    b_idx = np.array([position[b] for _, b, _ in kept], dtype=np.int64)
    labels = np.array([label for _, _, label in kept], dtype=bool)
    identities = images["identity"].to_numpy()
    disagree = int(np.sum(labels != (identities[a_idx] == identities[b_idx])))
    note = _note(path, listed.summary, kept, n_merged, n_outside, disagree)
    return images, Pairs(a=a_idx, b=b_idx, label=labels), note
