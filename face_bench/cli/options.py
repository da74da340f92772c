"""The options commands share: one annotated type per option, declared once in groups.

Every command spells a shared option through the same ``...Opt`` type, so the flag, its
help and its checks are written once. Options that travel together form a group
(``cli.groups``): ``SAMPLE`` fills ``SampleOptions`` (what an evaluation scores), ``EMBED``
``EmbedOptions`` (which models run and how faces reach them), ``METRICS``, ``OUTPUT`` and
``CALIBRATION`` the rest of an evaluation. A command takes a group as one parameter and
hands the dataclass to the library; a command's own options stay ordinary parameters.

Adding an option to every command of a group: its ``...Opt`` type here, a field on the
group's dataclass and one ``GroupOption`` line in the group. Choices come from
``face_bench.core.modes``, the library's own vocabularies. Nothing here imports more than
Typer, so ``--help`` stays instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from face_bench.cli.groups import GroupOption, OptionGroup, as_tuple
from face_bench.cli.paths import cache_dir_value, home_expanded
from face_bench.core.modes import (
    AlignMode,
    Detector,
    DlibRuntime,
    Duplicates,
    Engine,
    FallbackDetector,
    FigureFormat,
    IdentityFrom,
    MultiFacePolicy,
    NearDuplicatePolicy,
    OnFail,
)

if TYPE_CHECKING:
    from face_bench.embedding.ray_engine import RayOptions
    from face_bench.run.request import EmbedSettings, EvaluationRequest


class OutputFormat(StrEnum):
    """What a command prints on stdout."""

    TABLE = "table"
    JSON = "json"


# Old spellings still accepted for one release, with a note (see ``app.RenamingCommand``).
EVALUATION_RENAMES = {"--pairs": "--sample-pairs"}

# ----------------------------------------------------------------- what is sampled

SubsetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--subset",
        "--dataset",
        "-d",
        metavar="NAME",
        help="Subset of the dataset to evaluate: built-in all, ordinary, young_women, or one "
        "from the config file. Repeat for several subsets. Default: the config file's "
        "default_subsets, else all. --dataset is the same option "
        "(the spelling of `face-bench roc --dataset young_women`); --data names the dataset.",
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
SampleOpt = Annotated[
    int, typer.Option("--sample", help="Images sampled per subset (0 = all of them).", min=0)
]
MAX_SEED = 2**32 - 1  # UMAP hands the seed to numpy's RandomState, which takes no more
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed",
        help="Seed for sampling, pairs, bootstrap and UMAP (0 to 4294967295).",
        min=0,
        max=MAX_SEED,
    ),
]
SamplePairsOpt = Annotated[
    int | None,
    typer.Option(
        "--sample-pairs",
        metavar="N",
        help="Score N seeded random pairs of the sample instead of all pairs. (Formerly --pairs.)",
        min=1,
    ),
]
PairsFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--pairs-file",
        help="CSV of labelled pairs (image_a,image_b,label or file_x,file_y,Decision) "
        "to score instead of pairs of a sample.",
        callback=home_expanded,
    ),
]
CalibrationOpt = Annotated[
    Path | None,
    typer.Option(
        "--calibration",
        metavar="FILE",
        help="A calibration file from face-bench calibrate: show P(same person) for the "
        "models it was fitted for (another model is refused, exit 53).",
    ),
]
PriorOpt = Annotated[
    float | None,
    typer.Option(
        "--prior",
        help="Genuine-pair prior for calibrated probabilities, strictly between 0 and 1 "
        "(default: the calibration's fitting set's genuine fraction).",
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


DuplicatesOpt = Annotated[
    Duplicates,
    typer.Option(
        "--duplicates",
        help="Byte-identical images under different identities: leave their impostor pairs "
        "out (exclude, default), score them (keep), or refuse the run (error). Always "
        "reported in the notes and results.json.",
    ),
]


NearDuplicatesOpt = Annotated[
    NearDuplicatePolicy,
    typer.Option(
        "--near-duplicates",
        help="Pairs of two near-identical images (the same photo resized or re-encoded, by "
        "perceptual hash): leave them out (exclude, default: as genuine pairs they flatter "
        "FNMR) or score them (keep). Always reported.",
    ),
]
StratifyByOpt = Annotated[
    str | None,
    typer.Option(
        "--stratify-by",
        metavar="COLUMN",
        help="Repeat the subset differentials within each value of this manifest column "
        "(e.g. source_repo), on the pairs whose two images share that value.",
    ),
]
ExcludeSuspectsOpt = Annotated[
    bool,
    typer.Option(
        "--exclude-suspects",
        help="Also compute the subset differentials without the images every model places "
        "far from their own identity (suspected label errors); both are shown.",
    ),
]

# ----------------------------------------------------------------- how models embed

ModelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        metavar="NAME",
        help="Model to run (repeatable). Default: every registered model but those marked "
        "default = false in the config file (`face-bench models`, column runs).",
    ),
]
AlignOpt = Annotated[
    AlignMode,
    typer.Option(
        "--align",
        help="detect: find and align every face; none: images are aligned crops; "
        "auto: decide per image.",
    ),
]
MultiFaceOpt = Annotated[
    MultiFacePolicy,
    typer.Option(
        "--multi-face", help="Images with several faces: use the largest, or fail/skip them."
    ),
]
FallbackOpt = Annotated[
    FallbackDetector,
    typer.Option(
        "--fallback-detector",
        help="mmod: where HOG finds no face, try dlib's CNN (MMOD) detector before counting "
        "a failure to enrol (slower; such images are counted in the results).",
    ),
]
DetectorOpt = Annotated[
    Detector | None,
    typer.Option(
        "--detector",
        help="Face detector: hog (dlib's HOG), mmod (dlib's CNN, slow) or yunet (OpenCV Zoo's "
        "YuNet on onnxruntime, fast; its weights via --weights yunet=PATH). Default: the "
        "config's detector, else hog.",
        show_default=False,
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML file (default ./face-bench.toml if present).",
        callback=home_expanded,
    ),
]
WeightsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--weights", metavar="NAME=PATH", help="Weights for a model, as NAME=PATH (repeatable)."
    ),
]
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
        callback=cache_dir_value,
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="Worker processes (default: one per core).", min=1, max=1024),
]
EngineOpt = Annotated[
    Engine,
    typer.Option(
        "--engine",
        help="Where embedding and all-pairs scoring run: local processes, or a Ray cluster "
        "(pip install 'face-bench[ray]'; results are identical).",
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="Ray cluster to join with --engine ray (default $RAY_ADDRESS; with neither, a "
        "local cluster is started for the run). Every node must see the dataset's paths.",
        envvar="RAY_ADDRESS",
        show_default=False,
    ),
]

# ----------------------------------------------------------------- metrics and outputs

BootstrapOpt = Annotated[
    int,
    typer.Option(
        "--bootstrap",
        help="Bootstrap replicates over identities for 95% CIs (0 = off).",
        min=0,
        max=100_000,
    ),
]
ThresholdRuleOpt = Annotated[
    str,
    typer.Option(
        "--threshold",
        help="One threshold per model for the demographic differentials: far:TARGET (the "
        "threshold giving that FMR on the reference group's impostors, NIST FRTE style), "
        "pooled:TARGET (on all groups' impostors together) or default (the model's own).",
    ),
]
ByOpt = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Form the differentials' groups from manifest columns and their intersections "
        "(e.g. --by sex,age_group) instead of from the named subsets.",
        show_default=False,
    ),
]
ReferenceOpt = Annotated[
    str | None,
    typer.Option(
        "--reference",
        help="The reference group of the differentials: a subset name, or a group such as "
        "'sex=M,age_group=adult' with --by (default: ordinary when it is a group, else the "
        "group with the most people).",
        show_default=False,
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


FigureFormatOpt = Annotated[
    FigureFormat,
    typer.Option(
        "--figure-format",
        help="File format of every figure: png (embedded in report.html), or svg / pdf "
        "(vector, for papers; the page then links them).",
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Output folder (default reports/<dataset>-<subsets>-<models>-<time>-<id>/); never "
        "inside the dataset or the cache; a previous run's folder is replaced whole.",
    ),
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="Printed output: table or json.")]
BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline",
        help="Gate the new results.json against this baseline right after the run "
        "(exit 1 on regression, 2 when the runs are not comparable); see `face-bench gate`.",
        callback=home_expanded,
    ),
]


# ----------------------------------------------------------------- option groups
#
# Each group's options are declared once below, as an ``OptionGroup`` filling one frozen
# dataclass; a command takes the whole group (or a part: ``SAMPLE.without(...)``) through
# ``cli.groups.with_groups``. Adding an option to every command of a group: its ``...Opt``
# type above, a field on the dataclass and one ``GroupOption`` line in the group.


def parse_weights(values: list[str] | tuple[str, ...] | None) -> dict[str, Path]:
    """``NAME=PATH`` pairs from ``--weights``."""
    from face_bench.core.errors import ConfigError
    from face_bench.core.io import user_path

    out: dict[str, Path] = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--weights expects NAME=PATH, got {value!r}")
        out[name.strip()] = user_path(path, f"--weights {name.strip()}", ConfigError)
    return out


@dataclass(frozen=True)
class EmbedOptions:
    """Which models run and how faces reach them: every command that embeds takes these."""

    models: tuple[str, ...] = ()
    align: AlignMode = AlignMode.AUTO
    multi_face: MultiFacePolicy = MultiFacePolicy.LARGEST
    fallback_detector: FallbackDetector = FallbackDetector.NONE
    detector: Detector | None = None  # None: the config's detector, else HOG
    config: Path | None = None
    weights: tuple[str, ...] = ()
    dlib_runtime: DlibRuntime | None = None  # None: each dlib model's own setting
    cache_dir: Path | None = None
    workers: int | None = None
    engine: Engine = Engine.LOCAL
    ray_address: str | None = None

    @property
    def ray(self) -> RayOptions | None:
        """``--engine ray`` as the library takes it (None: the local engine)."""
        if self.engine is Engine.LOCAL:
            return None
        from face_bench.embedding.ray_engine import RayOptions, require_ray

        require_ray()  # before any work: a missing extra is a one-line error, not a late one
        return RayOptions(address=self.ray_address, actors=self.workers)

    @property
    def weight_paths(self) -> dict[str, Path]:
        """``--weights`` as a name -> path mapping (raises ConfigError on a bad item)."""
        return parse_weights(self.weights)

    def settings(self) -> EmbedSettings:
        """The library's embedding settings (``--weights`` and ``--engine`` checked here)."""
        from face_bench.run.request import EmbedSettings

        return EmbedSettings(
            models=self.models,
            align=self.align,
            multi_face=self.multi_face,
            fallback_detector=self.fallback_detector,
            detector=self.detector,
            config_path=self.config,
            weights=self.weight_paths,
            dlib_runtime=self.dlib_runtime,
            cache_dir=self.cache_dir,
            workers=self.workers,
            ray=self.ray,
        )

    def prestart(self) -> None:
        """Start the embedding workers' server before the command's heavy imports, so
        that it is ready when embedding begins (``embedding.server.start_worker_server``)."""
        prestart_workers(self.engine, self.workers, self.cache_dir)


