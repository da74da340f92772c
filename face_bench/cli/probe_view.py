"""Printing ``face-bench models --probe``: the ranked variants, the verdict, the table to paste."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from face_bench.metrics.uncertainty import ConfidenceInterval
    from face_bench.run.probe import ProbeResult


def _with_ci(ci: ConfidenceInterval) -> str:
    """``0.9813 [0.9702, 0.9890]``; the estimate alone without a bootstrap."""
    if ci.estimate is None:
        return "—"
    if ci.lower is None or ci.upper is None:
        return f"{ci.estimate:.4f}"
    return f"{ci.estimate:.4f} [{ci.lower:.4f}, {ci.upper:.4f}]"


def verdict(result: ProbeResult) -> str:
    """One line: the winner, and whether the evidence says the spec as given should change."""
    best = result.best
    if best.spec == result.base:
        return f"best: {best.variant.label} (the spec as given)"
    ci = result.gain.ci if result.gain is not None else None
    if ci is None or ci.estimate is None or ci.lower is None or ci.upper is None:
        return f"best: {best.variant.label} (no bootstrap: no interval on its gain)"
    settled = "the interval excludes 0" if ci.lower > 0 else "the interval includes 0: not settled"
    return (
        f"best: {best.variant.label}; ΔAUC over the spec as given {ci.estimate:+.4f} "
        f"[{ci.lower:+.4f}, {ci.upper:+.4f}] (paired identity bootstrap; {settled})"
    )


def render_probe(result: ProbeResult) -> None:
    """The ranking table on stdout, then the verdict and the TOML table to paste."""
    from face_bench.cli.console import stdout
    from face_bench.cli.tables import SafeTable
    from face_bench.run.probe import threshold_note, toml_table

    level = f"95% CI, {result.n_boot} identity-bootstrap replicates" if result.n_boot else "no CI"
    table = SafeTable(
        title=f"probe {result.base.name}: {result.n_images} images, {result.n_genuine:,} "
        f"genuine / {result.n_impostor:,} impostor pairs",
        title_justify="left",
    )
    for header in ("#", "colour", "scaling", "alignment", f"ROC-AUC ({level})", "EER"):
        table.add_column(header)
    for i, row in enumerate(result.rows, start=1):
        given = " (as given)" if row.spec == result.base else ""
        table.add_row(
            f"{i}{given}",
            row.variant.color,
            row.variant.scaling,
            row.variant.alignment,
            _with_ci(row.auc),
            "—" if row.eer.estimate is None else f"{row.eer.estimate:.4f}",
        )
    stdout.print(table)
    for note in result.notes:
        stdout.print(f"tried: {note}", markup=False, highlight=False)
    stdout.print(verdict(result), markup=False, highlight=False)
    stdout.print("Paste into face-bench.toml:", markup=False)
    block = toml_table(result.best.spec, threshold_note(result))
    stdout.print(block, markup=False, highlight=False, soft_wrap=True)
