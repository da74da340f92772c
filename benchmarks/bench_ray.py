"""The Ray engine against the local engine, on this machine (2 cores).

1. Embedding overhead: the 225-image young_women job of jp_faces_dev, cold cache, dlib and
   the EfficientNetV2-B0 stand-in, local engine vs a 2-CPU local Ray cluster that is
   already running (its start-up is timed separately: a real cluster is started once,
   not per run).
2. Exact all-pairs metrics of N synthetic 512-d embeddings (default 30,000: 450 M pairs):
   the same per-block passes mapped in-process vs as Ray tasks; the results must be equal.
   The per-block throughput gives the projection in docs/scale.md.

    python benchmarks/bench_ray.py [--images 30000] [--skip-embedding] [--save]

Prints a JSON summary; ``--save`` also writes benchmarks/results/ray.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from common import SHARED, add_tiny_option, announce, standin_config  # noqa: E402


def say(message: str) -> None:
    print(f"[bench_ray] {message}", file=sys.stderr, flush=True)


def embedding(ray_options) -> dict:
    from face_bench.run.evaluation import evaluate
    from face_bench.run.request import EmbedSettings, EvaluationRequest

    data = SHARED / "datasets" / "jp_faces_dev"
    folder = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    config = standin_config(folder)
    out = {}
    try:
        for name, engine in (("local", None), ("ray", ray_options)):
            cache = folder / f"cache-{name}"
            request = EvaluationRequest(
                data=data,
                subsets=("young_women",),
                embed=EmbedSettings(
                    models=("dlib", "standin"), config_path=config, cache_dir=cache, ray=engine
                ),
                sample=300,
                seed=0,
                bootstrap=0,
            )
            say(f"embedding 225 images, {name} engine, cold cache")
            start = time.perf_counter()
            evaluate(request)
            out[f"{name}_s"] = round(time.perf_counter() - start, 2)
        out["ray_over_local"] = round(out["ray_s"] / out["local_s"], 2)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


def all_pairs(images: int, identities: int, mapper) -> dict:
    import numpy as np

    from face_bench.metrics.allpairs import local_mapper, summarise_all_pairs
    from face_bench.metrics.scoring import row_blocks

    rng = np.random.default_rng(0)
    ids = rng.integers(0, identities, size=images)
    centres = rng.normal(size=(identities, 512)).astype(np.float32)
    vectors = centres[ids] + 2.5 * rng.normal(size=(images, 512)).astype(np.float32)
    pairs = images * (images - 1) // 2
    blocks = len(row_blocks(images))
    out: dict = {"images": images, "pairs": pairs, "blocks": blocks}
    results = {}
    for name, use in (("local", local_mapper), ("ray", mapper)):
        say(f"all pairs of {images:,} embeddings ({pairs:,} pairs), {name}")
        start = time.perf_counter()
        results[name] = summarise_all_pairs(vectors, ids, "cosine", mapper=use)
        seconds = time.perf_counter() - start
        out[f"{name}_s"] = round(seconds, 2)
        out[f"{name}_pairs_per_s"] = round(pairs / seconds)
    out["ray_over_local"] = round(out["ray_s"] / out["local_s"], 2)
    out["identical"] = results["local"].summary == results["ray"].summary
    out["roc_auc"] = results["local"].summary.roc_auc
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30_000)
    parser.add_argument("--identities", type=int, default=6_000)
    parser.add_argument("--skip-embedding", action="store_true")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/ray.json")
    add_tiny_option(parser)
    args = parser.parse_args()
    if args.tiny:
        args.images, args.identities, args.skip_embedding = 400, 80, True
    announce("Ray's all-pairs figures identical to the local engine's; ray_over_local <= 1")

    import ray

    from face_bench.embedding.ray_engine import RayMapper, RayOptions

    say("starting a local 2-CPU Ray cluster")
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    summary: dict = {"cluster_start_s": round(time.perf_counter() - start, 2)}
    summary["load_average"] = os.getloadavg()
    options = RayOptions()
    try:
        if not args.skip_embedding:
            summary["embedding_225_images"] = embedding(options)
        summary["all_pairs"] = all_pairs(args.images, args.identities, RayMapper(options))
    finally:
        ray.shutdown()
    text = json.dumps(summary, indent=2)
    print(text)
    if args.save:
        (REPO / "benchmarks" / "results" / "ray.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
