"""``compare``: a quick pairwise check of a few photos with each model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from face_bench.cli.app import command, fail
from face_bench.cli.groups import with_groups
from face_bench.cli.options import (
    CALIBRATION,
    EMBED,
    CalibrationOptions,
    EmbedOptions,
    FormatOpt,
    OutputFormat,
)

if TYPE_CHECKING:
    from rich.table import Table

    from face_bench.run.compare import Comparison, PairVerdict

ImagesArg = Annotated[
    list[Path],
    typer.Argument(help="Two or more image files; every pair is compared.", show_default=False),
]


@with_groups(embed=EMBED.without("fallback_detector"), calibration=CALIBRATION)
def compare_command(
    images: ImagesArg,
    embed: EmbedOptions,
    output_format: FormatOpt = OutputFormat.TABLE,
    *,
    calibration: CalibrationOptions,
) -> None:
    from face_bench.cli.console import progress_factory
    from face_bench.core.errors import ImageError
    from face_bench.run.compare import compare_images

    if len(images) < 2:
        raise fail("compare needs at least two images", 2)
    prior = calibration.checked_prior()
    with progress_factory() as progress:
        result = compare_images(
            images,
            embed.settings(),
            progress=progress,
            calibration=calibration.calibration,
            prior=prior,
        )
    _render_compare(result, output_format)
    if not result.complete:
        raise fail(
            "some images could not be used (see the 'cannot compare' rows)", ImageError.exit_code
        )


def _render_compare(result: Comparison, output_format: OutputFormat) -> None:
    """One row per pair and model with the verdict, or the comparison as JSON.

    Images are shown relative to their common folder; where even those paths would have to
    be squeezed into narrow columns, the table names them by number and lists them above.
    """
    import json

    from face_bench.cli.console import print_unbroken, stdout
    from face_bench.cli.tables import natural_width
    from face_bench.run.compare import PERCENT_NOTE

    if output_format is OutputFormat.JSON:
        stdout.print_json(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    folder, short = _short_paths(result.images)
    table = _compare_table(result, short)
    numbered = natural_width(table) > stdout.width
    if numbered:
        unique = list(dict.fromkeys(result.images))  # an image given twice is listed once
        labels = {image: str(i) for i, image in enumerate(unique, start=1)}
        table = _compare_table(result, labels, short)
    if folder:
        print_unbroken(f"images in {folder}" + (":" if numbered else ""))
    if numbered:
        for image in labels:
            print_unbroken(f"  {labels[image]}  {short[image]}")
    stdout.print(table)
    stdout.print(_calibration_note(result) if result.calibration else PERCENT_NOTE)


def _calibration_note(result: Comparison) -> str:
    """Where the probabilities come from and the prior each assumes."""
    assert result.calibration is not None
    priors = "; ".join(
        f"{m['name']} {m['calibration']['method']} at prior {m['calibration']['prior']:.4g} "
        f"({m['calibration']['prior_source']})"
        for m in result.models
        if "calibration" in m
    )
    return (
        f"P(same person) from {result.calibration['file']} (sha256 "
        f"{result.calibration['sha256'][:12]}): {priors}. At another prior q the odds are "
        "LR × q / (1 − q); see docs/calibration.md."
    )


def _compare_table(
    result: Comparison, labels: dict[str, str], short: dict[str, str] | None = None
) -> Table:
    """The verdict table, each image named by ``labels`` (problems name it by ``short``)."""
    from rich.text import Text

    from face_bench.cli.tables import SafeTable
    from face_bench.report.text import chance

    short = short or labels
    table = SafeTable(title="face-bench compare", title_justify="left")
    middle = "P(same)" if result.calibration else "similarity"
    for column in ("image A", "image B", "model", middle, "verdict"):
        table.add_column(column, justify="right" if column == middle else "left")
    for p in result.pairs:
        # Paths and reasons are user data: the consoles print them literally (no markup).
        if p.same_person is None:
            problem = p.problem
            for image in (p.image_a, p.image_b):
                problem = problem.replace(f"{image}: ", f"{short[image]}: ")
            verdict = Text.assemble(("cannot compare", "red"), f": {problem}")
            percent = "—"
        else:
            verdict = Text.assemble(
                (p.verdict, "green" if p.same_person else "default"), f": {_reading(p)}"
            )
            percent = f"{p.percent:.1f}%" if p.probability is None else chance(p.probability)
        table.add_row(labels[p.image_a], labels[p.image_b], p.model, percent, verdict)
    return table


def _reading(p: PairVerdict) -> str:
    """The score against the threshold in plain words: 'distance 0.6234 > 0.6'."""
    assert p.score is not None
    if p.units.startswith("Euclidean"):
        return f"distance {p.score:.4f} {'≤' if p.same_person else '>'} {p.threshold:g}"
    return f"cosine similarity {p.score:.4f} {'≥' if p.same_person else '<'} {p.threshold:g}"


def _short_paths(images: list[str]) -> tuple[str, dict[str, str]]:
    """The images' common folder and each image relative to it, so the table shows the
    part that differs; no common folder (or only ``/``): the paths as given."""
    import os

    absolute = {i: Path(os.path.normpath(Path(i).expanduser().absolute())) for i in images}
    try:
        folder = Path(os.path.commonpath([a.parent for a in absolute.values()]))
    except ValueError:  # different drives
        return "", {image: image for image in images}
    if folder.parent == folder:  # only the root in common
        return "", {image: image for image in images}
    return str(folder), {image: str(a.relative_to(folder)) for image, a in absolute.items()}


command(
    "compare",
    "Compare two or more image files pairwise with each model: the score in the model's "
    "units, a similarity percentage and the verdict at the model's default threshold "
    "('same person' / 'different person'). Similarity % is a display convenience, not a "
    "probability: cosine s -> (s+1)/2, Euclidean distance d -> 1 - d/2, clipped to 0-100%. "
    "Images a model cannot use get a 'cannot compare' row with the reason, and the exit "
    "status is then 40. With --calibration FILE (from face-bench calibrate), P(same person) "
    "at the file's prior replaces the similarity %.",
)(compare_command)