EMBED = OptionGroup(
    EmbedOptions,
    GroupOption("model", ModelOpt, None, "models", as_tuple),
    GroupOption("align", AlignOpt, AlignMode.AUTO),
    GroupOption("multi_face", MultiFaceOpt, MultiFacePolicy.LARGEST),
    GroupOption("fallback_detector", FallbackOpt, FallbackDetector.NONE),
    GroupOption("detector", DetectorOpt, None),
    GroupOption("config", ConfigOpt, None),
    GroupOption("weights", WeightsOpt, None, convert=as_tuple),
    GroupOption("dlib_runtime", DlibRuntimeOpt, None),
    GroupOption("cache_dir", CacheDirOpt, None),
    GroupOption("workers", WorkersOpt, None),
    GroupOption("engine", EngineOpt, Engine.LOCAL),
    GroupOption("ray_address", RayAddressOpt, None),
)


@dataclass(frozen=True)
class SampleOptions:
    """Which images and pairs an evaluation scores."""

    data: Path | None = None  # None: $FACE_BENCH_DATA, then the config file's data
    subsets: tuple[str, ...] = ()  # none: the config's default_subsets, else "all"
    sample: int = 300
    seed: int = 0
    sample_pairs: int | None = None
    pairs_file: Path | None = None
    on_fail: OnFail = OnFail.EXCLUDE
    identity_from: IdentityFrom = IdentityFrom.AUTO
    identity_pattern: str | None = None
    duplicates: Duplicates = Duplicates.EXCLUDE
    near_duplicates: NearDuplicatePolicy = NearDuplicatePolicy.EXCLUDE
    stratify_by: str | None = None
    exclude_suspects: bool = False


