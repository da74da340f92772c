"""A run's scores.csv exported as pyeer, bob.measure or plain CSV files.

The score file is the interchange artifact: other tools recompute EER and curves from
it without re-embedding. Scores keep face-bench's orientation, higher = same person
(Euclidean models: the negated distance), which is what pyeer without ``-ds`` and
bob.measure expect. ``face-bench export-scores`` is a thin command over ``export_scores``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from face_bench.core.modes import ExportFormat
from face_bench.core.text import unique_slugs

if TYPE_CHECKING:
    import pandas as pd

ORIENTATION = "higher = same person; Euclidean models' scores are negated distances"


@dataclass(frozen=True)
class ExportedScores:
    """One subset and model's files, and how many pairs went into them."""

    subset: str
    model: str
    paths: tuple[Path, ...]
    n_genuine: int
    n_impostor: int
    n_dropped: int


@dataclass(frozen=True)
class ExpectedRows:
    """What a run's JSON says one subset's rows of scores.csv hold.

    ``scored``: per model, how many pairs carry a score. ``images`` and ``digest`` (the
    results file's ``pairs_sha256``, checkable when no image was excluded) pin which pairs;
    ``may_be_absent``: every pair of a sample too large to list (scored in blocks, no rows).
    """

    n_genuine: int
    n_impostor: int
    scored: dict[str, int]
    images: tuple[str, ...] | None = None
    digest: str | None = None
    may_be_absent: bool = False


def _from_results(path: Path) -> tuple[list[str], dict[str, ExpectedRows]]:
    from face_bench.results.legacy import read_any_version

    results = read_any_version(path).results
    names = [m.name for m in results.models]
    expected = {}
    for subset in results.subsets:
        pairs = subset.pairs
        total = pairs.n_genuine + pairs.n_impostor
        expected[subset.name] = ExpectedRows(
            n_genuine=pairs.n_genuine,
            n_impostor=pairs.n_impostor,
            scored={run.name: total for run in subset.models},
            images=tuple(subset.images),
            digest=pairs.pairs_sha256 if pairs.excluded_images == 0 else None,
            may_be_absent=pairs.mode == "all" and pairs.pairs_sha256 is None,
        )
    return names, expected


def _from_lfw(path: Path) -> tuple[list[str], dict[str, ExpectedRows]]:
    from face_bench.core.errors import ResultsError
    from face_bench.core.io import MAX_JSON_BYTES, read_bounded
    from face_bench.results.consistency import reject_duplicate_keys

    try:
        text = read_bounded(path, MAX_JSON_BYTES, "results file", ResultsError)
        data = json.loads(text, object_pairs_hook=reject_duplicate_keys)
        models = {str(m["name"]): _count(m["n_pairs_scored"]) for m in data["models"]}
        counts = _count(data["n_genuine"]), _count(data["n_impostor"])
        if len(models) != len(data["models"]):
            raise ValueError("a model is listed twice")
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ResultsError(f"{path}: cannot read the pair counts and models ({exc})") from None
    return list(models), {"lfw": ExpectedRows(*counts, scored=models)}


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{value!r} is not a count")
    return value


def run_contract(run_dir: Path) -> tuple[Path, list[str], dict[str, ExpectedRows]]:
    """The run's JSON (results.json from ``roc`` and friends, lfw.json from ``lfw``), its
    model names and what each subset's scores.csv rows must hold."""
    from face_bench.core.errors import ResultsError

    for name, reader in (("results.json", _from_results), ("lfw.json", _from_lfw)):
        path = run_dir / name
        if not path.is_file():
            continue
        names, expected = reader(path)
        if not names:
            raise ResultsError(f"{path}: lists no models")
        return path, names, expected
    raise ResultsError(f"{run_dir}: no results.json or lfw.json (is it a face-bench run folder?)")


