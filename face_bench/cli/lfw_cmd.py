"""``lfw``: the standard LFW verification protocol, reported as the literature reports it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from face_bench.cli.app import command
from face_bench.cli.options import (
    AlignOpt,
    CacheDirOpt,
    ConfigOpt,
    DetectorOpt,
    DlibRuntimeOpt,
    EmbedOptions,
    EngineOpt,
    FallbackOpt,
    FormatOpt,
    ModelOpt,
    MultiFaceOpt,
    OutputFormat,
    RayAddressOpt,
    WeightsOpt,
    WorkersOpt,
    prestart_workers,
)
from face_bench.cli.paths import home_expanded
from face_bench.core.modes import LFW_ALIGN, Engine, FallbackDetector, LfwOnFail, MultiFacePolicy

if TYPE_CHECKING:
    from face_bench.run.lfw import LfwResult

LfwDataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="LFW folder: <name>/<name>_0001.jpg, or the same under images/ (detected); or "
        "a fetched dataset's name. Default: the LFW that `face-bench fetch lfw` downloaded.",
        show_default=False,
    ),
]
LfwPairsOpt = Annotated[
    Path | None,
    typer.Option(
        "--pairs-file",
        help="LFW pairs file (pairs.txt format: header, then folds). Default: pairs.txt in "
        "the data folder. (Formerly --pairs.)",
        show_default=False,
        callback=home_expanded,
    ),
]
LfwOnFailOpt = Annotated[
    LfwOnFail,
    typer.Option(
        "--on-fail",
        help="A pair with an image a model cannot enrol: count it as an error (the LFW "
        "convention, default) or exclude it from that model's accuracy.",
    ),
]
LfwOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Folder for lfw.json and scores.csv (default reports/lfw-<pairs file>-<time>/).",
    ),
]


def lfw_inputs(data: Path | None, pairs: Path | None, cache_dir: Path | None) -> tuple[Path, Path]:
    """--data (a folder or a name), else the fetched LFW; --pairs-file, else its pairs.txt."""
    from face_bench.core.config import Config
    from face_bench.core.errors import DatasetError
    from face_bench.core.io import default_cache_dir
    from face_bench.data.named import NAMED_DATASETS, resolve_data

    if data is not None:
        folder = resolve_data(data, Config(), cache_dir).folder
    else:
        lfw = NAMED_DATASETS["lfw"]
        folder = lfw.folder(cache_dir or default_cache_dir())
        if not lfw.present(cache_dir or default_cache_dir()):
            raise DatasetError(
                "no LFW data: pass --data DIR --pairs-file FILE, or run `face-bench fetch lfw` "
                "once to download it (then `face-bench lfw` needs no --data)"
            )
    if pairs is None:
        pairs = folder / "pairs.txt"
        if not pairs.is_file():
            raise DatasetError(f"no pairs.txt in {folder}: pass --pairs-file FILE")
    return folder, pairs


def lfw_cmd(
    data: LfwDataOpt = None,
    pairs_file: LfwPairsOpt = None,
    model: ModelOpt = None,
    on_fail: LfwOnFailOpt = LfwOnFail.ERROR,
    align: AlignOpt = LFW_ALIGN,
    multi_face: MultiFaceOpt = MultiFacePolicy.LARGEST,
    fallback_detector: FallbackOpt = FallbackDetector.NONE,
    detector: DetectorOpt = None,
    config: ConfigOpt = None,
    weights: WeightsOpt = None,
    dlib_runtime: DlibRuntimeOpt = None,
    cache_dir: CacheDirOpt = None,
    workers: WorkersOpt = None,
    engine: EngineOpt = Engine.LOCAL,
    ray_address: RayAddressOpt = None,
    out: LfwOutOpt = None,
    output_format: FormatOpt = OutputFormat.TABLE,
) -> None:
    prestart_workers(engine, workers, cache_dir)
    from face_bench.cli.render import info, progress_factory, warn
    from face_bench.report.outputs import default_lfw_out_dir
    from face_bench.report.run_folder import run_folder
    from face_bench.run.lfw import run_lfw, write_lfw

    data, pairs = lfw_inputs(data, pairs_file, cache_dir)
    target = _checked_out(out or default_lfw_out_dir(pairs), data, cache_dir)

    embed = EmbedOptions(
        models=tuple(model or ()),
        align=align,
        multi_face=multi_face,
        fallback_detector=fallback_detector,
        detector=detector,
        config=config,
        weights=tuple(weights or ()),
        dlib_runtime=dlib_runtime,
        cache_dir=cache_dir,
        workers=workers,
        engine=engine,
        ray_address=ray_address,
    )
    with contextlib.ExitStack() as stack:
        bars: list[Callable[[str, int], Callable[[int], None]]] = []

        def progress(label: str, total: int) -> Callable[[int], None]:
            # Bars start with the first embedding step, so an early error prints alone.
            if not bars:
                bars.append(stack.enter_context(progress_factory()))
            return bars[0](label, total)

        result = run_lfw(
            data,
            pairs,
            models=embed.models,
            on_fail=on_fail.value,
            align=embed.align.value,
            multi_face=embed.multi_face.value,
            fallback_detector=embed.fallback,
            detector=None if embed.detector is None else embed.detector.value,
            config_path=embed.config,
            weights=embed.weight_paths,
            dlib_runtime=embed.runtime,
            cache_dir=embed.cache_dir,
            workers=embed.workers,
            ray=embed.ray,
            progress=progress,
            on_message=warn,
            on_info=info,
        )
    with run_folder(target) as folder:
        written = [folder.final_path(p) for p in write_lfw(result, folder.staging)]
    render_lfw(result, output_format, written)


def render_lfw(result: LfwResult, output_format: OutputFormat, written: list[Path]) -> None:
    """The per-model table (or lfw.json on stdout), then failures and notes."""
    from face_bench.cli.render import SafeTable as Table
    from face_bench.cli.render import fmt, print_unbroken, stdout

    if output_format is OutputFormat.JSON:
        stdout.print_json(json.dumps(result.to_dict(), ensure_ascii=False, allow_nan=False))
        return
    table = Table(
        title=(
            f"LFW: {result.n_pairs} pairs ({result.n_genuine} same, {result.n_impostor} "
            f"different) in {result.n_folds} fold(s), {result.n_images} images; "
            f"failures {'count as errors' if result.on_fail == 'error' else 'excluded'}"
        ),
        title_justify="left",
    )
    columns = ("model", "accuracy", "fold thresholds", "acc @ default", "ROC-AUC", "EER @ thr")
    for column in (*columns, "FTE images / pairs"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for m in result.models:
        spread = f" ± {m.accuracy_std:.4f}" if m.accuracy_std is not None else " (1 fold)"
        thresholds = ", ".join(fmt(t, 3) for t in m.fold_thresholds)
        known = [t for t in m.fold_thresholds if t is not None]  # None: a fold had no threshold
        if len(m.fold_thresholds) > 3 and known:
            low, high = min(known), max(known)
            thresholds = f"{fmt(low, 3)} to {fmt(high, 3)}"
        table.add_row(
            m.name,
            f"{m.accuracy:.4f}{spread}",
            f"{thresholds} ({m.units})",
            f"{m.accuracy_at_default:.4f} @ {fmt(m.default_threshold, 3)}",
            fmt(m.roc_auc),
            f"{fmt(m.eer)} @ {fmt(m.eer_threshold, 3)}",
            f"{m.n_failed_images} / {m.n_failed_pairs}",
        )
    stdout.print(table)
    for m in result.models:
        if m.failures:
            reasons: dict[str, int] = {}
            for f in m.failures:
                reasons[f.reason] = reasons.get(f.reason, 0) + 1
            stdout.print(
                f"  {m.name}: {m.n_failed_images} image(s) failed to enrol ("
                + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
                + f"), touching {m.n_failed_pairs} pair(s); AUC/EER over {m.metrics_over}"
            )
    for note in result.notes:
        stdout.print(f"  note: {note}")
    if written:
        print_unbroken(f"wrote {', '.join(p.name for p in written)} to {written[0].parent}")


command(
    "lfw",
    "Run the LFW verification protocol from a pairs.txt: k-fold accuracy (mean ± std, "
    "thresholds chosen on the other folds, in each model's units), ROC-AUC and EER over "
    "all pairs, and failures to enrol counted as errors (or excluded).",
    renames={"--pairs": "--pairs-file"},
)(lfw_cmd)


def _checked_out(out: Path, data: Path, cache_dir: Path | None) -> Path:
    """The output folder, refused or checked before any embedding (as for ``roc``)."""
    from face_bench.core.io import check_folder, default_cache_dir, ensure_cache_folder
    from face_bench.report.run_folder import check_out_folder

    cache = Path(cache_dir or default_cache_dir())
    final = check_out_folder(Path(out), data=data, cache_dir=cache)
    ensure_cache_folder(cache)
    check_folder(final.parent, "output folder")
    return final
