"""The ``face-bench`` process entry: stop signals are handled before the CLI loads.

Importing the CLI (Typer, Click, Rich) takes a noticeable part of a second on a busy
machine; a SIGTERM in that time would otherwise kill the process by the signal instead of
ending it with face-bench's exit code and one line. This module imports nothing else first.
"""

from __future__ import annotations


def main() -> None:
    """Console-script entry point: ``face_bench.cli.app.main`` with signals handled first."""
    from face_bench.core.errors import StoppedRunError
    from face_bench.core.signals import handle_stop_signals

    handle_stop_signals()
    try:
        from face_bench.cli import app
    except (StoppedRunError, KeyboardInterrupt) as exc:  # stopped while loading
        import sys

        sys.stderr.write(f"face-bench: error: {exc or 'interrupted'}\n")
        sys.exit(getattr(exc, "exit_code", 130))
    app.main()
