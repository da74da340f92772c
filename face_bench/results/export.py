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


def _model_names(run_dir: Path) -> list[str]:
    """Model names from results.json (``roc`` and friends) or lfw.json (``lfw``)."""
    from face_bench.core.errors import ResultsError
    from face_bench.core.io import MAX_JSON_BYTES, read_bounded

    for name in ("results.json", "lfw.json"):
        path = run_dir / name
        if not path.is_file():
            continue
        try:
            data = json.loads(read_bounded(path, MAX_JSON_BYTES, "results file", ResultsError))
            names = [str(m["name"]) for m in data["models"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ResultsError(f"{path}: cannot read models[].name ({exc})") from None
        if not names:
            raise ResultsError(f"{path}: lists no models")
        return names
    raise ResultsError(f"{run_dir}: no results.json or lfw.json (is it a face-bench run folder?)")


def read_run_scores(run_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """A run folder's scores.csv (see ``scorefile.read_score_file``) and its model names."""
    from face_bench.results.scorefile import SCORE_FILE, read_score_file

    run_dir = Path(run_dir)
    return read_score_file(run_dir / SCORE_FILE, _model_names(run_dir))


def export_scores(
    run_dir: Path, fmt: ExportFormat | str, out: Path | None = None
) -> tuple[Path, list[ExportedScores]]:
    """Write one set of files per subset and model under ``out/<subset>/``.

    Pairs without a finite score (an image that failed to enrol) are left out and
    counted: neither pyeer nor bob can hold them. bob derives genuine from the two
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
