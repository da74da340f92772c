"""``face-bench gate``: fail CI when a results file regresses against a committed baseline."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from face_bench.cli.app import command
from face_bench.cli.options import ConfigOpt
from face_bench.cli.paths import home_expanded, output_path
from face_bench.metrics.catalog import tolerance_help

if TYPE_CHECKING:
    from face_bench.gate.records import GateReport


class GateFormat(StrEnum):
    """What ``gate`` prints on stdout."""

    MARKDOWN = "markdown"
    JSON = "json"


def gate_command(
    baseline: Annotated[
        Path,
        typer.Option(
            "--baseline",
            help="results.json of the accepted run, usually committed next to the workflow.",
            show_default=False,
            callback=home_expanded,
        ),
    ],
    current: Annotated[
        Path,
        typer.Option(
            "--current",
            help="results.json of the run under test (written by roc or threshold-sweep).",
            show_default=False,
            callback=home_expanded,
        ),
    ],
    tolerance: Annotated[
        list[str] | None,
        typer.Option(
            "--tolerance",
            "-t",
            metavar="METRIC=VALUE",
            help="Absolute tolerance for one metric, e.g. roc_auc=0.01; tar_at_far=VALUE sets "
            "every TAR@FAR target. Repeatable; wins over [gate.tolerances] in the config file. "
            "Defaults: " + tolerance_help(),
        ),
    ] = None,
    config: ConfigOpt = None,
    allow_mismatch: Annotated[
        bool,
        typer.Option(
            "--allow-mismatch",
            help="Compare even when the runs differ in dataset digest, subset definition, "
            "sampled images, seed, pairs mode or model weights (mismatches are still listed).",
        ),
    ] = False,
    fail_outside_ci: Annotated[
        bool | None,
        typer.Option(
            "--fail-outside-interval/--no-fail-outside-interval",
            help="Count a metric as regressed when the baseline lies outside the current "
            "run's 95% bootstrap interval on its better side, even within tolerance. Default: "
            "[gate] fail_outside_interval in the config file, else only a warning. "
            "(Formerly --fail-outside-ci, still accepted with a deprecation note.)",
            show_default=False,
        ),
    ] = None,
    markdown: Annotated[
        Path | None,
        typer.Option(
            "--markdown",
            help="Also write the Markdown summary to this file.",
            callback=output_path,
        ),
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit",
            help="Write JUnit XML: one testcase per subset x model x metric, failures for "
            "regressions, skipped for metrics that cannot be compared.",
            callback=output_path,
        ),
    ] = None,
    output_format: Annotated[
        GateFormat,
        typer.Option("--format", help="What to print on stdout: the Markdown summary or JSON."),
    ] = GateFormat.MARKDOWN,
) -> None:
    from face_bench.gate import output as gate_output
    from face_bench.gate.tolerances import parse_tolerances
    from face_bench.gate.verdict import run_gate

    report = run_gate(
        baseline,
        current,
        parse_tolerances(tolerance or []),
        config,
        allow_mismatch,
        fail_outside_ci=fail_outside_ci,
    )
    summary = gate_output.render_markdown(report)
    if output_format is GateFormat.JSON:
        typer.echo(gate_output.render_json(report), nl=False)
    else:
        typer.echo(summary)
    if markdown is not None:
        gate_output.write_output(markdown, summary)
    if junit is not None:
        gate_output.write_output(junit, gate_output.render_junit(report))
    conclude(report, summary)


def conclude(report: GateReport, summary: str) -> None:
    """Shared ending of ``gate`` and ``roc --baseline``: step summary, headline, exit code."""
    from face_bench.core.errors import FaceBenchError, GateInputError
    from face_bench.gate import output as gate_output

    try:
        gate_output.append_step_summary(summary)
    except FaceBenchError as exc:
        # The job summary is a courtesy copy: its failure must not turn a regression (1)
        # or a pass (0) into another exit code that CI would read as something else.
        typer.echo(f"face-bench: warning: $GITHUB_STEP_SUMMARY not written: {exc}", err=True)
    if report.problem:
        raise GateInputError(report.problem)
    typer.echo(f"face-bench gate: {gate_output.headline(report)}", err=True)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


command(
    "gate",
    "Compare a results.json with a baseline per subset, model and metric, and exit 1 when any "
    "metric moved the bad way by more than its tolerance (0: all within tolerance, 2: inputs "
    "unusable or runs not comparable). Prints a Markdown table (or JSON), appends it to "
    "$GITHUB_STEP_SUMMARY when set, and can write JUnit XML for CI test reports.",
    renames={
        "--fail-outside-ci": "--fail-outside-interval",
        "--no-fail-outside-ci": "--no-fail-outside-interval",
    },
)(gate_command)
