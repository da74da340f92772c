"""The Typer application, and the one place that turns errors into exit codes.

Commands live in sibling modules; each parses options, calls one library
function and renders the result. Heavy libraries are imported inside command
bodies so ``face-bench --help`` stays instant.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import typer
import typer.core

# Typer carries its own copy of Click; its usage errors are these classes, not click's.
from typer._click.core import Context as ClickContext
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from face_bench.core.deps import missing_dependency
from face_bench.core.errors import (
    FaceBenchError,
    HangupRunError,
    InterruptedRunError,
    StoppedRunError,
    TerminatedRunError,
)

F = TypeVar("F", bound=Callable[..., Any])


class OneLineUsageError(UsageError):
    """A usage error printed as every face-bench error is: one ``face-bench: error:`` line,
    then one line naming ``--help`` (Click's own form is a four-line block). Exit code 2."""

    def show(self, file: Any = None) -> None:
        from face_bench.core.text import display_line

        typer.echo(f"face-bench: error: {display_line(self.format_message())}", err=True)
        if self.ctx is not None:
            typer.echo(f"Try '{display_line(self.ctx.command_path)} --help'.", err=True)


def _one_line(exc: UsageError) -> UsageError:
    # "face-bench" or "face-bench roc" with no arguments prints the help: left as it is.
    if isinstance(exc, NoArgsIsHelpError | OneLineUsageError):
        return exc
    return OneLineUsageError(exc.format_message(), exc.ctx)


class FaceBenchGroup(typer.core.TyperGroup):
    """The root command: usage errors, its own or a subcommand's, are shown on one line."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: ClickContext | None = None,
        **extra: Any,
    ) -> ClickContext:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise _one_line(exc) from None


app = typer.Typer(
    cls=FaceBenchGroup,
    name="face-bench",
    help=(
        "Measure how well face-recognition models tell people apart on a chosen population "
        "(ROC-AUC, EER, TAR@FAR, F1 sweeps, UMAP), write HTML/PNG/JSON reports, "
        "and gate results in CI."
    ),
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    # -h as well as --help, on every command (sub-contexts inherit the names).
    context_settings={"help_option_names": ["-h", "--help"]},
)


def fail(message: str, code: int) -> typer.Exit:
    """Print one line to stderr and return the Exit to raise."""
    from face_bench.core.text import display_line

    # One line whatever the message holds: names in it cannot break or spoof the terminal.
    typer.echo(f"face-bench: error: {display_line(message)}", err=True)
    return typer.Exit(code)


def guarded(func: F) -> F:
    """Map FaceBenchError subclasses, a missing third-party package and stop signals to a
    one-line message and their exit code. A stop signal wins over whatever the command did
    after it: a run asked to stop never exits 0, even when a library swallowed the exception
    the signal raised."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from face_bench.core.signals import handle_stop_signals, received_stop

        restore = handle_stop_signals()  # SIGTERM/SIGHUP stop workers and exit 143/129
        try:
            try:
                result = func(*args, **kwargs)
            except FaceBenchError as exc:
                raise _failed(received_stop() or exc) from None
            except (StoppedRunError, KeyboardInterrupt) as exc:
                raise _failed(exc) from None
            except ModuleNotFoundError as exc:
                missing = missing_dependency(exc)
                if missing is None:
                    raise
                raise _failed(received_stop() or missing) from None
            stop = received_stop()
            if stop is not None:
                raise _failed(stop)
            return result
        finally:
            restore()

    return wrapper  # type: ignore[return-value]


def _failed(exc: BaseException) -> typer.Exit:
    if isinstance(exc, FaceBenchError | StoppedRunError):
        return fail(str(exc), exc.exit_code)
    return fail(
        "interrupted; embeddings finished so far are kept in the cache",
        InterruptedRunError.exit_code,
    )


class RenamingCommand(typer.core.TyperCommand):
    """A command that still accepts the old spelling of renamed options, with a note.

    ``renames`` maps an old long option to its new name. The old spelling is rewritten
    before Click parses, so the command sees only the new option, and each use prints one
    deprecation line on stderr. Tokens that are the value of another option are left alone.
    """

    renames: ClassVar[Mapping[str, str]] = {}

    # Typer hands in its own Context subclass; the base class names Click's.
    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        try:
            return super().parse_args(ctx, self._rewrite(args))
        except UsageError as exc:
            # Click's parser leaves some errors ("requires an argument") without the command,
            # and the help hint needs it.
            if exc.ctx is None:
                exc.ctx = ctx
            raise

    def _rewrite(self, args: list[str]) -> list[str]:
        takes_value = {
            opt
            for param in self.params
            if isinstance(param, typer.core.TyperOption) and not param.is_flag and not param.count
            for opt in (*param.opts, *param.secondary_opts)
        }
        out: list[str] = []
        tokens = iter(args)
        for token in tokens:
            if token == "--":
                out += [token, *tokens]
                break
            name, eq, value = token.partition("=")
            if name in self.renames:
                new = self.renames[name]
                typer.echo(
                    f"face-bench: warning: {name} is deprecated, use {new} "
                    "(the old spelling goes in the next release)",
                    err=True,
                )
                name, token = new, new + eq + value
            out.append(token)
            if not eq and name in takes_value:
                following = next(tokens, None)  # the option's value: never renamed
                if following is not None:
                    out.append(following)
        return out


def command(
    name: str, help_text: str, renames: Mapping[str, str] | None = None
) -> Callable[[F], F]:
    """Register a guarded command on the app; ``renames`` maps old option spellings to new."""

    def decorate(func: F) -> F:
        cls = type("RenamingCommand", (RenamingCommand,), {"renames": dict(renames or {})})
        app.command(name, help=help_text, cls=cls)(guarded(func))
        return func

    return decorate


def _print_version(value: bool) -> None:
    if value:
        from face_bench.core.version import __version__

        typer.echo(f"face-bench {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        help="Print the version and exit.",
        is_eager=True,  # before Click asks for a command
        callback=_print_version,
    ),
) -> None:
    pass


