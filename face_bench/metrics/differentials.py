"""Demographic differentials at one threshold, with the person as the unit of uncertainty.

ISO/IEC 19795-10 and NIST FRTE Part 3 practice: one threshold, fixed at a target FMR on a
reference group's impostors, is applied to every group; each group's FMR (impostor pairs
within the group) and FNMR (its genuine pairs) is reported with its counts and a 95 %
interval from the identity bootstrap (people resampled within their group, so pairs that
share a person are never treated as independent); each rate's ratio to the reference
comes with its interval, a leave-one-person-out range and an identity-level test.

No ratio is ever infinite: a rate with no error has the rule-of-three upper bound 3/n
(95 %), and a ratio over a reference without error is reported as the lower bound
``rate / (3 / n_reference)``. Summary measures of inequity and the cross-group impostor
matrix live in ``metrics.inequity``; who carries the errors in ``metrics.zoo``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics.operating import threshold_at_fmr
from face_bench.metrics.person_weights import PersonTable, leave_one_out, stratified_draws

MIN_PEOPLE = 5
"""Fewer people than this in a group: its rates are withheld (too few for a statement)."""
RULE_OF_THREE = 3.0
"""95 % upper bound on a rate with 0 errors in n trials: 3 / n."""


@dataclass(frozen=True)
class GroupedPairs:
    """Scored pairs with each side's person and group (codes into ``people``/``groups``)."""

    scores: np.ndarray
    labels: np.ndarray
    person_a: np.ndarray
    person_b: np.ndarray
    group_a: np.ndarray
    group_b: np.ndarray
    groups: tuple[str, ...]
    people: tuple[str, ...]

    def within(self, group: int) -> np.ndarray:
        mask: np.ndarray = (self.group_a == group) & (self.group_b == group)
        return mask

    def between(self, g1: int, g2: int) -> np.ndarray:
        one = (self.group_a == g1) & (self.group_b == g2)
        other = (self.group_a == g2) & (self.group_b == g1)
        mask: np.ndarray = one | other
        return mask

    def person_groups(self) -> np.ndarray:
        """Each person's group: the one most of their pair sides fall in."""
        n_g = len(self.groups)
        codes = np.concatenate(
            [self.person_a * n_g + self.group_a, self.person_b * n_g + self.group_b]
        )
        counts = np.bincount(codes, minlength=len(self.people) * n_g).reshape(-1, n_g)
        groups: np.ndarray = counts.argmax(axis=1)
        return groups

    def people_in(self, group: int) -> int:
        mask = self.within(group)
        return int(np.unique(np.concatenate([self.person_a[mask], self.person_b[mask]])).size)


@dataclass(frozen=True)
class RateEstimate:
    """A counted rate with its 95 % interval; ``method`` says how the interval was formed."""

    errors: int
    n: int
    rate: float | None
    lower: float | None
    upper: float | None
    method: str


@dataclass(frozen=True)
class RatioEstimate:
    """A group's rate over the reference's, never infinite.

    ``estimate`` is None when the reference has no error; ``lower_bound`` then holds the
    rule-of-three bound. ``upper`` None with ``upper_unbounded``: some replicates had no
    reference error. ``loo_*``: the range when any one person of the two groups is left
    out, and who gives each end. ``p_value``: identity bootstrap, two-sided, of the rates'
    difference; ``difference_lower``/``_upper`` its interval.
    """

    estimate: float | None
    lower: float | None
    upper: float | None
    upper_unbounded: bool
    lower_bound: float | None
    loo_min: float | None
    loo_max: float | None
    loo_min_without: str | None
    loo_max_without: str | None
    loo_unbounded_without: str | None
    difference: float | None
    difference_lower: float | None
    difference_upper: float | None
    p_value: float | None
    note: str | None


