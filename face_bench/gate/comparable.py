"""Whether two runs measure the same thing: dataset, settings, models, subsets, pair sets.

What must be equal for the figures to be comparable is a ``Mismatch`` (exit 2 unless
``--allow-mismatch``); what is merely new or changed by face-bench itself is a note.
"""

from __future__ import annotations

from typing import Any

from face_bench.gate.records import Mismatch
from face_bench.results.contract import RunResults, SubsetRun


def _differs(scope: str, what: str, base: Any, cur: Any) -> list[Mismatch]:
    if base == cur:
        return []
    return [Mismatch(scope, f"{what} differs (baseline {base!r}, current {cur!r})")]


# Recorded beside a model's preprocessing but set by face-bench's own code, not by the
# model's settings: a change there is what the gate exists to measure, so it is noted and
# the figures are compared. (Both dlib runtimes give the same descriptors to 1e-5.)
_CODE_KEYS = frozenset(
    {"pipeline_version", "face_stage_version", "load_max_side", "crop_detect_side", "runtime"}
)


def _preprocessing(
    scope: str, base: dict[str, Any], cur: dict[str, Any], notes: list[str]
) -> list[Mismatch]:
    """The same weights fed other pixels (BGR for RGB, another chip) are another model.

    Only settings both files record are compared: a setting an older face-bench did not
    record yet is not a change.
    """
    changed = {
        key: f"{key} {base[key]!r} in baseline, {cur[key]!r} in current"
        for key in sorted(base.keys() & cur.keys())
        if base[key] != cur[key]
    }
    code = [text for key, text in changed.items() if key in _CODE_KEYS]
    if code:
        notes.append(
            f"{scope}: face-bench's own face or model stage differs ({'; '.join(code)}); "
            "compared, as a change in face-bench itself"
        )
    settings = [text for key, text in changed.items() if key not in _CODE_KEYS]
    return [Mismatch(scope, f"preprocessing differs: {'; '.join(settings)}")] if settings else []


def _short(digest: str) -> str:
    return digest[:12] + "…" if len(digest) > 12 else digest


def compare_setup(baseline: RunResults, current: RunResults) -> tuple[list[Mismatch], list[str]]:
    """Everything that must be equal for the figures to be comparable, and what is just new."""
    mismatches: list[Mismatch] = []
    notes: list[str] = []
    _check_run(baseline, current, mismatches, notes)
    missing_models = _check_models(baseline, current, mismatches, notes)
    _check_subsets(baseline, current, missing_models, mismatches, notes)
    return mismatches, notes


def _check_run(b: RunResults, c: RunResults, mismatches: list[Mismatch], notes: list[str]) -> None:
    if b.dataset.digest != c.dataset.digest:
        mismatches.append(
            Mismatch(
                "run",
                f"dataset digest differs (baseline {_short(b.dataset.digest)}, "
                f"current {_short(c.dataset.digest)}): the manifest or image listing changed",
            )
        )
    mismatches += _differs(
        "run", "identity source", b.dataset.identity_source, c.dataset.identity_source
    )
    for what in ("seed", "sample", "pairs", "align", "multi_face", "detector", "on_fail"):
        mismatches += _differs("run", what, getattr(b.settings, what), getattr(c.settings, what))
    # A file from before --near-duplicates scored every pair, i.e. as ``keep`` does.
    mismatches += _differs(
        "run",
        "--near-duplicates",
        b.settings.near_duplicates or "keep",
        c.settings.near_duplicates or "keep",
    )
    if b.face_bench_version != c.face_bench_version:
        notes.append(
            f"baseline made by face-bench {b.face_bench_version}, current by {c.face_bench_version}"
        )


def _check_models(
    b: RunResults, c: RunResults, mismatches: list[Mismatch], notes: list[str]
) -> set[str]:
    """Model identities; returns the baseline models absent from the current run."""
    cur_models = {m.name: m for m in c.models}
    missing: set[str] = set()
    for model in b.models:
        scope = f"model {model.name!r}"
        other = cur_models.get(model.name)
        if other is None:
            missing.add(model.name)
            mismatches.append(Mismatch(scope, "missing from the current run"))
            continue
        if model.weights_sha256 != other.weights_sha256:
            mismatches.append(
                Mismatch(
                    scope,
                    f"weights differ (sha256 {_short(model.weights_sha256)} in baseline, "
                    f"{_short(other.weights_sha256)} in current)",
                )
            )
        mismatches += _differs(scope, "similarity", model.similarity, other.similarity)
        mismatches += _preprocessing(scope, model.preprocessing, other.preprocessing, notes)
    base_names = {m.name for m in b.models}
    notes += [
        f"model {name!r} is new in the current run (not gated)"
        for name in cur_models
        if name not in base_names
    ]
    return missing


