"""Files an evaluation writes: results.json, scores.csv, sweep.csv and the PNG figures."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from face_bench.core.io import atomic_write_text
from face_bench.core.text import spreadsheet_frame
from face_bench.report.run_folder import check_out_folder, unique_name


def default_out_dir(request, command: str, models: tuple[str, ...] = ()) -> Path:
    """``reports/<command>-<dataset>-<subsets>-<models>-<timestamp>-<run id>/``.

    ``models`` are the models that ran (known once the run is done); before that, the
    models asked for, or ``models`` when every registered model may run.
    """
    dataset = Path(request.data).resolve().name or "dataset"
    subsets = "+".join(request.subsets)
    names = "+".join(models or request.embed.models) or "models"
    return Path("reports") / unique_name(command, dataset[:40], subsets[:60], names[:60])


def run_out_dir(target: Path, out: Path | None, request, command: str, evaluation) -> Path:
    """The folder a finished run is written to: ``--out``, or its default named after the
    models that actually ran (a registered model without weights is left out of the name).
    """
    if out is not None:
        return target
    from face_bench.core.io import default_cache_dir

    ran = tuple(model.name for model in evaluation.results.models)
    cache_dir = Path(request.embed.cache_dir or default_cache_dir())
    return check_out_folder(
        default_out_dir(request, command, ran), data=request.data, cache_dir=cache_dir
    )


def default_lfw_out_dir(pairs_file: Path) -> Path:
    """``reports/lfw-<pairs file>-<timestamp>-<run id>/`` under the working directory."""
    return Path("reports") / unique_name("lfw", Path(pairs_file).stem[:60])


def prepare_out(
    request, out: Path | None, baseline: Path | None = None, command: str = "roc"
) -> Path:
    """The run's output folder, refused or checked before any embedding starts.

    Also checks the cache folder, so an unusable one fails in a second, not after an hour.
    Without ``--out``, the default folder's place is checked here and its final name
    chosen by ``run_out_dir``.
    """
    from face_bench.core.io import check_folder, default_cache_dir, ensure_cache_folder

    cache_dir = Path(request.embed.cache_dir or default_cache_dir())
    final = Path(out) if out is not None else default_out_dir(request, command)
    final = check_out_folder(final, data=request.data, cache_dir=cache_dir, baseline=baseline)
    ensure_cache_folder(cache_dir)
    check_folder(final.parent, "output folder")  # created when the run writes, not before
    return final


def write_run_scores(evaluation, path: Path) -> Path | None:
    """scores.csv (``results.scorefile``): one row per pair with every model's score."""
    from face_bench.results.scorefile import write_score_file

    frame = evaluation.scores_frame()
    if frame.empty:
        return None
    return write_score_file(path, frame)


def sweep_corners(frame: pd.DataFrame) -> pd.DataFrame:
    """The sweep rows where the ROC turns: every operating point a threshold choice needs.

    Between two corners only one class of pairs enters (FMR rises while TAR stays, or the
    reverse), so the rows in between are points on a straight ROC segment and add nothing
    a reader could choose; dropping them shrinks the sweep ~10x on all-pairs runs. The
    first and last rows are always kept.
    """
    if len(frame) <= 2:
        return frame
    tp, fp = frame["tp"].to_numpy(), frame["fp"].to_numpy()
    # The kind of each step: 1 genuine only, 2 impostors only, 3 both (a tie across classes).
    kind = (np.diff(tp) > 0).astype(np.int8) + 2 * (np.diff(fp) > 0).astype(np.int8)
    keep = np.ones(len(frame), dtype=bool)
    keep[1:-1] = (kind[:-1] != kind[1:]) | (kind[:-1] == 3) | (kind[1:] == 3)
    return frame.loc[keep]


