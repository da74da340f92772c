"""``umap`` and ``report``: pictures and pages over one evaluation.

``umap`` and ``report`` take the same option groups as ``roc`` (``cli.options``), so one set
of flags describes a run everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from face_bench.cli.app import command, invocation
from face_bench.cli.evaluate_cmds import gate_against
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
    OutputFormat,
    OutputOptions,
    SampleOptions,
    evaluation_request,
)

if TYPE_CHECKING:
    from face_bench.report.projection import Projection
    from face_bench.run.evaluation import Evaluation, EvaluationRequest

SelfContainedOpt = Annotated[
    bool,
    typer.Option(
        "--self-contained/--no-self-contained",
        help="Embed every image in report.html as a data URI (one file to send), or link "
        "the PNGs and thumbnails beside it (smaller page; move the folder as a whole).",
    ),
]
TopKOpt = Annotated[
    int,
    typer.Option(
        "--top-k",
        help="Pairs per model in the hardest-pairs gallery (most similar impostors, least "
        "similar genuine pairs).",
        min=0,
    ),
]


def _evaluate(request: EvaluationRequest) -> Evaluation:
    from face_bench.cli.console import info, progress_factory, warn
    from face_bench.run.evaluation import evaluate

    with progress_factory() as progress:
        return evaluate(request, progress=progress, on_message=warn, on_info=info)


# ------------------------------------------------------------------- umap


# UMAP shows no metrics: the evaluation's quality checks and intervals are left out.
UMAP_SAMPLE = SAMPLE.without("near_duplicates", "stratify_by", "exclude_suspects")


@with_groups(sampling=UMAP_SAMPLE, embed=EMBED, output=OUTPUT)
def umap_command(sampling: SampleOptions, embed: EmbedOptions, output: OutputOptions) -> None:
    embed.prestart()
    from face_bench.cli.console import info
    from face_bench.report.outputs import prepare_out, run_out_dir
    from face_bench.report.page import write_umap
    from face_bench.report.run_folder import run_folder

    # Metrics are not shown here: no intervals, and a subset differential rule that cannot
    # fail for want of impostor pairs.
    metrics = MetricOptions(bootstrap=0, threshold="default")
    request = evaluation_request(sampling, embed, metrics, sweep=False, command=invocation())
    out = output.out
    target = prepare_out(request, out, command="umap")  # checked before any embedding
    evaluation = _evaluate(request)
    target = run_out_dir(target, out, request, "umap", evaluation)
    with run_folder(target) as folder:
        written, projections, notes = write_umap(
            evaluation, folder.staging, say=info, fmt=output.figure_format.value
        )
    written = [folder.final_path(p) for p in written]
    _render_umap(request.seed, projections, notes, written, output.output_format)


def _render_umap(
    seed: int,
    projections: list[Projection],
    notes: list[str],
    written: list[Path],
    output_format: OutputFormat,
) -> None:
    """One row per model and notes on stderr, or the projections and files as JSON."""
    from face_bench.cli.console import print_unbroken, stdout, warn
    from face_bench.cli.tables import SafeTable as Table

    if output_format is OutputFormat.JSON:
        import json

        rows = [
            {
                "model": p.model,
                "images": p.n_points,
                "identities": len(set(p.identities)),
                "excluded": p.excluded,
            }
            for p in projections
        ]
        payload = {"files": [str(p) for p in written], "models": rows, "notes": notes}
        stdout.print_json(json.dumps(payload, ensure_ascii=False))
        return
    table = Table(title=f"UMAP projections (cosine, seed {seed})", title_justify="left")
    for column in ("model", "images placed", "identities", "left out (not embedded)"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for p in projections:
        table.add_row(p.model, str(p.n_points), str(len(set(p.identities))), str(p.excluded))
    stdout.print(table)
    for note in notes:  # the models left out were noted once, before the run
        warn(note)
    if written:
        print_unbroken(f"wrote {', '.join(p.name for p in written)} to {written[0].parent}")


command(
    "umap",
    "Project each model's embeddings of the sampled images to 2-D with UMAP (cosine metric, "
    "seeded) and plot them coloured by identity, one panel per model; writes umap.png and "
    "umap.csv (model, image, identity, x, y). Images a model could not embed are left out "
    "and counted.",
    renames=EVALUATION_RENAMES,
)(umap_command)


# ----------------------------------------------------------------- report

FromRunOpt = Annotated[
    Path | None,
    typer.Option(
        "--from",
        metavar="RUN_DIR",
        help="Render the whole report again from a run folder (its results.json, scores.csv and "
        "umap.csv) without evaluating: byte for byte the report the run wrote, given the same "
        "--self-contained, --top-k and --figure-format. Written to --out (default: a new "
        "folder beside the run folder); the run folder itself only when --out names it. The "
        "dataset, model and sampling options do not apply: the run folder records them.",
        show_default=False,
    ),
]


def _report_from(
    run_dir: Path, out: Path | None, self_contained: bool, top_k: int, fmt: str, json_out: bool
) -> None:
    """``report --from``: the run folder's report rendered into a new folder (or ``--out``)."""
    from face_bench.cli.console import print_unbroken, stdout, warn
    from face_bench.report.render import check_render_target, render_run
    from face_bench.report.run_folder import check_out_folder, run_folder, unique_name
    from face_bench.report.source import read_run_folder

    data = read_run_folder(run_dir)  # a folder that is not a run stops before any file is made
    target = out if out is not None else run_dir.parent / unique_name(run_dir.name[:80], "report")
    check_render_target(run_dir, target)
    target = check_out_folder(target)
    with run_folder(target) as folder:
        result = render_run(
            data, folder.staging, self_contained=self_contained, top_k=top_k, figure_format=fmt
        )
    for note in result.notes:
        warn(note)
    if json_out:
        import json

        files = [str(folder.final_path(p)) for p in result.written]
        stdout.print_json(json.dumps({"report": str(target / result.html.name), "files": files}))
        return
    print_unbroken(f"wrote {len(result.written)} files to {target}")
    print_unbroken(f"report: {folder.final_path(result.html)}")


