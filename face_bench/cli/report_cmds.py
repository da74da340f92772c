"""``umap``, ``report`` and ``compare``: pictures and pages over one evaluation, and a quick
pairwise check of a few photos.

``umap`` and ``report`` take the same dataset, subset, model and sample options as ``roc``
(built from ``evaluation_options``), so one set of flags describes a run everywhere.
"""

import inspect
from pathlib import Path
from typing import Annotated

import typer

from face_bench.cli.app import command, fail
from face_bench.cli.evaluate_cmds import _request, evaluation_options, parse_weights, runtime_value
from face_bench.cli.options import (
    Align,
    AlignOpt,
    CacheDirOpt,
    ConfigOpt,
    DlibRuntimeOpt,
    FormatOpt,
    ModelOpt,
    MultiFace,
    MultiFaceOpt,
    OutputFormat,
    WeightsOpt,
    WorkersOpt,
)

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


def _signature(drop: tuple[str, ...] = (), **extra) -> inspect.Signature:
    """The shared evaluation signature less ``drop``, plus ``extra``: name=(annotation, default)."""
    base = inspect.signature(evaluation_options)
    params = [p for p in base.parameters.values() if p.name not in drop]
    params += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint)
        for name, (hint, default) in extra.items()
    ]
    return base.replace(parameters=params)


def _evaluate(kwargs: dict, sweep: bool):
    from face_bench.cli.render import info, progress_factory, warn
    from face_bench.run.evaluation import evaluate

    request = _request(kwargs, sweep=sweep)
    with progress_factory() as progress:
        evaluation = evaluate(request, progress=progress, on_message=warn, on_info=info)
    return request, evaluation


# ------------------------------------------------------------------- umap


