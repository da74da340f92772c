"""How much a run's comparisons can bear: subset overlap, identity concentration and
thresholds carried from one subset to another.

Everything here is computed from the scored subsets of one run and added beside the
figures it qualifies, so the report can say "these subsets share 69 images" or "72.5 % of
the genuine pairs are one person" next to the numbers they affect.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from face_bench.metrics import summary as m
from face_bench.metrics.operating import counted_rates, identity_concentration
from face_bench.metrics.transfer import choose_threshold, criterion_label
from face_bench.results import blocks as r
from face_bench.run.analysis import HEADLINE_FMR, in_model_units
from face_bench.run.subset_scores import SubsetScores


def overlaps(samples: dict[str, Any]) -> dict[str, list[r.SubsetOverlap]]:
    """Per subset, the other subsets sharing sampled images: counts of images and people.

    ``samples`` maps subset name -> its sampled image table (``path``, ``identity``).
    """
    out: dict[str, list[r.SubsetOverlap]] = {name: [] for name in samples}
    names = list(samples)
    for i, a in enumerate(names):
        paths_a = set(samples[a]["path"])
        ids_a = set(samples[a]["identity"])
        for b in names[i + 1 :]:
            shared = paths_a & set(samples[b]["path"])
            if not shared:
                continue
            people = ids_a & set(samples[b]["identity"])
            for x, y in ((a, b), (b, a)):
                out[x].append(
                    r.SubsetOverlap(
                        subset=y,
                        shared_images=len(shared),
                        of_images=len(samples[x]),
                        shared_people=len(people),
                    )
                )
    return out


def overlap_notes(name: str, rows: list[r.SubsetOverlap]) -> list[str]:
    return [
        f"subset {name!r} shares {o.shared_images:,} of its {o.of_images:,} sampled images "
        f"({o.shared_people} people) with subset {o.subset!r}: their figures are not "
        "independent"
        for o in rows
    ]


def concentration(data: SubsetScores) -> r.IdentityConcentration:
    """Identity concentration of the subset's genuine pairs (first model's pairs)."""
    ms = next(iter(data.scores.values()))
    sample = data.sample
    identities = sample["identity"].astype(str).to_numpy()
    if ms.per_pair:
        names = np.asarray(sample["identity"].astype(str).unique())
        # ids are pandas factorize codes of the sample's identities, in order of appearance
        result = identity_concentration(identities, ms.ids_a, ms.labels, names=names)
    else:
        ids = sample["identity"].astype(str).to_numpy()
        per_person = np.unique(ids, return_counts=True)[1]
        genuine = per_person * (per_person - 1) // 2
        codes = np.repeat(np.arange(per_person.size), genuine)
        result = identity_concentration(identities, codes, np.ones(codes.size, bool),
                                        names=np.unique(ids))  # fmt: skip
    return r.IdentityConcentration.model_validate(result, from_attributes=True)


Transfer = r.ThresholdTransfer | r.CriterionNote


def transfer_thresholds(
    subsets: list[SubsetScores], source: str
) -> dict[str, dict[str, list[Transfer]]]:
    """Per model, thresholds chosen on ``source`` (FMR <= 1e-3 and best F1) and the rates
    they give on every subset: {model: {subset: [ {criterion, threshold, rates...} ]}}."""
    src = next((s for s in subsets if s.name == source), None)
    if src is None:
        from face_bench.core.errors import ConfigError

        names = ", ".join(s.name for s in subsets)
        raise ConfigError(f"--threshold-from {source!r} is not one of this run's subsets ({names})")
    out: dict[str, dict[str, list[Transfer]]] = {}
    for model, ms in src.scores.items():
        per_subset: dict[str, list[Transfer]] = {s.name: [] for s in subsets}
        for criterion in ("far", "best_f1"):
            label = criterion_label(criterion, HEADLINE_FMR)
            try:
                thr = choose_threshold(ms.scores, ms.labels, criterion, HEADLINE_FMR)
            except m.MetricError as exc:
                for s in subsets:
                    per_subset[s.name].append(r.CriterionNote(criterion=label, note=str(exc)))
                continue
            for s in subsets:
                target = s.scores[model]
                per_subset[s.name].append(
                    r.ThresholdTransfer(
                        from_subset=source,
                        criterion=label,
                        threshold=in_model_units(ms.spec, thr),
                        rates=counted_rates(target.scores, target.labels, thr),
                    )
                )
        out[model] = per_subset
    return out
