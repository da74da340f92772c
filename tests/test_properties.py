"""Property tests: manifests round-trip any name; the metric primitives keep their laws."""

from __future__ import annotations

import csv
import math
import re
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from face_bench.data.datasets import load_dataset
from face_bench.metrics.summary import (
    confusion_counts,
    equal_error_rate,
    rates_at_threshold,
    roc_auc,
    roc_curve,
    tar_at_far,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------ manifest round trip

# Any printable text, including CJK, emoji, commas, quotes, '<&>' and spaces; the path
# separator, backslash and NUL are left out of single path components.
_name_chars = st.characters(
    blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\\x00"
) | st.sampled_from(list(",\"' <>&;:#=山田花子😀"))
component = st.text(_name_chars, min_size=1, max_size=12).filter(lambda c: c not in (".", ".."))
# Refused by design, so not generated: a path of only blanks (empty) and one starting
# like a Windows drive ("C:/..."), which is an absolute path from another system.
relative_path = (
    st.lists(component, min_size=1, max_size=3)
    .map("/".join)
    .filter(lambda p: p.strip() and not re.match(r"[A-Za-z]:[/\\]", p))
)
identity = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
    | st.sampled_from(list(",\"'\n <b>&")),
    min_size=1,
    max_size=16,
).filter(lambda s: s.strip() != "")


@FAST
@given(
    st.lists(st.tuples(relative_path, identity), min_size=1, max_size=8, unique_by=lambda r: r[0])
)
def test_manifest_written_with_csv_loads_back_identical(rows):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with (root / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "identity", "note"])
            writer.writerows((path, who, f"{who},{path}") for path, who in rows)
        table = load_dataset(root).table
    expected = sorted(rows)
    assert list(zip(table["path"], table["identity"], strict=True)) == expected
    assert list(table["note"]) == [f"{who},{path}" for path, who in expected]


# ------------------------------------------------------------------------ metric laws

# Small integer scores give plenty of ties; both classes are always present.
scored_pairs = st.integers(min_value=2, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(-6, 6), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n).filter(lambda y: 0 < sum(y) < len(y)),
    )
)


def brute_force_auc(s: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney over every genuine/impostor pair, ties counting half."""
    gen, imp = s[y], s[~y]
    wins = (gen[:, None] > imp[None, :]).sum() + 0.5 * (gen[:, None] == imp[None, :]).sum()
    return float(wins / (gen.size * imp.size))


@FAST
@given(scored_pairs)
def test_auc_equals_the_pairwise_count(data):
    s, y = np.asarray(data[0], dtype=np.float64), np.asarray(data[1])
    expected = brute_force_auc(s, y)
    for method in ("sort", "search"):
        assert roc_auc(s, y, method=method) == expected


@FAST
@given(scored_pairs, st.sampled_from(["affine", "cube", "exp", "arctan"]))
def test_auc_is_invariant_under_strictly_increasing_maps(data, transform):
    s, y = np.asarray(data[0], dtype=np.float64), np.asarray(data[1])
    mapped = {
        "affine": lambda v: 3.5 * v - 7.0,
        "cube": lambda v: v**3,
        "exp": lambda v: np.exp(v / 4.0),
        "arctan": np.arctan,
    }[transform](s)
    assert roc_auc(mapped, y) == roc_auc(s, y)


@FAST
@given(scored_pairs)
def test_auc_of_negated_scores_is_one_minus_auc(data):
    s, y = np.asarray(data[0], dtype=np.float64), np.asarray(data[1])
    assert math.isclose(roc_auc(-s, y), 1.0 - roc_auc(s, y), abs_tol=1e-12)


@FAST
@given(scored_pairs)
def test_rates_at_returned_thresholds_match_brute_force(data):
    s, y = np.asarray(data[0], dtype=np.float64), np.asarray(data[1])
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    counts = confusion_counts(s, y)
    assert list(counts.thresholds) == sorted(set(s.tolist()), reverse=True)
    for thr, tp, fp in zip(counts.thresholds, counts.tp, counts.fp, strict=True):
        assert tp == np.count_nonzero((s >= thr) & y) and fp == np.count_nonzero((s >= thr) & ~y)
    roc = roc_curve(s, y)
    for fpr, tpr, thr in zip(roc.fpr, roc.tpr, roc.thresholds, strict=True):
        assert fpr == np.count_nonzero((s >= thr) & ~y) / n_neg
        assert tpr == np.count_nonzero((s >= thr) & y) / n_pos
        if np.isfinite(thr):
            rates = rates_at_threshold(s, y, thr)
            assert (rates.fmr, rates.recall) == (fpr, tpr)
            assert rates.fnmr == np.count_nonzero((s < thr) & y) / n_pos


@FAST
@given(scored_pairs, st.sampled_from([0.05, 0.1, 0.25, 0.5]))
def test_tar_at_far_is_the_best_tar_whose_far_fits_the_target(data, target):
    s, y = np.asarray(data[0], dtype=np.float64), np.asarray(data[1])
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    assume(target * n_neg >= 1)
    for method in ("sort", "search"):
        point = tar_at_far(s, y, [target], method=method)[0]
        assert point.supported == (target * n_neg >= 10 - 1e-9)
        far = np.count_nonzero((s >= point.threshold) & ~y) / n_neg
        tar = np.count_nonzero((s >= point.threshold) & y) / n_pos
        assert (point.achieved_far, point.tar) == (far, tar)
        assert far <= target + 1e-9
        # No distinct score below the chosen threshold also keeps FAR within the target.
        best = max(
            (np.count_nonzero((s >= t) & y) / n_pos for t in set(s.tolist())
             if np.count_nonzero((s >= t) & ~y) / n_neg <= target + 1e-9),
            default=0.0,
        )  # fmt: skip
        assert point.tar == best


@FAST
@given(scored_pairs)
def test_eer_lies_between_the_rates_at_its_threshold(data):
    s, y = np.asarray(data[0], dtype=np.float64), np.asarray(data[1])
    sorted_point = equal_error_rate(s, y, method="sort")
    searched = equal_error_rate(s, y, method="search")
    assert (sorted_point.eer, sorted_point.threshold) == (searched.eer, searched.threshold)
    rates = rates_at_threshold(s, y, sorted_point.threshold)
    low, high = sorted((rates.fmr, rates.fnmr))
    assert low - 1e-12 <= sorted_point.eer <= high + 1e-12
