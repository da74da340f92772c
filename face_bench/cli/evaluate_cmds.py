"""``roc`` and ``threshold-sweep``: one evaluation, different figures and tables."""

from __future__ import annotations

from pathlib import Path

import typer

from face_bench.cli.app import command, invocation
from face_bench.cli.groups import with_groups
from face_bench.cli.options import (
    CALIBRATION,
    EMBED,
    EVALUATION_RENAMES,
    METRICS,
    OUTPUT,
    SAMPLE,
    BaselineOpt,
    CalibrationOptions,
    EmbedOptions,
    MetricOptions,
    OutputOptions,
    SampleOptions,
    evaluation_request,
)


def gate_against(baseline: Path, current: Path, config: Path | None) -> None:
    """``--baseline``: gate the fresh results right away, exactly as ``face-bench gate`` would."""
    from face_bench.cli.gate_cmd import conclude
    from face_bench.gate import output as gate_output
    from face_bench.gate.verdict import run_gate

    report = run_gate(baseline, current, None, config, False)
    summary = gate_output.render_markdown(report)
    typer.echo(summary)
    conclude(report, summary)


def _import_writers() -> None:
    """What writing and showing the results imports (matplotlib, the report's figures and
    tables), loaded while the workers embed instead of after them."""
    import importlib

    for name in (
        "matplotlib.figure",
        "matplotlib.backends.backend_agg",
        "face_bench.report.figures",
        "face_bench.report.headline",
        "face_bench.report.quality",
        "face_bench.run.quality",
        "face_bench.cli.quality_tables",
    ):
        importlib.import_module(name)


@with_groups(sampling=SAMPLE, embed=EMBED, metrics=METRICS, output=OUTPUT, calibration=CALIBRATION)
def evaluation_command(
    ctx: typer.Context,
    sampling: SampleOptions,
    embed: EmbedOptions,
    metrics: MetricOptions,
    output: OutputOptions,
    *,
    baseline: BaselineOpt = None,
    calibration: CalibrationOptions,
) -> None:
    """``roc`` and ``threshold-sweep`` (told apart by the name they were called by)."""
    embed.prestart()
    from face_bench.cli.console import info, progress_factory, warn
    from face_bench.cli.render import render_evaluation
    from face_bench.report.outputs import prepare_out, run_out_dir, write_evaluation
    from face_bench.report.run_folder import run_folder
    from face_bench.run.evaluation import evaluate

    kind = ctx.info_name or "roc"
    sweep = kind == "threshold-sweep"
    request = evaluation_request(
        sampling, embed, metrics, calibration, sweep=sweep, command=invocation()
    )
    out = output.out
    target = prepare_out(request, out, baseline, kind)  # checked before any embedding
    with progress_factory() as progress:
        evaluation = evaluate(
            request, progress=progress, on_message=warn, on_info=info,
            while_embedding=_import_writers,
        )  # fmt: skip
    target = run_out_dir(target, out, request, kind, evaluation)
    with run_folder(target) as folder:
        written = write_evaluation(evaluation, folder.staging, kind, output.figure_format.value)
    written = [folder.final_path(p) for p in written]
    render_evaluation(evaluation, kind, output.output_format.value, written)
    if baseline is not None:
        gate_against(baseline, written[0], embed.config)


command(
    "roc",
    "Sample subsets, embed each image once per model (cached), score pairs and report exact "
    "ROC-AUC, EER, TAR@FAR and d' per model; writes roc.png, det.png, scores.csv and "
    "results.json.",
    renames=EVALUATION_RENAMES,
)(evaluation_command)

command(
    "threshold-sweep",
    "Precision, recall, F1, accuracy, FMR and FNMR versus threshold in each model's own "
    "units, marking the default, F1-optimal and EER thresholds; writes sweep.png, sweep.csv "
    "and a threshold_sweep section in results.json.",
    renames=EVALUATION_RENAMES,
)(evaluation_command)
