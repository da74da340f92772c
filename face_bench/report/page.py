"""The report of a live run: evaluate, write the run folder, render the report from it.

``write_report`` writes the run folder's own files (``results.json``, ``scores.csv`` and
``umap.csv``, the UMAP layouts of every model's embeddings) and then renders the report from
that folder with ``report.render.render_report``, the one renderer, which reads nothing but
those files: the report a run writes and the one ``face-bench report --from`` re-renders are
the same bytes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from face_bench.report.render import REPORT_NAME, ReportOutput, render_report

if TYPE_CHECKING:
    from concurrent.futures import Executor

__all__ = ["REPORT_NAME", "ReportOutput", "figure_process", "write_report"]

UMAP_MESSAGE = "projecting with UMAP (first use compiles numba, 10-20 s)"

Say = Callable[[str], None]


# ------------------------------------------------------------------- UMAP


def project_models(evaluation, say: Say | None = None, pool=None) -> tuple[list, list[str]]:
    """A UMAP layout per model over every sampled image, and a note per model left out.

    With ``pool`` (an executor) the layouts are only submitted, and the returned list holds
    futures; ``collect_projections`` waits for them. ``write_report`` uses this to let
    UMAP's numba compilation run on the second core while results.json and scores.csv are
    written.
    """
    from face_bench.report.projection import TooFewPointsError, project_umap

    identities = evaluation.images["identity"].to_numpy()
    seed = evaluation.results.settings.seed
    cache_dir = getattr(evaluation, "cache_dir", None)
    projections, notes = [], []
    announced = False
    for name, embeddings in evaluation.embeddings.items():
        options = {"model": name, "seed": seed, "cache_dir": cache_dir}
        cached = _layout_cached(embeddings.vectors, seed, cache_dir)
        if not cached and not announced:
            (say or (lambda _m: None))(UMAP_MESSAGE)
            announced = True
        if pool is not None and not cached:
            projections.append(pool.submit(project_umap, embeddings.vectors, identities, **options))
            continue
        try:
            projection = project_umap(embeddings.vectors, identities, **options)
        except TooFewPointsError as exc:
            if pool is None:
                notes.append(str(exc))
            else:  # reported by collect_projections, in model order like the others
                projections.append(_settled(exc=exc))
            continue
        projections.append(projection if pool is None else _settled(projection))
    return projections, notes


def _layout_cached(vectors, seed: int, cache_dir) -> bool:
    """Whether the layout can be read from the cache (then no UMAP process is started)."""
    import numpy as np

    from face_bench.report.projection import (
        DEFAULT_NEIGHBORS,
        MIN_POINTS,
        cached_layout_path,
        read_cached_layout,
    )

    if cache_dir is None:
        return False
    vectors = np.asarray(vectors, dtype=np.float32)
    finite = vectors[np.isfinite(vectors).all(axis=1)]
    if len(finite) < MIN_POINTS:
        return True  # nothing to compute: the note is made in this process
    path = cached_layout_path(finite, seed, min(DEFAULT_NEIGHBORS, len(finite) - 1), cache_dir)
    return read_cached_layout(path, len(finite)) is not None


def _settled(value=None, exc: BaseException | None = None):
    """A finished future holding a layout read from the cache (or why there is none)."""
    from concurrent.futures import Future

    future: Future = Future()
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)
    return future


def collect_projections(futures: list) -> tuple[list, list[str]]:
    """Results of submitted layouts, with a note for each model that had too few points."""
    from face_bench.report.projection import TooFewPointsError

    projections, notes = [], []
    for future in futures:
        try:
            projections.append(future.result())
        except TooFewPointsError as exc:
            notes.append(str(exc))
    return projections, notes


def write_umap_csv(evaluation, projections, path: Path) -> Path:
    """One row per placed image: model, image, identity, x, y."""
    from face_bench.core.io import atomic_write_text

    paths = evaluation.images["path"].to_numpy()
    frames = [
        pd.DataFrame(
            {
                "model": p.model,
                "image": paths[p.rows],
                "identity": p.identities,
                "x": p.coords[:, 0],
                "y": p.coords[:, 1],
            }
        )
        for p in projections
    ]
    table = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["model", "image", "identity", "x", "y"])
    )
    from face_bench.core.text import spreadsheet_frame

    table = spreadsheet_frame(table)  # names are data: no cell may run as a formula
    atomic_write_text(path, table.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    return path


def write_umap(
    evaluation, out: Path, say: Say | None = None, fmt: str = "png"
) -> tuple[list[Path], list, list[str]]:
    """umap.png and umap.csv in ``out``; raises when no model has enough embedded images."""
    from face_bench.report import figures
    from face_bench.report.projection import TooFewPointsError

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    projections, notes = project_models(evaluation, say)
    if not projections:
        raise TooFewPointsError("; ".join(notes))
    written = [figures.umap_figure(projections, out, fmt), out / "umap.csv"]
    write_umap_csv(evaluation, projections, written[1])
    return written, projections, notes


# ------------------------------------------------------------------ report


def _load_figure_modules() -> None:
    """What the figure process needs before its first figure: matplotlib's Agg canvas, the
    plot modules, the rate intervals' scipy.special and the font list (CJK lookup)."""
    import scipy.special  # noqa: F401
    from matplotlib.backends import backend_agg  # noqa: F401

    from face_bench.report import plots, render  # noqa: F401

    plots.cjk_font_available()


