"""What the benchmark scripts share: the stand-in model's config and timing a CLI process."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACE_BENCH_SHARED") or REPO.parent / "shared")
STANDIN = SHARED / "models" / "efficientnetv2_b0_512_random.onnx"


def standin_config(folder: Path) -> Path:
    """face-bench.toml registering the EfficientNetV2-B0 stand-in as model ``standin``."""
    path = folder / "face-bench.toml"
    path.write_text(
        f'[models.standin]\nbackend = "onnx"\npath = "{STANDIN.as_posix()}"\n'
        "input_size = [224, 224]\n"
        "mean = [0.485, 0.456, 0.406]\nstd = [0.229, 0.224, 0.225]\n"
        'embedding_size = 512\nsimilarity = "cosine"\nthreshold = 0.4\n',
        encoding="utf-8",
    )
    return path


def time_face_bench(args: list[str], cpu: dict | None = None) -> float:
    """Wall time of one whole ``face-bench`` process (start-up, work, writing).

    With ``cpu``, its CPU seconds (user + system of the process and the children it reaps)
    go into ``cpu["cpu_s"]``. Embedding workers started through multiprocessing's forkserver
    are not counted, so this is the main process's share, not the whole run's.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "face_bench", *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall


RESULTS = REPO / "benchmarks" / "results"
SCRATCH = REPO / "out" / "benchmarks"


def add_output_options(parser, name: str) -> None:
    """``--out`` and ``--update-results``: the tracked figures change only when asked to."""
    parser.add_argument(
        "--out",
        type=Path,
        help=f"JSON summary file (default out/benchmarks/{name}.json, not tracked by git)",
    )
    parser.add_argument(
        "--update-results",
        action="store_true",
        help=f"write benchmarks/results/{name}.json, the committed figures",
    )


def output_path(args, name: str) -> Path:
    """Where the summary goes; refuses to overwrite the committed figures without the flag."""
    path = args.out or (RESULTS if args.update_results else SCRATCH) / f"{name}.json"
    if path.resolve().is_relative_to(RESULTS.resolve()) and not args.update_results:
        raise SystemExit(f"{path} holds the committed figures; add --update-results to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def step(message: str) -> None:
    """A progress line on stderr, so a long benchmark shows what it is doing."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def add_tiny_option(parser) -> None:
    """``--tiny``: the smallest case that runs every step, in seconds, so CI keeps the script
    working (tests/test_benchmarks.py); its figures mean nothing."""
    parser.add_argument(
        "--tiny", action="store_true", help="a tiny case in seconds, to check the script (CI)"
    )


def load_average() -> list[float]:
    """The 1-, 5- and 15-minute load averages: on a shared machine, read every figure with it."""
    return [round(x, 2) for x in os.getloadavg()]


def announce(target: str) -> dict:
    """Print the figure this benchmark checks on an idle 2-core machine, with the load now;
    the returned fields go into the JSON summary."""
    load = load_average()
    print(f"target (idle 2-core machine): {target}; load average now {load}", flush=True)
    return {"target": target, "load_average_at_start": load}


def read_decoded(path: Path):
    """An image file as a run's workers take it: its bytes read once, then decoded."""
    from face_bench.data.images import read_image_bytes
    from face_bench.faces.locate import decode_bytes

    return decode_bytes(read_image_bytes(path), str(path))
