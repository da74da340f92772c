"""The warm default run: ``face-bench roc`` on young_women with dlib + the stand-in, cached.

Every embedding is in the cache, so what is left is start-up, imports, metrics (with the
1,000-replicate identity bootstrap), writing results.json and scores.csv, and drawing
roc.png and det.png. The run is timed ``--repeat`` times as a whole process (min and
median wall; CPU seconds of the process and the children it reaps),
then once more with perf_counter spans around each part (skip with ``--no-split``):
interpreter start, CLI imports, the run modules' imports, plan (dataset, hashes, models),
embedding (cache reads), scoring, summaries (metrics, bootstrap, DeLong), the results.json /
scores.csv / figure writers and the table.

    python benchmarks/bench_warm.py [--repeat 5] [--bootstrap 1000] [--work DIR]
        [--compare-with CHECKOUT] [--update-results | --out FILE]

The machine may be shared: the load average is recorded before and after, and the figure to
compare is the minimum. A shared host's speed also drifts, so ``reference_loop_s`` times a
fixed Python loop, and ``--compare-with`` times another checkout (say a worktree of an older
commit) in alternation with this one: the fair before/after on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (
    REPO,
    SHARED,
    add_output_options,
    add_tiny_option,
    announce,
    output_path,
    standin_config,
    step,
)

JP = SHARED / "datasets" / "jp_faces_dev"
TINY: list[str] = []  # --tiny: a few images instead of the subset

# Run in a child process: wraps the run's steps in perf_counter spans, then runs the CLI.
_SPLIT_CHILD = r"""
import json, sys, time
started = time.time()
t = time.perf_counter()
spans = {"interpreter_start_s": started - float(sys.argv[1])}
spans_file = sys.argv[2]
import face_bench.cli.app as app
spans["cli_import_s"] = time.perf_counter() - t
t = time.perf_counter()
import face_bench.report.outputs as outputs
import face_bench.run.evaluation as evaluation
spans["run_modules_import_s"] = time.perf_counter() - t

def timed(module, name, key):
    inner = getattr(module, name)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spans[key] = spans.get(key, 0.0) + time.perf_counter() - t0
    setattr(module, name, wrapper)

timed(evaluation, "evaluate", "evaluate_s")
timed(evaluation, "plan_run", "evaluate.plan_s")
timed(evaluation, "embed_models", "evaluate.embed_s")
timed(evaluation, "score_pairset", "evaluate.score_s")
timed(evaluation, "summarise_subset", "evaluate.summarise_s")
timed(evaluation, "request_differentials", "evaluate.differentials_s")
import face_bench.cli.render as render
timed(render, "render_evaluation", "render_table_s")
write = outputs.write_evaluation
def write_evaluation(*args, **kwargs):
    timings = {}
    t0 = time.perf_counter()
    try:
        return write(*args, **kwargs, timings=timings)
    finally:
        spans["write_s"] = time.perf_counter() - t0
        spans.update({f"write.{k}": v for k, v in timings.items()})
outputs.write_evaluation = write_evaluation
def save():  # an exit handler: face-bench's entry point leaves without interpreter teardown
    spans["total_in_process_s"] = time.time() - started
    with open(spans_file, "w") as f:
        json.dump(spans, f)
import atexit
atexit.register(save)
sys.argv = ["face-bench", *sys.argv[3:]]
app.main()
"""


SUBSETS = ["young_women"]
"""The subsets of the timed run (``--headline``: ordinary and young_women, with differentials)."""


def run_args(folder: Path, bootstrap: int) -> list[str]:
    config = standin_config(folder)
    subsets = [arg for name in SUBSETS for arg in ("--subset", name)]
    return [
        "roc", *subsets, "--data", str(JP), "--model", "dlib",
        "--model", "standin", "--config", str(config), "--cache-dir", str(folder / "cache"),
        "--out", str(folder / "out"), "--bootstrap", str(bootstrap), *TINY,
    ]  # fmt: skip


def _env(checkout: Path = REPO) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(checkout), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    return env


def _run(command: list[str], checkout: Path = REPO) -> None:
    """Run a child with ``checkout`` first on its path; a failure shows the child's stderr."""
    done = subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(checkout),
        cwd=tempfile.gettempdir(),  # not a checkout: ``python -m`` puts the working dir first
    )
    if done.returncode:
        shown = " ".join(command[:3])
        raise SystemExit(f"exit {done.returncode}: {shown} ...\n{done.stderr[-3000:]}")


def reference_loop_s() -> float:
    """Seconds of a fixed pure-Python loop (fastest of 3): how fast this machine runs one
    core today, to compare figures taken on different days of a shared host."""
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(5_000_000):
            total += i
        best = min(best, time.perf_counter() - start)
    return best