@contextlib.contextmanager
def figure_process() -> Iterator[Executor]:
    """The second process ``write_report`` draws figures (and computes UMAP layouts) in.

    A fresh interpreter, not a fork: the parent may hold onnxruntime's threads. It starts
    loading matplotlib at once, so a caller that opens it before evaluating has it ready
    when the report is drawn. Ended, not awaited, when the report fails or is interrupted:
    no orphan UMAP process.
    """
    import multiprocessing

    from face_bench.core.processes import stopping_pool

    with stopping_pool(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(_load_figure_modules)
        yield pool


def write_run_folder(evaluation, out: Path, pending: list) -> list[Path]:
    """The run folder's own files: results.json, scores.csv (pairs scored one by one), then
    umap.csv from ``pending`` layouts (``project_models``; the header alone when no model
    could be laid out)."""
    from face_bench.report.outputs import write_run_scores

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.json"]
    evaluation.results.to_disk(written[0])
    scores = write_run_scores(evaluation, out / "scores.csv")
    written += [scores] if scores is not None else []
    projections, _notes = collect_projections(pending)  # their notes: see source.umap_notes
    written.append(write_umap_csv(evaluation, projections, out / "umap.csv"))
    return written


def write_report(
    evaluation,
    out: Path,
    *,
    self_contained: bool = True,
    top_k: int = 8,
    say: Say | None = None,
    figure_format: str = "png",
    pool: Executor | None = None,
) -> ReportOutput:
    """Write the run folder of ``evaluation`` into ``out`` and render its report there.

    ``evaluation`` must have been run with ``sweep=True`` so the sweep markers exist.
    Thumbnails are files only for a linked page; a self-contained page embeds them.
    ``pool``: a ``figure_process`` opened earlier (before the evaluation, say); without
    one, one is opened here.
    """
    import time

    from face_bench.report.outputs import timed

    started = time.perf_counter()
    out = Path(out)
    timings: dict[str, float] = {}
    opened = contextlib.nullcontext(pool) if pool is not None else figure_process()
    with opened as drawing:
        pending, _notes = project_models(evaluation, say, drawing)  # noted again from umap.csv
        with timed(timings, "run_folder_and_umap_s"):
            write_run_folder(evaluation, out, pending)
        result = render_report(
            out,
            out,
            self_contained=self_contained,
            top_k=top_k,
            figure_format=figure_format,
            pool=drawing,
        )
    result.timings.update(timings)
    result.timings["report_total_s"] = time.perf_counter() - started
    return result
