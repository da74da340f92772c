"""The walk of a small report run through face-bench's modules, for architecture reviews.

Runs ``face-bench report`` in this process (one worker, so embedding runs here too, on an
empty cache in a temporary folder) and records every call from one face-bench module into
another. It prints how many modules the images pass through, how many distinct module hops
the run makes, and every hop that climbs back up the layers of pyproject's import-linter
layers contract (a lower layer calling a higher one: a callback, or a dependency the
imports do not show).

    python .ci/module_walk.py --data ../shared/datasets/jp_faces_dev

Standard library only, apart from face-bench itself.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def layer_of() -> dict[str, int]:
    """Top-level face-bench package -> its floor in the layers contract (0 = top)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for contract in config["tool"]["importlinter"]["contracts"]:
        if contract.get("type") == "layers":
            floors: dict[str, int] = {}
            for floor, entry in enumerate(contract["layers"]):
                for name in entry.split("|"):
                    floors[name.strip().removeprefix("face_bench.")] = floor
            return floors
    raise SystemExit("no layers contract in pyproject.toml")


def package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


def walk(argv: list[str]) -> Counter[tuple[str, str]]:
    """Cross-module call edges (caller module, callee module) of one in-process run."""
    from face_bench.cli.app import app

    edges: Counter[tuple[str, str]] = Counter()

    def profile(frame, event, _arg):  # type: ignore[no-untyped-def]
        if event != "call":
            return
        callee = frame.f_globals.get("__name__", "")
        if not callee.startswith("face_bench"):
            return
        back = frame.f_back
        while back is not None and not back.f_globals.get("__name__", "").startswith("face_bench"):
            back = back.f_back  # through library frames (Typer, concurrent.futures, …)
        caller = back.f_globals.get("__name__", "") if back is not None else ""
        if caller and caller != callee:
            edges[(caller, callee)] += 1

    sys.setprofile(profile)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            app(argv, standalone_mode=False)
    except SystemExit:
        pass
    finally:
        sys.setprofile(None)
    return edges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="dataset folder (jp_faces_dev)")
    parser.add_argument("--sample", type=int, default=12)
    parser.add_argument(
        "--between", metavar="CALLER:CALLEE", help="also list the module hops between two packages"
    )
    args = parser.parse_args()
    floors = layer_of()
    with tempfile.TemporaryDirectory(prefix="face-bench-walk-") as tmp:
        argv = [
            "report", "--data", args.data, "--subset", "young_women", "--model", "dlib",
            "--sample", str(args.sample), "--seed", "0", "--bootstrap", "20", "--workers", "1",
            "--cache-dir", f"{tmp}/cache", "--out", f"{tmp}/run", "--format", "json",
        ]  # fmt: skip
        edges = walk(argv)
    modules = {m for edge in edges for m in edge}
    climbs = sorted(
        (caller, callee)
        for caller, callee in edges
        if floors.get(package(callee), -1) < floors.get(package(caller), -1)
    )
    print(f"modules passed through: {len(modules)}")
    print(f"distinct module hops:   {len(edges)}")
    print(f"calls into a module:    {sum(edges.values())}")
    print(f"hops climbing up the layers: {len(climbs)}")
    for caller, callee in climbs:
        print(f"  {caller} -> {callee}  ({edges[caller, callee]} calls)")
    between: Counter[tuple[str, str]] = Counter()
    for caller, callee in edges:
        if package(caller) != package(callee):
            between[package(caller), package(callee)] += 1
    print("module hops between packages (caller -> callee: distinct module pairs):")
    for (caller, callee), hops in sorted(between.items()):
        print(f"  {caller} -> {callee}: {hops}")
    if args.between:
        want = tuple(args.between.split(":", 1))
        for (caller, callee), calls in sorted(edges.items()):
            if (package(caller), package(callee)) == want:
                print(f"  {caller} -> {callee}  ({calls} calls)")


if __name__ == "__main__":
    main()
