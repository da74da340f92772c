"""One model's whole differential analysis at one threshold: group rates and ratios, the
cross-group impostor matrix, summary measures of inequity, and who carries the errors.

Every interval comes from the same identity-bootstrap draws (people resampled within their
group), and every leave-one-out range from the same person weights, so the figures of one
analysis agree with each other. Pure: arrays in, frozen dataclasses out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from face_bench.core.errors import MetricError
from face_bench.metrics import inequity
from face_bench.metrics.differentials import (
    MIN_PEOPLE,
    Counted,
    GroupedPairs,
    GroupRates,
    RateEstimate,
    Resampler,
    percentile_interval,
    rate_estimate,
    ratio_estimate,
)

TOP = 5
"""How many people and pairs of people the zoo lists per group."""
CONCENTRATED = 0.5
"""One pair of people holding this share of a group's false matches (of at least 3) is a
warning: the group's FMR is about those two people, not the group."""


@dataclass(frozen=True)
class MatrixCell:
    """FMR of the impostor pairs between two groups (the same group twice: within it)."""

    group_a: str
    group_b: str
    fmr: RateEstimate


@dataclass(frozen=True)
class SummaryMeasure:
    """A summary of inequity with its identity-bootstrap interval.

    ``zero_bounded``: groups whose zero rate entered as its rule-of-three bound.
    """

    name: str
    rate: str  # "fmr", "fnmr" or "both"
    estimate: float | None
    lower: float | None
    upper: float | None
    zero_bounded: tuple[str, ...]


@dataclass(frozen=True)
class ZooPair:
    person_a: str
    person_b: str
    errors: int
    pairs: int
    share: float


@dataclass(frozen=True)
class ZooPerson:
    person: str
    errors: int
    pairs: int
    share: float


@dataclass(frozen=True)
class GroupZoo:
    """Who carries a group's errors: false-match pairs of people, false-match people
    (lambs and wolves), false-non-match people (goats), each with their share."""

    group: str
    false_match_pairs: tuple[ZooPair, ...]
    false_match_people: tuple[ZooPerson, ...]
    false_non_match_people: tuple[ZooPerson, ...]
    warning: str | None


@dataclass(frozen=True)
class DifferentialAnalysis:
    threshold: float  # score units (higher = same person)
    reference: str
    groups: tuple[GroupRates, ...]
    matrix: tuple[MatrixCell, ...]
    summary: tuple[SummaryMeasure, ...]
    zoo: tuple[GroupZoo, ...]
    warnings: tuple[str, ...]
    n_boot: int
    seed: int
    confidence: float
    alpha: float


def analyse(
    pairs: GroupedPairs,
    threshold: float,
    reference: int,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    alpha: float = 0.5,
    min_people: int = MIN_PEOPLE,
) -> DifferentialAnalysis:
    """Differentials of every group against ``reference`` at ``threshold`` (score units)."""
    if not 0 < confidence < 1 or not 0 <= alpha <= 1 or n_boot < 0:
        raise MetricError("confidence in (0, 1), alpha in [0, 1] and n_boot >= 0 are required")
    accepted = pairs.scores >= np.float64(threshold)
    y = pairs.labels.astype(bool)
    resampler = Resampler(pairs, n_boot, seed)
    n_groups = len(pairs.groups)
    fm = [resampler.count(pairs, pairs.within(g) & ~y, accepted) for g in range(n_groups)]
    fnm = [resampler.count(pairs, pairs.within(g) & y, ~accepted) for g in range(n_groups)]
    people = [pairs.people_in(g) for g in range(n_groups)]
    if people[reference] < min_people:
        raise MetricError(
            f"reference group {pairs.groups[reference]!r} has {people[reference]} people; "
            f"a differential needs at least {min_people}"
        )
    strata = pairs.person_groups()
    rows = tuple(
        _group_rates(pairs, g, reference, fm, fnm, people[g], strata, confidence, min_people)
        for g in range(n_groups)
    )
    usable = [g for g in range(n_groups) if rows[g].status is None]
    zoo = tuple(_zoo(pairs, g, fm[g], fnm[g]) for g in usable)
    warnings = tuple(z.warning for z in zoo if z.warning)
    return DifferentialAnalysis(
        threshold=float(threshold),
        reference=pairs.groups[reference],
        groups=rows,
        matrix=_matrix(pairs, accepted & ~y, resampler, confidence),
        summary=_summary(pairs, usable, fm, fnm, n_boot, confidence, alpha),
        zoo=zoo,
        warnings=warnings,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
        alpha=alpha,
    )


def _group_rates(
    pairs: GroupedPairs,
    g: int,
    ref: int,
    fm: list[Counted],
    fnm: list[Counted],
    n_people: int,
    strata: np.ndarray,
    confidence: float,
    min_people: int,
) -> GroupRates:
    name = pairs.groups[g]
    fmr, fnmr = rate_estimate(fm[g], confidence), rate_estimate(fnm[g], confidence)
    if n_people < min_people:
        status = f"too few people for a statement ({n_people} < {min_people})"
        withheld = [RateEstimate(r.errors, r.n, None, None, None, "withheld") for r in (fmr, fnmr)]
        return GroupRates(name, n_people, withheld[0], withheld[1], None, None, status)
    if g == ref:
        return GroupRates(name, n_people, fmr, fnmr, None, None, None)
    involved = (strata == g) | (strata == ref)
    return GroupRates(
        name,
        n_people,
        fmr,
        fnmr,
        ratio_estimate(fm[g], fm[ref], pairs.people, involved, confidence),
        ratio_estimate(fnm[g], fnm[ref], pairs.people, involved, confidence),
        None,
    )


