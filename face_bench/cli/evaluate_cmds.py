"""``roc`` and ``threshold-sweep``: one evaluation, different figures and tables."""

from __future__ import annotations

from pathlib import Path

import typer

from face_bench.cli.app import command, invocation
from face_bench.cli.options import (
    EVALUATION_RENAMES,
    AlignOpt,
    BaselineOpt,
    BootstrapOpt,
    ByOpt,
    CacheDirOpt,
    CalibrationOpt,
    ConfigOpt,
    DataOpt,
    DetectorOpt,
    DlibRuntimeOpt,
    Duplicates,
    DuplicatesOpt,
    EmbedOptions,
    EngineOpt,
    ExcludeSuspectsOpt,
    FallbackOpt,
    FigureFormatOpt,
    FormatOpt,
    IdentityFromOpt,
    IdentityPatternOpt,
    ModelOpt,
    MultiFaceOpt,
    NearDuplicatePolicy,
    NearDuplicatesOpt,
    OnFailOpt,
    OutOpt,
    OutputFormat,
    PairsFileOpt,
    PriorOpt,
    RayAddressOpt,
    ReferenceOpt,
    SampleOpt,
    SampleOptions,
    SamplePairsOpt,
    SeedOpt,
    StratifyByOpt,
    SubsetOpt,
    ThresholdFromOpt,
    ThresholdRuleOpt,
    WeightsOpt,
    WorkersOpt,
    evaluation_request,
    prestart_workers,
)
from face_bench.core.modes import (
    AlignMode,
    Engine,
    FallbackDetector,
    FigureFormat,
    IdentityFrom,
    MultiFacePolicy,
    OnFail,
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


def evaluation_command(
    ctx: typer.Context,
    subset: SubsetOpt = None,  # none: the config's default_subsets, else all
    data: DataOpt = None,
    model: ModelOpt = None,
    sample: SampleOpt = 300,
    seed: SeedOpt = 0,
    sample_pairs: SamplePairsOpt = None,
    pairs_file: PairsFileOpt = None,
    align: AlignOpt = AlignMode.AUTO,
    multi_face: MultiFaceOpt = MultiFacePolicy.LARGEST,
    fallback_detector: FallbackOpt = FallbackDetector.NONE,
    detector: DetectorOpt = None,
    on_fail: OnFailOpt = OnFail.EXCLUDE,
    identity_from: IdentityFromOpt = IdentityFrom.AUTO,
    identity_pattern: IdentityPatternOpt = None,
    duplicates: DuplicatesOpt = Duplicates.EXCLUDE,
    near_duplicates: NearDuplicatesOpt = NearDuplicatePolicy.EXCLUDE,
    stratify_by: StratifyByOpt = None,
    exclude_suspects: ExcludeSuspectsOpt = False,
    bootstrap: BootstrapOpt = 1000,
    threshold: ThresholdRuleOpt = "far:1e-3",
    threshold_from: ThresholdFromOpt = None,
    by: ByOpt = None,
    reference: ReferenceOpt = None,
    figure_format: FigureFormatOpt = FigureFormat.PNG,
    out: OutOpt = None,
    output_format: FormatOpt = OutputFormat.TABLE,
    config: ConfigOpt = None,
    weights: WeightsOpt = None,
    dlib_runtime: DlibRuntimeOpt = None,
    cache_dir: CacheDirOpt = None,
    workers: WorkersOpt = None,
    engine: EngineOpt = Engine.LOCAL,
    ray_address: RayAddressOpt = None,
    baseline: BaselineOpt = None,
    calibration: CalibrationOpt = None,
    prior: PriorOpt = None,
) -> None:
    """``roc`` and ``threshold-sweep`` (told apart by the name they were called by)."""
    prestart_workers(engine, workers, cache_dir)
    from face_bench.cli.render import info, progress_factory, render_evaluation, warn
    from face_bench.report.outputs import prepare_out, run_out_dir, write_evaluation
    from face_bench.report.run_folder import run_folder
    from face_bench.run.evaluation import evaluate

    kind = ctx.info_name or "roc"
    request = evaluation_request(
        SampleOptions(
            data=data,
            subsets=tuple(subset or ()),
            sample=sample,
            seed=seed,
            sample_pairs=sample_pairs,
            pairs_file=pairs_file,
            on_fail=on_fail,
            identity_from=identity_from,
            identity_pattern=identity_pattern,
            duplicates=duplicates.value,
            near_duplicates=near_duplicates.value,
            stratify_by=stratify_by,
            exclude_suspects=exclude_suspects,
        ),
        EmbedOptions(
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
        ),
        command=invocation(),
        bootstrap=bootstrap,
        threshold=threshold,
        threshold_from=threshold_from,
        by=by,
        reference=reference,
        sweep=kind == "threshold-sweep",
        calibration=calibration,
        prior=prior,
    )
    target = prepare_out(request, out, baseline, kind)  # checked before any embedding
    with progress_factory() as progress:
        evaluation = evaluate(request, progress=progress, on_message=warn, on_info=info)
    target = run_out_dir(target, out, request, kind, evaluation)
    with run_folder(target) as folder:
        written = write_evaluation(evaluation, folder.staging, kind, figure_format.value)
    written = [folder.final_path(p) for p in written]
    render_evaluation(evaluation, kind, output_format.value, written)
    if baseline is not None:
        gate_against(baseline, written[0], config)


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