SAMPLE = OptionGroup(
    SampleOptions,
    GroupOption("subset", SubsetOpt, None, "subsets", as_tuple),
    GroupOption("data", DataOpt, None),
    GroupOption("sample", SampleOpt, 300),
    GroupOption("seed", SeedOpt, 0),
    GroupOption("sample_pairs", SamplePairsOpt, None),
    GroupOption("pairs_file", PairsFileOpt, None),
    GroupOption("on_fail", OnFailOpt, OnFail.EXCLUDE),
    GroupOption("identity_from", IdentityFromOpt, IdentityFrom.AUTO),
    GroupOption("identity_pattern", IdentityPatternOpt, None),
    GroupOption("duplicates", DuplicatesOpt, Duplicates.EXCLUDE),
    GroupOption("near_duplicates", NearDuplicatesOpt, NearDuplicatePolicy.EXCLUDE),
    GroupOption("stratify_by", StratifyByOpt, None),
    GroupOption("exclude_suspects", ExcludeSuspectsOpt, False),
)


@dataclass(frozen=True)
class MetricOptions:
    """How an evaluation's figures are computed: intervals, thresholds and groups."""

    bootstrap: int = 1000
    threshold: str = "far:1e-3"  # the differentials' threshold rule
    threshold_from: str | None = None
    by: str | None = None
    reference: str | None = None


