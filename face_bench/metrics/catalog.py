"""The metric catalog: every gate-able figure once, with how to read, judge and show it.

The gate (directions, default tolerances, row order), the CLI tables, the HTML report and
docs/results-schema.md all iterate over :data:`CATALOG`, so a new metric is added here and
appears everywhere. Kept free of numpy and pydantic so that the metrics layer, the results
contract and the gate can all import it cheaply.

TAR@FAR is a family: one catalog entry (``tar_at_far``) stands for every FAR target, and
:func:`metrics_for` expands it into ``tar_at_far_1e-2``, ``tar_at_far_1e-3``, ... in place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

Unit = Literal["rate", "score", "sigma", "ratio"]

TAR_FAMILY = "tar_at_far"
_TAR_KEY = re.compile(r"^tar_at_far_(\d+e[-+]\d+)$")


def far_key(target: float) -> str:
    """Flat metric name for TAR at a FAR target: 1e-3 -> ``tar_at_far_1e-3``."""
    return "tar_at_far_" + f"{target:.0e}".replace("e-0", "e-").replace("e+0", "e+")


MIN_SUPPORT_ERRORS = 10
"""False accepts a TAR@FAR target must allow (far_target * n_impostors) to be 'supported'."""


def far_target(name: str) -> float | None:
    """The FAR target of a ``tar_at_far_<target>`` name, None for any other name."""
    match = _TAR_KEY.match(name)
    return float(match.group(1)) if match else None


@dataclass(frozen=True)
class MetricInfo:
    """One metric: its flat name, how it reads, which way is better, how it is shown.

    ``unit`` says how a value is displayed: ``rate`` (a fraction, shown as a percentage where
    the reader wants one), ``score`` (a unitless figure in [0, 1] such as AUC or F1),
    ``sigma`` (d′, standard deviations) or ``ratio`` (one rate over another). ``digits`` are
    the decimals of the plain form.
    ``prevalence_dependent`` marks figures that change with the genuine/impostor mix and so
    cannot be compared across subsets (F1). ``source`` is where the value sits in a model's
    ``metrics`` block, for the docs.
    """

    name: str
    label: str
    short: str
    higher_is_better: bool
    unit: Unit
    tolerance: float
    digits: int
    source: str
    description: str
    prevalence_dependent: bool = False
    in_table: bool = True

    @property
    def direction(self) -> int:
        """+1 when higher is better, -1 when lower is better."""
        return 1 if self.higher_is_better else -1

    @property
    def better(self) -> str:
        return "higher" if self.higher_is_better else "lower"

    def text(self, value: float | None, *, percent: bool = False) -> str:
        """The value for a table: '—' when missing, a percentage for rates when asked."""
        if value is None:
            return "—"
        if percent and self.unit == "rate":
            return f"{value * 100:.2f}%"
        return f"{value:.{self.digits}f}"


CATALOG: tuple[MetricInfo, ...] = (
    MetricInfo(
        "roc_auc", "ROC-AUC", "ROC-AUC", True, "score", 0.005, 4, "roc_auc",
        "exact area under the full ROC (ties count half)",
    ),
    MetricInfo(
        "eer", "EER", "EER", False, "rate", 0.005, 4, "eer",
        "equal error rate, where FMR = FNMR on the ROC polyline",
    ),
    MetricInfo(
        TAR_FAMILY, "TAR @ FAR {target:g}", "TAR@FAR {target:g}", True, "rate", 0.01, 4,
        "tar_at_far[].tar",
        "true accept rate at the lowest threshold whose FMR does not exceed the target; "
        "null where the impostor count cannot support it",
    ),
    MetricInfo(
        "d_prime", "d′ (separation of genuine and impostor scores)", "d'", True, "sigma",
        0.05, 2, "d_prime", "distance between the genuine and impostor score means in pooled SDs",
    ),
    MetricInfo(
        "best_f1", "F1 at the best threshold", "best F1", True, "score", 0.005, 3,
        "best_f1.f1", "F1 at the F1-optimal threshold", prevalence_dependent=True,
    ),
    MetricInfo(
        "f1_at_default", "F1 at the default threshold", "F1 @ default", True, "score", 0.005,
        3, "at_default.f1", "F1 at the model's default threshold", prevalence_dependent=True,
    ),
    MetricInfo(
        "fmr_at_default", "FMR at the default threshold", "FMR @ default", False, "rate",
        0.001, 4, "at_default.fmr", "false match rate at the model's default threshold",
        in_table=False,
    ),
    MetricInfo(
        "fnmr_at_default", "FNMR at the default threshold", "FNMR @ default", False, "rate",
        0.01, 4, "at_default.fnmr", "false non-match rate at the model's default threshold",
        in_table=False,
    ),
    MetricInfo(
        "failure_rate", "Failures to enrol", "FTE rate", False, "rate", 0.005, 4,
        "failure_rate",
        "failure-to-enrol rate counted in the error rates (--on-fail reject; 0 with exclude)",
        in_table=False,
    ),
)  # fmt: skip

DIFFERENTIALS: tuple[MetricInfo, ...] = (
    MetricInfo(
        "group_fmr", "Group FMR at the reference threshold", "group FMR", False, "rate", 0.001,
        5, "differentials.models.<m>.groups[].fmr.rate",
        "a group's FMR at the one threshold fixed on the reference group",
    ),
    MetricInfo(
        "group_fnmr", "Group FNMR at the reference threshold", "group FNMR", False, "rate",
        0.01, 4, "differentials.models.<m>.groups[].fnmr.rate",
        "a group's FNMR at the one threshold fixed on the reference group",
    ),
    MetricInfo(
        "fmr_ratio", "FMR ratio to the reference group", "FMR ratio", False, "ratio", 0.5, 3,
        "differentials.models.<m>.groups[].fmr_ratio.estimate",
        "a group's FMR over the reference group's (the rule-of-three lower bound where the "
        "reference has no false match); absolute tolerance in ratio units",
    ),
    MetricInfo(
        "fnmr_ratio", "FNMR ratio to the reference group", "FNMR ratio", False, "ratio", 0.1,
        3, "differentials.models.<m>.groups[].fnmr_ratio.estimate",
        "a group's FNMR over the reference group's (lower bound as for FMR)",
    ),
    MetricInfo(
        "max_min_fmr", "max/min of group FMR", "max/min FMR", False, "ratio", 0.5, 3,
        "differentials.models.<m>.summary[max/min FMR]", "the worst group's FMR over the best's",
    ),
    MetricInfo(
        "max_geomean_fmr", "max/geomean of group FMR", "max/geomean FMR", False, "ratio", 0.25,
        3, "differentials.models.<m>.summary[max/geomean FMR]",
        "the worst group's FMR over the geometric mean (NIST's summary)",
    ),
    MetricInfo(
        "max_min_fnmr", "max/min of group FNMR", "max/min FNMR", False, "ratio", 0.1, 3,
        "differentials.models.<m>.summary[max/min FNMR]",
        "the worst group's FNMR over the best's",
    ),
    MetricInfo(
        "max_geomean_fnmr", "max/geomean of group FNMR", "max/geomean FNMR", False, "ratio",
        0.05, 3, "differentials.models.<m>.summary[max/geomean FNMR]",
        "the worst group's FNMR over the geometric mean",
    ),
    MetricInfo(
        "garbe", "GARBE", "GARBE", False, "score", 0.02, 4,
        "differentials.models.<m>.summary[GARBE]",
        "Gini aggregation rate for biometric equitability (0 = equal)",
    ),
    MetricInfo(
        "fdr", "Fairness discrepancy rate", "FDR", True, "score", 0.005, 4,
        "differentials.models.<m>.summary[FDR]", "fairness discrepancy rate (1 = equal)",
    ),
)  # fmt: skip
"""The gated figures of the demographic differentials (``results.differentials``): per group
(rates and ratios) or per model (summary measures). Not in the per-subset tables."""

SUMMARY_METRICS = {
    "max/min FMR": "max_min_fmr",
    "max/geomean FMR": "max_geomean_fmr",
    "max/min FNMR": "max_min_fnmr",
    "max/geomean FNMR": "max_geomean_fnmr",
    "GARBE": "garbe",
    "FDR": "fdr",
}
"""A summary measure's name in results.json -> its gate name."""

