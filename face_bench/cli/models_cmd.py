"""``face-bench models``: every registered model, its status and where its weights are.

``--inspect PATH`` instead lists an ONNX file's inputs and outputs and drafts the
``[models.NAME]`` table that runs it.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from face_bench.cli.app import command
from face_bench.cli.options import (
    CacheDirOpt,
    ConfigOpt,
    DlibRuntimeOpt,
    FormatOpt,
    OutputFormat,
    WeightsOpt,
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


def inspect_file(path: Path, output_format: OutputFormat) -> None:
    """Inputs, outputs and a draft TOML block for one ONNX file."""
    import json

    from face_bench.cli.render import SafeTable as Table
    from face_bench.cli.render import stdout
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
) -> None:
    import json

    from rich.text import Text

    from face_bench.cli.render import print_unbroken, stdout
    from face_bench.cli.tables import fitted_table
    from face_bench.core.config import load_config
    from face_bench.core.text import display
    from face_bench.models.registry import build_registry

    if inspect is not None:
        inspect_file(inspect, output_format)
        return
    registry = build_registry(
        load_config(config),
        parse_weights(weights),
        cache_dir,
        dlib_runtime.value if dlib_runtime else None,
    )
    statuses = [_status(registry, name) for name in registry.names()]
    if output_format is OutputFormat.JSON:
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
        return
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
    """dlib models also say where their descriptor runs."""
    if spec.backend != "dlib":
        return str(spec.backend)
    return "dlib (dlib's own code)" if spec.on_dlib_runtime else "dlib (onnxruntime)"


command(
    "models",
    "List every registered model (built-in and from the config file) with its status "
    "(ready / weights missing / bad shape / bad file) and where its weights were found or "
    "looked for. With --inspect PATH: an ONNX file's inputs, outputs and a suggested "
    "config block.",
)(models)


def _status(registry: "Registry", name: str) -> "ModelStatus":
    """A model's status; weights given as a device or folder are listed, not fatal here."""
    from face_bench.core.errors import InputFileError
    from face_bench.models.registry import ModelStatus

    try:
        return registry.status(name)
    except InputFileError as exc:
        return ModelStatus(registry.get(name), "bad file", None, (), str(exc))