def time_run(args: list[str], checkout: Path = REPO) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the process and the children it reaped) of one
    ``face-bench`` run of ``checkout``."""
    before = os.times()
    start = time.perf_counter()
    _run([sys.executable, "-m", "face_bench", *args], checkout)
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


def split_run(args: list[str], folder: Path) -> dict[str, float]:
    """One run with a span around each part; seconds per span."""
    spans = folder / "spans.json"
    _run([sys.executable, "-c", _SPLIT_CHILD, repr(time.time()), str(spans), *args])
    return {k: round(v, 3) for k, v in json.loads(spans.read_text()).items()}


def _parser() -> argparse.ArgumentParser:
    """The command line, apart from ``main`` since its options outnumber its steps."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed warm runs (default 5; 0: the split only)"
    )
    parser.add_argument("--bootstrap", type=int, default=1000, help="replicates (default 1000)")
    parser.add_argument("--no-split", action="store_true", help="skip the split run")
    parser.add_argument(
        "--headline",
        action="store_true",
        help="time ordinary + young_women (the headline comparison, with its differentials) "
        "instead of young_women alone; the split then gives the differentials' share",
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="folder for the config, cache and outputs (default: a fresh temporary folder); "
        "a folder kept from an earlier run skips the 10-s cache fill",
    )
    parser.add_argument(
        "--compare-with",
        type=Path,
        metavar="CHECKOUT",
        help="another face-bench checkout (e.g. a worktree of an older commit) timed on the "
        "same case in alternation with this one, with its own cache",
    )
    add_output_options(parser, "warm")
    add_tiny_option(parser)
    return parser


def main() -> None:
    args = _parser().parse_args()
    if args.tiny:
        TINY[:] = ["--sample", "24"]
        args.repeat, args.bootstrap = 1, 20
    announce("warm default run (1,000 bootstrap replicates) <= 1.5 s")
    if args.headline:
        SUBSETS[:] = ["ordinary", "young_women"]
    out = output_path(args, "warm")
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as tmp:
        folder = args.work or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        load_before = os.getloadavg()
        reference = reference_loop_s()
        checkouts = _checkouts(args.compare_with, folder)
        colds, timed = _timed_runs(checkouts, args.repeat, args.bootstrap)
        split = {} if args.no_split else split_run(run_args(folder, args.bootstrap), folder)
        load_after = os.getloadavg()
    summary = {
        "case": f"roc {' '.join('--subset ' + n for n in SUBSETS)} on jp_faces_dev, dlib + "
        "stand-in, cached",
        "bootstrap": args.bootstrap,
        "first_run_s": round(colds["this"], 3),  # cold unless --work held a filled cache
        "warm_runs": args.repeat,
        **_warm_figures(timed["this"]),
        "split_s": split,
        # The differentials' time over the rest of the same run (target: <= 0.20).
        "differentials_over_rest": _differentials_over_rest(split),
        "compared": _compared(args.compare_with, timed.get("compared", [])),
        "reference_loop_s": round(reference, 3),
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))


def _checkouts(compare_with: Path | None, folder: Path) -> dict[str, tuple[Path, Path]]:
    """This checkout and (``--compare-with``) the other, each with a work folder of its own,
    since each fills and reads its own cache."""
    checkouts = {"this": (REPO, folder)}
    if compare_with:
        other = folder / "compared"
        other.mkdir(exist_ok=True)
        checkouts["compared"] = (compare_with.resolve(), other)
    return checkouts


def _timed_runs(
    checkouts: dict[str, tuple[Path, Path]], repeat: int, bootstrap: int
) -> tuple[dict[str, float], dict[str, list[tuple[float, float]]]]:
    """A cold run of each checkout, then ``repeat`` warm rounds taking the checkouts in
    turn, so a drift in the shared host's speed falls on all of them alike."""
    colds = {}
    for name, (checkout, work) in checkouts.items():
        step(f"cold run of {name} (fills the embedding cache)")
        colds[name], _cpu = time_run(run_args(work, 0), checkout)
    timed: dict[str, list[tuple[float, float]]] = {name: [] for name in checkouts}
    for i in range(repeat):
        for name, (checkout, work) in checkouts.items():
            wall, cpu = time_run(run_args(work, bootstrap), checkout)
            step(f"warm run {i + 1}/{repeat} of {name}: {wall:.3f} s, {cpu:.3f} s CPU")
            timed[name].append((wall, cpu))
    return colds, timed


def _warm_figures(timed: list[tuple[float, float]]) -> dict:
    """Min and median wall and CPU seconds of the warm runs (None without any, as with
    ``--repeat 0``), with every wall time for the record."""
    walls, cpus = [w for w, _c in timed], [c for _w, c in timed]
    return {
        "warm_min_s": round(min(walls), 3) if walls else None,
        "warm_median_s": round(statistics.median(walls), 3) if walls else None,
        "warm_cpu_min_s": round(min(cpus), 3) if cpus else None,
        "warm_cpu_median_s": round(statistics.median(cpus), 3) if cpus else None,
        "warm_walls_s": [round(w, 3) for w in walls],
    }


def _differentials_over_rest(split: dict[str, float]) -> float | None:
    """The differentials' share of the split run over the rest of it, since their budget is
    set relative to the run (None without a split or differentials)."""
    diff_s = split.get("evaluate.differentials_s")
    if diff_s and "total_in_process_s" in split:
        return round(diff_s / (split["total_in_process_s"] - diff_s), 4)
    return None


def _compared(checkout: Path | None, timed: list[tuple[float, float]]) -> dict | None:
    """The other checkout's figures, measured in alternation with this one's."""
    if checkout is None or not timed:
        return None
    walls, cpus = [w for w, _c in timed], [c for _w, c in timed]
    commit = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "checkout": str(checkout),
        "commit": commit or None,
        "warm_min_s": round(min(walls), 3),
        "warm_median_s": round(statistics.median(walls), 3),
        "warm_cpu_min_s": round(min(cpus), 3),
        "warm_cpu_median_s": round(statistics.median(cpus), 3),
        "warm_walls_s": [round(w, 3) for w in walls],
    }


if __name__ == "__main__":
    main()
