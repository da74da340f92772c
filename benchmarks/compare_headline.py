"""Diff the README's headline run against a reference run folder, byte for byte.

Runs ``face-bench roc --dataset ordinary --dataset young_women --data DATA --model dlib``
with this checkout into a fresh folder and compares it with REFERENCE (a folder holding
the results.json and scores.csv of an earlier face-bench): scores.csv must be identical,
and results.json identical once the ``volatile`` block and ``schema_version`` are set
aside. Any other difference is printed as a unified diff. Exit 0 when identical.

    python benchmarks/compare_headline.py REFERENCE [--data DIR] [--cache-dir DIR]
    python benchmarks/compare_headline.py --tiny   # 24 images, compared with a run of its own
"""

from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import SHARED, add_tiny_option, announce  # noqa: E402


def comparable_json(path: Path) -> tuple[str, object]:
    """results.json text without ``volatile`` and ``schema_version``, and the version."""
    data = json.loads(path.read_text(encoding="utf-8"))
    version = data.pop("schema_version", None)
    data.pop("volatile", None)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n", version


def raw_without_volatile(path: Path) -> bytes:
    """The file's own bytes up to the volatile block (which is written last)."""
    text = path.read_text(encoding="utf-8")
    return text[: text.index('\n  "volatile": {')].encode()


def diff(a: str, b: str, name: str) -> list[str]:
    return list(
        difflib.unified_diff(
            a.splitlines(), b.splitlines(), f"reference/{name}", f"current/{name}", lineterm=""
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reference", type=Path, nargs="?")
    parser.add_argument(
        "--data", type=Path, default=None, help="default: the reference's dataset.path"
    )
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/fb-before-cache"))
    parser.add_argument("--out", type=Path, default=None, help="keep the new run here")
    add_tiny_option(parser)
    args = parser.parse_args()
    announce("results.json (less volatile) and scores.csv byte-identical to the reference")
    extra = ["--sample", "24"] if args.tiny else []
    if args.tiny:  # the reference is a run of this checkout: the script's every step, quickly
        args.data = args.data or SHARED / "datasets" / "jp_faces_dev"
        args.cache_dir = Path(tempfile.mkdtemp(prefix="fb-headline-cache-"))
        args.reference = Path(tempfile.mkdtemp(prefix="fb-headline-ref-")) / "run"
        _run(args.data, args.cache_dir, args.reference, extra)
    elif args.reference is None:
        parser.error("REFERENCE is required (or --tiny)")
    if args.data is None:  # the path is recorded as given, so reuse the reference's spelling
        reference = json.loads((args.reference / "results.json").read_text(encoding="utf-8"))
        args.data = Path(reference["dataset"]["path"])
    out = args.out or Path(tempfile.mkdtemp(prefix="fb-headline-")) / "run"
    _run(args.data, args.cache_dir, out, extra)

    ref_json, ref_version = comparable_json(args.reference / "results.json")
    cur_json, cur_version = comparable_json(out / "results.json")
    json_diff = diff(ref_json, cur_json, "results.json")
    # Also byte-compare the files as written, with only the version line normalised.
    ref_raw = raw_without_volatile(args.reference / "results.json").replace(
        f'"schema_version": {ref_version},'.encode(), b'"schema_version": X,'
    )
    cur_raw = raw_without_volatile(out / "results.json").replace(
        f'"schema_version": {cur_version},'.encode(), b'"schema_version": X,'
    )
    ref_scores = (args.reference / "scores.csv").read_bytes()
    cur_scores = (out / "scores.csv").read_bytes()

    print(f"schema_version: reference {ref_version}, current {cur_version}")
    print(
        "results.json (bytes, minus volatile and schema_version): "
        + ("identical" if ref_raw == cur_raw else "DIFFERENT")
    )
    print(f"scores.csv ({len(cur_scores):,} bytes): " + _same(ref_scores, cur_scores))
    if json_diff:
        print("\n".join(json_diff[:200]))
    if ref_scores != cur_scores:
        print("\n".join(diff(ref_scores.decode(), cur_scores.decode(), "scores.csv")[:60]))
    return 0 if ref_raw == cur_raw and ref_scores == cur_scores else 1


def _run(data: Path, cache_dir: Path, out: Path, extra: list[str]) -> None:
    command = [
        sys.executable, "-m", "face_bench", "roc",
        "--dataset", "ordinary", "--dataset", "young_women",
        "--data", str(data), "--model", "dlib",
        "--cache-dir", str(cache_dir), "--out", str(out), *extra,
    ]  # fmt: skip
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT, env={**_env(), "PYTHONPATH": str(ROOT)})


def _same(a: bytes, b: bytes) -> str:
    return "identical" if a == b else "DIFFERENT"


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


if __name__ == "__main__":
    sys.exit(main())