@with_groups(sampling=SAMPLE, embed=EMBED, metrics=METRICS, output=OUTPUT, calibration=CALIBRATION)
def report_command(
    sampling: SampleOptions,
    embed: EmbedOptions,
    metrics: MetricOptions,
    output: OutputOptions,
    *,
    baseline: BaselineOpt = None,
    self_contained: SelfContainedOpt = True,
    top_k: TopKOpt = 8,
    calibration: CalibrationOptions,
    from_run: FromRunOpt = None,
) -> None:
    if from_run is not None:
        fmt, json_out = output.figure_format.value, output.output_format is OutputFormat.JSON
        return _report_from(from_run, output.out, self_contained, top_k, fmt, json_out)
    embed.prestart()
    from face_bench.cli.console import info, print_unbroken, warn
    from face_bench.cli.render import render_evaluation
    from face_bench.report.outputs import prepare_out, run_out_dir
    from face_bench.report.page import figure_process, write_report
    from face_bench.report.run_folder import run_folder

    request = evaluation_request(
        sampling, embed, metrics, calibration, sweep=True, command=invocation()
    )
    out = output.out
    target = prepare_out(request, out, baseline, "report")  # checked before any embedding
    with figure_process() as pool:  # loads matplotlib while the evaluation runs
        evaluation = _evaluate(request)
        target = run_out_dir(target, out, request, "report", evaluation)
        with run_folder(target) as folder:
            result = write_report(
                evaluation,
                folder.staging,
                self_contained=self_contained,
                top_k=top_k,
                say=info,
                figure_format=output.figure_format.value,
                pool=pool,
            )
    for note in result.notes:
        warn(note)
    render_evaluation(evaluation, "threshold-sweep", output.output_format.value, [])
    if output.output_format is OutputFormat.TABLE:
        print_unbroken(f"wrote {len(result.written)} files to {target}")
        print_unbroken(f"report: {folder.final_path(result.html)}")
    if baseline is not None:
        gate_against(baseline, target / "results.json", embed.config)


command(
    "report",
    "Run ROC, threshold sweep, DET, score histograms, UMAP and the hardest-pairs gallery "
    "for one or more subsets and models, and write report.html (works offline; images "
    "embedded unless --no-self-contained) beside results.json, scores.csv, sweep.csv and "
    "the PNGs. With --from RUN_DIR, render that run folder's report again instead (no "
    "evaluation).",
    renames=EVALUATION_RENAMES,
)(report_command)
