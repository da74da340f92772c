"""Gate tolerances: how far each metric may move, from defaults, the config file and the CLI.

The defaults live in the metric catalog (``metrics.catalog.DEFAULT_TOLERANCES``); this module
checks user values so a typo cannot silently leave a default in place.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from face_bench.core.errors import GateInputError
from face_bench.metrics.catalog import DEFAULT_TOLERANCES, TAR_FAMILY, metric, tolerance_names

GATE_CONFIG_KEYS = {"tolerances", "fail_outside_interval", "fail_outside_ci"}
# fail_outside_ci is the old name of fail_outside_interval ("CI" read as continuous integration).


# ---------------------------------------------------------------- metric names and tolerances


def metric_direction(name: str) -> int | None:
    """+1 when higher is better, -1 when lower is better, None for a metric the gate skips."""
    info = metric(name)
    return info.direction if info is not None else None


def _is_tolerance_name(name: str) -> bool:
    return name == TAR_FAMILY or metric(name) is not None


def tolerance_for(name: str, overrides: Mapping[str, float] | None = None) -> float:
    """The tolerance of one metric: an exact override, the TAR@FAR family override, the default."""
    for table in (overrides or {}, DEFAULT_TOLERANCES):
        if name in table:
            return float(table[name])
        if name.startswith(TAR_FAMILY + "_") and TAR_FAMILY in table:
            return float(table[TAR_FAMILY])
    return 0.0


def validate_tolerances(values: Mapping[str, Any], source: str) -> dict[str, float]:
    """Check names and values so a typo cannot silently leave a default in place."""
    known = sorted(tolerance_names())
    out: dict[str, float] = {}
    for name, value in values.items():
        if not _is_tolerance_name(name):
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
            raise GateInputError(f"{source}: unknown metric {name!r}{hint}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise GateInputError(
                f"{source}: tolerance for {name!r} must be a number, got {value!r}"
            )
        if not math.isfinite(value) or value < 0:
            raise GateInputError(
                f"{source}: tolerance for {name!r} must be a finite number >= 0, got {value!r}"
            )
        out[name] = float(value)
    return out


def parse_tolerances(items: Iterable[str]) -> dict[str, float]:
    """``METRIC=VALUE`` strings from ``--tolerance`` into a checked mapping."""
    raw: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not name or number is None:
            raise GateInputError(
                f"--tolerance expects METRIC=VALUE (e.g. roc_auc=0.01), got {item!r}"
            )
        if name in raw:  # the last would win silently, and which one was meant is unclear
            raise GateInputError(f"--tolerance gives {name!r} twice; give each metric once")
        raw[name] = number
    return validate_tolerances(raw, "--tolerance")


def merge_tolerances(
    cli: Mapping[str, float] | None, file: Mapping[str, float] | None
) -> dict[str, float]:
    """CLI over file (defaults apply underneath); a CLI family value beats file TAR@FAR keys."""
    merged = dict(file or {})
    for name, value in (cli or {}).items():
        if name == TAR_FAMILY:
            merged = {k: v for k, v in merged.items() if not k.startswith(TAR_FAMILY + "_")}
        merged[name] = value
    return merged


def gate_settings(
    gate_table: Mapping[str, Any], source: str
) -> tuple[dict[str, float], bool | None]:
    """``[gate]`` from the config file: its tolerances and ``fail_outside_ci`` (None = not set)."""
    unknown = set(gate_table) - GATE_CONFIG_KEYS
    if unknown:
        raise GateInputError(
            f"{source}: unknown key(s) {sorted(unknown)} in [gate]; "
            f"expected {sorted(GATE_CONFIG_KEYS)}"
        )
    tolerances = gate_table.get("tolerances", {})
    if not isinstance(tolerances, dict):
        raise GateInputError(f"{source}: [gate.tolerances] must be a table of METRIC = VALUE")
    key = "fail_outside_interval" if "fail_outside_interval" in gate_table else "fail_outside_ci"
    fail_outside_ci = gate_table.get(key)
    if fail_outside_ci is not None and not isinstance(fail_outside_ci, bool):
        raise GateInputError(f"{source}: [gate] {key} must be true or false")
    return validate_tolerances(tolerances, f"{source} [gate.tolerances]"), fail_outside_ci
