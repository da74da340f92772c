"""``make run``'s first step: is the dataset there, before minutes of building a venv?

``make run`` is ``face-bench roc`` with no ``--data``, so it reads ``$FACE_BENCH_DATA``, else
``data = ...`` in ./face-bench.toml (relative to that file), as
``face_bench.data.named.resolve_data`` does. This check runs before anything is installed,
so it uses the standard library only; a named dataset (``lfw``) is left to face-bench,
which says whether it is fetched. Exit 0 when the folder is there, else one message and 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CONFIG = Path("face-bench.toml")
DATA_ENV = "FACE_BENCH_DATA"
NAMED = ("lfw", "lfw-original")  # face_bench.data.named.NAMED_DATASETS


def chosen_data() -> tuple[str, str, Path] | None:
    """The dataset value, the setting it came from, and the folder it is relative to."""
    env = os.environ.get(DATA_ENV)
    if env:
        return env, f"${DATA_ENV}", Path.cwd()
    if CONFIG.is_file():
        import tomllib

        value = tomllib.loads(CONFIG.read_text(encoding="utf-8")).get("data")
        if value:
            return str(value), f'data = "{value}" in {CONFIG.resolve()}', CONFIG.resolve().parent
    return None


def problem() -> str | None:
    """What stops ``make run`` before it builds anything, or None."""
    if sys.version_info < (3, 11):  # noqa: UP036 - runs on any python3, before the venv
        return "face-bench needs Python >= 3.11; set PYTHON=python3.11 (or newer)"
    chosen = chosen_data()
    if chosen is None:
        return (
            f"make run: no dataset given: set ${DATA_ENV} to a face set, or put "
            f'data = "DIR" in ./{CONFIG}'
        )
    value, origin, base = chosen
    folder = Path(os.path.normpath(base / Path(value).expanduser()))
    if folder.is_dir() or value in NAMED:
        return None
    return "\n".join(
        (
            f"make run: dataset folder not found: {folder}",
            f"  chosen by {origin} (make run passes no --data)",
            "  nothing was installed; to go on, do one of:",
            "  - put face-bench's shared/ test data beside the checkout (../shared)",
            f"  - point ${DATA_ENV} at a face set with sex, age_group and japanese columns:",
            f"      {DATA_ENV}=/path/to/faces make run",
            "  - for a public set: make venv && .venv/bin/face-bench fetch lfw && "
            ".venv/bin/face-bench roc --data lfw --subset all",
        )
    )


if __name__ == "__main__":
    message = problem()
    if message is not None:
        print(message, file=sys.stderr)
        sys.exit(1)