def read_run_scores(run_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """A run folder's scores.csv (see ``scorefile.read_score_file``) and its model names,
    refused when its rows disagree with what the run's JSON says was scored."""
    from face_bench.results.scorefile import SCORE_FILE, read_score_file

    run_dir = Path(run_dir)
    source, names, expected = run_contract(run_dir)
    frame, names = read_score_file(run_dir / SCORE_FILE, names)
    cross_check(frame, names, expected, source)
    return frame, names


def cross_check(
    frame: pd.DataFrame, names: list[str], expected: dict[str, ExpectedRows], source: Path
) -> None:
    """Refuse a scores.csv that is not the run's: other subsets, other pair counts, other
    pairs, or scores missing where the run scored every pair (a truncated or edited file)."""
    from face_bench.core.errors import ResultsError

    where = f"{source.with_name('scores.csv')} disagrees with {source.name}"
    extra = sorted(set(frame["subset"]) - set(expected))
    if extra:
        raise ResultsError(f"{where}: rows for subset {extra[0]!r}, which it does not list")
    for subset, want in expected.items():
        part = frame[frame["subset"] == subset]
        if part.empty and want.may_be_absent:
            continue
        reason = _rows_problem(part, names, want)
        if reason is not None:
            raise ResultsError(f"{where}: subset {subset!r}: {reason}")


def _rows_problem(part: pd.DataFrame, names: list[str], want: ExpectedRows) -> str | None:
    import numpy as np

    labels = part["label"].to_numpy(bool)
    got = (int(labels.sum()), int((~labels).sum()))
    if got != (want.n_genuine, want.n_impostor):
        return (
            f"{got[0]} genuine / {got[1]} impostor pair(s) in scores.csv, "
            f"{want.n_genuine} / {want.n_impostor} scored"
        )
    for name in names:
        finite = int(np.isfinite(part[name].to_numpy()).sum())
        if name in want.scored and finite != want.scored[name]:
            return f"model {name!r}: {finite} pair(s) with a score, {want.scored[name]} scored"
    if want.images is None:
        return None
    position = {path: i for i, path in enumerate(want.images)}
    unknown = next((p for p in (*part["image_a"], *part["image_b"]) if p not in position), None)
    if unknown is not None:
        return f"image {unknown!r} is not in the subset's sample"
    if want.digest is not None and _digest(part, position) != want.digest:
        return "its pairs are not the pair set the run drew (pairs_sha256 differs)"
    return None


def _digest(part: pd.DataFrame, position: dict[str, int]) -> str | None:
    """``pairs_sha256`` of the listed pairs, as the run computed it over sample positions."""
    import numpy as np

    from face_bench.data.pairset import PairSet

    a = np.fromiter((position[p] for p in part["image_a"]), np.int64, len(part))
    b = np.fromiter((position[p] for p in part["image_b"]), np.int64, len(part))
    members = np.arange(len(position), dtype=np.int64)
    return PairSet(members, a, b, part["label"].to_numpy(bool), "all").digest()


def export_scores(
    run_dir: Path, fmt: ExportFormat | str, out: Path | None = None
) -> tuple[Path, list[ExportedScores]]:
    """Write one set of files per subset and model under ``out/<subset>/``.

    The score file must be the one the run wrote: its pair counts, pairs and scored pairs
    are checked against results.json (or lfw.json) first. Pairs without a score (an LFW
    image that failed to enrol) are left out and counted: neither pyeer nor bob can hold
    them. bob derives genuine from the two
    identity columns, so a pair-list label that disagrees with the identities is
    refused in that format rather than silently relabelled.
    """
    import numpy as np

    from face_bench.core.errors import ResultsError
    from face_bench.results.scorefile import ScoreRow, write_bob, write_pyeer, write_score_file

    if fmt not in {f.value for f in ExportFormat}:
        raise ValueError(f"unknown export format {fmt!r}")
    fmt = ExportFormat(fmt)
    run_dir = Path(run_dir)
    frame, names = read_run_scores(run_dir)
    out = Path(out) if out is not None else run_dir / f"export-{fmt}"
    model_stems = unique_slugs(names)
    subsets = list(dict.fromkeys(frame["subset"]))
    subset_stems = unique_slugs(subsets)

    written: list[ExportedScores] = []
    for subset in subsets:
        part = frame[frame["subset"] == subset]
        folder = out / subset_stems[subset]
        for name in names:
            finite = np.isfinite(part[name].to_numpy())
            rows = part[finite]
            labels = rows["label"].to_numpy(bool)
            scores = rows[name].to_numpy(np.float64)
            where = f"subset {subset!r}, model {name!r}"
            if fmt is ExportFormat.PYEER:
                if labels.all() or not labels.any():
                    kind = "impostor" if labels.all() else "genuine"
                    raise ResultsError(f"{where}: no {kind} pairs with a score; pyeer needs both")
                genuine, impostor = scores[labels], scores[~labels]
                paths: tuple[Path, ...] = write_pyeer(folder, model_stems[name], genuine, impostor)
            else:
                score_rows = [
                    ScoreRow(
                        path_a=r.image_a,
                        path_b=r.image_b,
                        identity_a=r.identity_a,
                        identity_b=r.identity_b,
                        label=bool(r.label),
                        score=float(s),
                        fold=int(r.fold) if "fold" in rows.columns and r.fold else None,
                    )
                    for r, s in zip(rows.itertuples(index=False), scores, strict=True)
                ]
                if fmt is ExportFormat.BOB:
                    try:
                        paths = (write_bob(folder / f"{model_stems[name]}_bob.txt", score_rows),)
                    except ValueError as exc:
                        raise ResultsError(
                            f"{where}: {exc}; export as pyeer or csv instead"
                        ) from None
                else:  # the run's own score-file format, cut to one subset and one model
                    cut = rows[[c for c in rows.columns if c not in names or c == name]].copy()
                    cut["label"] = cut["label"].astype("int8")
                    cut[name] = scores
                    paths = (write_score_file(folder / f"{model_stems[name]}.csv", cut),)
            written.append(
                ExportedScores(
                    subset=subset,
                    model=name,
                    paths=tuple(paths),
                    n_genuine=int(labels.sum()),
                    n_impostor=int((~labels).sum()),
                    n_dropped=int((~finite).sum()),
                )
            )
    return out, written
