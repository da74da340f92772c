"""Data-quality checks of a run: confounds, suspected label errors, strata.

Computed after scoring from the same pairs and embeddings as the figures, and recorded in
``results.json`` (``data_quality``) beside them. ``run.differentials.request_differentials``
gives the run's differentials on any selection of its pairs: ``--stratify-by`` (pairs whose
two images share one value of a column) and ``--exclude-suspects`` (pairs touching no agreed
suspect) both come through it, so a change to what the run's differentials hold is made there once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from face_bench.core.errors import ConfigError
from face_bench.data.confounds import (
    MIN_KS,
    MIN_V,
    compare_groups,
    image_sizes,
)
from face_bench.metrics import label_noise
from face_bench.results import quality as q
from face_bench.results.differentials import Differentials
from face_bench.run.analysis import in_model_units
from face_bench.run.differentials import request_differentials
from face_bench.run.subset_scores import SubsetScores

WITHOUT_HINT = "; --exclude-suspects shows the differentials without them"


def _defining(definitions: list[dict[str, list[str]]]) -> set[str]:
    """Columns the subsets are defined by (they differ by construction)."""
    out: set[str] = set()
    for definition in definitions:
        for key, values in definition.items():
            if key == "not":
                out |= {term.split("=", 1)[0] for term in values}
            else:
                out.add(key)
    return out


def confounds(scored: list[SubsetScores], root: Path, definitions: list[dict[str, list[str]]]):
    """Every non-defining column and the image size compared across the subsets."""
    if len(scored) < 2:
        return []
    groups = {}
    for data in scored:
        sample = data.sample
        sizes = image_sizes([root / p for p in sample["path"]])
        groups[data.name] = pd.concat([sample, sizes], axis=1)
    checks = []
    for c in compare_groups(groups, sorted(_defining(definitions))):
        checks.append(
            q.ConfoundCheck(
                column=c.column,
                kind=c.kind,
                measure=c.measure,
                strength=None if c.strength is None else round(c.strength, 4),
                warning_at=MIN_V if c.kind == "categorical" else MIN_KS,
                warn=c.warn,
                counts=c.counts,
                five_numbers=c.five_numbers,
            )
        )
    return checks


def _subset_evidence(
    data: SubsetScores, embeddings: dict[str, Any], eer: Mapping[str, float | None]
) -> list[q.SuspectImage]:
    """Per image of one subset, every model's evidence; images flagged by any model.

    ``eer``: each model's EER threshold on the subset in its units, as the run's metrics
    give it (computed here when missing)."""
    rows = data.planned.members[~data.failed]
    paths = data.images["path"].to_numpy()[rows]
    identities = data.images["identity"].astype(str).to_numpy()[rows]
    per_model: dict[str, list[tuple[label_noise.ImageEvidence, float | None]]] = {}
    for model, table in data.scores.items():
        spec = table.spec
        known = eer.get(model)
        if known is None:
            threshold = table.summarise((1e-3,)).eer_threshold
        else:
            threshold = float(spec.to_score(known))
        found = label_noise.image_evidence(
            embeddings[model].vectors[rows], identities, spec.similarity, threshold
        )
        per_model[model] = [(e, in_model_units(spec, threshold)) for e in found]
    flags = [[e.flagged for e, _t in found] for found in per_model.values()]
    agreed = label_noise.agreement(flags)
    out = []
    for i in range(len(rows)):
        by = [m for m, found in per_model.items() if found[i][0].flagged]
        if not by:
            continue
        evidence = [
            _model_evidence(m, found[i], data.scores[m].spec, paths, identities)
            for m, found in per_model.items()
        ]
        out.append(
            q.SuspectImage(
                subset=data.name,
                image=str(paths[i]),
                identity=str(identities[i]),
                flagged_by=by,
                agreed=bool(agreed[i]),
                evidence=evidence,
            )
        )
    return out


def _model_evidence(model, pair, spec, paths, identities) -> q.ModelEvidence:
    found, threshold = pair
    other = found.nearest_other_index
    return q.ModelEvidence(
        model=model,
        threshold=threshold,
        n_same=found.n_same,
        median_same=in_model_units(spec, found.median_same),
        nearest_other=in_model_units(spec, found.nearest_other),
        nearest_other_image=None if other is None else str(paths[other]),
        nearest_other_identity=None if other is None else str(identities[other]),
        flagged=found.flagged,
    )


def suspects(
    scored: list[SubsetScores],
    embeddings: dict[str, Any],
    eer: Mapping[str, Mapping[str, float | None]] | None = None,
) -> q.LabelSuspects:
    """Suspected label errors of every subset scored pair by pair (``eer``: subset -> model
    -> EER threshold in model units, from the run's metrics)."""
    images: list[q.SuspectImage] = []
    skipped = []
    for data in scored:
        if data.pairs.implicit:
            skipped.append(data.name)
            continue
        images += _subset_evidence(data, embeddings, (eer or {}).get(data.name, {}))
    models = list(embeddings)
    flagged = {m: sum(m in s.flagged_by for s in images) for m in models}
    note = None
    if skipped:
        note = f"not checked (scored in blocks): {', '.join(skipped)}"
    return q.LabelSuspects(
        rule=label_noise.RULE,
        flagged=flagged,
        agreed=sum(s.agreed for s in images),
        images=images,
        note=note,
    )


def without_suspects(
    scored: list[SubsetScores],
    embeddings: dict[str, Any],
    specs: dict[str, Any],
    request: Any,
    found: q.LabelSuspects,
) -> Differentials | None:
    """The differentials with every pair touching an agreed suspect left out."""
    if any(data.pairs.implicit for data in scored):
        return None
    paths = scored[0].images["path"].to_numpy()
    bad = np.isin(paths, [s.image for s in found.images if s.agreed])
    return request_differentials(
        request, scored, embeddings, specs, lambda a, b: ~(bad[a] | bad[b])
    )


def check_stratify_column(column: str, columns: list[str]) -> None:
    """``--stratify-by`` names a metadata column of the dataset (checked before embedding)."""
    usable = [c for c in columns if c not in ("path", "identity")]
    if column not in usable:
        raise ConfigError(
            f"--stratify-by {column!r} is not a metadata column of the dataset "
            f"(columns: {', '.join(usable) or 'none'})"
        )


def strata(
    scored: list[SubsetScores],
    embeddings: dict[str, Any],
    specs: dict[str, Any],
    request: Any,
    column: str,
) -> list[q.Stratum]:
    """The differentials within each value of ``column`` (pairs of two images sharing it)."""
    images = scored[0].images
    check_stratify_column(column, list(images.columns))
    if any(data.pairs.implicit for data in scored):
        return [q.Stratum(column=column, value="*", note="not computed: pairs scored in blocks")]
    values = images[column].fillna("").astype(str).to_numpy()
    present = sorted({v for data in scored for v in values[data.planned.members]})
    out = []
    for value in present:

        def within(a: np.ndarray, b: np.ndarray, value: str = value) -> np.ndarray:
            same: np.ndarray = (values[a] == value) & (values[b] == value)
            return same

        diff = request_differentials(request, scored, embeddings, specs, within)
        note = None
        if diff is None or not diff.models:
            note = "; ".join(diff.notes) if diff is not None else "one group only"
            diff = None
        out.append(q.Stratum(column=column, value=value, differentials=diff, note=note))
    return out


@dataclass(frozen=True)
class QualityContext:
    """What the checks need from the plan and the run's metrics."""

    root: Path  # the dataset folder (image headers are read from it)
    definitions: list[dict[str, list[str]]]  # each subset's filters: columns left out
    near_duplicates: q.NearDuplicates | None = None  # found while planning
    eer_thresholds: dict[str, dict[str, float | None]] = field(default_factory=dict)


def assess(
    scored: list[SubsetScores],
    embeddings: dict[str, Any],
    specs: dict[str, Any],
    request: Any,
    context: QualityContext,
    say: Callable[[str], None],
) -> q.DataQuality:
    """Every check of the run's data, with one warning line per finding (also said)."""
    root, definitions, near = context.root, context.definitions, context.near_duplicates
    block = q.DataQuality(
        confounds=confounds(scored, root, definitions),
        near_duplicates=near,
        suspects=suspects(scored, embeddings, context.eer_thresholds),
        exclude_suspects=request.exclude_suspects,
        stratify_by=request.stratify_by,
    )
    for check in block.confounds:
        if check.warn:
            block.warnings.append(f"confound: {_describe(check)}")
    found = block.suspects
    if found is not None and found.agreed:
        flagged = ", ".join(f"{m} {n}" for m, n in found.flagged.items())
        hint = "" if request.exclude_suspects else WITHOUT_HINT
        block.warnings.append(
            f"suspected label errors: {found.agreed} image(s) flagged by every model "
            f"(flagged per model: {flagged}); listed in results.json (data_quality.suspects)" + hint
        )
    if request.exclude_suspects and found is not None:
        block.without_suspects = without_suspects(scored, embeddings, specs, request, found)
    if request.stratify_by is not None:
        block.strata = strata(scored, embeddings, specs, request, request.stratify_by)
    for line in block.warnings:
        say(line)
    return block


def _describe(check: q.ConfoundCheck) -> str:
    if check.kind == "categorical":
        mixes = "; ".join(
            f"{group}: " + ", ".join(f"{v} {n}" for v, n in values.items() if n)
            for group, values in check.counts.items()
        )
        return (
            f"{check.column!r} differs between the subsets (Cramér's V {check.strength:.2f} "
            f">= {check.warning_at}): {mixes}"
        )
    spread = "; ".join(
        f"{group} " + " / ".join(f"{x:g}" for x in qs) for group, qs in check.five_numbers.items()
    )
    return (
        f"{check.column!r} differs between the subsets (Kolmogorov-Smirnov distance "
        f"{check.strength:.2f} >= {check.warning_at}): min / quartiles / max {spread}"
    )
