"""All pairs of 13,000 images (84 million pairs) through face-bench's own run path.

There is no 13,000-image face set in ../shared, so this feeds synthetic 512-d
embeddings (about 2,600 identities) to the same functions a ``--sample 0`` run
uses after embedding: blocked scoring, the exact metrics, the ROC points for the
figure and the threshold sweep. Each model runs in a fresh process so peak memory
is its own. After the timings, the figures are checked against the array path
(``compute_all`` on the scores in memory, the reference implementation) to the last bit.

    python benchmarks/bench_scale.py [--images 13000] [--identities 2600] [--tiny]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from common import add_output_options, add_tiny_option, announce, load_average, output_path, step

REPO = Path(__file__).resolve().parents[1]
TARGET = (
    "84.5 M pairs: total (scoring + metrics + ROC points + sweep) <= 5 s and peak RSS <= 1 GB "
    "per model, figures equal to the array path's to the last bit"
)


def one(images: int, identities: int, similarity: str) -> dict:
    import numpy as np
    import pandas as pd

    from face_bench.data.pairset import from_local
    from face_bench.embedding.pipeline import Embeddings
    from face_bench.models.registry import BUILTIN_MODELS, ModelSpec
    from face_bench.report.sweeps import curve_points, sweep_frame
    from face_bench.run.analysis import model_metrics
    from face_bench.run.subset_scores import score_pairset, use_blocks

    rng = np.random.default_rng(0)
    ids = rng.integers(0, identities, size=images)
    centres = rng.normal(size=(identities, 512)).astype(np.float32)
    vectors = centres[ids] + 2.5 * rng.normal(size=(images, 512)).astype(np.float32)
    spec = (
        BUILTIN_MODELS["dlib"]
        if similarity == "euclidean"
        else ModelSpec(name="m", backend="onnx", similarity="cosine", threshold=0.4)
    )
    table = pd.DataFrame({"path": [f"{i}.png" for i in range(images)], "identity": ids})
    blocked = use_blocks(images, None, from_file=False)  # what a real run of this size takes
    timings, cpu_s = {}, {}  # wall, and CPU seconds of every thread (less load-dependent)
    start, cpu = time.perf_counter(), time.process_time()
    pairs = from_local(None, np.arange(images), "all")
    embeddings = {"m": Embeddings("m", vectors)}
    data = score_pairset("s", table, pairs, embeddings, {"m": spec}, "exclude")
    timings["score_s"] = time.perf_counter() - start
    cpu_s["score_cpu_s"] = time.process_time() - cpu
    ms = data.scores["m"]
    start, cpu = time.perf_counter(), time.process_time()
    far_targets = (1e-2, 1e-3, 1e-4)
    metrics, _ = model_metrics(ms, far_targets, 0, 0, sweep=True)
    timings["metrics_s"] = time.perf_counter() - start
    cpu_s["metrics_cpu_s"] = time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    fpr, _tpr = curve_points(ms)
    timings["roc_points_s"] = time.perf_counter() - start
    cpu_s["roc_points_cpu_s"] = time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    sweep = sweep_frame(ms)
    timings["sweep_s"] = time.perf_counter() - start
    cpu_s["sweep_cpu_s"] = time.process_time() - cpu
    total = sum(timings.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "similarity": similarity,
        "images": images,
        "identities": identities,
        "pairs": int(ms.scores.size),
        "genuine": int(ms.labels.sum()),
        "run_scores_in_blocks": blocked,
        **{k: round(v, 2) for k, v in timings.items()},
        "total_s": round(total, 2),
        **{k: round(v, 2) for k, v in cpu_s.items()},
        "total_cpu_s": round(sum(cpu_s.values()), 2),
        "peak_rss_mb": round(peak),
        "equal_to_array_path": same_as_array_path(ms, ms.summarise(far_targets), far_targets),
        "load_average_at_end": load_average(),
        "roc_auc": metrics.roc_auc,
        "eer": metrics.eer,
        "roc_points": int(fpr.size),
        "sweep_rows": len(sweep),
    }


def same_as_array_path(ms, summary, far_targets) -> bool:
    """The figures against ``compute_all`` on the arrays (the reference path), exactly."""
    from face_bench.metrics.summary import compute_all, sweep_at_genuine_scores

    reference = compute_all(ms.scores, ms.labels, far_targets, "search", ms.chunk_bounds)
    sweep, ref_sweep = ms.genuine_sweep, sweep_at_genuine_scores(ms.scores, ms.labels)
    return summary == reference and all(
        (getattr(sweep, f) == getattr(ref_sweep, f)).all() for f in ("thresholds", "tp", "fp")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=13_000)
    parser.add_argument("--identities", type=int, default=2_600)
    parser.add_argument("--one", choices=["cosine", "euclidean"], help=argparse.SUPPRESS)
    add_output_options(parser, "scale")
    add_tiny_option(parser)
    args = parser.parse_args()
    if args.tiny:  # 1.1 M pairs: still the search path of the full size
        args.images, args.identities = 1_500, 300
    if args.one:
        print(json.dumps(one(args.images, args.identities, args.one)))
        return
    head = announce(TARGET)
    rows = []
    for similarity in ("cosine", "euclidean"):
        step(f"{similarity}: all pairs of {args.images:,} images")
        command = [sys.executable, __file__, "--one", similarity, "--images", str(args.images),
                   "--identities", str(args.identities)]  # fmt: skip
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    out = output_path(args, "scale")
    summary = {**head, "models": rows}
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    step(f"wrote {out}")
    print(json.dumps(summary, indent=2))
    for row in rows:
        print(
            f"{row['similarity']}: total {row['total_s']} s (target <= 5; CPU "
            f"{row['total_cpu_s']} s), peak RSS "
            f"{row['peak_rss_mb']} MB (target <= 1024), equal to the array path: "
            f"{row['equal_to_array_path']}; load average {row['load_average_at_end']}"
        )
    if not all(row["equal_to_array_path"] for row in rows):
        raise SystemExit("the figures differ from the array path")


if __name__ == "__main__":
    main()
