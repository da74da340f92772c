"""Callbacks for options that name files: ``~`` expanded as a shell would have.

A value reaches face-bench unexpanded when it was quoted, came from an environment variable
(``envvar=``) or from a file. Files to read get ``~`` expanded where it names a home (else
the command reports them as not found); files and folders to write are refused in one line
when the ``~`` names no home, instead of becoming a folder literally named ``~``.
"""

from __future__ import annotations

from pathlib import Path

import typer


def home_expanded(value: Path | None) -> Path | None:
    """A file to read, with ``~`` expanded as a shell would have (a quoted value, a variable);
    a ``~`` naming no home is left as typed, and the command says it was not found."""
    import os

    return None if value is None else Path(os.path.expanduser(value))  # noqa: PTH111


def output_path(param: typer.CallbackParam, value: Path | None) -> Path | None:
    """A file or folder to write, with ``~`` expanded; a ``~`` naming no home (or a leading
    ``$VARIABLE``) is exit 30 in one line, never a folder named ``~`` in the working one."""
    if value is None:
        return None
    from face_bench.cli.app import fail
    from face_bench.core.errors import OutputError
    from face_bench.core.io import user_path

    try:
        return user_path(value, (param.opts or ["path"])[0], OutputError)
    except OutputError as exc:
        raise fail(str(exc), exc.exit_code) from None


def cache_dir_value(ctx: typer.Context, value: Path | None) -> Path | None:
    """``--cache-dir`` (or ``$FACE_BENCH_CACHE_DIR``) with ``~`` expanded; a ``~`` naming
    no home folder is exit 31 with one line, never a folder named ``~`` (see ``user_path``)."""
    if value is None:
        return None
    from face_bench.cli.app import fail
    from face_bench.core.errors import CacheDirError
    from face_bench.core.io import user_path

    source = getattr(ctx.get_parameter_source("cache_dir"), "name", "")  # click's enum
    shown = "$FACE_BENCH_CACHE_DIR" if source == "ENVIRONMENT" else "--cache-dir"
    try:
        return user_path(value, shown, CacheDirError)
    except CacheDirError as exc:
        raise fail(str(exc), exc.exit_code) from None
