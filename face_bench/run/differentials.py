"""The run's demographic differentials: groups, one reference threshold, every model.

Groups are the run's named subsets (``ordinary`` vs ``young_women``: each image in one) or,
with ``--by COLUMN[,COLUMN…]``, the values of manifest columns and their intersections
(``sex=F,age_group=young``), fairlearn's MetricFrame convention. A group's FMR and FNMR
come from exactly the pairs its subset scored (the rows of scores.csv); the cross-group
cells of the impostor matrix add every pair between two subsets' images. One threshold
per model is fixed at the target FMR on the reference group's impostors (NIST FRTE Part 3)
and applied to every group; ``pooled:`` fixes it on all groups' impostors together and
``default`` uses the model's default threshold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from face_bench.core.errors import ConfigError, MetricError
from face_bench.core.modes import OnFail
from face_bench.data.pairset import PairSet
from face_bench.embedding.pipeline import Embeddings
from face_bench.metrics.differentials import MIN_PEOPLE, GroupedPairs, reference_threshold
from face_bench.metrics.group_analysis import DifferentialAnalysis, analyse
from face_bench.metrics.operating import threshold_at_fmr
from face_bench.models.registry import ModelSpec
from face_bench.results import differentials as d
from face_bench.run.request import EvaluationRequest, parse_far_rule
from face_bench.run.subset_scores import BLOCKED_ABOVE, SubsetScores, score_pairset

DEFAULT_REFERENCE = "ordinary"


@dataclass(frozen=True)
class ThresholdRule:
    """How the one threshold per model is chosen: ``reference``, ``pooled`` or ``default``."""

    kind: str
    far_target: float

    def describe(self, reference: str) -> str:
        if self.kind == "default":
            return "the model's default threshold"
        where = (
            f"group {reference!r}'s impostors"
            if self.kind == "reference"
            else "all groups' impostors"
        )
        return f"FMR <= {self.far_target:g} on {where}"


def parse_threshold_rule(rule: str) -> ThresholdRule:
    """``far:1e-3`` (reference group, the default), ``pooled:1e-3`` or ``default``."""
    target = parse_far_rule(rule)
    if rule == "default":
        return ThresholdRule("default", target)
    return ThresholdRule("pooled" if rule.startswith("pooled:") else "reference", target)


def parse_by(value: str | None) -> tuple[str, ...]:
    """``sex,age_group`` -> ("sex", "age_group"); empty -> ()."""
    if not value:
        return ()
    columns = tuple(c.strip() for c in value.split(",") if c.strip())
    if len(set(columns)) != len(columns):
        raise ConfigError(f"--by names a column twice: {value!r}")
    return columns


def group_labels(images: pd.DataFrame, rows: np.ndarray, by: tuple[str, ...]) -> np.ndarray:
    missing = [c for c in by if c not in images.columns]
    if missing:
        have = ", ".join(c for c in images.columns if c not in ("path", "identity")) or "none"
        raise ConfigError(f"--by: no column {', '.join(missing)} in the manifest (columns: {have})")
    parts = [
        f"{c}="
        + images[c].iloc[rows].astype(str).str.strip().replace({"": "unknown", "nan": "unknown"})
        for c in by
    ]
    label = parts[0]
    for part in parts[1:]:
        label = label + "," + part
    return label.to_numpy(dtype=object)


def _union_pairs(scored: list[SubsetScores]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every subset's planned pairs plus every pair between two subsets' images (rows)."""
    notes: list[str] = []
    a_parts, b_parts = [], []
    for s in scored:
        a, b = s.planned.rows()
        a_parts.append(a)
        b_parts.append(b)
    all_pairs = all(s.planned.mode == "all" for s in scored)
    if len(scored) > 1 and all_pairs:
        for i, first in enumerate(scored):
            for second in scored[i + 1 :]:
                x, y = np.meshgrid(first.planned.members, second.planned.members, indexing="ij")
                keep = x.ravel() != y.ravel()
                a_parts.append(x.ravel()[keep])
                b_parts.append(y.ravel()[keep])
    elif len(scored) > 1:
        notes.append("pairs were drawn per subset, so the matrix has no cross-subset cells")
    a = np.concatenate(a_parts)
    b = np.concatenate(b_parts)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = np.unique(lo.astype(np.int64) * (int(hi.max(initial=0)) + 1) + hi)
    width = int(hi.max(initial=0)) + 1
    return key // width, key % width, notes