def _matrix(
    pairs: GroupedPairs, false_match: np.ndarray, resampler: Resampler, confidence: float
) -> tuple[MatrixCell, ...]:
    impostor = ~pairs.labels.astype(bool)
    cells = []
    n = len(pairs.groups)
    for g1 in range(n):
        for g2 in range(g1, n):
            mask = pairs.between(g1, g2) & impostor
            if not mask.any():
                continue
            counted = resampler.count(pairs, mask, false_match)
            cells.append(
                MatrixCell(pairs.groups[g1], pairs.groups[g2], rate_estimate(counted, confidence))
            )
    return tuple(cells)


Measure = Callable[[np.ndarray], np.ndarray]


def _stack(counted: list[Counted], usable: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Errors and pairs per usable group: (groups,) for the data."""
    e = np.array([counted[g].table.n_errors for g in usable], dtype=np.float64)
    n = np.array([counted[g].table.n_pairs for g in usable], dtype=np.float64)
    return e, n


def _stack_boot(counted: list[Counted], usable: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The same per bootstrap replicate: (replicates, groups)."""
    e = np.stack([counted[g].reps.boot_errors for g in usable], axis=-1)
    n = np.stack([counted[g].reps.boot_pairs for g in usable], axis=-1)
    return e, n


def _plain(e: np.ndarray, n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, e / np.where(n > 0, n, 1.0), np.nan)


def _summary(
    pairs: GroupedPairs,
    usable: list[int],
    fm: list[Counted],
    fnm: list[Counted],
    n_boot: int,
    confidence: float,
    alpha: float,
) -> tuple[SummaryMeasure, ...]:
    """max/min, max/geomean (per rate), GARBE and FDR over the groups with a statement."""
    if len(usable) < 2:
        return ()
    names = [pairs.groups[g] for g in usable]
    out: list[SummaryMeasure] = []
    plain: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    ratios: tuple[tuple[str, Measure], ...] = (
        ("max/min", inequity.max_min),
        ("max/geomean", inequity.max_geomean),
    )
    for label, counted in (("fmr", fm), ("fnmr", fnm)):
        e, n = _stack(counted, usable)
        zero = tuple(name for name, errors in zip(names, e, strict=True) if errors == 0)
        boot: tuple[np.ndarray, np.ndarray] | None = (
            _stack_boot(counted, usable) if n_boot else None
        )
        bounded = inequity.with_zero_bounds(e, n)
        bounded_b = None if boot is None else inequity.with_zero_bounds(*boot)
        for measure_name, fn in ratios:
            name = f"{measure_name} {label.upper()}"
            out.append(_measure(name, label, fn, bounded, bounded_b, zero, confidence))
        plain[label] = (_plain(e, n), None if boot is None else _plain(*boot))
    (a, ab), (b, bb) = plain["fmr"], plain["fnmr"]
    for measure_name, fn2 in (("GARBE", inequity.garbe), ("FDR", inequity.fdr)):
        point = float(fn2(a, b, alpha))
        lo = hi = None
        if ab is not None and bb is not None:
            lo, hi = percentile_interval(np.asarray(fn2(ab, bb, alpha)), confidence)
        finite = point if np.isfinite(point) else None
        out.append(SummaryMeasure(measure_name, "both", finite, lo, hi, ()))
    return tuple(out)


def _measure(
    name: str,
    rate: str,
    fn: Measure,
    point_rates: np.ndarray,
    boot_rates: np.ndarray | None,
    zero: tuple[str, ...],
    confidence: float,
) -> SummaryMeasure:
    point = float(fn(point_rates))
    lo = hi = None
    if boot_rates is not None:
        lo, hi = percentile_interval(np.asarray(fn(boot_rates)), confidence)
    return SummaryMeasure(name, rate, point if np.isfinite(point) else None, lo, hi, zero)


def _zoo(pairs: GroupedPairs, g: int, fm: Counted, fnm: Counted) -> GroupZoo:
    name = pairs.groups[g]
    people = pairs.people
    total_fm = fm.table.n_errors
    top_pairs = tuple(
        ZooPair(people[p], people[q], e, n, e / total_fm)
        for p, q, e, n in fm.table.top_error_pairs(TOP)
    )
    fm_people = _top_people(fm, people, total_fm)
    fnm_people = _top_people(fnm, people, fnm.table.n_errors)
    warning = None
    if top_pairs and total_fm >= 3 and top_pairs[0].share >= CONCENTRATED:
        t = top_pairs[0]
        warning = (
            f"{name}: {t.errors} of its {total_fm} false matches are one pair of people "
            f"({t.person_a} / {t.person_b}); its FMR is about them, not the group"
        )
    return GroupZoo(name, top_pairs, fm_people, fnm_people, warning)


def _top_people(counted: Counted, people: tuple[str, ...], total: int) -> tuple[ZooPerson, ...]:
    if total == 0:
        return ()
    errors = counted.table.by_person()
    n = counted.table.pairs_by_person()
    order = [i for i in np.lexsort((np.arange(errors.size), -errors))[:TOP] if errors[i] > 0]
    return tuple(
        ZooPerson(people[i], int(errors[i]), int(n[i]), float(errors[i] / total)) for i in order
    )
