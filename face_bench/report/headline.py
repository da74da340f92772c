"""The headline a reviewer reads first: each model's operating point at its default threshold
on every subset, with error counts, and the threshold that reaches the target FMR.

One source for the top of report.html, the ``roc`` table's headline lines and the
Markdown / LaTeX exports (``headline.md``, ``headline.tex``), so they cannot disagree.
Everything here reads the typed results (a ``RunResults``), nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from face_bench.report.text import MISSING, pct, rate_with_counts
from face_bench.results.blocks import ModelMetrics
from face_bench.results.contract import RunResults

READABLE_SUBSETS = {"young_women": "among young women", "ordinary": "in ordinary"}


def _where(subset: str) -> str:
    return READABLE_SUBSETS.get(subset, f"in {subset}")


@dataclass(frozen=True)
class HeadlineRow:
    """One model on one subset, as printed."""

    subset: str
    model: str
    threshold: str
    fmr: str
    fnmr: str
    auc: str
    eer: str
    target: str
    fnmr_at_target: str
    concentration: str | None
    accepts_everything: bool


def _auc(metrics: ModelMetrics) -> str:
    auc = metrics.roc_auc
    if auc is None:
        return MISSING
    ci = metrics.interval("roc_auc")
    bounds = ci.bounds() if ci is not None else None
    if bounds is not None:
        return f"{auc:.4f} [{bounds[0]:.4f}, {bounds[1]:.4f}]"
    return f"{auc:.4f}"


def _target(metrics: ModelMetrics) -> tuple[str, str]:
    block = metrics.at_target_fmr
    if block is None:
        return "too few impostors", MISSING
    fnmr = rate_with_counts(block.fnmr, block.fnmr_errors, block.n_genuine)
    if not block.supported:
        fnmr += " (thin evidence)"
    threshold = MISSING if block.threshold is None else f"{block.threshold:.4g}"
    return threshold, fnmr


def headline_rows(results: RunResults) -> list[HeadlineRow]:
    """A row per subset and model, in run order."""
    defaults = {m.name: m.default_threshold for m in results.models}
    rows = []
    for subset in results.subsets:
        concentration = subset.identity_concentration
        warn = concentration.warning if concentration is not None else None
        for model in subset.models:
            m = model.metrics
            d = m.at_default
            target, fnmr_t = _target(m)
            rows.append(
                HeadlineRow(
                    subset=subset.name,
                    model=model.name,
                    threshold=f"{defaults.get(model.name, d.threshold or 0):g}",
                    fmr=rate_with_counts(d.fmr, d.fmr_errors, d.n_impostor),
                    fnmr=rate_with_counts(d.fnmr, d.fnmr_errors, d.n_genuine),
                    auc=_auc(m),
                    eer=pct(m.eer),
                    target=target,
                    fnmr_at_target=fnmr_t,
                    concentration=warn,
                    accepts_everything=bool(d.accepts_everything),
                )
            )
    return rows


def sentences(results: RunResults) -> list[str]:
    """Per model: its impostor acceptance at the default threshold on each subset, side by side.

    "dlib at 0.6 accepts 95.03 % (16,932 / 17,817) of impostor pairs among young women vs
    31.87 % (13,698 / 42,982) in ordinary"; the subset with the highest FMR comes first.
    """
    rows = headline_rows(results)
    out = []
    for model in dict.fromkeys(r.model for r in rows):
        mine = [r for r in rows if r.model == model]
        fmrs = {}
        for subset in results.subsets:
            for run in subset.models:
                if run.name == model:
                    fmrs[subset.name] = run.metrics.at_default.fmr or 0.0
        mine.sort(key=lambda r: -fmrs.get(r.subset, 0.0))
        first, rest = mine[0], mine[1:]
        text = f"{model} at {first.threshold} accepts {first.fmr} of impostor pairs "
        text += " vs ".join([_where(first.subset), *(f"{r.fmr} {_where(r.subset)}" for r in rest)])
        text += f"; it rejects {first.fnmr} of genuine pairs "
        text += " vs ".join([_where(first.subset), *(f"{r.fnmr} {_where(r.subset)}" for r in rest)])
        if any(r.accepts_everything for r in mine):
            text += " (at this threshold it accepts every pair of at least one subset)"
        out.append(text + ".")
    return out


COLUMNS = (
    "subset",
    "model",
    "default threshold",
    "FMR at default",
    "FNMR at default",
    "ROC-AUC [95% CI]",
    "EER",
    "threshold at FMR ≤ 1e-3",
    "FNMR there",
)


def _cells(r: HeadlineRow) -> list[str]:
    return [r.subset, r.model, r.threshold, r.fmr, r.fnmr, r.auc, r.eer, r.target, r.fnmr_at_target]


def to_markdown(results) -> str:
    rows = headline_rows(results)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        cells = [c.replace("|", "\\|") for c in _cells(r)]
        lines.append("| " + " | ".join(cells) + " |")
    body = "\n".join(f"- {s}" for s in sentences(results))
    return body + "\n\n" + "\n".join(lines) + "\n"


_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "≤": r"$\leq$",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)


def to_latex(results) -> str:
    """A booktabs table (needs ``\\usepackage{booktabs}``); names are escaped."""
    rows = headline_rows(results)
    spec = "ll" + "r" * (len(COLUMNS) - 2)
    lines = [
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(latex_escape(c) for c in COLUMNS) + " \\\\",
        "\\midrule",
    ]
    lines += [" & ".join(latex_escape(c) for c in _cells(r)) + " \\\\" for r in rows]
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_exports(results, out: Path) -> list[Path]:
    """headline.md and headline.tex beside results.json."""
    from face_bench.core.io import atomic_write_text

    md, tex = Path(out) / "headline.md", Path(out) / "headline.tex"
    atomic_write_text(md, to_markdown(results))
    atomic_write_text(tex, to_latex(results))
    return [md, tex]