_BY_NAME = {m.name: m for m in (*CATALOG, *DIFFERENTIALS)}
DEFAULT_TOLERANCES: dict[str, float] = {m.name: m.tolerance for m in (*CATALOG, *DIFFERENTIALS)}

# Shown in the report's metric table but not gated (so not in CATALOG): pyeer's zero-error
# points. Both are error rates, so lower is better, like every rate the gate reads.
ZERO_ERROR_POINTS: tuple[MetricInfo, ...] = (
    MetricInfo(
        "zero_fmr", "ZeroFMR (FNMR where no impostor is accepted)", "ZeroFMR", False, "rate",
        0.0, 4, "zero_fmr.fnmr", "FNMR at the lowest threshold that accepts no impostor pair",
        in_table=False,
    ),
    MetricInfo(
        "zero_fnmr", "ZeroFNMR (FMR where no genuine pair is rejected)", "ZeroFNMR", False,
        "rate", 0.0, 4, "zero_fnmr.fmr",
        "FMR at the highest threshold that rejects no genuine pair", in_table=False,
    ),
)  # fmt: skip


def tar_metric(target: float) -> MetricInfo:
    """The catalog entry of TAR at one FAR target."""
    family = _BY_NAME[TAR_FAMILY]
    return replace(
        family,
        name=far_key(target),
        label=family.label.format(target=target),
        short=family.short.format(target=target),
    )


