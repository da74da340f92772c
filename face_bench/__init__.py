"""face-bench: verification benchmarks for face-recognition models.

The public API is the names in ``__all__``; everything else may move between releases.
They are imported on first use (PEP 562), so ``import face_bench`` - and with it
``face-bench --help`` - loads neither numpy nor any model runtime::

    from pathlib import Path
    import face_bench as fb

    embed = fb.EmbedSettings(models=("dlib",), align=fb.AlignMode.DETECT)
    request = fb.EvaluationRequest(data=Path("faces"), subsets=("young_women",), embed=embed)
    evaluation = fb.evaluate(request)
    fb.write_report(evaluation, Path("out"))  # the run folder, and its report
    fb.render_report(Path("out"), Path("again"))  # the same report, from the folder alone
    verdict = fb.run_gate(Path("baseline.json"), Path("out/results.json"))

The regression gate is ``run_gate`` (two results files) because ``face_bench.gate`` is
the package that holds it.

This module is the top layer: it may name every package, and no module of face_bench
imports it (pyproject's import-linter contracts hold both); ``__version__`` lives in
``face_bench.core.version``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from face_bench.core.version import __version__

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # Evaluating: one typed request in, typed results and the arrays behind them out;
    # EmbedSettings (models, alignment, detector, cache, engine) is shared by every call
    # that embeds: evaluate (EvaluationRequest.embed), run_lfw and compare_images.
    "EvaluationRequest": "face_bench.run.request",
    "EmbedSettings": "face_bench.run.request",
    "Evaluation": "face_bench.run.evaluation",
    "evaluate": "face_bench.run.evaluation",
    "compare_images": "face_bench.run.compare",
    "Comparison": "face_bench.run.compare",
    "run_lfw": "face_bench.run.lfw",
    "write_lfw": "face_bench.run.lfw",
    "LfwResult": "face_bench.run.lfw",
    # Results: the results.json contract and the score files.
    "RunResults": "face_bench.results.contract",
    "export_scores": "face_bench.results.export",
    "read_run_scores": "face_bench.results.export",
    # Writing: the files of roc / threshold-sweep, and the HTML report (written with its run
    # folder, or rendered again from a run folder alone).
    "write_evaluation": "face_bench.report.outputs",
    "write_report": "face_bench.report.page",
    "render_report": "face_bench.report.render",
    "ReportOutput": "face_bench.report.render",
    # Gating a run against a baseline.
    "run_gate": "face_bench.gate.verdict",
    "GateReport": "face_bench.gate.records",
    # Models and data.
    "build_registry": "face_bench.models.registry",
    "Registry": "face_bench.models.registry",
    "ModelSpec": "face_bench.models.registry",
    "load_dataset": "face_bench.data.datasets",
    "Dataset": "face_bench.data.datasets",
    "load_config": "face_bench.core.config",
    "Config": "face_bench.core.config",
    # The choices every option offers.
    "AlignMode": "face_bench.core.modes",
    "MultiFacePolicy": "face_bench.core.modes",
    "FallbackDetector": "face_bench.core.modes",
    "Detector": "face_bench.core.modes",
    "DlibRuntime": "face_bench.core.modes",
    "OnFail": "face_bench.core.modes",
    "LfwOnFail": "face_bench.core.modes",
    "IdentityFrom": "face_bench.core.modes",
    "Duplicates": "face_bench.core.modes",
    "NearDuplicatePolicy": "face_bench.core.modes",
    "ExportFormat": "face_bench.core.modes",
    # Errors: every user-facing failure is a FaceBenchError with an exit code.
    "FaceBenchError": "face_bench.core.errors",
}

__all__ = [
    "AlignMode",
    "Comparison",
    "Config",
    "Dataset",
    "Detector",
    "DlibRuntime",
    "Duplicates",
    "EmbedSettings",
    "Evaluation",
    "EvaluationRequest",
    "ExportFormat",
    "FaceBenchError",
    "FallbackDetector",
    "GateReport",
    "IdentityFrom",
    "LfwOnFail",
    "LfwResult",
    "ModelSpec",
    "MultiFacePolicy",
    "NearDuplicatePolicy",
    "OnFail",
    "Registry",
    "ReportOutput",
    "RunResults",
    "__version__",
    "build_registry",
    "compare_images",
    "evaluate",
    "export_scores",
    "load_config",
    "load_dataset",
    "load_results",
    "read_run_scores",
    "render_report",
    "run_gate",
    "run_lfw",
    "write_evaluation",
    "write_lfw",
    "write_report",
]


def load_results(path: str | Path) -> RunResults:
    """A ``results.json`` of any version the gate reads, as today's typed results.

    Older files are upgraded on reading (their ``schema_version`` says which they were);
    an unusable file raises ``ResultsError``.
    """
    from face_bench.results.legacy import read_any_version

    return read_any_version(Path(path)).results


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'face_bench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what type checkers and editors see; never imported at run time
    from face_bench.core.config import Config, load_config
    from face_bench.core.errors import FaceBenchError
    from face_bench.core.modes import (
        AlignMode,
        Detector,
        DlibRuntime,
        Duplicates,
        ExportFormat,
        FallbackDetector,
        IdentityFrom,
        LfwOnFail,
        MultiFacePolicy,
        NearDuplicatePolicy,
        OnFail,
    )
    from face_bench.data.datasets import Dataset, load_dataset
    from face_bench.gate.records import GateReport
    from face_bench.gate.verdict import run_gate
    from face_bench.models.registry import ModelSpec, Registry, build_registry
    from face_bench.report.outputs import write_evaluation
    from face_bench.report.page import write_report
    from face_bench.report.render import ReportOutput, render_report
    from face_bench.results.contract import RunResults
    from face_bench.results.export import export_scores, read_run_scores
    from face_bench.run.compare import Comparison, compare_images
    from face_bench.run.evaluation import Evaluation, evaluate
    from face_bench.run.lfw import LfwResult, run_lfw, write_lfw
    from face_bench.run.request import EmbedSettings, EvaluationRequest
