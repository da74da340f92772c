"""What the terminal shows at 80 and 120 columns: no number cut or split, metric tables laid
out the same way at both widths, paths on unbroken lines, DeLong's p never without what it
assumes, and compare's verdict in plain words."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from typer.testing import CliRunner

from face_bench.cli import compare_cmd, render
from face_bench.cli import console as terminal
from face_bench.cli.app import app
from face_bench.results.blocks import ConfidenceInterval, SweepMarker, ThresholdSweep
from face_bench.results.contract import RunResults
from face_bench.run.compare import Comparison, PairVerdict

BASELINE = Path(__file__).resolve().parent / "baselines" / "young_women-40.json"
WIDTHS = [80, 120]
runner = CliRunner()


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch):
    """Point the stdout console at a terminal of a given width; return a reader of it."""

    def at(width: int) -> io.StringIO:
        file = io.StringIO()
        console = Console(width=width, file=file, highlight=False, markup=False)
        monkeypatch.setattr(render, "stdout", console)
        monkeypatch.setattr(terminal, "stdout", console)  # print_unbroken's console
        return file

    return at


def _results(with_sweep: bool = False) -> RunResults:
    results = RunResults.from_disk(BASELINE)
    if with_sweep:
        for model in results.subsets[0].models:
            marker = {"threshold": 0.6, "f1": 0.4848, "precision": 0.32, "recall": 1.0}
            model.threshold_sweep = ThresholdSweep(
                units="Euclidean distance",
                accept_rule="distance <= threshold",
                markers=[
                    SweepMarker(name="default", **marker, accuracy=0.5, fmr=0.94444, fnmr=0.0),
                    SweepMarker(name="EER", **marker, accuracy=0.8, fmr=0.16296, fnmr=0.00321),
                ],
            )
    return results


def _print(results: RunResults, kind: str = "roc", written: list[Path] | None = None) -> None:
    render.render_evaluation(SimpleNamespace(results=results), kind, "table", written or [])


def _check_fits(text: str, width: int) -> None:
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_sweep_numbers_are_never_cut_or_split(screen, width: int) -> None:
    file = screen(width)
    results = _results(with_sweep=True)
    _print(results, "threshold-sweep")
    text = file.getvalue()
    _check_fits(text, width)
    lines = text.splitlines()
    for model in results.subsets[0].models:
        assert model.threshold_sweep is not None
        for marker in model.threshold_sweep.markers:
            row = [line for line in lines if f"│ {marker.name} " in line]
            assert row, marker.name
            for value in (f"{marker.fmr:.5f}", f"{marker.fnmr:.5f}", f"{marker.threshold:.4f}"):
                assert any(value in line for line in row), (value, row)
    assert "0.00000" in text and "0.00321" in text


def _metric_table_lines(text: str) -> list[str]:
    start = next(i for i, line in enumerate(text.splitlines()) if "40 images of" in line)
    return text.splitlines()[start : start + 16]


def test_metric_tables_are_laid_out_alike_at_80_and_120(screen) -> None:
    layouts = {}
    for width in WIDTHS:
        file = screen(width)
        _print(_results())
        text = file.getvalue()
        _check_fits(text, width)
        table = _metric_table_lines(text)
        # A metric per row, so the bootstrap interval of the AUC stays on one line.
        auc = next(line for line in table if line.startswith("│ ROC-AUC"))
        assert re.search(r"\d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\]", auc)
        layouts[width] = [line.split("│")[1].strip() for line in table if line.startswith("│")]
    assert layouts[80] == layouts[120]


def test_a_wide_terminal_gets_a_model_per_row(screen) -> None:
    file = screen(250)
    _print(_results())
    table = _metric_table_lines(file.getvalue())
    assert any(line.startswith("│ dlib ") for line in table)
    assert any(line.startswith("│ hse-faceres ") for line in table)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_wrote_line_keeps_the_path_whole(screen, tmp_path: Path, width: int) -> None:
    folder = tmp_path / ("a-long-folder-name-" * 4) / "run"
    written = [folder / name for name in ("results.json", "scores.csv", "roc.png", "det.png")]
    file = screen(width)
    _print(_results(), written=written)
    (line,) = [line for line in file.getvalue().splitlines() if line.startswith("wrote ")]
    assert line.endswith(f" to {folder}")


def _comparison_text(screen, ci: tuple[float, float] | None) -> str:
    results = _results()
    comparison = results.subsets[0].comparisons[0]
    if ci is None:
        comparison.ci = None
    else:
        assert comparison.ci is not None
        comparison.ci = ConfidenceInterval(
            **{**comparison.ci.model_dump(), "lower": ci[0], "upper": ci[1]}
        )
    file = screen(120)
    _print(results)
    return " ".join(file.getvalue().split())


def test_delong_p_always_says_what_it_assumes(screen) -> None:
    for ci in [(-0.0444, 0.0829), (0.01, 0.05), None]:
        text = _comparison_text(screen, ci)
        assert text.count("DeLong p") == text.count("DeLong p (assumes independent pairs) = ")
        assert text.count("DeLong p") == 1
        assert "significant" not in text


def test_a_difference_is_called_only_when_the_bootstrap_interval_excludes_zero(screen) -> None:
    # The committed run: DeLong's p is 0.0035, but the identity bootstrap includes 0.
    text = _comparison_text(screen, (-0.0444, 0.0829))
    assert "includes 0, no clear difference" in text and "is better" not in text
    assert "excludes 0, dlib is better" in _comparison_text(screen, (0.01, 0.05))
    assert "excludes 0, hse-faceres is better" in _comparison_text(screen, (-0.05, -0.01))
    text = _comparison_text(screen, None)
    assert "no identity-bootstrap interval" in text and "is better" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_models_shows_every_path_whole(screen, width: int, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    listing = screen(width)
    assert runner.invoke(app, ["models", "--format", "json", "--cache-dir", cache]).exit_code == 0
    rows = json.loads(listing.getvalue())
    file = screen(width)
    result = runner.invoke(app, ["models", "--cache-dir", cache])
    assert result.exit_code == 0, result.output
    text = file.getvalue()
    assert "…" not in text
    table = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert max(len(line) for line in table) <= width
    ready = [row for row in rows if row["weights"]]
    assert ready
    for row in ready:
        path = os.path.normpath(row["weights"])
        assert f"{row['name']} weights: {path}" in text.splitlines()


@pytest.mark.parametrize("width", WIDTHS)
def test_datasets_keeps_paths_whole_and_licence_notes_uncut(screen, width, tmp_path) -> None:
    from face_bench.data.named import NAMED_DATASETS

    file = screen(width)
    cache = tmp_path / "cache"
    result = runner.invoke(app, ["datasets", "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    text = file.getvalue()
    unbroken = (" location: ", "default --data here: ")  # lines that name a path
    _check_fits(
        "\n".join(line for line in text.splitlines() if not any(u in line for u in unbroken)),
        width,
    )
    flat = " ".join(text.split())
    for d in NAMED_DATASETS.values():
        assert f"{d.name} location: {d.folder(cache)}" in text.splitlines()
        assert f"{d.name} licence: {' '.join(d.licence.split())}" in flat


def _comparison(folder: Path) -> Comparison:
    a, b, c = (str(folder / name) for name in ("野田/1.png", "野田/2.png", "Peck/1.png"))
    common = {"model": "dlib", "units": "Euclidean distance", "threshold": 0.6}
    pairs = [
        PairVerdict(a, b, **common, score=0.2788, percent=86.1, same_person=True),
        PairVerdict(a, c, **common, score=0.6234, percent=68.8, same_person=False),
        PairVerdict(b, c, **common, score=None, percent=None, same_person=None,
                    problem=f"{c}: no face found"),
    ]  # fmt: skip
    cosine = {"model": "hse", "units": "cosine similarity", "threshold": 0.55}
    pairs.append(PairVerdict(a, b, **cosine, score=0.4869, percent=74.3, same_person=False))
    return Comparison([a, b, c], [], pairs)


def _rows(text: str) -> list[list[str]]:
    """A Rich table's rows, each cell's wrapped lines joined (a row starts where its first
    cell does)."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells[0] or not rows:
            rows.append(cells)
        else:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
    return rows