@dataclass(frozen=True)
class GroupRates:
    """One group's rates at the threshold, and their ratios to the reference."""

    name: str
    n_people: int
    fmr: RateEstimate
    fnmr: RateEstimate
    fmr_ratio: RatioEstimate | None
    fnmr_ratio: RatioEstimate | None
    status: str | None  # why rates are withheld (too few people), else None


@dataclass(frozen=True)
class Replicates:
    """Error and pair weights per bootstrap replicate and per left-out person."""

    boot_errors: np.ndarray
    boot_pairs: np.ndarray
    loo_errors: np.ndarray
    loo_pairs: np.ndarray

    def boot_rates(self) -> np.ndarray:
        return _ratio(self.boot_errors, self.boot_pairs)

    def loo_rates(self) -> np.ndarray:
        return _ratio(self.loo_errors, self.loo_pairs)


def _ratio(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, e / np.where(n > 0, n, 1.0), np.nan)


@dataclass(frozen=True)
class Counted:
    """A pair class's person table with its replicates."""

    table: PersonTable
    reps: Replicates

    @property
    def point(self) -> float | None:
        t = self.table
        return t.n_errors / t.n_pairs if t.n_pairs else None


class Resampler:
    """The bootstrap and leave-one-out weights of one analysis, drawn once."""

    def __init__(self, pairs: GroupedPairs, n_boot: int, seed: int):
        self.n_people = len(pairs.people)
        self.n_boot = n_boot
        self.boot = stratified_draws(pairs.person_groups(), n_boot, seed)
        self.loo = leave_one_out(self.n_people)

    def count(self, pairs: GroupedPairs, mask: np.ndarray, error: np.ndarray) -> Counted:
        table = PersonTable.build(
            pairs.person_a[mask], pairs.person_b[mask], error[mask], self.n_people
        )
        be, bn = table.weighted(self.boot) if self.n_boot else (np.empty(0), np.empty(0))
        le, ln = table.weighted(self.loo)
        return Counted(table, Replicates(be, bn, le, ln))


def reference_threshold(pairs: GroupedPairs, reference: int, far_target: float) -> float:
    """The threshold with FMR <= ``far_target`` on the reference group's own impostors."""
    mask = pairs.within(reference)
    y = pairs.labels[mask]
    n_imp = int(y.size - np.count_nonzero(y))
    if n_imp == 0 or np.count_nonzero(y) == 0:
        raise MetricError(
            f"reference group {pairs.groups[reference]!r} needs genuine and impostor pairs"
        )
    thr = threshold_at_fmr(pairs.scores[mask], y, far_target)
    if thr is None:
        raise MetricError(
            f"insufficient data: reference group {pairs.groups[reference]!r} has {n_imp:,} "
            f"impostor pairs, FMR {far_target:g} needs at least {int(np.ceil(1 / far_target)):,}"
        )
    return thr


def rate_estimate(counted: Counted, confidence: float) -> RateEstimate:
    """Point rate with its identity-bootstrap interval, or the rule-of-three bound at 0."""
    t = counted.table
    if t.n_pairs == 0:
        return RateEstimate(0, 0, None, None, None, "no pairs")
    rate = t.n_errors / t.n_pairs
    if t.n_errors == 0:
        return RateEstimate(0, t.n_pairs, 0.0, 0.0, RULE_OF_THREE / t.n_pairs, "rule of three")
    reps = counted.reps.boot_rates()
    lo, hi = percentile_interval(reps, confidence)
    return RateEstimate(t.n_errors, t.n_pairs, rate, lo, hi, "identity bootstrap")


