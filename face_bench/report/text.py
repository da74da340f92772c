"""Numbers as the page, the CLI tables and the exported tables print them, in one place.

A p-value below double precision and a rate with its counts must read the same in the
HTML, the terminal and a LaTeX table (ratios: ``report.differentials_view``).
"""

from __future__ import annotations

import math

MISSING = "—"


def pct(value: float | None, digits: int = 2) -> str:
    """0.3256 -> '32.56 %'; None -> '—'."""
    return MISSING if value is None else f"{value * 100:.{digits}f} %"


def counts(errors: int | None, n: int | None) -> str:
    """bob.measure's '(14,022 / 43,070)'."""
    if errors is None or n is None:
        return ""
    return f"({errors:,} / {n:,})"


def rate_with_counts(rate: float | None, errors: int | None, n: int | None, digits=2) -> str:
    """'32.56 % (14,022 / 43,070)'."""
    text = pct(rate, digits)
    extra = counts(errors, n)
    return f"{text} {extra}" if extra and rate is not None else text


def p_value(p: float | None, log10_p: float | None = None) -> str:
    """'0.0312', '3.1e-12', or below double precision 'p < 1e-300 (log10 p = -1234.5)'."""
    if p is None and log10_p is None:
        return MISSING
    if p is not None and p >= 1e-300:
        return f"{p:.3g}"
    if log10_p is not None and math.isfinite(log10_p):
        return f"< 1e-300 (log10 p = {log10_p:.1f})"
    return "< 1e-300"


def chance(probability: float) -> str:
    """A probability as a percentage that never rounds to a certainty it does not have."""
    if probability > 0.999:
        return ">99.9%"
    if probability < 0.001:
        return "<0.1%"
    return f"{probability * 100:.1f}%"