@pytest.mark.parametrize("width", [80, 120, 250])
def test_compare_says_the_verdict_in_plain_words(screen, tmp_path: Path, width: int) -> None:
    folder = tmp_path / "faces"
    file = screen(width)
    compare_cmd._render_compare(_comparison(folder), compare_cmd.OutputFormat.TABLE)
    text = file.getvalue()
    _check_fits("\n".join(line for line in text.splitlines() if "faces" not in line), width)
    verdicts = [row[-1] for row in _rows(text)]
    assert verdicts == [
        "same person: distance 0.2788 ≤ 0.6",
        "different person: distance 0.6234 > 0.6",
        "cannot compare: Peck/1.png: no face found",
        "different person: cosine similarity 0.4869 < 0.55",
    ]
    # Paths relative to the images' common folder, which is named once, whole.
    assert f"images in {folder}" in text
    assert str(folder / "Peck") not in text.replace(f"images in {folder}", "")
    shorts = ("野田/1.png", "野田/2.png", "Peck/1.png")
    if f"images in {folder}:" in text.splitlines():  # too narrow for paths: numbered, listed
        for number, short in enumerate(shorts, start=1):
            assert f"  {number}  {short}" in text.splitlines()
        assert {row[0] for row in _rows(text)} <= {"1", "2", "3"}
    else:
        assert {row[0] for row in _rows(text)} <= set(shorts)
    assert width > 80 or f"images in {folder}:" in text.splitlines()


def test_the_page_calls_a_difference_only_on_the_identity_level_interval() -> None:
    from face_bench.report.context import _comparisons

    run = _results().subsets[0]
    comparison = run.comparisons[0]
    assert comparison.delong_p is not None and comparison.delong_p < 0.05
    assert comparison.ci is not None and comparison.ci.lower < 0 < comparison.ci.upper
    (row,) = _comparisons(run)
    assert row["significant"] is False