def metric(name: str) -> MetricInfo | None:
    """The entry of a flat metric name (any ``tar_at_far_<target>`` too), None if unknown."""
    target = far_target(name)
    if target is not None:
        return tar_metric(target)
    return _BY_NAME.get(name) if name != TAR_FAMILY else None


def metrics_for(far_targets: Iterable[float]) -> list[MetricInfo]:
    """Every metric in catalog order, the TAR family expanded to ``far_targets`` (largest first)."""
    targets = sorted(set(far_targets), reverse=True)
    out: list[MetricInfo] = []
    for info in CATALOG:
        out += [tar_metric(t) for t in targets] if info.name == TAR_FAMILY else [info]
    return out


def order_names(names: Iterable[str]) -> list[str]:
    """Known flat names in catalog order (TAR targets largest first); unknown names dropped."""
    present = set(names)
    targets = [t for t in (far_target(n) for n in present) if t is not None]
    return [m.name for m in metrics_for(targets) if m.name in present]


def tolerance_names() -> list[str]:
    """Names a tolerance may be set for: every metric, and the TAR family as a whole."""
    return [m.name for m in (*CATALOG, *DIFFERENTIALS)]


def tolerance_help() -> str:
    """The defaults as one sentence, for ``gate --tolerance --help``."""
    groups: dict[float, list[str]] = {}
    for info in (*CATALOG, *DIFFERENTIALS):
        groups.setdefault(info.tolerance, []).append(info.name)
    return "; ".join(f"{', '.join(names)} {value:g}" for value, names in groups.items()) + "."


def markdown_table(rows: Sequence[MetricInfo] = (*CATALOG, *DIFFERENTIALS)) -> str:
    """The catalog as the Markdown table docs/results-schema.md and ci-workflow.md show."""
    lines = [
        "| gate name | read from | better | default tolerance | prevalence-dependent | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for info in rows:
        name = f"{TAR_FAMILY}_<target>" if info.name == TAR_FAMILY else info.name
        lines.append(
            f"| `{name}` | `{info.source}` | {info.better} | {info.tolerance:g} | "
            f"{'yes' if info.prevalence_dependent else 'no'} | {info.description} |"
        )
    return "\n".join(lines) + "\n"
