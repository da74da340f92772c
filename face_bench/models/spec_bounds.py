"""Ranges a model spec's values must lie in, checked when the config is read.

A typo such as ``input_size = [100000, 100000]`` would otherwise allocate tens of GiB in a
worker, ``chip_size = 0`` reach dlib, and a NaN scale or threshold crash mid-run or turn
every score into noise. Field-level bounds live on ``ModelSpec`` itself (pydantic); the
checks here relate several fields to one another. What one backend alone requires (dlib's
150-pixel chips) its backend checks (``Backend.check``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

MAX_SIDE = 4096  # pixels per side of a model input or face chip
MAX_BATCH_BYTES = 2 << 30  # one float32 input batch: batch_size x height x width x 3
MAX_EMBEDDING = 1 << 16


def check_threshold(similarity: str, threshold: float) -> None:
    """A cosine lies in [-1, 1] and a distance is >= 0: any other threshold is a typo."""
    low, high = (-1.0, 1.0) if similarity == "cosine" else (0.0, math.inf)
    if not low <= threshold <= high:
        span = "between -1 and 1" if similarity == "cosine" else "0 or more"
        units = "cosine similarity" if similarity == "cosine" else "Euclidean distance"
        raise ValueError(f"threshold: a {units} threshold must be {span}, got {threshold}")


def check_batch_memory(batch_size: int, input_size: tuple[int, int]) -> None:
    """One float32 input batch must fit in ``MAX_BATCH_BYTES``."""
    height, width = input_size
    need = batch_size * height * width * 3 * 4
    if need > MAX_BATCH_BYTES:
        raise ValueError(
            f"batch_size: {batch_size} inputs of {height}x{width} need "
            f"{need / (1 << 30):.1f} GiB per batch, over the {MAX_BATCH_BYTES >> 30} GiB "
            "limit; lower batch_size or input_size"
        )


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
