"""``export-scores``: a run's scores.csv as pyeer, bob.measure or plain CSV files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from face_bench.cli.app import command
from face_bench.cli.paths import home_expanded, output_path
from face_bench.core.modes import ExportFormat

RunDirArg = Annotated[
    Path,
    typer.Argument(
        help="Run folder holding scores.csv and results.json (or lfw.json).",
        callback=home_expanded,
    ),
]
ExportToOpt = Annotated[
    ExportFormat,
    typer.Option(
        "--to",
        help="pyeer: <model>_genuine.txt and <model>_impostor.txt (run geteerinf without -ds); "
        "bob: 4-column reference_id probe_id probe_key score; csv: face-bench's score CSV. "
        "(Formerly --format.)",
    ),
]
ExportOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Output folder (default RUN_DIR/export-<format>/).",
        callback=output_path,
    ),
]


def export_scores_cmd(run_dir: RunDirArg, to: ExportToOpt, out: ExportOutOpt = None) -> None:
    from face_bench.cli.console import info, print_unbroken, stdout
    from face_bench.results.export import ORIENTATION, export_scores

    folder, written = export_scores(run_dir, to, out)
    for item in written:
        dropped = f", {item.n_dropped} unscored pair(s) left out" if item.n_dropped else ""
        stdout.print(
            f"{item.subset} / {item.model}: {item.n_genuine} genuine, {item.n_impostor} impostor"
            f"{dropped} -> {', '.join(p.name for p in item.paths)}"
        )
    print_unbroken(f"wrote {len(written)} export(s) to {folder} (scores: {ORIENTATION})")
    if to is ExportFormat.PYEER:
        info("pyeer: geteerinf -p DIR -g <model>_genuine.txt -i <model>_impostor.txt")


command(
    "export-scores",
    "Export a run's scores.csv per subset and model for other tools: pyeer genuine/impostor "
    "files, bob.measure 4-column files, or plain CSV. Scores stay oriented higher = same "
    "person (Euclidean models: negated distance).",
    renames={"--format": "--to"},
)(export_scores_cmd)
