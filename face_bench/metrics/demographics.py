"""FMR by pair demographics: NIST FRTE's cross-demographic false match rates.

Impostor pairs of two people of the same sex and age group are harder than pairs of a man
and a woman, so a subset whose impostors are all "matched" (young women vs young women)
meets a harder test than one with mostly mixed pairs. Comparing subsets on matched
impostors only separates "the model confuses these people" from "this subset has harder
impostor pairs".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from face_bench.metrics.confusion import check_scores

DEMOGRAPHIC_COLUMNS = ("sex", "age_group")
_UNKNOWN = {"", "unknown", "nan", "none"}


def matched_pairs(table: Any, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """True where both images' people share sex and age group (both known).

    ``table`` is the image table (pandas) with the manifest's columns; None when it lacks
    one of DEMOGRAPHIC_COLUMNS, so callers can leave the figures out.
    """
    if any(c not in table.columns for c in DEMOGRAPHIC_COLUMNS):
        return None
    same = np.ones(len(a), dtype=bool)
    for column in DEMOGRAPHIC_COLUMNS:
        values = table[column].astype(str).str.strip().str.lower().to_numpy()
        known = ~np.isin(values, list(_UNKNOWN))
        same &= (values[a] == values[b]) & known[a] & known[b]
    return same


@dataclass(frozen=True)
class GroupFmr:
    """FMR over one group of impostor pairs at one threshold, with its counts."""

    group: str
    fmr: float | None
    fmr_errors: int
    n_impostor: int


def fmr_by_group(scores: Any, labels: Any, matched: Any, threshold: float) -> list[GroupFmr]:
    """FMR of matched (same sex and age group) and other impostor pairs at ``threshold``."""
    s, y = check_scores(scores, labels)
    m = np.asarray(matched, dtype=bool)
    accepted = s >= np.float64(threshold)
    out = []
    for name, mask in (("same sex and age group", m & ~y), ("other", ~m & ~y)):
        n = int(np.count_nonzero(mask))
        errors = int(np.count_nonzero(accepted & mask))
        out.append(GroupFmr(name, errors / n if n else None, errors, n))
    return out
