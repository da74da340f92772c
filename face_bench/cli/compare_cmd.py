"""``compare``: a quick pairwise check of a few photos with each model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from face_bench.cli.app import command, fail
from face_bench.cli.options import (
    AlignOpt,
    CacheDirOpt,
    ConfigOpt,
    DlibRuntimeOpt,
    EmbedOptions,
    EngineOpt,
    FormatOpt,
    ModelOpt,
    MultiFaceOpt,
    OutputFormat,
    RayAddressOpt,
    WeightsOpt,
    WorkersOpt,
)
from face_bench.core.modes import AlignMode, Engine, MultiFacePolicy

if TYPE_CHECKING:
    from face_bench.run.compare import Comparison

ImagesArg = Annotated[
    list[Path],
    typer.Argument(help="Two or more image files; every pair is compared.", show_default=False),
]


def compare_command(
    images: ImagesArg,
    model: ModelOpt = None,
    align: AlignOpt = AlignMode.AUTO,
    multi_face: MultiFaceOpt = MultiFacePolicy.LARGEST,
    config: ConfigOpt = None,
    weights: WeightsOpt = None,
    dlib_runtime: DlibRuntimeOpt = None,
    cache_dir: CacheDirOpt = None,
    workers: WorkersOpt = None,
    engine: EngineOpt = Engine.LOCAL,
    ray_address: RayAddressOpt = None,
    output_format: FormatOpt = OutputFormat.TABLE,
) -> None:
    from face_bench.cli.render import progress_factory
    from face_bench.core.errors import ImageError
    from face_bench.run.compare import compare_images

    if len(images) < 2:
        raise fail("compare needs at least two images", 2)
    embed = EmbedOptions(
        models=tuple(model or ()),
        align=align,
        multi_face=multi_face,
        config=config,
        weights=tuple(weights or ()),
        dlib_runtime=dlib_runtime,
        cache_dir=cache_dir,
        workers=workers,
        engine=engine,
        ray_address=ray_address,
    )
    with progress_factory() as progress:
        result = compare_images(
            images,
            embed.models,
            align=embed.align.value,
            multi_face=embed.multi_face.value,
            config_path=embed.config,
            weights=embed.weight_paths,
            dlib_runtime=embed.runtime,
            cache_dir=embed.cache_dir,
            workers=embed.workers,
            ray=embed.ray,
            progress=progress,
        )
    _render_compare(result, output_format)
    if not result.complete:
        raise fail(
            "some images could not be used (see the 'cannot compare' rows)", ImageError.exit_code
        )


def _render_compare(result: Comparison, output_format: OutputFormat) -> None:
    """One row per pair and model with the verdict, or the comparison as JSON."""
    import json

    from rich.text import Text

    from face_bench.cli.render import SafeTable as Table
    from face_bench.cli.render import stdout
    from face_bench.run.compare import PERCENT_NOTE

    if output_format is OutputFormat.JSON:
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


command(
    "compare",
    "Compare two or more image files pairwise with each model: the score in the model's "
    "units, a similarity percentage and the verdict at the model's default threshold "
    "('same person' / 'different person'). Similarity % is a display convenience, not a "
    "probability: cosine s -> (s+1)/2, Euclidean distance d -> 1 - d/2, clipped to 0-100%. "
    "Images a model cannot use get a 'cannot compare' row with the reason, and the exit "
    "status is then 40.",
)(compare_command)
