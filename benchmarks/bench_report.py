"""Report speed: `face-bench report` on two subsets x two models once embeddings are cached.

dlib and the full-size ONNX stand-in (EfficientNetV2-B0, random weights: speed only) on
`ordinary` and `young_women`, 300 images sampled per subset, default 1000 bootstrap
replicates. A first run fills the cache and is timed as "cold"; the warm rerun is the
figure that matters (metrics, bootstrap, every PNG, UMAP, thumbnails, HTML) and is timed
as a whole process. An in-process pass then splits the warm time into phases.

    python benchmarks/bench_report.py [--data ../shared/datasets/jp_faces_dev] [--sample 300]
        [--cache-dir DIR] [--out FILE | --update-results]

Prints a JSON summary and writes it to --out (default out/benchmarks/report.json;
--update-results replaces the committed benchmarks/results/report.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from common import (
    SHARED,
    add_output_options,
    output_path,
    standin_config,
    step,
    time_face_bench,
)

SUBSETS = ("ordinary", "young_women")


def _args(data: Path, sample: int, config: Path, cache: Path, out: Path) -> list[str]:
    args = ["report", "--data", str(data), "--sample", str(sample)]
    for subset in SUBSETS:
        args += ["--subset", subset]
    args += ["--model", "dlib", "--model", "standin", "--config", str(config)]
    return [*args, "--cache-dir", str(cache), "--out", str(out)]


def _timed(args: list[str]) -> dict[str, float]:
    """Wall time of a whole process and the CPU seconds it used (user + system): on a shared
    machine the CPU time is the figure that does not depend on the neighbours."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time_face_bench(args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}


def _phases(data: Path, sample: int, config: Path, cache: Path, out: Path) -> dict:
    """The warm run again in this process, timed by phase (UMAP already compiled by then)."""
    from face_bench.report.page import project_models, write_report
    from face_bench.run.evaluation import EvaluationRequest, evaluate

    request = EvaluationRequest(
        data=data,
        subsets=SUBSETS,
        models=("dlib", "standin"),
        sample=sample,
        bootstrap=1000,
        sweep=True,
        config_path=config,
        cache_dir=cache,
    )
    timings: dict[str, float] = {}
    start = time.perf_counter()
    evaluation = evaluate(request)
    timings["evaluate_s"] = time.perf_counter() - start
    start = time.perf_counter()
    project_models(evaluation)
    timings["umap_first_in_process_s"] = time.perf_counter() - start
    start = time.perf_counter()
    project_models(evaluation)
    timings["umap_s"] = time.perf_counter() - start
    start = time.perf_counter()
    result = write_report(evaluation, out)
    timings["write_report_s"] = time.perf_counter() - start
    timings = {k: round(v, 2) for k, v in timings.items()}
    # The report's own split: each CSV, each group of figures, UMAP, thumbnails, the page.
    timings["write_report_split"] = {k: round(v, 2) for k, v in result.timings.items()}
    timings["files_written"] = len(result.written)
    timings["files_mb"] = round(sum(p.stat().st_size for p in result.written) / 1e6, 2)
    timings["union_images"] = len(evaluation.images)
    timings["pairs"] = {s.name: len(s.pairs) for s in evaluation.subsets}  # scored pairs per subset
    timings["report_html_mb"] = round(result.html.stat().st_size / 1e6, 2)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED / "datasets" / "jp_faces_dev")
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--cache-dir", type=Path, default=None)
    add_output_options(parser, "report")
    opts = parser.parse_args()

    load = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        work = Path(tmp)
        cache = opts.cache_dir or work / "cache"
        config = standin_config(work)
        step("cold report")
        cold = _timed(_args(opts.data, opts.sample, config, cache, work / "cold"))
        step(f"cold report took {cold['wall_s']:.1f} s; warm report")
        warm = _timed(_args(opts.data, opts.sample, config, cache, work / "warm"))
        step("timing each phase")
        phases = _phases(opts.data, opts.sample, config, cache, work / "phases")
    summary = {
        "subsets": list(SUBSETS),
        "models": ["dlib", "standin (efficientnetv2_b0_512_random.onnx)"],
        "sample": opts.sample,
        "bootstrap": 1000,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1min_at_start": load,
        "cold_run": cold,
        "warm_run": warm,
        **phases,
        "note": (
            "cold/warm are whole `face-bench report` processes (wall and CPU seconds); cold "
            "includes embedding unless --cache-dir already held them. warm includes every "
            "figure and UMAP, whose numba compilation is paid once per process "
            "(umap_first_in_process_s vs umap_s). write_report_split times each part of the "
            "report in-process. On a loaded machine (see load_average_1min_at_start) wall "
            "times stretch; CPU seconds do not."
        ),
    }
    text = json.dumps(summary, indent=2)
    print(text)
    out = output_path(opts, "report")
    out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
