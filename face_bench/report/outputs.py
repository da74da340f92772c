"""Files an evaluation writes: results.json, scores.csv, sweep.csv and the PNG figures."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd

from face_bench.core.io import atomic_write_text


def default_out_dir(request) -> Path:
    """``reports/<dataset>-<subsets>-<timestamp>/`` under the working directory."""
    dataset = Path(request.data).resolve().name or "dataset"
    subsets = "+".join(request.subsets)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^\w.+-]+", "_", f"{dataset}-{subsets}-{stamp}")
    return Path("reports") / name


def default_lfw_out_dir(pairs_file: Path) -> Path:
    """``reports/lfw-<pairs file>-<timestamp>/`` under the working directory."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = re.sub(r"[^\w.+-]+", "_", f"lfw-{Path(pairs_file).stem}-{stamp}")
    return Path("reports") / name


def write_scores_csv(evaluation, path: Path) -> Path | None:
    """One row per pair with every model's score (17 significant digits: exact round trip)."""
    frame = evaluation.scores_frame()
    if frame.empty:
        return None
    atomic_write_text(path, frame.to_csv(index=False, float_format="%.17g", lineterminator="\n"))
    return path


def write_sweep_csv(evaluation, path: Path) -> Path:
    """The full sweep per subset and model, thresholds in each model's units."""
    from face_bench.run.analysis import sweep_frame

    frames = []
    for subset in evaluation.subsets:
        for name, scores in subset.scores.items():
            frame = sweep_frame(scores)
            frame.insert(0, "model", name)
            frame.insert(0, "subset", subset.name)
            frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    atomic_write_text(path, table.to_csv(index=False, float_format="%.10g", lineterminator="\n"))
    return path


def write_evaluation(evaluation, out: Path, kind: str) -> list[Path]:
    """Write the files of ``kind`` (``roc`` or ``threshold-sweep``) into ``out``."""
    from face_bench.report import figures

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.json"]
    evaluation.results.to_disk(written[0])
    scores_csv = write_scores_csv(evaluation, out / "scores.csv")
    if scores_csv is not None:
        written.append(scores_csv)
    written += figures.roc_and_det(evaluation, out)
    if kind == "threshold-sweep":
        written.append(write_sweep_csv(evaluation, out / "sweep.csv"))
        written += figures.sweeps(evaluation, out)
    return written
