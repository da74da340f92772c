"""Time and memory of the metrics layer at all-pairs scale (not a test).

Each case runs in its own subprocess so that its peak RSS (ru_maxrss) is its own. Synthetic
embeddings: one random unit centroid per identity plus Gaussian noise, 512-d, 5 images per
identity, cosine similarity over all i<j pairs.

    python benchmarks/bench_metrics.py [--out FILE | --update-results] [--quick | --tiny]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any

import numpy as np
from common import add_output_options, add_tiny_option, announce, load_average, output_path

TARGET = (
    "all_pairs_13000 (84.5 M pairs): one sort gives every exact figure (sorted_scores_s + "
    "summary) in <= 4 s, equal to compute_all to the last bit; peak RSS <= 1 GB"
)
NOISE = 0.09  # per-dimension noise: genuine cosine ~0.19, impostor ~0 +- 0.044, EER ~1%


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _timed(out: dict[str, Any], name: str, fn):
    start = time.perf_counter()
    result = fn()
    out[f"{name}_s"] = round(time.perf_counter() - start, 3)
    return result


def synthetic(n_images: int, dim: int = 512, noise: float = NOISE, seed: int = 0):
    rng = np.random.default_rng(seed)
    n_ids = n_images // 5
    centroids = rng.standard_normal((n_ids, dim), dtype=np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    ids = np.repeat(np.arange(n_ids), 5)
    emb = centroids[ids] + np.float32(noise) * rng.standard_normal(
        (ids.size, dim), dtype=np.float32
    )
    return emb / np.linalg.norm(emb, axis=1, keepdims=True), ids


def case_all_pairs(n_images: int, sweep: bool) -> dict[str, Any]:
    from face_bench.metrics import scoring
    from face_bench.metrics import summary as m
    from face_bench.metrics.allpairs import SortedScores
    from face_bench.report.plots.style import thin_indices

    out: dict[str, Any] = {"n_images": n_images, "n_identities": n_images // 5}
    emb, ids = synthetic(n_images)
    scores, labels = _timed(out, "pair_scoring", lambda: scoring.pair_scores_blocked(emb, ids))
    out.update(n_pairs=int(scores.size), n_genuine=int(labels.sum()))
    out["peak_rss_after_scoring_mb"] = round(_peak_mb())
    bounds = scoring.block_bounds(n_images)
    one = _timed(out, "sorted_scores", lambda: SortedScores(scores, labels, bounds))
    summary = _timed(out, "sorted_scores_summary", one.summary)
    one_sweep = _timed(out, "sorted_scores_sweep", one.sweep)
    out["sorted_scores_sweep_rows"] = int(one_sweep.thresholds.size)
    out["peak_rss_one_sort_mb"] = round(_peak_mb())
    del one, one_sweep
    reference = _timed(
        out, "compute_all", lambda: m.compute_all(scores, labels, chunk_bounds=bounds)
    )
    out["compute_all_method"] = reference.method
    out["one_sort_equals_compute_all"] = summary == replace(reference, method=summary.method)
    if sweep:
        sw = _timed(out, "threshold_sweep", lambda: m.threshold_sweep(scores, labels))
        out["sweep_rows"] = int(sw.thresholds.size)
        out["sweep_plus_all_s"] = round(out["threshold_sweep_s"] + out["compute_all_s"], 3)
        del sw
        roc = _timed(out, "roc_curve", lambda: m.roc_curve(scores, labels))
        keep = _timed(out, "thin_roc", lambda: thin_indices([roc.fpr, roc.tpr]))
        out["thinned_points"] = int(keep.size)
        del roc
        sort_summary = _timed(
            out, "compute_all_sort_path", lambda: m.compute_all(scores, labels, method="sort")
        )
        out["sort_and_search_paths_agree"] = sort_summary.to_dict() | {
            "method": ""
        } == summary.to_dict() | {"method": ""}
    else:
        rows = int(scores.size)
        out["threshold_sweep_skipped"] = (
            f"the full sweep has one row per distinct score (up to {rows:,}) and 11 arrays of "
            f"8 bytes: about {rows * 88 / 2**30:.1f} GiB, over the 3 GB budget"
        )
    out["summary"] = summary.to_dict()
    out["peak_rss_mb"] = round(_peak_mb())
    return out


def case_worst_case_auc(n_pairs: int, n_genuine: int) -> dict[str, Any]:
    """Fully overlapping scores: no impostor can be skipped before the searchsorted pass."""
    from face_bench.metrics import summary as m

    rng = np.random.default_rng(1)
    labels = np.zeros(n_pairs, bool)
    labels[rng.choice(n_pairs, n_genuine, replace=False)] = True
    scores = rng.standard_normal(n_pairs, dtype=np.float32)
    scores[labels] -= np.float32(3.0)  # genuine scores below most impostors: nothing skipped
    out: dict[str, Any] = {"n_pairs": n_pairs, "n_genuine": n_genuine}
    _timed(out, "roc_auc_search", lambda: m.roc_auc(scores, labels))
    _timed(out, "compute_all", lambda: m.compute_all(scores, labels))
    out["peak_rss_mb"] = round(_peak_mb())
    return out


def case_bootstrap(n_images: int, n_boot: int) -> dict[str, Any]:
    from face_bench.metrics import scoring
    from face_bench.metrics import uncertainty as u

    emb, ids = synthetic(n_images, dim=64, noise=0.2)
    emb2 = emb + np.float32(0.02) * np.random.default_rng(5).standard_normal(emb.shape, np.float32)
    scores, labels = scoring.pair_scores_blocked(emb, ids)
    scores2, _ = scoring.pair_scores_blocked(emb2, ids)
    i, j = scoring.all_pair_indices(ids.size)
    a, b = ids[i], ids[j]
    out: dict[str, Any] = {"n_images": n_images, "n_pairs": int(scores.size), "n_boot": n_boot}
    memo = u.ReplicateMemo()  # as in a run: the difference reuses the ranked pairs
    ci = _timed(
        out,
        "bootstrap_metrics",
        lambda: u.bootstrap_metrics(scores, labels, a, b, n_boot=n_boot, memo=memo),
    )
    _timed(
        out,
        "bootstrap_auc_difference",
        lambda: u.paired_auc_difference(scores, scores2, labels, a, b, n_boot, 0, memo=memo),
    )
    _timed(out, "delong_test", lambda: u.delong_test(scores, scores2, labels))
    out["auc_ci"] = ci.roc_auc.to_dict()
    out["peak_rss_mb"] = round(_peak_mb())
    return out


SIZES = {  # case: (full, --quick, --tiny)
    "all_pairs_3000": (3000, 1000, 300),
    "all_pairs_13000": (13000, 3000, 1500),  # --tiny: 1.1 M pairs, still the search path
    "worst_case_pairs": (84_493_500, 2_000_000, 1_100_000),
    "worst_case_genuine": (26_000, 6000, 3000),
    "bootstrap_replicates": (1000, 100, 20),
}


def _size(name: str, scale: int) -> int:
    return SIZES[name][scale]


CASES = {
    "all_pairs_3000": lambda s: case_all_pairs(_size("all_pairs_3000", s), sweep=True),
    "all_pairs_13000": lambda s: case_all_pairs(_size("all_pairs_13000", s), sweep=False),
    "worst_case_auc_84M": lambda s: case_worst_case_auc(
        _size("worst_case_pairs", s), _size("worst_case_genuine", s)
    ),
    "bootstrap_300_images": lambda s: case_bootstrap(
        100 if s == 2 else 300, _size("bootstrap_replicates", s)
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_output_options(parser, "metrics")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the script")
    add_tiny_option(parser)
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # child process: one case, one JSON line
        print(json.dumps(CASES[args.case](args.scale)))
        return
    scale = 2 if args.tiny else 1 if args.quick else 0
    results: dict[str, Any] = {
        **announce(TARGET),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
        },
        "quick": args.quick,
        "tiny": args.tiny,
        "cases": {},
    }
    failed = []
    for name in CASES:
        cmd = [sys.executable, __file__, "--case", name, "--scale", str(scale)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            failed.append(name)
            results["cases"][name] = {"error": done.stderr.strip().splitlines()[-1:]}
        else:
            results["cases"][name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(name, json.dumps(results["cases"][name], indent=1), flush=True)
    results["load_average_at_end"] = load_average()
    out = output_path(args, "metrics")
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    big = results["cases"].get("all_pairs_13000", {})
    if "sorted_scores_s" in big:
        one_sort = big["sorted_scores_s"] + big["sorted_scores_summary_s"]
        print(
            f"all pairs of {big['n_images']:,} images: one sort + summary {one_sort:.2f} s "
            f"(compute_all {big['compute_all_s']:.2f} s), peak RSS {big['peak_rss_mb']} MB, "
            f"equal: {big['one_sort_equals_compute_all']}; load {results['load_average_at_end']}"
        )
    if failed or not big.get("one_sort_equals_compute_all", False):
        raise SystemExit(f"failed: {failed or 'the one-sort figures differ from compute_all'}")


if __name__ == "__main__":
    main()
