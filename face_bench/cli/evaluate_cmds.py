"""``roc`` and ``threshold-sweep``: one evaluation, different figures and tables."""

import inspect
import sys
from pathlib import Path

from face_bench.cli.app import command
from face_bench.cli.options import (
    Align,
    AlignOpt,
    BaselineOpt,
    BootstrapOpt,
    CacheDirOpt,
    ConfigOpt,
    DataOpt,
    DatasetOpt,
    DlibRuntimeOpt,
    FallbackDetector,
    FallbackOpt,
    FigureFormat,
    FigureFormatOpt,
    FormatOpt,
    IdentityFrom,
    IdentityFromOpt,
    IdentityPatternOpt,
    ModelOpt,
    MultiFace,
    MultiFaceOpt,
    OnFail,
    OnFailOpt,
    OutOpt,
    OutputFormat,
    PairsFileOpt,
    PairsOpt,
    SampleOpt,
    SeedOpt,
    ThresholdFromOpt,
    ThresholdRuleOpt,
    WeightsOpt,
    WorkersOpt,
)


def runtime_value(runtime) -> str | None:
    """``--dlib-runtime`` as the library takes it (None: each model's own setting)."""
    return None if runtime is None else runtime.value


def parse_weights(values: list[str] | None) -> dict[str, Path]:
    """``NAME=PATH`` pairs from ``--weights``."""
    from face_bench.core.errors import ConfigError

    out: dict[str, Path] = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ConfigError(f"--weights expects NAME=PATH, got {value!r}")
        out[name.strip()] = Path(path).expanduser()
    return out


def evaluation_options(
    dataset: DatasetOpt = ["all"],  # noqa: B006 - Typer reads the default
    data: DataOpt = None,
    model: ModelOpt = None,
    sample: SampleOpt = 300,
    seed: SeedOpt = 0,
    pairs: PairsOpt = None,
    pairs_file: PairsFileOpt = None,
    align: AlignOpt = Align.AUTO,
    multi_face: MultiFaceOpt = MultiFace.LARGEST,
    fallback_detector: FallbackOpt = FallbackDetector.none,
    on_fail: OnFailOpt = OnFail.exclude,
    identity_from: IdentityFromOpt = IdentityFrom.auto,
    identity_pattern: IdentityPatternOpt = None,
    bootstrap: BootstrapOpt = 1000,
    threshold: ThresholdRuleOpt = "far:1e-3",
    threshold_from: ThresholdFromOpt = None,
    figure_format: FigureFormatOpt = FigureFormat.png,
    out: OutOpt = None,
    output_format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    weights: WeightsOpt = None,
    dlib_runtime: DlibRuntimeOpt = None,
    cache_dir: CacheDirOpt = None,
    workers: WorkersOpt = None,
    baseline: BaselineOpt = None,
) -> None:
    """Signature template shared by every evaluation command (never called)."""


def fallback_value(option: FallbackDetector) -> str | None:
    """The library's spelling: None for no fallback detector."""
    return None if option is FallbackDetector.none else option.value


def _request(kwargs: dict, sweep: bool):
    from face_bench.core.config import load_config
    from face_bench.data.named import resolve_data
    from face_bench.run.evaluation import EvaluationRequest

    source = resolve_data(kwargs["data"], load_config(kwargs["config"]), kwargs["cache_dir"])
    return EvaluationRequest(
        data=source.folder,
        data_origin=source.origin,
        subsets=tuple(kwargs["dataset"]),
        models=tuple(kwargs["model"] or ()),
        sample=kwargs["sample"] or None,
        seed=kwargs["seed"],
        pairs=kwargs["pairs"],
        pairs_file=kwargs["pairs_file"],
        align=kwargs["align"].value,
        multi_face=kwargs["multi_face"].value,
        fallback_detector=fallback_value(kwargs["fallback_detector"]),
        on_fail=kwargs["on_fail"].value,
        identity_from=kwargs["identity_from"].value,
        identity_pattern=kwargs["identity_pattern"],
        bootstrap=kwargs["bootstrap"],
        differential_threshold=kwargs["threshold"],
        threshold_from=kwargs.get("threshold_from"),
        sweep=sweep,
        config_path=kwargs["config"],
        weights=parse_weights(kwargs["weights"]),
        dlib_runtime=runtime_value(kwargs["dlib_runtime"]),
        cache_dir=kwargs["cache_dir"],
        workers=kwargs["workers"],
        command=("face-bench", *sys.argv[1:]),
    )


def _gate_against(baseline: Path, current: Path, config: Path | None) -> None:
    """``--baseline``: gate the fresh results right away, exactly as ``face-bench gate`` would."""
    import typer

    from face_bench.cli.gate_cmd import conclude
    from face_bench.gate import output as gate_output
    from face_bench.gate.verdict import run_gate

    report = run_gate(baseline, current, None, config, False)
    summary = gate_output.render_markdown(report)
    typer.echo(summary)
    conclude(report, summary)


def _evaluation_command(kind: str):
    """A command function with the shared signature that runs ``kind``'s outputs."""

    def run(**kwargs) -> None:
        from face_bench.cli.render import info, progress_factory, render_evaluation, warn
        from face_bench.report.outputs import default_out_dir, write_evaluation
        from face_bench.run.evaluation import evaluate

        request = _request(kwargs, sweep=kind == "threshold-sweep")
        with progress_factory() as progress:
            evaluation = evaluate(request, progress=progress, on_message=warn, on_info=info)
        out = kwargs["out"] or default_out_dir(request)
        written = write_evaluation(evaluation, out, kind)
        render_evaluation(evaluation, kind, kwargs["output_format"].value, written)
        if kwargs["baseline"] is not None:
            _gate_against(kwargs["baseline"], written[0], kwargs["config"])

    run.__signature__ = inspect.signature(evaluation_options)  # type: ignore[attr-defined]
    return run


command(
    "roc",
    "Sample subsets, embed each image once per model (cached), score pairs and report exact "
    "ROC-AUC, EER, TAR@FAR and d' per model; writes roc.png, det.png, scores.csv and "
    "results.json.",
)(_evaluation_command("roc"))

command(
    "threshold-sweep",
    "Precision, recall, F1, accuracy, FMR and FNMR versus threshold in each model's own "
    "units, marking the default, F1-optimal and EER thresholds; writes sweep.png, sweep.csv "
    "and a threshold_sweep section in results.json.",
)(_evaluation_command("threshold-sweep"))
