"""``face-bench models``: every registered model, its status and where its weights are.

``--inspect PATH`` instead lists an ONNX file's inputs and outputs and drafts the
``[models.NAME]`` table that runs it; ``--probe NAME --data DIR`` finds a model's
preprocessing on a labelled set (``run.probe``).
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from face_bench.cli.app import command
from face_bench.cli.options import (
    CacheDirOpt,
    ConfigOpt,
    DataOpt,
    DlibRuntimeOpt,
    FormatOpt,
    OutputFormat,
    PairsFileOpt,
    SeedOpt,
    WeightsOpt,
    WorkersOpt,
    parse_weights,
)
from face_bench.cli.paths import home_expanded

if TYPE_CHECKING:
    from face_bench.models.registry import ModelSpec, ModelStatus, Registry

InspectOpt = Annotated[
    Path | None,
    typer.Option(
        "--inspect",
        help="Print this ONNX file's inputs and outputs with their shapes and a suggested "
        "[models.NAME] block for face-bench.toml, instead of the model list.",
        callback=home_expanded,
    ),
]
ProbeOpt = Annotated[
    str | None,
    typer.Option(
        "--probe",
        metavar="NAME|PATH",
        help="Find this model's preprocessing on --data: rank colour order (RGB/BGR), pixel "
        "scaling (as given, 0..1, 0..255, ±1) and alignment (ArcFace template, dlib chip) "
        "by ROC-AUC with identity-bootstrap CIs, and print the [models.NAME] table of the "
        "best. A registered model's name, or an ONNX file's path.",
        show_default=False,
    ),
]
ProbeSampleOpt = Annotated[
    int, typer.Option("--sample", help="With --probe: images sampled (0 = all of them).", min=0)
]
ProbeBootstrapOpt = Annotated[
    int,
    typer.Option(
        "--bootstrap",
        help="With --probe: identity-bootstrap replicates for the 95% CIs (0 = off).",
        min=0,
    ),
]


def probe(
    target: str,
    data: Path | None,
    options: "ProbeOptions",
    output_format: OutputFormat,
) -> None:
    """Parse, call ``run.probe``, render: the command stays thin."""
    import json

    from face_bench.cli.console import info, progress_factory, stdout, warn
    from face_bench.cli.options import (
        EmbedOptions,
        MetricOptions,
        SampleOptions,
        evaluation_request,
    )
    from face_bench.cli.probe_view import render_probe
    from face_bench.run.probe import probe_model, probe_target, result_dict

    embed = EmbedOptions(
        config=options.config,
        weights=options.weights,
        cache_dir=options.cache_dir,
        workers=options.workers,
    )
    spec, weights = probe_target(target, embed.config, embed.weight_paths, embed.cache_dir)
    sampling = SampleOptions(
        data=data,
        subsets=("all",),
        sample=options.sample,
        seed=options.seed,
        pairs_file=options.pairs_file,
    )
    metrics = MetricOptions(bootstrap=options.bootstrap, threshold="default")
    request = evaluation_request(sampling, embed, metrics, sweep=False)
    info(f"probe {spec.name}: {weights}; data: {request.data}")
    with progress_factory() as progress:
        result = probe_model(spec, weights, request, progress=progress, on_message=warn)
    if output_format is OutputFormat.JSON:
        stdout.print_json(json.dumps(result_dict(result), ensure_ascii=False))
        return
    render_probe(result)


@dataclass(frozen=True)
class ProbeOptions:
    """What ``--probe`` samples and embeds with, beside the command's shared options."""

    config: Path | None
    weights: tuple[str, ...]
    cache_dir: Path | None
    workers: int | None
    sample: int
    seed: int
    bootstrap: int
    pairs_file: Path | None


def inspect_file(path: Path, output_format: OutputFormat) -> None:
    """Inputs, outputs and a draft TOML block for one ONNX file."""
    import json

    from face_bench.cli.console import stdout
    from face_bench.cli.tables import SafeTable as Table
    from face_bench.core.errors import ModelFileError
    from face_bench.models.onnx_inspect import describe_onnx, suggest_toml

    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    description = describe_onnx(path)
    block = suggest_toml(description)
    if output_format is OutputFormat.JSON:
        tensors = {
            kind: [{"name": t.name, "type": t.type, "shape": list(t.shape)} for t in items]
            for kind, items in (("inputs", description.inputs), ("outputs", description.outputs))
        }
        changes = list(description.changes)
        stdout.print_json(
            json.dumps({"path": str(path), **tensors, "changed_in_memory": changes, "toml": block})
        )
        return
    table = Table(title=str(path), title_justify="left")
    for column in ("kind", "name", "type", "shape"):
        table.add_column(column, overflow="fold")
    for kind, items in (("input", description.inputs), ("output", description.outputs)):
        for t in items:
            table.add_row(kind, t.name, t.type, t.shape_text())
    stdout.print(table)
    if description.changes:
        stdout.print("Changed in memory before running (the file is left as it is):")
        for change in description.changes:
            stdout.print(f"- {change}", markup=False, highlight=False)
    stdout.print("Suggested block for face-bench.toml (check the commented values):")
    stdout.print(block, markup=False, highlight=False)