def invocation() -> tuple[str, ...]:
    """The command line as typed, for results.json; the library never reads ``sys.argv``."""
    return ("face-bench", *sys.argv[1:])


def _load_commands() -> None:
    # Importing registers each command, in the order --help lists them; the modules import
    # nothing heavy at top level.
    import importlib

    for module in (
        "evaluate_cmds",
        "report_cmds",
        "compare_cmd",
        "calibrate_cmd",
        "lfw_cmd",
        "models_cmd",
        "gate_cmd",
        "export_cmd",
        "data_cmds",
    ):
        importlib.import_module(f"face_bench.cli.{module}")


_load_commands()


def main() -> None:
    """Console-script entry point."""
    import gc

    from face_bench.core.signals import handle_stop_signals

    handle_stop_signals()  # for the whole process: option parsing and exit as well
    # multiprocessing's resource tracker (a helper process that unlinks the worker pools'
    # semaphores) warns on stderr when a stopped run left it one to unlink: it cleans up
    # as designed, and the run's own one line already said that it stopped.
    sys.warnoptions.append("ignore::UserWarning:multiprocessing.resource_tracker")
    # Importing pandas, matplotlib and the typed results creates hundreds of thousands of
    # objects that live as long as the process; at the default thresholds (700, 10, 10) the
    # collector walks them all again and again, about 0.15 s of a 2 s warm run. Cycles are
    # still collected, just in larger batches.
    gc.set_threshold(10_000, 50, 100)
    code: Any = 0
    stopped: BaseException | None = None
    try:
        app()
    except SystemExit as done:
        code = done.code
    except (StoppedRunError, KeyboardInterrupt) as exc:  # outside a command (parsing, exit)
        stopped = exc
    finish(code, stopped)


_STOP_CODES = tuple(e.exit_code for e in (TerminatedRunError, HangupRunError, InterruptedRunError))


def finish(code: Any, stopped: BaseException | None = None) -> None:
    """Leave with ``code``, or with a stop signal's code when one arrived at any point.

    Signals that arrive from here on are only recorded: the exit itself is not cut short.
    """
    from face_bench.core.signals import received_stop, signals_deferred

    with signals_deferred(reraise=False):
        stop = stopped or received_stop()
        if stop is not None:
            stop_code = getattr(stop, "exit_code", InterruptedRunError.exit_code)
            if code != stop_code:  # stopped outside a command: say so in its one line
                _failed(stop)
            _exit_now(stop_code)
        if code in _STOP_CODES:  # a worker pool's threads must not be waited for
            _exit_now(code)
        if (code is None or isinstance(code, int)) and _only_thread():
            # Finished: every file is written and closed. Tearing down ~1,300 modules would
            # add 0.2 s to every command, so leave at once (exit handlers still run).
            _exit_now(code or 0)
    sys.exit(code)


def _only_thread() -> bool:
    """No other thread that a normal exit would wait for is still running."""
    import threading

    return all(t.daemon or t is threading.main_thread() for t in threading.enumerate())


def _exit_now(code: int) -> None:
    """End the process without tearing the interpreter down (and, after an interrupted
    run, without waiting for worker-pool threads).

    A worker stopped while it was sending a result leaves half a message in the pool's
    pipe, and the pool's manager thread, which the interpreter joins on exit, would wait
    for the rest forever. Everything worth keeping is already written (the cache is
    written entry by entry, atomically), so flush, run the exit handlers (they shut down a
    Ray cluster the run started) and leave.
    """
    import atexit
    import os

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code)