def percentile_interval(reps: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    """Percentile interval of the finite replicates (None, None when there are none)."""
    valid = reps[np.isfinite(reps)]
    if valid.size == 0:
        return None, None
    tail = 100 * (1 - confidence) / 2
    lo, hi = np.percentile(valid, [tail, 100 - tail])
    return float(lo), float(hi)


def bootstrap_p_value(diffs: np.ndarray) -> float | None:
    """Two-sided identity-bootstrap p-value of "difference = 0" (percentile inversion).

    Twice the smaller share of replicates on either side of 0, with the +1 correction so
    that it is never 0: the smallest value a run of B replicates can report is 2/(B+1).
    """
    valid = diffs[np.isfinite(diffs)]
    if valid.size == 0:
        return None
    b = valid.size
    below = (np.count_nonzero(valid <= 0) + 1) / (b + 1)
    above = (np.count_nonzero(valid >= 0) + 1) / (b + 1)
    return float(min(1.0, 2 * min(below, above)))


def _loo_range(
    group: Counted, ref: Counted, people: tuple[str, ...], involved: np.ndarray
) -> tuple[float | None, float | None, str | None, str | None, str | None]:
    ratios = _ratio(group.reps.loo_rates(), ref.reps.loo_rates())
    ratios = np.where(involved, ratios, np.nan)
    g_loo = group.reps.loo_rates()
    r_loo = ref.reps.loo_rates()
    unbounded = involved & (r_loo == 0) & (g_loo > 0)
    without_inf = people[int(np.flatnonzero(unbounded)[0])] if unbounded.any() else None
    finite = np.isfinite(ratios)
    if not finite.any():
        return None, None, None, None, without_inf
    idx = np.flatnonzero(finite)
    lo_i = idx[int(np.argmin(ratios[idx]))]
    hi_i = idx[int(np.argmax(ratios[idx]))]
    return float(ratios[lo_i]), float(ratios[hi_i]), people[lo_i], people[hi_i], without_inf


def ratio_estimate(
    group: Counted,
    ref: Counted,
    people: tuple[str, ...],
    involved: np.ndarray,
    confidence: float,
) -> RatioEstimate:
    """The group's rate over the reference's: estimate or bound, interval, LOO, p-value."""
    g, r = group.point, ref.point
    if g is None or r is None:
        return RatioEstimate(
            None,
            None,
            None,
            False,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            "no pairs in one group",
        )
    loo = _loo_range(group, ref, people, involved)
    boot_g, boot_r = group.reps.boot_rates(), ref.reps.boot_rates()
    diff = g - r
    d_lo, d_hi = percentile_interval(boot_g - boot_r, confidence)
    p = bootstrap_p_value(boot_g - boot_r) if boot_g.size else None
    if ref.table.n_errors == 0:
        bound = g / (RULE_OF_THREE / ref.table.n_pairs) if g > 0 else None
        note = (
            f"reference has 0 errors in {ref.table.n_pairs:,}: ratio >= {bound:.3g} (rule of three)"
            if bound is not None
            else "no errors in either group"
        )
        return RatioEstimate(None, None, None, False, bound, *loo, diff, d_lo, d_hi, p, note)
    if group.table.n_errors == 0:  # the group's rule-of-three bound over the reference rate
        bound = (RULE_OF_THREE / group.table.n_pairs) / r
        note = f"no errors in {group.table.n_pairs:,}: ratio <= {bound:.3g} (rule of three)"
        return RatioEstimate(0.0, 0.0, bound, False, None, *loo, diff, d_lo, d_hi, p, note)
    lo = hi = None
    unbounded = False
    if boot_g.size:
        with np.errstate(invalid="ignore", divide="ignore"):
            reps = np.where(boot_r > 0, boot_g / np.where(boot_r > 0, boot_r, 1.0), np.inf)
        reps = np.where(
            np.isnan(boot_g) | np.isnan(boot_r) | ((boot_r == 0) & (boot_g == 0)), np.nan, reps
        )
        valid = reps[~np.isnan(reps)]
        if valid.size:
            tail = (1 - confidence) / 2
            lo_v, hi_v = np.quantile(valid, [tail, 1 - tail], method="inverted_cdf")
            lo = float(lo_v) if np.isfinite(lo_v) else None
            unbounded = not np.isfinite(hi_v)
            hi = None if unbounded else float(hi_v)
    return RatioEstimate(g / r, lo, hi, unbounded, None, *loo, diff, d_lo, d_hi, p, None)