def models(
    config: ConfigOpt = None,
    weights: WeightsOpt = None,
    dlib_runtime: DlibRuntimeOpt = None,
    cache_dir: CacheDirOpt = None,
    output_format: FormatOpt = OutputFormat.TABLE,
    inspect: InspectOpt = None,
    probe_target: ProbeOpt = None,
    data: DataOpt = None,
    sample: ProbeSampleOpt = 300,
    seed: SeedOpt = 0,
    bootstrap: ProbeBootstrapOpt = 200,
    pairs_file: PairsFileOpt = None,
    workers: WorkersOpt = None,
) -> None:
    from face_bench.core.config import load_config
    from face_bench.models.registry import build_registry

    if inspect is not None:
        inspect_file(inspect, output_format)
        return
    if probe_target is not None:
        options = ProbeOptions(
            config, tuple(weights or ()), cache_dir, workers, sample, seed, bootstrap, pairs_file
        )
        probe(probe_target, data, options, output_format)
        return
    if data is not None or pairs_file is not None:
        from face_bench.core.errors import ConfigError

        raise ConfigError("--data and --pairs-file apply to --probe NAME only")
    registry = build_registry(
        load_config(config),
        parse_weights(weights),
        cache_dir,
        dlib_runtime.value if dlib_runtime else None,
    )
    statuses = [_status(registry, name) for name in registry.names()]
    if output_format is OutputFormat.JSON:
        _print_statuses_json(statuses)
    else:
        _print_statuses_table(statuses)


def _print_statuses_json(statuses: "list[ModelStatus]") -> None:
    """Every model's status, weights, where they were looked for and its full spec."""
    import json

    from face_bench.cli.console import stdout

    rows = [
        {
            "name": s.spec.name,
            "backend": s.spec.backend,
            "status": s.state,
            "weights": str(s.weights) if s.weights else None,
            "looked": list(s.looked),
            "message": s.message,
            "spec": s.spec.model_dump(mode="json"),
        }
        for s in statuses
    ]
    stdout.print_json(json.dumps(rows, ensure_ascii=False))


def _print_statuses_table(statuses: "list[ModelStatus]") -> None:
    """The model table, then each weights path and each model's problem on lines below it."""
    from rich.text import Text

    from face_bench.cli.console import print_unbroken, stdout
    from face_bench.cli.tables import fitted_table
    from face_bench.core.text import display

    columns = ["model", "backend", "status", "runs", "similarity", "threshold", "input", "dim"]
    table_rows = [
        [
            s.spec.name,
            _backend(s.spec),
            Text(s.state, style="green" if s.ready else "red"),
            "by default" if s.spec.default else "by name",
            s.spec.similarity,
            f"{s.spec.threshold:g}",
            f"{s.spec.input_size[0]}x{s.spec.input_size[1]} {s.spec.color_order}",
            str(s.spec.embedding_size or "?"),
        ]
        for s in statuses
    ]
    stdout.print(fitted_table("face-bench models", columns, table_rows, stdout.width, "left", ""))
    # Paths go below the table, each on a line of its own that is never broken: squeezed into
    # a column they could be neither read nor copied.
    for s in statuses:
        if s.weights:
            print_unbroken(f"{display(s.spec.name)} weights: {os.path.normpath(s.weights)}")
    for s in statuses:
        if not s.ready:
            stdout.print(Text.assemble((s.spec.name, "red"), f": {s.message}"))


def _backend(spec: "ModelSpec") -> str:
    """The backend, and for dlib where its descriptor runs."""
    from face_bench.models.backends import backend_for

    return backend_for(spec).describe(spec)


command(
    "models",
    "List every registered model (built-in and from the config file) with its status "
    "(ready / weights missing / bad shape / bad file) and where its weights were found or "
    "looked for. With --inspect PATH: an ONNX file's inputs, outputs and a suggested "
    "config block. With --probe NAME --data DIR: the model's preprocessing variants ranked "
    "by ROC-AUC on a labelled set, and the config block of the best.",
)(models)


def _status(registry: "Registry", name: str) -> "ModelStatus":
    """A model's status; weights given as a device or folder are listed, not fatal here."""
    from face_bench.core.errors import InputFileError
    from face_bench.models.registry import ModelStatus

    try:
        return registry.status(name)
    except InputFileError as exc:
        return ModelStatus(registry.get(name), "bad file", None, (), str(exc))
