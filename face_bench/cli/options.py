"""Option bundles shared by the evaluation commands, so every command spells them alike."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from face_bench.core.modes import AlignMode as Align
from face_bench.core.modes import MultiFacePolicy as MultiFace


class OnFail(StrEnum):
    exclude = "exclude"
    reject = "reject"


class IdentityFrom(StrEnum):
    auto = "auto"
    manifest = "manifest"
    folder = "folder"
    filename = "filename"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


DatasetOpt = Annotated[
    list[str],
    typer.Option(
        "--dataset",
        "-d",
        help="Subset to evaluate: built-in all, ordinary, young_women, or one from the config "
        "file. Repeat for several subsets.",
    ),
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Dataset folder (manifest.csv, or <identity>/<image> sub-folders) or the name of "
        "a fetched dataset (lfw). Default: $FACE_BENCH_DATA, then data = ... in the config file.",
        show_default=False,
    ),
]
ModelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model", "-m", help="Model to run (repeatable). Default: every registered model."
    ),
]
SampleOpt = Annotated[
    int, typer.Option("--sample", help="Images sampled per subset (0 = all of them).", min=0)
]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Seed for sampling, pairs and bootstrap (0 or more).", min=0)
]
PairsOpt = Annotated[
    int | None,
    typer.Option("--pairs", help="Score N seeded random pairs instead of all pairs.", min=1),
]
PairsFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--pairs-file",
        help="CSV of labelled pairs (image_a,image_b,label or file_x,file_y,Decision) "
        "to score instead of pairs of a sample.",
    ),
]
AlignOpt = Annotated[
    Align,
    typer.Option(
        "--align",
        help="detect: find and align every face; none: images are aligned crops; "
        "auto: decide per image.",
    ),
]
MultiFaceOpt = Annotated[
    MultiFace,
    typer.Option(
        "--multi-face", help="Images with several faces: use the largest, or fail/skip them."
    ),
]


class FallbackDetector(StrEnum):
    none = "none"
    mmod = "mmod"


FallbackOpt = Annotated[
    FallbackDetector,
    typer.Option(
        "--fallback-detector",
        help="mmod: where HOG finds no face, try dlib's CNN (MMOD) detector before counting "
        "a failure to enrol (slower; such images are counted in the results).",
    ),
]
OnFailOpt = Annotated[
    OnFail,
    typer.Option(
        "--on-fail",
        help="Images a model cannot enrol: exclude them for every model (default), or keep "
        "them and score their pairs as non-matches for the failing model.",
    ),
]
IdentityFromOpt = Annotated[
    IdentityFrom,
    typer.Option(
        "--identity-from",
        help="Where identities come from: the manifest, the top-level folder under the "
        "dataset, or the file name without its trailing image number (Abel_Pacheco_0001 is "
        "Abel_Pacheco).",
    ),
]
IdentityPatternOpt = Annotated[
    str | None,
    typer.Option(
        "--identity-pattern",
        metavar="REGEX",
        help="Identity from each file name (without extension) by this regex: its group "
        "'identity', else group 1, else the whole match. Implies --identity-from filename.",
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Output folder (default reports/<dataset>-<subset>-<time>/)."),
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="Printed output: table or json.")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML file (default ./face-bench.toml if present).")
]
WeightsOpt = Annotated[
    list[str] | None,
    typer.Option("--weights", help="Weights for a model, as NAME=PATH (repeatable)."),
]


class DlibRuntime(StrEnum):
    onnx = "onnx"
    dlib = "dlib"


DlibRuntimeOpt = Annotated[
    DlibRuntime | None,
    typer.Option(
        "--dlib-runtime",
        help="Run dlib's face descriptor on onnxruntime (the model's default: the same "
        "descriptors, much faster) or on dlib's own code.",
    ),
]
CacheDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Embedding cache (default $XDG_CACHE_HOME/face-bench).",
        envvar="FACE_BENCH_CACHE_DIR",
    ),
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", help="Worker processes (default: one per core).", min=1)
]
BootstrapOpt = Annotated[
    int,
    typer.Option(
        "--bootstrap", help="Bootstrap replicates over identities for 95% CIs (0 = off).", min=0
    ),
]
ThresholdRuleOpt = Annotated[
    str,
    typer.Option(
        "--threshold",
        help="Global threshold per model for subset differentials: far:TARGET (the threshold "
        "giving that FMR on the pooled impostors of all subsets) or default (the model's own).",
    ),
]
ThresholdFromOpt = Annotated[
    str | None,
    typer.Option(
        "--threshold-from",
        help="Choose each model's thresholds (FMR <= 1e-3 and best F1) on this subset and "
        "report the rates they give on every subset of the run (bob's dev/eval): a threshold "
        "is then judged on pairs it was not chosen on.",
        show_default=False,
    ),
]


class FigureFormat(StrEnum):
    png = "png"
    svg = "svg"
    pdf = "pdf"


FigureFormatOpt = Annotated[
    FigureFormat,
    typer.Option(
        "--figure-format",
        help="File format of every figure: png (embedded in report.html), or svg / pdf "
        "(vector, for papers; the page then links them).",
    ),
]
BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline",
        help="Gate the new results.json against this baseline right after the run "
        "(exit 1 on regression, 2 when the runs are not comparable); see `face-bench gate`.",
    ),
]
