"""The report rendered from a run folder: one renderer, fed only by the folder's files.

``render_report(run_dir, out)`` reads ``results.json``, ``scores.csv`` and ``umap.csv``
(``report.source``) and writes every figure, table and ``report.html``. The report a run
writes is this same function applied to the run's own folder, so a report re-rendered from
the folder (``face-bench report --from``) is byte for byte the one the run wrote, given the
same page options (``self_contained``, ``top_k``, ``figure_format``).

The page needs no network: images are embedded as data URIs by default, or linked relatively
so the folder can be moved as a whole. Every name and path reaches the HTML through Jinja's
autoescaping, since identities and file names come from user data.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from face_bench.core.errors import RunFolderError
from face_bench.core.io import atomic_write_text
from face_bench.report import figures, gallery, headline, plots
from face_bench.report.context import Files, build_context
from face_bench.report.outputs import (
    sweep_and_rate_figures,
    timed,
    write_differentials_csv,
    write_sweep_csv,
)
from face_bench.report.source import INPUTS, RunData, read_run_folder, umap_notes

REPORT_NAME = "report.html"

Say = Callable[[str], None]


@dataclass
class ReportOutput:
    """What a report wrote: the page, every file (the run folder's own included), notes."""

    html: Path
    written: list[Path]
    projections: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per part of the report


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=PackageLoader("face_bench.report", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(context: dict[str, Any]) -> str:
    """The page for a prepared context (``report.context.build_context``)."""
    return _environment().get_template("report.html").render(**context)


def render_report(
    run_dir: Path,
    out: Path | None = None,
    *,
    self_contained: bool = True,
    top_k: int = gallery.DEFAULT_TOP_K,
    figure_format: str = "png",
    pool=None,
) -> ReportOutput:
    """The whole report of the run folder ``run_dir``, written into ``out``.

    ``out`` defaults to a new sibling folder ``<run_dir>-report-<timestamp>-<id>``: the run
    folder itself is rendered into only when ``out`` names it. The run folder's own files
    (results.json, scores.csv, umap.csv) are copied into ``out`` as they are. ``pool`` (an
    executor) draws the sweep, rate, histogram and bar figures in a second process.
    """
    data = read_run_folder(Path(run_dir))
    if out is None:
        from face_bench.report.run_folder import unique_name

        out = data.folder.parent / unique_name(data.folder.name[:80], "report")
    return render_run(
        data,
        Path(out),
        self_contained=self_contained,
        top_k=top_k,
        figure_format=figure_format,
        pool=pool,
    )


def render_run(
    data: RunData,
    out: Path,
    *,
    self_contained: bool = True,
    top_k: int = gallery.DEFAULT_TOP_K,
    figure_format: str = "png",
    pool=None,
) -> ReportOutput:
    """``render_report`` of a run folder already read (``report.source.read_run_folder``)."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    if out.resolve() != data.folder.resolve():
        for name in INPUTS:
            if (data.folder / name).is_file():
                shutil.copyfile(data.folder / name, out / name)
    files = write_files(data, out, self_contained, top_k, figure_format, pool)
    with timed(files.timings, "html_s"):
        context = build_context(data, out, files, self_contained, top_k)
        html = out / REPORT_NAME
        atomic_write_text(html, render_html(context))
    files.timings["render_total_s"] = time.perf_counter() - started
    return ReportOutput(html, [*files.written, html], files.projections, files.notes, files.timings)


def side_figures(data: RunData, out: Path, fmt: str) -> tuple[list, dict, Any]:
    """The sweep, rate, histogram and bar figures (drawn in a second process when given one:
    matplotlib holds the GIL)."""
    several = len(data.subsets) > 1
    return (
        sweep_and_rate_figures(data, out, fmt),
        figures.score_histograms(data, out, fmt=fmt),
        figures.subset_bars(data, out, fmt=fmt) if several else None,
    )


def write_files(data: RunData, out: Path, self_contained, top_k, fmt, pool=None) -> Files:
    """Every figure and table of the report, and (linked pages) the gallery's thumbnails."""
    t: dict[str, float] = {}
    side = pool.submit(side_figures, data, out, fmt) if pool is not None else None
    written = [out / name for name in INPUTS if (out / name).is_file()]
    written += _present(write_differentials_csv(data.results, out / "differentials.csv"))
    scored = any(s.scores for s in data.subsets)
    with timed(t, "roc_det_figures_s"):
        roc_det = figures.roc_and_det(data, out, fmt) if scored else []
    written += roc_det
    with timed(t, "sweep_csv_s"):
        written += _present(write_sweep_csv(data, out / "sweep.csv"))
    # While the second process draws the side figures: UMAP, thumbnails (listed after them).
    umap, galleries, thumbs, thumb_files, notes = _umap_and_gallery(
        data, out, self_contained, top_k, fmt, t
    )
    with timed(t, "fmr_matrix_figure_s"):
        matrix = figures.differential_matrix(data, out, fmt=fmt)
    with timed(t, "sweep_rate_histogram_bar_figures_s"):
        drawn, histograms, bars = side.result() if side else side_figures(data, out, fmt)
    written += drawn
    found = _found_figures(data, out, fmt, bool(roc_det), (drawn, histograms, bars, matrix))
    found["umap"] = umap
    written += [*histograms.values()] + [f for f in (bars, matrix) if f]
    written += headline.write_exports(data.results, out)
    written += _present(umap) + thumb_files
    notes += _font_notes(data)
    return Files(written, found, list(data.projections), notes, galleries, thumbs, t)


def _present(path: Path | None) -> list[Path]:
    """A writer's file as a list to add to ``written``, since a writer with nothing to write
    returns None."""
    return [path] if path is not None else []


def _found_figures(
    data: RunData, out: Path, fmt: str, roc_det: bool, side_drawn: tuple[list, dict, Any, Any]
) -> dict[str, Any]:
    """The figures by role (``umap`` filled in later), since the page places figures by role,
    not by file name."""
    drawn, histograms, bars, matrix = side_drawn
    sweeps = {p.stem: p for p in drawn if p.name.startswith("sweep")}
    names = [s.name for s in data.subsets if s.scores]
    several = len(data.subsets) > 1
    return {
        "sweeps": {
            n: sweeps.get(f"sweep-{figures.subset_slug(data, n)}" if several else "sweep")
            for n in names
        },
        "histograms": histograms,
        "bars": bars,
        "matrix": matrix,
        "roc": out / f"roc.{fmt}" if roc_det else None,
        "det": out / f"det.{fmt}" if roc_det else None,
        "rates": next((p for p in drawn if p.name == f"rates.{fmt}"), None),
        "umap": None,  # drawn beside the side figures
    }


def _gallery_files(
    data: RunData, out: Path, top_k: int, self_contained: bool
) -> tuple[dict, dict, list[Path], list[str]]:
    """Galleries, thumbnails, the thumbnail files written and a note, in one step, since the
    thumbnails are those of the pairs the galleries show."""
    galleries = {s.name: gallery.select(s, top_k, data.calibration) for s in data.subsets}
    images = set().union(*(g.images() for gs in galleries.values() for g in gs))
    root = data.dataset_root
    notes: list[str] = []
    if images and not root.is_dir():
        notes.append(f"dataset folder {root} not found: the gallery shows no thumbnails")
    if self_contained:
        return galleries, gallery.thumbnail_bytes(images, root), [], notes
    thumbs = gallery.write_thumbnails(images, root, out / "gallery")
    return galleries, thumbs, [p for p in thumbs.values() if p is not None], notes


def _umap_and_gallery(
    data: RunData, out: Path, self_contained: bool, top_k: int, fmt: str, t: dict[str, float]
) -> tuple[Path | None, dict, dict, list[Path], list[str]]:
    """umap.<fmt>, the galleries, their thumbnails and thumbnail files, and the notes so far:
    drawn in this process while the second one draws the side figures."""
    umap = None
    notes = [*data.notes, *umap_notes(data)]
    if data.projections:
        with timed(t, "umap_figure_s"):
            umap = figures.umap_figure(data.projections, out, fmt)
    with timed(t, "gallery_thumbnails_s"):
        galleries, thumbs, files, gallery_notes = _gallery_files(data, out, top_k, self_contained)
    return umap, galleries, thumbs, files, notes + gallery_notes


def _has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]", text))


def _font_notes(data: RunData) -> list[str]:
    """Warn about boxes only where a figure really draws Japanese text: the UMAP legend
    (identity names, drawn up to MAX_LEGEND_IDENTITIES people), model and subset names."""
    drawn = [*data.model_names, *(s.name for s in data.subsets)]
    for p in data.projections:
        people = {str(i) for i in p.identities}
        if len(people) <= plots.MAX_LEGEND_IDENTITIES:
            drawn += list(people)
    if plots.cjk_font_available() is None and any(_has_cjk(t) for t in drawn):
        return [
            "No CJK font is installed, so Japanese text drawn in the figures (legend names) "
            "shows as boxes; the tables on this page show it correctly (Debian/Ubuntu: "
            "apt-get install fonts-noto-cjk)."
        ]
    return []


def check_render_target(run_dir: Path, out: Path) -> None:
    """Refuse an ``out`` inside the run folder (its files would be mixed into the run's)."""
    source, target = Path(run_dir).resolve(), Path(out).resolve()
    if target != source and target.is_relative_to(source):
        raise RunFolderError(
            f"--out {out} is inside the run folder {run_dir}; choose a folder outside it"
        )
