"""Stop signals always end a run with their exit code: never swallowed, never a traceback,
no partial folder or process left behind."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import JP_FACES, needs_shared, session_processes
from typer.testing import CliRunner

from face_bench.cli.app import app, command
from face_bench.core.errors import HangupRunError, TerminatedRunError
from face_bench.core.signals import handle_stop_signals, received_stop, signals_deferred

# Signals at moments of a run and killed workers: run alone (make test's second pass).
pytestmark = pytest.mark.serial

runner = CliRunner()


def test_a_stop_is_not_an_exception_any_handler_can_catch():
    assert not issubclass(TerminatedRunError, Exception)
    assert not issubclass(HangupRunError, Exception)
    restore = handle_stop_signals()
    try:
        with pytest.raises(TerminatedRunError):
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(1)  # the handler runs here
            except Exception:
                pytest.fail("an `except Exception` caught SIGTERM")
    finally:
        restore()


def test_a_stop_swallowed_in_a_destructor_is_raised_again_in_the_run(capfd):
    class SignalledWhileCollected:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGHUP)
            sum(range(1000))  # the handler raises here, where Python swallows it

    restore = handle_stop_signals()
    try:
        with pytest.raises(HangupRunError):
            SignalledWhileCollected()  # collected at once
            gc.collect()
            time.sleep(1)
    finally:
        restore()
    assert "Exception ignored" not in capfd.readouterr().err


def test_cleanup_finishes_before_a_second_stop_raises():
    restore = handle_stop_signals()
    finished = []
    try:
        with pytest.raises(TerminatedRunError), signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            sum(range(1000))
            finished.append(True)
    finally:
        restore()
    assert finished == [True]


def test_an_onnx_load_stopped_by_sigterm_is_not_an_unloadable_model(monkeypatch, tmp_path):
    from face_bench.models import onnx_backend

    def slow_load(*_args, **_kwargs):
        raise TerminatedRunError("terminated (SIGTERM)")  # arrives during the load

    monkeypatch.setattr(onnx_backend._ort(), "InferenceSession", slow_load)
    with pytest.raises(TerminatedRunError):
        onnx_backend.make_session(tmp_path / "model.onnx")


def test_a_signal_ignored_at_start_stays_ignored():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        restore = handle_stop_signals()
        try:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.2)
            assert received_stop() is None
        finally:
            restore()
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_command_that_swallowed_a_stop_still_exits_with_its_code():
    def swallowing() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        except BaseException:  # a library that catches everything and goes on
            pass

    command("swallow-test", "test only")(swallowing)
    try:
        result = runner.invoke(app, ["swallow-test"])
    finally:
        app.registered_commands.pop()
    assert result.exit_code == 143
    assert result.stderr.strip() == (
        "face-bench: error: terminated (SIGTERM); embeddings finished so far are kept in the cache"
    )
    assert received_stop() is None  # only while a run has the handlers installed


def _run(tmp_path: Path, cmd: str, cache: Path, extra: tuple[str, ...] = ()) -> subprocess.Popen:
    config = tmp_path / "face-bench.toml"
    args = [cmd, "--config", str(config), "--data", str(JP_FACES), "--model", "standin",
            "--sample", "16", "--seed", "5", "--bootstrap", "0", "--workers", "2",
            "--cache-dir", str(cache), "--out", str(tmp_path / "out"), *extra]  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "face_bench", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _alive(pid: int) -> bool:
    """Running, not already exited (a zombie waiting to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _cache_is_whole(cache: Path) -> None:
    """No temporary file, and no entry that records the stop as an image's failure."""
    assert not [p for p in cache.rglob("*") if p.name.endswith(".tmp")]
    for entry in cache.glob("embeddings/*/*/*.json"):
        data = json.loads(entry.read_text(encoding="utf-8"))
        text = json.dumps(data).lower()
        assert data["status"] == "ok" or not any(
            word in text for word in ("terminated", "sigterm", "sighup", "interrupt", "crash")
        ), data


def _stop_and_check(
    run: subprocess.Popen, tmp_path: Path, signum: int, code: int, group: bool = False
) -> bool:
    """Send ``signum`` (to the whole process group with ``group``, as systemd and a closed
    terminal do); a run that was still going must end with ``code`` and leave nothing.
    Returns whether the signal reached a running process."""
    alive = _alive(run.pid)
    (os.killpg if group else os.kill)(run.pid, signum)
    _, err = run.communicate(timeout=120)
    if alive:
        assert run.returncode == code, err
        assert err.strip().splitlines()[-1].startswith("face-bench: error: "), err
        assert "Traceback" not in err and "Exception ignored" not in err, err
    leftovers = [p.name for p in tmp_path.iterdir() if ".partial-" in p.name or ".old-" in p.name]
    assert leftovers == []
    _cache_is_whole(tmp_path / "cache")
    deadline = time.monotonic() + 10
    while session_processes(run.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert session_processes(run.pid) == []
    return alive


@needs_shared
@pytest.mark.slow
def test_stop_signals_at_many_moments_of_roc_and_report(tmp_path, standin_config):
    cache = tmp_path / "cache"
    # While embedding (a cold cache), the workers too: stopped once entries are written.
    run = _run(tmp_path, "report", cache)
    while len(list(cache.glob("embeddings/*/*/*.json"))) < 2 and run.poll() is None:
        time.sleep(0.05)
    assert _stop_and_check(run, tmp_path, signal.SIGTERM, 143, group=True)
    # The cache filled, then a whole warm run, to spread the signals over its length.
    assert _run(tmp_path, "report", cache).wait(timeout=600) == 0
    started = time.monotonic()
    assert _run(tmp_path, "report", cache).wait(timeout=300) == 0
    length = time.monotonic() - started
    moments = [("report", signal.SIGTERM, 143, f) for f in (0.05, 0.2, 0.4, 0.6, 0.75, 0.9)]
    moments += [("roc", signal.SIGTERM, 143, f) for f in (0.3, 0.7)]
    moments += [("report", signal.SIGHUP, 129, 0.5), ("report", signal.SIGINT, 130, 0.35)]
    reached = 0
    for cmd, signum, code, fraction in moments:
        run = _run(tmp_path, cmd, cache)
        time.sleep(length * fraction)
        reached += _stop_and_check(run, tmp_path, signum, code)
    assert reached >= len(moments) - 2  # the last moments may fall after a fast run's end