@dataclass(frozen=True)
class GroupSetup:
    """The pairs every model is scored on, each image's group and the reference."""

    pairs: PairSet
    group_of_row: dict[int, str]
    groups: tuple[str, ...]
    reference: str
    grouping: str
    notes: tuple[str, ...]


def _groups_of(
    scored: list[SubsetScores], images: pd.DataFrame, members: np.ndarray, by: tuple[str, ...]
) -> tuple[dict[int, str], str]:
    if by:
        labels = group_labels(images, members, by)
        return dict(zip(members.tolist(), labels.tolist(), strict=True)), "by " + ", ".join(by)
    owner: dict[int, str] = {}
    for s in scored:
        for row in s.planned.members.tolist():
            if owner.setdefault(row, s.name) != s.name:
                raise MetricError(
                    f"subsets {owner[row]!r} and {s.name!r} share images: differentials need "
                    "groups that share none (compare disjoint subsets, or use --by COLUMN)"
                )
    return owner, "subsets"


def _choose_reference(
    groups: tuple[str, ...], people: dict[str, int], reference: str | None
) -> str:
    if reference is not None:
        if reference not in groups:
            raise ConfigError(
                f"--reference {reference!r} is not a group of this run ({', '.join(groups)})"
            )
        return reference
    if DEFAULT_REFERENCE in groups:
        return DEFAULT_REFERENCE
    return max(groups, key=lambda g: (people[g], g))


PairFilter = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""Image-list rows (a, b) of the pairs -> which pairs to keep (a stratum, no suspects)."""


def setup_groups(
    scored: list[SubsetScores],
    images: pd.DataFrame,
    by: tuple[str, ...],
    reference: str | None,
    pair_filter: PairFilter | None = None,
) -> GroupSetup:
    """Which pairs, which groups, which reference; MetricError when no comparison exists."""
    if any(s.planned.implicit for s in scored):
        raise MetricError(
            "differentials need listed pairs: a sample above "
            f"{BLOCKED_ABOVE:,} pairs is scored in blocks"
        )
    a, b, notes = _union_pairs(scored)
    if pair_filter is not None:
        keep = np.asarray(pair_filter(a, b), dtype=bool)
        a, b = a[keep], b[keep]
    if len(a) > BLOCKED_ABOVE:
        raise MetricError(
            f"differentials need at most {BLOCKED_ABOVE:,} pairs, these subsets form {len(a):,}"
        )
    members = np.unique(np.concatenate([s.planned.members for s in scored]))
    group_of_row, grouping = _groups_of(scored, images, members, by)
    groups = tuple(sorted(set(group_of_row.values()), key=str))
    if len(groups) < 2:
        raise MetricError(f"differentials need two groups or more; this run has {len(groups)}")
    identities = images["identity"].to_numpy()
    people = {
        g: len({identities[r] for r, label in group_of_row.items() if label == g}) for g in groups
    }
    chosen = _choose_reference(groups, people, reference)
    label = identities[a] == identities[b]
    pairs = PairSet(members, a, b, label, "all")
    return GroupSetup(pairs, group_of_row, groups, chosen, grouping, tuple(notes))


def grouped_pairs(setup: GroupSetup, scored: SubsetScores) -> GroupedPairs:
    """One model's scored pairs (after failures) with person and group codes."""
    table = next(iter(scored.scores.values()))
    a, b = scored.pairs.rows()
    identities = scored.images["identity"].to_numpy()
    person_codes, people = pd.factorize(np.concatenate([identities[a], identities[b]]))
    index = {g: i for i, g in enumerate(setup.groups)}
    code = np.full(len(identities), -1, dtype=np.int64)  # image row -> group code
    for row, group in setup.group_of_row.items():
        code[row] = index[group]
    ga, gb = code[a], code[b]
    n = len(a)
    return GroupedPairs(
        table.scores,
        table.labels,
        person_codes[:n],
        person_codes[n:],
        ga,
        gb,
        setup.groups,
        tuple(str(p) for p in people),
    )


