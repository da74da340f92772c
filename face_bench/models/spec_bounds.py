"""Ranges a model spec's values must lie in, checked when the config is read.

A typo such as ``input_size = [100000, 100000]`` would otherwise allocate tens of GiB in a
worker, ``chip_size = 0`` reach dlib, and a NaN scale or threshold crash mid-run or turn
every score into noise. Field-level bounds live on ``ModelSpec`` itself (pydantic); the
checks here relate several fields to one another.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

    from face_bench.models.registry import ModelSpec

MAX_SIDE = 4096  # pixels per side of a model input or face chip
MAX_BATCH_BYTES = 2 << 30  # one float32 input batch: batch_size x height x width x 3
MAX_EMBEDDING = 1 << 16
DLIB_CHIP = 150  # dlib's face descriptor network is input_rgb_image_sized<150>


def dlib_size_defaults(data: Any) -> Any:
    """A dlib table without sizes gets dlib's 150, not the ONNX default of 224."""
    if isinstance(data, dict) and data.get("backend") == "dlib":
        return {"input_size": (DLIB_CHIP, DLIB_CHIP), "chip_size": DLIB_CHIP, **data}
    return data


def _threshold(spec: ModelSpec) -> None:
    """A cosine lies in [-1, 1] and a distance is >= 0: any other threshold is a typo."""
    low, high = (-1.0, 1.0) if spec.similarity == "cosine" else (0.0, math.inf)
    if not low <= spec.threshold <= high:
        span = "between -1 and 1" if spec.similarity == "cosine" else "0 or more"
        raise ValueError(
            f"threshold: a {spec.units} threshold must be {span}, got {spec.threshold}"
        )


def _dlib_sizes(spec: ModelSpec) -> None:
    """dlib's network takes 150x150 chips only: any other size fails inside a worker."""
    if spec.backend != "dlib":
        return
    if spec.chip_size not in (None, DLIB_CHIP):
        raise ValueError(
            f"chip_size: dlib's network takes {DLIB_CHIP}-pixel chips, got {spec.chip_size}"
        )
    if spec.input_size != (DLIB_CHIP, DLIB_CHIP):
        height, width = spec.input_size
        raise ValueError(
            f"input_size: dlib's network takes {DLIB_CHIP}x{DLIB_CHIP} inputs, got {height}x{width}"
        )


def _batch_memory(spec: ModelSpec) -> None:
    height, width = spec.input_size
    need = spec.batch_size * height * width * 3 * 4
    if need > MAX_BATCH_BYTES:
        raise ValueError(
            f"batch_size: {spec.batch_size} inputs of {height}x{width} need "
            f"{need / (1 << 30):.1f} GiB per batch, over the {MAX_BATCH_BYTES >> 30} GiB "
            "limit; lower batch_size or input_size"
        )


def check_spec(spec: ModelSpec) -> None:
    """Checks across fields; each error starts with the key to change."""
    _threshold(spec)
    _dlib_sizes(spec)
    _batch_memory(spec)


def first_error(exc: ValidationError) -> str:
    """``key: problem (got value)`` for the first invalid entry of a model table."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = first["msg"]
    if not where:  # a check across keys names its key itself
        return message.removeprefix("Value error, ")
    got = first.get("input")
    shown = isinstance(got, int | float) and first["type"] != "missing"
    return f"{where}: {message}" + (f" (got {got!r})" if shown else "")
