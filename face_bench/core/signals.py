"""Stop signals (SIGINT, SIGTERM, SIGHUP) as exceptions that always end the run.

SIGTERM and SIGHUP would otherwise kill the process on the spot, leaving a partial run
folder and worker processes behind; here they raise ``StoppedRunError`` (a
``BaseException``, so no ``except Exception`` can swallow it) and the run unwinds as on
Ctrl-C. Every stop signal is also recorded, so a stop whose exception was swallowed anyway
(a destructor, a library's ``except BaseException``) still ends the run with the signal's
exit code. Imports nothing heavy: the entry point installs the handlers before anything
else loads.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

from face_bench.core.errors import HangupRunError, StoppedRunError, TerminatedRunError

# Signals that stop a run, and the error each becomes. SIGINT stays Python's own
# KeyboardInterrupt (what libraries expect of Ctrl-C); the others end the run the same way.
_STOP_ERRORS: dict[int, type[StoppedRunError]] = {signal.SIGTERM: TerminatedRunError}
if hasattr(signal, "SIGHUP"):  # not on Windows
    _STOP_ERRORS[signal.SIGHUP] = HangupRunError
_received: list[int] = []  # stop signals this run was sent, first first
_deferred = 0  # > 0 while cleanup that a stop must not cut short is running
_installed = 0  # nesting depth of handle_stop_signals


def stop_error(signum: int) -> BaseException:
    """The exception a stop signal becomes (``KeyboardInterrupt`` for SIGINT)."""
    if signum not in _STOP_ERRORS:
        return KeyboardInterrupt()
    cls = _STOP_ERRORS[signum]
    return cls(f"terminated ({cls.signal_name}); embeddings finished so far are kept in the cache")


def received_stop() -> BaseException | None:
    """The stop the run was asked for, even when the exception it raised was swallowed
    (a library's ``except BaseException``, a destructor): the run must still end with the
    signal's exit code, never 0. None outside a run (no handlers installed)."""
    return stop_error(_received[0]) if _received and _installed else None


def _unraisable(info: Any) -> None:
    """A stop raised where Python cannot raise (a destructor, a weakref callback, an import
    lock's cleanup) is swallowed there with a traceback on stderr. Instead, raise it again
    a moment later (SIGALRM in 1 ms), in the run's own code, so the run stops now."""
    if _received and isinstance(info.exc_value, StoppedRunError | KeyboardInterrupt):
        if hasattr(signal, "setitimer"):
            signal.signal(signal.SIGALRM, _redeliver)
            signal.setitimer(signal.ITIMER_REAL, 0.001)
        return
    _previous_hook(info)


def _redeliver(_signum: int, frame: Any) -> None:
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    _on_stop_signal(_received[-1], frame)


_previous_hook = sys.unraisablehook


def _on_stop_signal(signum: int, _frame: Any) -> None:
    _received.append(signum)
    if not _deferred:
        raise stop_error(signum)


@contextlib.contextmanager
def signals_deferred(*, reraise: bool = True) -> Iterator[None]:
    """Finish a block (removing a partial folder, ending workers, exiting) before a stop
    signal raises: a second SIGTERM during cleanup must not leave half of it undone. A
    signal that arrived meanwhile raises when the block ends (with ``reraise``), unless a
    stop is already on its way out; it is recorded either way."""
    global _deferred
    seen = len(_received)
    _deferred += 1
    try:
        yield
    finally:
        _deferred -= 1
        arrived = reraise and not _deferred and len(_received) > seen
        if arrived and not isinstance(sys.exc_info()[1], StoppedRunError | KeyboardInterrupt):
            raise stop_error(_received[-1])


def handle_stop_signals() -> Callable[[], None]:
    """Turn SIGTERM and SIGHUP into ``StoppedRunError`` and record SIGINT (still Python's
    ``KeyboardInterrupt``); returns the undo function.

    A signal set to be ignored when face-bench started (``nohup`` ignores SIGHUP) stays
    ignored. The outermost call starts a fresh record of received signals.
    """
    global _installed, _previous_hook
    previous: dict[int, Any] = {}
    try:
        for signum in (signal.SIGINT, *_STOP_ERRORS):
            current = signal.getsignal(signum)
            if current is signal.SIG_IGN:
                continue
            previous[signum] = signal.signal(signum, _on_stop_signal)
    except ValueError:  # not the main thread: leave signals to whoever owns them
        return lambda: None
    if not _installed:
        _received.clear()
        _previous_hook, sys.unraisablehook = sys.unraisablehook, _unraisable
    _installed += 1

    def undo() -> None:
        global _installed
        _installed -= 1
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if not _installed:
            sys.unraisablehook = _previous_hook

    return undo
