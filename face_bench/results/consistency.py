"""What a results file must hold beyond its schema: one entry per name, counts that agree.

The schema checks each field on its own; a file edited by hand or merged badly can still name
one subset twice (readers keep one copy, hiding the other's regression) or carry pair counts
that contradict each other. ``check_results`` refuses such a file in one line, so the gate
says "cannot tell" instead of comparing figures nobody can vouch for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from face_bench.core.errors import ResultsError

if TYPE_CHECKING:
    from face_bench.results.contract import ModelRun, RunResults, SubsetRun


class DuplicateKeyError(ValueError):
    """A JSON object names one key twice; ``json`` itself would keep the last silently."""


def reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` hook: a key given twice in one object is an error, not "last wins"."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(f"duplicate key {key!r} in one JSON object")
        out[key] = value
    return out


def _twice(names: Iterable[Any]) -> Any | None:
    """The first name that occurs more than once, None when all are distinct."""
    counts = Counter(names)
    return next((name for name, n in counts.items() if n > 1), None)


def _sample_problem(subset: SubsetRun) -> str | None:
    """Why a subset's sample contradicts itself: its size, its image list, its pool."""
    where = f"subset {subset.name!r}"
    if subset.sample_size != len(subset.images):
        return (
            f"{where}: sample_size is {subset.sample_size} but {len(subset.images)} image(s) listed"
        )
    image = _twice(subset.images)
    if image is not None:
        return f"{where}: image {image!r} listed twice"
    if subset.sample_size > subset.pool_size:
        return f"{where}: a sample of {subset.sample_size} from a pool of {subset.pool_size}"
    return None


def _model_problem(subset: SubsetRun, run: ModelRun) -> str | None:
    """Why one model's counts on one subset contradict each other or the subset's pairs."""
    where = f"subset {subset.name!r}, model {run.name!r}"
    if run.n_failures != len(run.failures):
        return f"{where}: n_failures is {run.n_failures} but {len(run.failures)} failure(s) listed"
    if run.n_images_attempted != subset.sample_size:
        return (
            f"{where}: {run.n_images_attempted} image(s) attempted, "
            f"the sample holds {subset.sample_size}"
        )
    images = set(subset.images)
    stranger = next((f.image for f in run.failures if f.image not in images), None)
    if stranger is not None:
        return f"{where}: failure of {stranger!r}, which is not in the sample"
    metrics = run.metrics
    counts = (metrics.n_genuine, metrics.n_impostor)
    pairs = (subset.pairs.n_genuine, subset.pairs.n_impostor)
    if counts != pairs:
        return (
            f"{where}: metrics count {counts[0]} genuine / {counts[1]} impostor pairs, "
            f"the subset's pairs {pairs[0]} / {pairs[1]}"
        )
    target = _twice(t.far_target for t in metrics.tar_at_far)
    if target is not None:
        return f"{where}: TAR at FAR {target:g} listed twice"
    return None


def _runs_problem(subset: SubsetRun, known: set[str]) -> str | None:
    """Every model of ``models[]`` runs once on every subset, and no other: face-bench
    writes them so, and a run missing from a baseline would leave the current one ungated."""
    where = f"subset {subset.name!r}"
    name = _twice(run.name for run in subset.models)
    if name is not None:
        return f"{where}: model {name!r} listed twice"
    ran = {run.name for run in subset.models}
    if ran - known:
        return f"{where}: model {min(ran - known)!r} is not in models"
    if known - ran:
        return f"{where}: model {min(known - ran)!r} of models has no run here"
    return None


def problem(results: RunResults) -> str | None:
    """The first reason ``results`` cannot be trusted as a whole, or None."""
    name = _twice(m.name for m in results.models)
    if name is not None:
        return f"model {name!r} listed twice in models"
    name = _twice(s.name for s in results.subsets)
    if name is not None:
        return f"subset {name!r} listed twice"
    known = {m.name for m in results.models}
    for subset in results.subsets:
        reason = _sample_problem(subset) or _runs_problem(subset, known)
        if reason is not None:
            return reason
        for run in subset.models:
            reason = _model_problem(subset, run)
            if reason is not None:
                return reason
    return None


def check_results(results: RunResults, path: object) -> RunResults:
    """``results`` unchanged, or a ResultsError naming the file and what contradicts."""
    reason = problem(results)
    if reason is not None:
        raise ResultsError(f"{path}: malformed results file: {reason}")
    return results