def umap_command(**kwargs) -> None:
    from rich.table import Table

    from face_bench.cli.render import info, stdout, warn
    from face_bench.report.outputs import default_out_dir
    from face_bench.report.page import write_umap

    # Metrics are not shown here: no intervals, and a subset differential rule that cannot
    # fail for want of impostor pairs.
    kwargs.update(bootstrap=0, threshold="default", baseline=None)
    request, evaluation = _evaluate(kwargs, sweep=False)
    out = Path(kwargs["out"] or default_out_dir(request))
    written, projections, notes = write_umap(evaluation, out, say=info)
    if kwargs["output_format"] is OutputFormat.json:
        import json

        stdout.print_json(
            json.dumps(
                {
                    "files": [str(p) for p in written],
                    "models": [
                        {
                            "model": p.model,
                            "images": p.n_points,
                            "identities": len(set(p.identities)),
                            "excluded": p.excluded,
                        }
                        for p in projections
                    ],
                    "notes": notes,
                },
                ensure_ascii=False,
            )
        )
        return
    table = Table(title=f"UMAP projections (cosine, seed {request.seed})", title_justify="left")
    for column in ("model", "images placed", "identities", "left out (not embedded)"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for p in projections:
        table.add_row(p.model, str(p.n_points), str(len(set(p.identities))), str(p.excluded))
    stdout.print(table)
    for note in notes:  # the models left out were noted once, before the run
        warn(note)
    stdout.print(f"wrote {', '.join(p.name for p in written)} to {out}")


umap_command.__signature__ = _signature(drop=("bootstrap", "threshold", "baseline"))  # type: ignore[attr-defined]

command(
    "umap",
    "Project each model's embeddings of the sampled images to 2-D with UMAP (cosine metric, "
    "seeded) and plot them coloured by identity, one panel per model; writes umap.png and "
    "umap.csv (model, image, identity, x, y). Images a model could not embed are left out "
    "and counted.",
)(umap_command)


# ----------------------------------------------------------------- report


def report_command(**kwargs) -> None:
    from face_bench.cli.render import info, render_evaluation, stdout, warn
    from face_bench.report.outputs import default_out_dir
    from face_bench.report.page import write_report

    request, evaluation = _evaluate(kwargs, sweep=True)
    out = Path(kwargs["out"] or default_out_dir(request))
    result = write_report(
        evaluation,
        out,
        self_contained=kwargs["self_contained"],
        top_k=kwargs["top_k"],
        say=info,
    )
    for note in result.notes:
        warn(note)
    render_evaluation(evaluation, "threshold-sweep", kwargs["output_format"].value, [])
    if kwargs["output_format"] is OutputFormat.table:
        stdout.print(f"wrote {len(result.written)} files to {out}")
        stdout.print(f"report: {result.html}")
    if kwargs["baseline"] is not None:
        from face_bench.cli.evaluate_cmds import _gate_against

        _gate_against(kwargs["baseline"], out / "results.json", kwargs["config"])


report_command.__signature__ = _signature(  # type: ignore[attr-defined]
    self_contained=(SelfContainedOpt, True),
    top_k=(TopKOpt, 8),
)

command(
    "report",
    "Run ROC, threshold sweep, DET, score histograms, UMAP and the hardest-pairs gallery "
    "for one or more subsets and models, and write report.html (works offline; images "
    "embedded unless --no-self-contained) beside results.json, scores.csv, sweep.csv and "
    "the PNGs.",
)(report_command)


# ---------------------------------------------------------------- compare

ImagesArg = Annotated[
    list[Path],
    typer.Argument(help="Two or more image files; every pair is compared.", show_default=False),
]


def compare_command(
    images: ImagesArg,
    model: ModelOpt = None,
    align: AlignOpt = Align.AUTO,
    multi_face: MultiFaceOpt = MultiFace.LARGEST,
    config: ConfigOpt = None,
    weights: WeightsOpt = None,
    dlib_runtime: DlibRuntimeOpt = None,
    cache_dir: CacheDirOpt = None,
    workers: WorkersOpt = None,
    output_format: FormatOpt = OutputFormat.table,
) -> None:
    import json

    from rich.table import Table
    from rich.text import Text

    from face_bench.cli.render import progress_factory, stdout, warn
    from face_bench.core.errors import ImageError
    from face_bench.run.compare import PERCENT_NOTE, compare_images

    if len(images) < 2:
        raise fail("compare needs at least two images", 2)
    with progress_factory() as progress:
        result = compare_images(
            images,
            tuple(model or ()),
            align=align.value,
            multi_face=multi_face.value,
            config_path=config,
            weights=parse_weights(weights),
            dlib_runtime=runtime_value(dlib_runtime),
            cache_dir=cache_dir,
            workers=workers,
            progress=progress,
        )
    for message in result.skipped:
        warn(message)
    if output_format is OutputFormat.json:
        stdout.print_json(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        table = Table(title="face-bench compare", title_justify="left")
        for column in ("image A", "image B", "model", "score", "similarity", "verdict"):
            table.add_column(
                column,
                justify="right" if column in ("score", "similarity") else "left",
                overflow="fold",
            )
        for p in result.pairs:
            # Paths and reasons are user data: the consoles print them literally (no markup).
            if p.same_person is None:
                verdict = Text.assemble(("cannot compare", "red"), f": {p.problem}")
                score, percent = "—", "—"
            else:
                distance = p.units.startswith("Euclidean")
                colour = "green" if p.same_person else "default"
                verdict = Text.assemble(
                    (p.verdict, colour), f" ({'≤' if distance else '≥'} {p.threshold:g})"
                )
                score = f"{p.score:.4f} {'distance' if distance else 'cosine'}"
                percent = f"{p.percent:.1f}%"
            table.add_row(p.image_a, p.image_b, p.model, score, percent, verdict)
        stdout.print(table)
        stdout.print(PERCENT_NOTE)
    if not result.complete:
        raise fail(
            "some images could not be used (see the 'cannot compare' rows)", ImageError.exit_code
        )


command(
    "compare",
    "Compare two or more image files pairwise with each model: the score in the model's "
    "units, a similarity percentage and the verdict at the model's default threshold "
    "('same person' / 'different person'). Similarity % is a display convenience, not a "
    "probability: cosine s -> (s+1)/2, Euclidean distance d -> 1 - d/2, clipped to 0-100%. "
    "Images a model cannot use get a 'cannot compare' row with the reason, and the exit "
    "status is then 40.",
)(compare_command)
