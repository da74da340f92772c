"""Read an ONNX file's inputs and outputs and draft the ``[models.NAME]`` table to run it.

Real exports differ in layout (NCHW or NHWC), in how many outputs they have and in
their batch dimension; this turns what the graph declares into a starting spec, so a
user brings a model without writing code. What the graph cannot say (pixel scaling,
colour order, threshold) is marked in the draft as something to check.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from face_bench.models.onnx_backend import make_session
from face_bench.models.onnx_repair import repair_graph

ARCFACE_SIZE = 112  # InsightFace/ArcFace models take 112x112 chips warped to its template


@dataclass(frozen=True)
class TensorInfo:
    """One graph input or output: name, element type and shape (None for a symbolic dim)."""

    name: str
    type: str
    shape: tuple[int | None, ...]

    def shape_text(self) -> str:
        return "[" + ", ".join("N" if d is None else str(d) for d in self.shape) + "]"

    def width(self) -> int | None:
        """D when the tensor reads as an [N, D] embedding (singleton dims allowed), else None."""
        wide = [d for d in self.shape[1:] if d != 1]
        if len(self.shape) < 2 or len(wide) > 1:
            return None
        return wide[0] if wide else 1


@dataclass(frozen=True)
class OnnxDescription:
    """What an ONNX file declares."""

    path: Path
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    changes: tuple[str, ...] = ()  # what face-bench mends in memory before running it


def describe_onnx(path: Path) -> OnnxDescription:
    """Load the graph (no inference) and list its inputs and outputs."""

    def info(item) -> TensorInfo:
        dims = tuple(d if isinstance(d, int) and d > 0 else None for d in item.shape)
        return TensorInfo(item.name, item.type, dims)

    session = make_session(path, threads=1)
    return OnnxDescription(
        path,
        tuple(info(i) for i in session.get_inputs()),
        tuple(info(o) for o in session.get_outputs()),
        repair_graph(path).changes,
    )


def _layout(shape: tuple[int | None, ...]) -> tuple[str, tuple[int | None, int | None]]:
    """Guess NCHW or NHWC from where the 3 colour channels sit; spatial dims with it."""
    if len(shape) == 4 and shape[3] == 3 and shape[1] != 3:
        return "NHWC", (shape[1], shape[2])
    return "NCHW", (shape[2], shape[3]) if len(shape) == 4 else (None, None)


def _embedding_output(outputs: tuple[TensorInfo, ...]) -> TensorInfo | None:
    """The widest output that reads as [N, D]: descriptors are wider than side heads."""
    candidates = [o for o in outputs if o.width() is not None]
    return max(candidates, key=lambda o: o.width() or 0, default=None)


def _toml_name(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def suggest_toml(description: OnnxDescription, name: str | None = None) -> str:
    """A ``[models.NAME]`` block that runs the file, with comments where a choice is a guess."""
    name = name or _name_from_path(description.path)
    lines = [f"[models.{_toml_name(name)}]", 'backend = "onnx"']
    lines.append(f"path = {json.dumps(str(description.path))}")
    image = description.inputs[0] if description.inputs else None
    if image is None:
        return "\n".join([*lines, "# the graph declares no input: face-bench cannot feed it"])
    if len(description.inputs) > 1:
        lines.append(f"input = {json.dumps(image.name)}  # face-bench feeds one image input")
    layout, (height, width) = _layout(image.shape)
    lines.append(f'layout = "{layout}"')
    height, width, size_note = _input_size(height, width)
    lines.append(f"input_size = [{height}, {width}]{size_note}")
    lines += _output_lines(description.outputs)
    lines += [
        "# Check these against the model card; the graph does not record them.",
        'color_order = "RGB"',
        "scale = 1.0                    # pixel values 0..255 times scale",
        "mean = [127.5, 127.5, 127.5]   # then (value - mean) / std: ArcFace/InsightFace",
        "std = [127.5, 127.5, 127.5]    # convention; ImageNet models use scale 1/255",
        'similarity = "cosine"',
        "threshold = 0.3                # placeholder: choose it with face-bench threshold-sweep",
    ]
    lines += _alignment_lines(image, height, width)
    return "\n".join(lines)


def _name_from_path(path: Path) -> str:
    """A model name from the file's stem, reduced to what a TOML bare key allows."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-") or "model"


def _input_size(height: int | None, width: int | None) -> tuple[int, int, str]:
    """The size to feed: the graph's, or where it is dynamic 224 (or the one side known),
    with a comment saying it must be the size the model was trained at."""
    size_note = "" if height and width else "  # dynamic in the file: the size it was trained at"
    height, width = height or 224, width or height or 224
    return height, width, size_note


def _output_lines(outputs: tuple[TensorInfo, ...]) -> list[str]:
    """Which output holds the embedding (named only where there is a choice) and its width."""
    lines: list[str] = []
    output = _embedding_output(outputs)
    if output is not None and len(outputs) > 1:
        others = ", ".join(o.name for o in outputs if o is not output)
        lines.append(f"output = {json.dumps(output.name)}  # the widest output; others: {others}")
    if output is not None and output.width():
        lines.append(f"embedding_size = {output.width()}")
    return lines


def _alignment_lines(image: TensorInfo, height: int, width: int) -> list[str]:
    """Alignment guessed from the input size (112x112 reads as ArcFace), the chip size, and a
    fixed batch size where the graph has one."""
    arcface = (height, width) == (ARCFACE_SIZE, ARCFACE_SIZE)
    lines = [
        'alignment = "arcface"          # 112x112 input: the ArcFace 5-point template'
        if arcface
        else 'alignment = "dlib_chip"        # or "arcface" for models trained on ArcFace crops'
    ]
    lines.append(f"chip_size = {height}")
    if image.shape and image.shape[0] is not None:
        lines.append(f"batch_size = {image.shape[0]}             # the graph's fixed batch size")
    return lines
