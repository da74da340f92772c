"""Render a GateReport for CI: a Markdown summary, JUnit XML and JSON.

Names in results files (subsets, models, paths) come from users and datasets, so every
renderer escapes them: a ``|`` must not split a table cell and ``<script>`` must stay text.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from face_bench.gate.records import GateReport, GateRow, RunInfo

VERDICT_ICONS = {"pass": "✅", "improved": "✅", "regressed": "❌", "not comparable": "⚠️"}
DIRECTION_ARROWS = {"higher": "↑", "lower": "↓"}
TABLE_HEADER = (
    "subset",
    "model",
    "metric",
    "baseline",
    "current",
    "delta",
    "tolerance",
    "verdict",
    "outside CI",
)

# HTML entities where a backslash escape is not enough (raw HTML, backslash itself),
# backslash escapes for punctuation that could start a link, emphasis or strike-through
# (intraword ``_`` is left alone so names stay readable), spaces for newlines, which would
# end the table row.
_MARKDOWN_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "`": "&#96;",
        "\\": "&#92;",
        "|": "\\|",
        "*": "\\*",
        "[": "\\[",
        "]": "\\]",
        "~": "\\~",
        "\n": " ",
        "\r": " ",
        "\t": " ",
    }
)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def escape_markdown(text: str) -> str:
    """Text safe inside a GitHub-flavoured Markdown table cell: no cell breaks, no HTML."""
    return str(text).translate(_MARKDOWN_ESCAPES)


def format_number(value: float | None) -> str:
    """Four decimals, or scientific notation for tiny rates; '—' when there is no value."""
    if value is None:
        return "—"
    if value != 0 and abs(value) < 0.001:
        return f"{value:.2e}"
    return f"{value:.4f}"


def format_delta(value: float | None) -> str:
    if value is None:
        return "—"
    if value != 0 and abs(value) < 0.001:
        return f"{value:+.2e}"
    return f"{value:+.4f}"


def _ci_cell(row: GateRow) -> str:
    if row.current_ci is None:
        return "—"
    interval = f"[{format_number(row.current_ci[0])}, {format_number(row.current_ci[1])}]"
    if row.ci_warning:
        return f"⚠️ baseline outside {interval}"
    if row.outside_ci:
        return f"outside {interval} (better)"
    return f"inside {interval}"


def _verdict_cell(row: GateRow) -> str:
    icon = VERDICT_ICONS[row.verdict]
    if row.verdict == "pass" and row.ci_warning:
        icon = "⚠️"
    if row.verdict == "not comparable" and row.note:  # say why, e.g. too few impostor pairs
        return f"{icon} {row.verdict}: {escape_markdown(row.note)}"
    return f"{icon} {row.verdict}"


def markdown_row(row: GateRow) -> str:
    cells = (
        escape_markdown(row.subset),
        escape_markdown(row.model),
        f"{escape_markdown(row.metric)} {DIRECTION_ARROWS[row.direction]}",
        format_number(row.baseline),
        format_number(row.current),
        format_delta(row.delta),
        f"{row.tolerance:g}",
        _verdict_cell(row),
        _ci_cell(row),
    )
    return "| " + " | ".join(cells) + " |"


def headline(report: GateReport) -> str:
    """One line saying what the gate decided, for the summary title and stderr."""
    if report.status == "not comparable":
        return "⚠️ not comparable"
    counts = f"{len(report.compared)} comparisons"
    if report.regressions:
        n = len(report.regressions)
        return f"❌ {n} regression{'s' if n != 1 else ''} in {counts}"
    warned = len(report.ci_warnings)
    extra = f", {warned} outside the current 95% CI" if warned else ""
    return f"✅ passed: {counts} within tolerance{extra}"


def _side(label: str, info: RunInfo) -> str:
    return (
        f"**{label}** {escape_markdown(info.label)} "
        f"(face-bench {escape_markdown(info.face_bench_version)}, "
        f"schema_version {info.schema_version}, {escape_markdown(info.generated_at)})"
    )


def _table(rows: Sequence[GateRow]) -> list[str]:
    return [
        "| " + " | ".join(TABLE_HEADER) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * 4 + ["---"] * 2) + "|",
        *(markdown_row(row) for row in rows),
        "",
    ]


def _folded_tables(rows: Sequence[GateRow]) -> list[str]:
    """Regressions, improvements and anything flagged first; the quiet passes folded away,
    so a reviewer sees what moved without scrolling past dozens of "pass +0.0000" rows."""
    order = {"regressed": 0, "improved": 1, "not comparable": 3}
    notable = [r for r in rows if r.verdict != "pass" or r.ci_warning]
    notable.sort(key=lambda r: order.get(r.verdict, 2))
    quiet = [r for r in rows if r.verdict == "pass" and not r.ci_warning]
    out = _table(notable) if notable else ["Every metric passed within its tolerance.", ""]
    if quiet:
        out += [
            "<details><summary>" + f"{len(quiet)} passing row(s) within tolerance" + "</summary>",
            "",
            *_table(quiet),
            "</details>",
            "",
        ]
    return out


def render_markdown(report: GateReport) -> str:
    """The summary for ``$GITHUB_STEP_SUMMARY``, a PR comment or a terminal."""
    lines = [
        f"### face-bench gate: {headline(report)}",
        "",
        f"{_side('baseline', report.baseline)}  ",
        f"{_side('current', report.current)}",
        "",
    ]
    if report.problem:
        lines += [f"**Cannot gate:** {escape_markdown(report.problem)}", ""]
    if report.regressions:
        # The table can run to hundreds of rows; say what failed before it.
        lines += ["**Regressed**", ""]
        lines += [
            f"- {escape_markdown(r.subset)} / {escape_markdown(r.model)} / "
            f"{escape_markdown(r.metric)}: {format_number(r.baseline)} → "
            f"{format_number(r.current)} ({escape_markdown(r.note)})"
            for r in report.regressions
        ]
        lines.append("")
    if report.rows:
        counts = (
            f"{len(report.passes)} pass, {len(report.improvements)} improved, "
            f"{len(report.regressions)} regressed, {len(report.not_comparable)} not comparable"
        )
        lines += [
            counts + ". ↑ higher is better, ↓ lower is better; tolerances are absolute.",
            "",
        ]
        lines += _folded_tables(report.rows)
    if report.mismatches:
        title = (
            "Mismatches (compared anyway, --allow-mismatch)"
            if report.allow_mismatch
            else "Mismatches"
        )
        lines += [f"**{title}**", ""]
        lines += [f"- {escape_markdown(str(m))}" for m in report.mismatches]
        lines.append("")
    if report.ci_warnings and not report.fail_outside_ci:
        lines += [
            "⚠️ marks metrics whose baseline lies outside the current run's 95% bootstrap "
            "interval on the better side: within tolerance, but credibly worse. "
            "Pass --fail-outside-interval to fail on these.",
            "",
        ]
    if report.notes:
        lines += ["**Notes**", ""]
        lines += [f"- {escape_markdown(note)}" for note in report.notes]
        lines.append("")
    return "\n".join(lines)


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", str(text))


def render_junit(report: GateReport) -> str:
    """JUnit XML: one testcase per subset × model × metric.

    Regressions are ``<failure>``, not comparable rows ``<skipped>``; when the runs cannot
    be gated, each mismatch is an ``<error>`` testcase in a second suite.
    """
    root = ET.Element("testsuites", name="face-bench gate")
    suite = ET.SubElement(root, "testsuite", name="face-bench gate")
    props = ET.SubElement(suite, "properties")
    for key, info in (("baseline", report.baseline), ("current", report.current)):
        ET.SubElement(props, "property", name=key, value=_xml_text(info.label))
        ET.SubElement(
            props, "property", name=f"{key}_face_bench_version", value=info.face_bench_version
        )
        ET.SubElement(
            props, "property", name=f"{key}_schema_version", value=str(info.schema_version)
        )
    for row in report.rows:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_xml_text(f"{row.subset} / {row.model}"),
            name=_xml_text(row.metric),
            time="0",
        )
        summary = (
            f"{row.metric} ({row.direction} is better): baseline {format_number(row.baseline)}, "
            f"current {format_number(row.current)}, delta {format_delta(row.delta)}, "
            f"tolerance {row.tolerance:g}"
        )
        if row.verdict == "regressed":
            failure = ET.SubElement(
                case, "failure", message=_xml_text(f"regressed: {row.note}"), type="regression"
            )
            failure.text = _xml_text(summary)
        elif row.verdict == "not comparable":
            ET.SubElement(case, "skipped", message=_xml_text(f"not comparable: {row.note}"))
        out = [summary]
        if row.current_ci is not None:
            out.append(f"current 95% CI: {_ci_cell(row).removeprefix('⚠️ ')}")
        ET.SubElement(case, "system-out").text = _xml_text("\n".join(out))
    _count(suite)
    if report.problem:
        errors = ET.SubElement(root, "testsuite", name="face-bench gate: comparability")
        reasons = [str(m) for m in report.mismatches] or [report.problem]
        for reason in reasons:
            case = ET.SubElement(
                errors, "testcase", classname="comparability", name=_xml_text(reason), time="0"
            )
            error = ET.SubElement(case, "error", message=_xml_text(reason), type="mismatch")
            error.text = _xml_text(report.problem)
        _count(errors)
    _count(root)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _count(element: ET.Element) -> None:
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for case in element.iter("testcase"):
        totals["tests"] += 1
        totals["failures"] += case.find("failure") is not None
        totals["errors"] += case.find("error") is not None
        totals["skipped"] += case.find("skipped") is not None
    for key, value in totals.items():
        element.set(key, str(value))


def render_json(report: GateReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def write_output(path: Path, text: str) -> None:
    """Write a report file whole (atomically), or fail with a one-line error.

    ``/dev/stdout`` or a pipe is written through; a folder or other special file is refused.
    """
    from face_bench.core.io import atomic_write_text

    atomic_write_text(Path(path), text, stream_ok=True)


def append_step_summary(markdown: str, environ: dict[str, str] | None = None) -> Path | None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when GitHub Actions set it; returns the file used."""
    target = (environ if environ is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    from face_bench.core.io import append_text

    path = Path(target)
    append_text(path, markdown.rstrip("\n") + "\n\n")
    return path