def _check_subsets(
    b: RunResults,
    c: RunResults,
    missing_models: set[str],
    mismatches: list[Mismatch],
    notes: list[str],
) -> None:
    cur_subsets = {s.name: s for s in c.subsets}
    base_model_names = {m.name for m in b.models}
    for subset in b.subsets:
        other = cur_subsets.get(subset.name)
        if other is None:
            mismatches.append(Mismatch(f"subset {subset.name!r}", "missing from the current run"))
            continue
        mismatches += _subset_sample(subset, other, notes)
        cur_runs = {m.name for m in other.models}
        base_runs = {m.name for m in subset.models}
        mismatches += [
            Mismatch(f"subset {subset.name!r}, model {name!r}", "missing from the current run")
            for name in sorted(base_runs - cur_runs)
            if name not in missing_models
        ]
        notes += [
            f"subset {subset.name!r}: model {name!r} is new here (not gated)"
            for name in sorted(cur_runs - base_runs)
            if name in base_model_names
        ]
    base_subset_names = {s.name for s in b.subsets}
    notes += [
        f"subset {name!r} is new in the current run (not gated)"
        for name in cur_subsets
        if name not in base_subset_names
    ]


def _subset_sample(subset: SubsetRun, other: SubsetRun, notes: list[str]) -> list[Mismatch]:
    """One subset's definition, sampled images and pair set, in baseline and current."""
    scope = f"subset {subset.name!r}"
    mismatches = _differs(scope, "definition", subset.definition, other.definition)
    mismatches += _differs(scope, "sample size", subset.sample_size, other.sample_size)
    only_b = set(subset.images) - set(other.images)
    only_c = set(other.images) - set(subset.images)
    if only_b or only_c:
        mismatches.append(
            Mismatch(
                scope,
                f"sampled images differ ({len(only_b)} only in baseline, "
                f"{len(only_c)} only in current)",
            )
        )
    mismatches += _differs(scope, "pairs mode", subset.pairs.mode, other.pairs.mode)
    mismatches += _pair_set(scope, subset.pairs, other.pairs, notes)
    counts_b = (subset.pairs.n_genuine, subset.pairs.n_impostor)
    counts_c = (other.pairs.n_genuine, other.pairs.n_impostor)
    if counts_b != counts_c:
        notes.append(
            f"subset {subset.name!r}: scored pairs differ (genuine/impostor "
            f"{counts_b[0]}/{counts_b[1]} in baseline, {counts_c[0]}/{counts_c[1]} in "
            "current), usually because failures to enrol changed"
        )
    return mismatches


def _pair_set(scope: str, base: Any, cur: Any, notes: list[str]) -> list[Mismatch]:
    """Different pair files or pair sets are different tests: a mismatch, not a comparison."""
    out: list[Mismatch] = []
    digests = (
        (base.file_sha256, cur.file_sha256, "pairs file"),
        (base.pairs_sha256, cur.pairs_sha256, "pair set"),
    )
    for b, c, what in digests:
        if b is not None and c is not None and b != c:
            reason = f"{what} differs (sha256 {_short(b)} in baseline, {_short(c)} in current)"
            out.append(Mismatch(scope, f"{reason}: the runs scored different pairs"))
        elif (b is None) != (c is None) and base.mode != "all":
            notes.append(f"{scope}: {what} digest recorded in one run only; not compared")
    return out


def compare_differential_setup(b: RunResults, c: RunResults, notes: list[str]) -> list[Mismatch]:
    """Differentials are comparable only on the same groups, reference and threshold rule."""
    base, cur = b.differentials, c.differentials
    if base is None or not base.models:
        if cur is not None and cur.models:
            notes.append("differentials are new in the current run (not gated)")
        return []
    if cur is None or not cur.models:
        return [Mismatch("differentials", "missing from the current run")]
    out: list[Mismatch] = []
    for what in ("grouping", "groups", "reference", "threshold_rule"):
        out += _differs(
            "differentials", what.replace("_", " "), getattr(base, what), getattr(cur, what)
        )
    return out