def write_sweep_csv(run, path: Path) -> Path | None:
    """The sweep per subset and model at its ROC corners, thresholds in each model's units;
    None when no subset has score tables (a run folder of subsets scored in blocks)."""
    from face_bench.report.sweeps import sweep_frame

    frames = []
    for subset in run.subsets:
        for name, scores in subset.scores.items():
            frame = sweep_corners(sweep_frame(scores))
            frame.insert(0, "model", name)
            frame.insert(0, "subset", subset.name)
            frames.append(frame)
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)
    table = spreadsheet_frame(table)
    atomic_write_text(path, table.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    return path


def differential_rows(results) -> list[dict]:
    """One row per model, group (or pair of groups) and rate: the differentials as a table."""
    diff = results.differentials
    rows: list[dict] = []
    if diff is None:
        return rows
    for model, block in diff.models.items():
        base = {"model": model, "threshold": block.threshold, "units": block.units}
        for g in block.groups:
            for name, rate, ratio in (("fmr", g.fmr, g.fmr_ratio), ("fnmr", g.fnmr, g.fnmr_ratio)):
                rows.append(
                    {**base, "kind": "group", "group_a": g.group, "group_b": g.group,
                     "rate": name, **rate.model_dump(),
                     "ratio": ratio.estimate if ratio else None,
                     "ratio_lower": ratio.lower if ratio else None,
                     "ratio_upper": ratio.upper if ratio else None,
                     "ratio_lower_bound": ratio.lower_bound if ratio else None,
                     "p_value": ratio.p_value if ratio else None}
                )  # fmt: skip
        for c in block.matrix:
            rows.append(
                {**base, "kind": "matrix", "group_a": c.group_a, "group_b": c.group_b,
                 "rate": "fmr", **c.fmr.model_dump()}
            )  # fmt: skip
    return rows


def write_differentials_csv(results, path: Path) -> Path | None:
    """differentials.csv: every group rate, ratio and matrix cell with counts and interval."""
    rows = differential_rows(results)
    if not rows:
        return None
    table = spreadsheet_frame(pd.DataFrame(rows))
    atomic_write_text(path, table.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    return path


@contextlib.contextmanager
def timed(timings: dict[str, float] | None, name: str) -> Iterator[None]:
    """Add the block's wall time to ``timings[name]`` (the report's time split)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def write_evaluation(
    evaluation,
    out: Path,
    kind: str,
    fmt: str = "png",
    timings: dict[str, float] | None = None,
    sweep_figures: bool = True,
) -> list[Path]:
    """Write the files of ``kind`` (``roc`` or ``threshold-sweep``) into ``out``; figures in
    ``fmt`` (png, svg or pdf). ``timings`` collects seconds per part when given. Without
    ``sweep_figures`` the sweep and rate figures are left to the caller (the report draws
    them in its second process)."""
    from face_bench.report import figures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.json"]
    with timed(timings, "results_json_s"):
        evaluation.results.to_disk(written[0])
    with timed(timings, "scores_csv_s"):
        scores_csv = write_run_scores(evaluation, out / "scores.csv")
    if scores_csv is not None:
        written.append(scores_csv)
    differentials_csv = write_differentials_csv(evaluation.results, out / "differentials.csv")
    if differentials_csv is not None:
        written.append(differentials_csv)
    with timed(timings, "roc_det_figures_s"):
        written += figures.roc_and_det(evaluation, out, fmt)
    if kind == "threshold-sweep":
        with timed(timings, "sweep_csv_s"):
            sweep_csv = write_sweep_csv(evaluation, out / "sweep.csv")
        written += [sweep_csv] if sweep_csv is not None else []
        if sweep_figures:
            with timed(timings, "sweep_and_rate_figures_s"):
                written += sweep_and_rate_figures(evaluation, out, fmt)
    return written


def sweep_and_rate_figures(run, out: Path, fmt: str = "png") -> list[Path]:
    """sweep[-<subset>].<fmt> per subset, then rates.<fmt>."""
    from face_bench.report import figures

    rates = figures.error_rates(run, out, fmt)
    return [*figures.sweeps(run, out, fmt), *([rates] if rates is not None else [])]