def choose_threshold(
    pairs: GroupedPairs, reference: int, rule: ThresholdRule, spec: ModelSpec
) -> float:
    """The one threshold (score units) every group is measured at."""
    if rule.kind == "default":
        return float(spec.to_score(spec.threshold))
    if rule.kind == "reference":
        return reference_threshold(pairs, reference, rule.far_target)
    within = pairs.group_a == pairs.group_b
    thr = threshold_at_fmr(pairs.scores[within], pairs.labels[within], rule.far_target)
    if thr is None:
        n_imp = int(np.count_nonzero(~pairs.labels[within].astype(bool)))
        raise MetricError(
            f"insufficient data: {n_imp:,} pooled impostor pairs cannot support "
            f"FMR {rule.far_target:g}"
        )
    return thr


def run_differentials(
    scored: list[SubsetScores],
    images: pd.DataFrame,
    embeddings: dict[str, Embeddings],
    specs: dict[str, ModelSpec],
    on_fail: OnFail,
    *,
    by: tuple[str, ...] = (),
    reference: str | None = None,
    rule: str = "far:1e-3",
    n_boot: int = 0,
    seed: int = 0,
    pair_filter: PairFilter | None = None,
) -> d.Differentials | None:
    """The ``differentials`` block of results.json; None when the run has one group.

    ``pair_filter`` restricts the pairs (data-quality reruns: within a stratum, without the
    suspected label errors); everything else is computed as for the run itself.
    """
    threshold_rule = parse_threshold_rule(rule)
    if len(scored) < 2 and not by:
        return None
    try:
        setup = setup_groups(scored, images, by, reference, pair_filter)
    except MetricError as exc:
        return d.Differentials.unavailable(str(exc), threshold_rule.far_target, n_boot, seed)
    union = score_pairset("differentials", images, setup.pairs, embeddings, specs, on_fail)
    models: dict[str, d.ModelDifferentials] = {}
    for name, spec in specs.items():
        single = SubsetScores(
            union.name,
            union.images,
            union.planned,
            union.pairs,
            {name: union.scores[name]},
            union.failed,
        )
        models[name] = _model_block(setup, single, spec, threshold_rule, n_boot, seed)
    return d.Differentials(
        grouping=setup.grouping,
        groups=list(setup.groups),
        reference=setup.reference,
        far_target=threshold_rule.far_target,
        threshold_rule=threshold_rule.describe(setup.reference),
        min_people=MIN_PEOPLE,
        n_boot=n_boot,
        seed=seed,
        confidence=0.95,
        models=models,
        notes=list(setup.notes),
    )


def request_differentials(
    request: EvaluationRequest,
    scored: list[SubsetScores],
    embeddings: dict[str, Embeddings],
    specs: dict[str, ModelSpec],
    pair_filter: PairFilter | None = None,
) -> d.Differentials | None:
    """The differentials a run's request asks for (groups, reference, threshold rule,
    bootstrap), on every pair or on those ``pair_filter`` keeps: the run itself and its
    data-quality reruns (a stratum, no suspects) are computed the same way."""
    return run_differentials(
        scored,
        scored[0].images,
        embeddings,
        specs,
        OnFail(request.on_fail),
        by=request.by,
        reference=request.reference,
        rule=request.differential_threshold,
        n_boot=request.bootstrap,
        seed=request.seed,
        pair_filter=pair_filter,
    )


def _model_block(
    setup: GroupSetup,
    scored: SubsetScores,
    spec: ModelSpec,
    rule: ThresholdRule,
    n_boot: int,
    seed: int,
) -> d.ModelDifferentials:
    pairs = grouped_pairs(setup, scored)
    ref = setup.groups.index(setup.reference)
    try:
        threshold = choose_threshold(pairs, ref, rule, spec)
        analysis: DifferentialAnalysis = analyse(pairs, threshold, ref, n_boot, seed)
    except MetricError as exc:
        return d.ModelDifferentials(threshold=None, units=spec.units, note=str(exc))
    return d.model_block(analysis, spec.from_score(analysis.threshold), spec.units)
