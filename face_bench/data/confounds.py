"""Confounds: do the compared groups differ in something other than who is in them?

A differential between two groups is only about the groups when everything else is alike.
If one group's images all come from one source at 200 px and the other's from another at
600 px, the "demographic" gap may be a source or resolution gap. For every manifest column
that does not define the groups (and for the image width and height, read from the file
headers without decoding), the groups are compared:

- a categorical column: the contingency table groups x values and Cramér's V (0 = the same
  mix in every group, 1 = each value belongs to one group); a warning at V >= ``MIN_V``;
- a numeric column (image width, height, any numeric metadata): the five-number summary
  (min, quartiles, max) per group and the
  largest two-sample Kolmogorov-Smirnov distance between two groups (the most any threshold
  splits them apart: 0 = the same distribution, 1 = no overlap); a warning at
  D >= ``MIN_KS``. Unlike a ratio of medians it also sees a minority at another size.

Columns whose values are nearly all distinct (an id or a file path: more distinct values
than ``MAX_DISTINCT_SHARE`` of the rows) say nothing about a mix and are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

MIN_V = 0.5
"""Cramér's V at or above which a categorical column is a confound warning."""
MIN_KS = 0.5
"""Kolmogorov-Smirnov distance at or above which a numeric column is a confound warning."""
MAX_DISTINCT_SHARE = 0.5
SIZE_COLUMNS = ("image_width", "image_height")
NOT_METADATA = ("path", "identity")


@dataclass(frozen=True)
class Confound:
    """One column compared across the groups."""

    column: str
    kind: str  # "categorical" | "numeric"
    strength: float | None  # Cramér's V, or the largest Kolmogorov-Smirnov distance
    warn: bool
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # group -> value -> n
    five_numbers: dict[str, list[float]] = field(default_factory=dict)  # min, q1, med, q3, max

    @property
    def measure(self) -> str:
        return "cramers_v" if self.kind == "categorical" else "ks_distance"


def image_sizes(paths: Sequence[Path]) -> pd.DataFrame:
    """Width and height of each image from its header (NaN when unreadable): no decoding."""
    rows: list[tuple[float, float]] = []
    for path in paths:
        try:
            with Image.open(path) as image:
                rows.append((float(image.size[0]), float(image.size[1])))
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
            rows.append((np.nan, np.nan))
    return pd.DataFrame(rows, columns=list(SIZE_COLUMNS), dtype=float)


def cramers_v(table: np.ndarray) -> float | None:
    """Cramér's V of a contingency table (None when a margin has fewer than two levels).

    The operations of ``scipy.stats.contingency.association(table, method="cramer")`` in
    its order, so the value is the same to the last bit (``tests/test_data_quality.py``
    compares them), without the second or so that importing ``scipy.stats`` costs a report.
    """
    table = np.asarray(table, dtype=np.int64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return None
    observed = table.astype(np.float64)
    rows = np.sum(observed, axis=1, keepdims=True)
    columns = np.sum(observed, axis=0, keepdims=True)
    expected = rows * columns / observed.sum()
    chi2 = np.sum((observed - expected) ** 2 / expected, axis=None)
    return math.sqrt(chi2 / table.sum() / (min(table.shape) - 1))


def _numeric(values: pd.Series) -> pd.Series | None:
    parsed = pd.to_numeric(values, errors="coerce")
    present = values.notna() & (values.astype(str).str.strip() != "")
    if not present.any() or parsed[present].isna().any():
        return None
    return parsed


def _categorical(column: str, groups: Mapping[str, pd.DataFrame]) -> Confound | None:
    values = {g: frame[column].fillna("").astype(str) for g, frame in groups.items()}
    levels = sorted(set().union(*(set(v) for v in values.values())))
    total = sum(len(v) for v in values.values())
    if len(levels) > MAX_DISTINCT_SHARE * total:
        return None  # an identifier, not a mix
    counts = {g: {lv: int((v == lv).sum()) for lv in levels} for g, v in values.items()}
    v_stat = cramers_v(np.array([[counts[g][lv] for lv in levels] for g in counts]))
    warn = v_stat is not None and v_stat >= MIN_V
    return Confound(column, "categorical", v_stat, warn, counts=counts)


def ks_distance(groups: Sequence[np.ndarray]) -> float | None:
    """The largest two-sample Kolmogorov-Smirnov distance between any two groups."""
    present = [g for g in groups if g.size]
    if len(present) < 2:
        return None
    return max(_ks_statistic(a, b) for i, a in enumerate(present) for b in present[i + 1 :])


def _ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """``scipy.stats.ks_2samp(a, b).statistic`` (two-sided) by its own steps, without the
    p-value (exact for these sizes, and costly) or the import of ``scipy.stats``."""
    a, b = np.sort(a), np.sort(b)
    both = np.concatenate([a, b])
    diffs = np.searchsorted(a, both, side="right") / a.shape[0]
    diffs = diffs - np.searchsorted(b, both, side="right") / b.shape[0]
    d = float(max(np.clip(-diffs[np.argmin(diffs)], 0, 1), diffs[np.argmax(diffs)]))
    n1, n2 = a.shape[0], b.shape[0]
    if max(n1, n2) <= KS_EXACT_MAX_N:  # scipy's exact method snaps d to a multiple of 1/lcm
        lcm = (n1 // math.gcd(n1, n2)) * n2
        d = int(np.round(d * lcm)) * 1.0 / lcm
    return d


KS_EXACT_MAX_N = 10_000  # ks_2samp's method="auto" is exact up to this sample size


def _numeric_confound(column: str, groups: Mapping[str, pd.Series]) -> Confound:
    values = {g: s.dropna().to_numpy(float) for g, s in groups.items()}
    five = {
        g: [float(x) for x in np.quantile(v, [0, 0.25, 0.5, 0.75, 1])]
        for g, v in values.items()
        if v.size
    }
    distance = ks_distance(list(values.values()))
    warn = distance is not None and distance >= MIN_KS
    return Confound(column, "numeric", distance, warn, five_numbers=five)


def compare_groups(
    groups: Mapping[str, pd.DataFrame], defining: Sequence[str] = ()
) -> list[Confound]:
    """Every usable column compared across the groups (``defining``: columns that define
    the groups, which differ by construction and are left out)."""
    if len(groups) < 2:
        return []
    skip = set(NOT_METADATA) | set(defining)
    columns = [c for c in next(iter(groups.values())).columns if c not in skip]
    out: list[Confound] = []
    for column in columns:
        series = {g: frame[column] for g, frame in groups.items()}
        parsed = {g: _numeric(s) for g, s in series.items()}
        result: Confound | None
        if all(p is not None for p in parsed.values()):
            result = _numeric_confound(column, {g: p for g, p in parsed.items() if p is not None})
        else:
            result = _categorical(column, groups)
        if result is not None:
            out.append(result)
    return out
