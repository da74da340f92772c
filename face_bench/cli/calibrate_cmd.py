"""``calibrate``: fit score -> P(same person) maps and say how well they hold on new people."""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from face_bench.cli.app import command, invocation
from face_bench.cli.groups import with_groups
from face_bench.cli.options import (
    EMBED,
    SAMPLE,
    BootstrapOpt,
    EmbedOptions,
    FigureFormatOpt,
    FormatOpt,
    MetricOptions,
    OutputFormat,
    SampleOptions,
    check_prior,
    evaluation_request,
)
from face_bench.core.modes import FigureFormat

if TYPE_CHECKING:
    from face_bench.run.calibrate import Calibration

FitSubsetOpt = Annotated[
    str,
    typer.Option(
        "--subset",
        "-d",
        metavar="NAME",
        help="The labelled subset the maps are fitted on (cross-fitted over its people).",
    ),
]
ApplyToOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--apply-to",
        metavar="NAME",
        help="Another subset to judge the fitted maps on, as they are. Repeat for several.",
    ),
]


class MapMethod(StrEnum):
    """The two maps scikit-learn fits (see docs/calibration.md)."""

    PLATT = "platt"
    ISOTONIC = "isotonic"


MethodOpt = Annotated[
    MapMethod,
    typer.Option("--method", help="platt (logistic regression on the score) or isotonic."),
]
FoldsOpt = Annotated[
    int,
    typer.Option("--folds", min=2, help="Identity-disjoint folds for the held-out quality."),
]
CalibrationByOpt = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Also report every measure per group of manifest columns (e.g. --by "
        "sex,age_group): the pairs whose two images share the group's values.",
        show_default=False,
    ),
]
FitPriorOpt = Annotated[
    float | None,
    typer.Option(
        "--prior",
        help="Genuine-pair prior for the probabilities on --apply-to subsets, strictly "
        "between 0 and 1 (default: the fitting subset's genuine fraction).",
    ),
]
CalibrationOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Calibration file to write (default "
        "reports/calibration-<dataset>-<subset>-<method>.json).",
    ),
]


# The fitting subset and --apply-to name the subsets; the embedding runs on this machine.
CALIBRATE_SAMPLE = SAMPLE.without(
    "subset", "on_fail", "identity_from", "identity_pattern", "duplicates", "near_duplicates",
    "stratify_by", "exclude_suspects",
)  # fmt: skip
CALIBRATE_EMBED = EMBED.without(
    "multi_face", "fallback_detector", "detector", "engine", "ray_address"
)


@with_groups(sampling=CALIBRATE_SAMPLE, embed=CALIBRATE_EMBED)
def calibrate_command(
    subset: FitSubsetOpt = "all",
    apply_to: ApplyToOpt = None,
    method: MethodOpt = MapMethod.PLATT,
    folds: FoldsOpt = 5,
    prior: FitPriorOpt = None,
    by: CalibrationByOpt = None,
    *,
    sampling: SampleOptions,
    embed: EmbedOptions,
    bootstrap: BootstrapOpt = 1000,
    out: CalibrationOutOpt = None,
    figure_format: FigureFormatOpt = FigureFormat.PNG,
    output_format: FormatOpt = OutputFormat.TABLE,
) -> None:
    from face_bench.cli.console import info, progress_factory, warn
    from face_bench.core.io import atomic_write_text, ensure_folder
    from face_bench.core.text import file_slug
    from face_bench.report.calibration_view import write_reliability_figure
    from face_bench.run.calibrate import CalibrationSettings, calibrate, summary_rows
    from face_bench.run.differentials import parse_by

    check_prior(prior)
    sampling = replace(sampling, subsets=(subset, *(apply_to or ())))
    # The evaluation's own intervals are not needed here.
    metrics = MetricOptions(bootstrap=0)
    request = evaluation_request(sampling, embed, metrics, sweep=False, command=invocation())
    settings = CalibrationSettings(
        "platt" if method is MapMethod.PLATT else "isotonic",
        folds,
        bootstrap,
        sampling.seed,
        prior,
        parse_by(by),
    )
    target = out or Path("reports") / (
        f"calibration-{file_slug(request.data.name)}-{file_slug(subset)}-{method.value}.json"
    )
    _check_target(target)  # before any embedding: a long run never ends unwritable
    with progress_factory() as progress:
        result = calibrate(request, settings, progress=progress, on_message=warn, on_info=info)
    ensure_folder(target.parent)
    atomic_write_text(target, result.file.text())
    figure = target.with_name(f"{target.stem}-reliability.{figure_format.value}")
    write_reliability_figure(summary_rows(result), figure)
    _render(result, output_format, target, figure)


def _check_target(target: Path) -> None:
    """The calibration file's path: a regular file or nothing yet, in a usable folder."""
    from face_bench.core.errors import OutputError
    from face_bench.core.io import check_folder, describe_kind

    if target.is_symlink():
        raise OutputError(f"--out {target} is a symbolic link; name a new or regular file")
    if target.exists() and not target.is_file():
        raise OutputError(f"--out {target} is {describe_kind(target)}, not a calibration file")
    check_folder(target.parent)


def _render(result: Calibration, output_format: OutputFormat, target: Path, figure: Path) -> None:
    import json

    from face_bench.cli.calibration_view import quality_table, reliability_table
    from face_bench.cli.console import print_unbroken, stdout
    from face_bench.run.calibrate import summary_rows

    rows = summary_rows(result)
    if output_format is OutputFormat.JSON:
        shown = {"file": str(target), "figure": str(figure), "sets": rows}
        stdout.print_json(json.dumps(shown, ensure_ascii=False))
        return
    stdout.print(quality_table(rows, "face-bench calibrate (95% identity-bootstrap intervals)"))
    for model in result.quality:
        stdout.print(reliability_table([r for r in rows if r["model"] == model], model))
    print_unbroken(f"wrote the calibration file to {target}")
    print_unbroken(f"wrote the reliability diagram to {figure}")


command(
    "calibrate",
    "Fit a score -> P(same person) map per model (Platt or isotonic, scikit-learn) on one "
    "labelled subset, cross-fitted over identity-disjoint folds; report held-out Cllr, "
    "minCllr, Brier, ECE and reliability bins with identity-bootstrap intervals, and the same "
    "on --apply-to subsets; write a calibration file tied to each model's weights and "
    "preprocessing (for compare --calibration).",
)(calibrate_command)