METRICS = OptionGroup(
    MetricOptions,
    GroupOption("bootstrap", BootstrapOpt, 1000),
    GroupOption("threshold", ThresholdRuleOpt, "far:1e-3"),
    GroupOption("threshold_from", ThresholdFromOpt, None),
    GroupOption("by", ByOpt, None),
    GroupOption("reference", ReferenceOpt, None),
)


@dataclass(frozen=True)
class OutputOptions:
    """Where a run's files go and what it prints."""

    figure_format: FigureFormat = FigureFormat.PNG
    out: Path | None = None
    output_format: OutputFormat = OutputFormat.TABLE


OUTPUT = OptionGroup(
    OutputOptions,
    GroupOption("figure_format", FigureFormatOpt, FigureFormat.PNG),
    GroupOption("out", OutOpt, None),
    GroupOption("output_format", FormatOpt, OutputFormat.TABLE),
)


@dataclass(frozen=True)
class CalibrationOptions:
    """A calibration file to show P(same person) with, and the prior to show it at."""

    calibration: Path | None = None
    prior: float | None = None

    def checked_prior(self) -> float | None:
        """``--prior``, checked before any work: a probability strictly between 0 and 1,
        and only with a calibration file (it means nothing without one)."""
        check_prior(self.prior)
        if self.prior is not None and self.calibration is None:
            from face_bench.cli.app import fail

            raise fail("--prior applies to calibrated probabilities: give --calibration FILE", 2)
        return self.prior


CALIBRATION = OptionGroup(
    CalibrationOptions,
    GroupOption("calibration", CalibrationOpt, None),
    GroupOption("prior", PriorOpt, None),
)


def evaluation_request(
    sampling: SampleOptions,
    embed: EmbedOptions,
    metrics: MetricOptions,
    calibration: CalibrationOptions | None = None,
    *,
    sweep: bool,
    command: tuple[str, ...] = (),
) -> EvaluationRequest:
    """The library's request for one evaluation, from the parsed option groups."""
    from face_bench.core.config import load_config
    from face_bench.data.named import resolve_data
    from face_bench.run.differentials import parse_by
    from face_bench.run.request import EvaluationRequest

    calibration = calibration or CalibrationOptions()
    prior = calibration.checked_prior()
    config = load_config(embed.config)
    source = resolve_data(sampling.data, config, embed.cache_dir)
    defaults = not sampling.subsets and bool(config.default_subsets)
    by = parse_by(metrics.by)
    return EvaluationRequest(
        data=source.folder,
        data_origin=source.origin,
        subsets=sampling.subsets or config.default_subsets or ("all",),
        subsets_origin=f"default_subsets in {config.path}" if defaults else "",
        embed=embed.settings(),
        sample=sampling.sample or None,
        seed=sampling.seed,
        pairs=sampling.sample_pairs,
        pairs_file=sampling.pairs_file,
        on_fail=sampling.on_fail,
        identity_from=sampling.identity_from,
        identity_pattern=sampling.identity_pattern,
        duplicates=sampling.duplicates,
        bootstrap=metrics.bootstrap,
        differential_threshold=metrics.threshold,
        by=by,
        reference=metrics.reference,
        threshold_from=metrics.threshold_from,
        sweep=sweep,
        command=command,  # as typed, from the entry point: the library never reads sys.argv
        near_duplicates=sampling.near_duplicates,
        stratify_by=sampling.stratify_by,
        exclude_suspects=sampling.exclude_suspects,
        calibration=calibration.calibration,
        calibration_prior=prior,
    )


def prestart_workers(engine: Engine, workers: int | None, cache_dir: Path | None) -> None:
    """Start the embedding workers' server before the command's heavy imports, so that it
    is ready when embedding begins (``embedding.server.start_worker_server``)."""
    if engine is Engine.LOCAL:
        from face_bench.embedding.server import start_worker_server

        start_worker_server(workers, cache_dir)


def check_prior(prior: float | None) -> None:
    """``--prior``: a probability strictly between 0 and 1 (0 and 1 have no log-odds)."""
    if prior is not None and not 0.0 < prior < 1.0:
        from face_bench.cli.app import fail

        raise fail(f"--prior must be strictly between 0 and 1, got {prior:g}", 2)
