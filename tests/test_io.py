"""Files face-bench must never damage, and files it must never read without bound."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.core import io as fio
from face_bench.core.cpus import cgroup_cpu_quota, usable_cpus
from face_bench.core.errors import (
    CacheDirError,
    ConfigError,
    InputFileError,
    OutputError,
    PairsFileError,
)

runner = CliRunner()
SHIPPED_BASELINE = Path(__file__).parent / "baselines" / "young_women-40.json"


@pytest.fixture
def gate_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A shipped results file as both baseline and current: the gate passes on it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    baseline = tmp_path / "baseline.json"
    baseline.write_bytes(SHIPPED_BASELINE.read_bytes())
    current = tmp_path / "current.json"
    current.write_bytes(SHIPPED_BASELINE.read_bytes())
    return baseline, current


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _char_device(path: Path) -> Path:
    """A private copy of /dev/null's device node, so no test ever touches the real one."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot create a device node here: {exc}")
    return path


# --- item 11: outputs never rename over a non-regular file --------------------------


def test_stream_target_is_written_through_and_stays_a_device(tmp_path):
    null = _char_device(tmp_path / "null")
    fio.atomic_write_text(null, "report\n", stream_ok=True)
    assert stat.S_ISCHR(null.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]  # no temporary left


def test_device_target_is_refused_where_no_stream_is_meant(tmp_path):
    null = _char_device(tmp_path / "null")
    with pytest.raises(OutputError, match="character device"):
        fio.atomic_write_text(null, "x")
    assert stat.S_ISCHR(null.stat().st_mode)


@pytest.mark.parametrize("stream_ok", [False, True])
def test_folder_target_is_refused(tmp_path, stream_ok):
    folder = tmp_path / "out.md"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    with pytest.raises(OutputError, match="a folder"):
        fio.atomic_write_text(folder, "x", stream_ok=stream_ok)
    assert (folder / "keep.txt").read_text() == "keep"


def test_fifo_is_written_through_to_its_reader(tmp_path):
    pipe = _fifo(tmp_path / "summary")
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()))
    reader.start()
    time.sleep(0.1)
    fio.atomic_write_text(pipe, "hello\n", stream_ok=True)
    reader.join(5)
    assert got == [b"hello\n"]
    assert stat.S_ISFIFO(pipe.stat().st_mode)


def test_fifo_without_reader_is_an_error_not_a_hang(tmp_path):
    pipe = _fifo(tmp_path / "summary")
    with pytest.raises(OutputError, match="pipe nobody reads"):
        fio.atomic_write_text(pipe, "x", stream_ok=True)


def test_symlink_to_a_file_is_followed(tmp_path):
    real = tmp_path / "real.md"
    real.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    fio.atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_step_summary_append_keeps_devices_and_refuses_folders(tmp_path):
    from face_bench.gate.output import append_step_summary

    null = _char_device(tmp_path / "null")
    append_step_summary("# x", {"GITHUB_STEP_SUMMARY": str(null)})
    assert stat.S_ISCHR(null.stat().st_mode)
    with pytest.raises(OutputError):
        append_step_summary("# x", {"GITHUB_STEP_SUMMARY": str(tmp_path)})


def test_gate_markdown_to_a_device_keeps_the_device(tmp_path, gate_files):
    baseline, current = gate_files
    null = _char_device(tmp_path / "null")
    result = runner.invoke(
        app,
        ["gate", "--baseline", str(baseline), "--current", str(current),
         "--markdown", str(null), "--junit", str(null)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(null.stat().st_mode)


# --- item 14: unique temporary names --------------------------------------------------


def test_concurrent_writers_of_one_path_never_clash(tmp_path):
    target = tmp_path / "sweep.png"
    errors: list[BaseException] = []

    def write(tag: bytes) -> None:
        try:
            for _ in range(200):
                fio.atomic_write_bytes(target, tag * 1000)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in (b"a", b"b", b"c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert target.read_bytes() in (b"a" * 1000, b"b" * 1000, b"c" * 1000)
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.png"]


def test_concurrent_figures_into_one_folder(tmp_path):
    from face_bench.report.plots.style import new_figure

    errors: list[BaseException] = []

    def draw() -> None:
        try:
            for _ in range(5):
                with new_figure(tmp_path / "sweep.png", 2, 2) as fig:
                    fig.add_subplot().plot([0, 1], [0, 1])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=draw) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.png"]


# --- item 18: bounded reads of user-named files ----------------------------------------


@pytest.mark.parametrize("what", ["dev_zero", "fifo", "folder", "too_big"])
def test_user_named_files_are_regular_and_bounded(tmp_path, what):
    path = {
        "dev_zero": lambda: Path("/dev/zero"),
        "fifo": lambda: _fifo(tmp_path / "pairs.csv"),
        "folder": lambda: tmp_path,
        "too_big": lambda: _sized(tmp_path / "big.json", 2048),
    }[what]()
    started = time.monotonic()
    with pytest.raises(InputFileError):
        fio.read_bounded(path, limit=1024)
    assert time.monotonic() - started < 5


def _sized(path: Path, size: int) -> Path:
    path.write_bytes(b"x" * size)
    return path


def test_pairs_file_fifo_and_config_device_are_errors(tmp_path):
    from face_bench.core.config import load_config
    from face_bench.data.protocols import parse_lfw_pairs

    with pytest.raises(PairsFileError, match="not a regular file"):
        parse_lfw_pairs(_fifo(tmp_path / "pairs.txt"))
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(Path("/dev/zero"))


@pytest.mark.parametrize("source", ["/dev/zero", "fifo"])
def test_gate_on_a_device_or_fifo_exits_2_in_one_line(tmp_path, gate_files, source):
    baseline = Path(source) if source != "fifo" else _fifo(tmp_path / "fifo.json")
    result = runner.invoke(
        app, ["gate", "--baseline", str(baseline), "--current", str(gate_files[1])]
    )
    assert result.exit_code == 2, result.output
    assert "not a regular file" in result.output
    assert "Traceback" not in result.output


# --- item 19: output and cache folders ----------------------------------------------------


def test_output_folder_that_is_a_file(tmp_path):
    path = tmp_path / "out"
    path.write_text("a file")
    with pytest.raises(OutputError, match="not a folder"):
        fio.ensure_folder(path)
    with pytest.raises(OutputError, match="cannot create"):
        fio.ensure_folder(path / "sub")
    assert path.read_text() == "a file"


def test_checking_an_output_folder_leaves_no_folder_behind(tmp_path):
    """Checked before the work, created when the run writes: a failed run leaves no folder."""
    fio.check_folder(tmp_path / "a" / "b" / "reports")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    fio.check_folder(tmp_path / "kept" / "reports")
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]
    assert list((tmp_path / "kept").iterdir()) == []
    (tmp_path / "file").write_text("a file")
    with pytest.raises(OutputError, match="cannot create"):
        fio.check_folder(tmp_path / "file" / "reports")


def test_cache_folder_that_is_a_file(tmp_path):
    path = tmp_path / "cache"
    path.write_text("x")
    with pytest.raises(CacheDirError):
        fio.ensure_cache_folder(path)


@pytest.mark.parametrize("value", ["~nosuchuser_face_bench/cache", "cache/~/x"])
def test_cache_dir_with_unexpanded_tilde(monkeypatch, value):
    monkeypatch.setenv("FACE_BENCH_CACHE_DIR", value)
    with pytest.raises(CacheDirError, match="home folder"):
        fio.default_cache_dir()


def test_cache_dir_with_home_tilde_expands(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("FACE_BENCH_CACHE_DIR", "~/c")
    assert fio.default_cache_dir() == tmp_path / "c"


@pytest.mark.parametrize("how", ["option", "variable"])
def test_a_home_tilde_in_the_cache_dir_expands_and_makes_no_literal_folder(
    monkeypatch, tmp_path, how
):
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    args = ["datasets", "--format", "json"]
    if how == "option":
        args += ["--cache-dir", "~/x"]
    else:
        monkeypatch.setenv("FACE_BENCH_CACHE_DIR", "~/x")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f'"location": "{home / "x" / "datasets"}' in result.stdout
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "code", "named"),
    [
        (["datasets", "--cache-dir", "~nosuchuser_face_bench/x"], 31, "--cache-dir"),
        (["datasets", "--cache-dir", "$HOME/x"], 31, "$HOME"),
        (["roc", "--data", "~nosuchuser_face_bench/d"], 10, "--data"),
        (["roc", "--data", "DATA", "--out", "~nosuchuser_face_bench/o"], 30, "--out"),
    ],
)
def test_a_path_that_no_shell_expanded_is_one_line_with_its_exit_code(
    monkeypatch, tmp_path, args, code, named
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "DATA" / "someone").mkdir(parents=True)
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert result.stderr.count("\n") == 1 and named in result.stderr
    assert "Traceback" not in result.output
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(("~", "$"))]


def test_a_relative_xdg_cache_home_is_ignored_as_the_spec_says(monkeypatch, tmp_path):
    monkeypatch.delenv("FACE_BENCH_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert fio.default_cache_dir() == tmp_path / ".cache" / "face-bench"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fio.default_cache_dir() == tmp_path / "xdg" / "face-bench"


BASELINE = Path(__file__).parent / "baselines" / "young_women-40.v1.json"


def test_files_named_with_a_home_tilde_are_read_and_written_there(monkeypatch, tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    (home / "b.json").write_bytes(BASELINE.read_bytes())
    args = ["gate", "--baseline", "~/b.json", "--current", "~/b.json", "--junit", "~/j.xml"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (home / "j.xml").is_file()
    (home / "c.toml").write_text('data = "x"\n', encoding="utf-8")
    listed = runner.invoke(app, ["models", "--config", "~/c.toml", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["gate", "--baseline", str(BASELINE), "--current", str(BASELINE),
         "--junit", "~nosuchuser_face_bench/j.xml"],
        ["export-scores", "RUN", "--to", "csv", "--out", "~nosuchuser_face_bench/e"],
    ],
)  # fmt: skip
def test_an_output_file_under_an_unknown_home_is_refused(monkeypatch, tmp_path, args):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 30, result.output
    assert result.stderr.count("\n") == 1 and "does not name a home folder" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_cache_variable_that_names_no_home_is_named_in_its_line(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACE_BENCH_CACHE_DIR", "~nosuchuser_face_bench/x")
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 31
    assert result.stderr.startswith("face-bench: error: $FACE_BENCH_CACHE_DIR")


# --- item 17: worker count from the CPUs this process may use -----------------------------


def test_cgroup_quota_bounds_the_worker_count(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_quota(tmp_path) == 2
    assert usable_cpus(tmp_path) <= 2
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(tmp_path) is None
    assert usable_cpus(tmp_path) == len(os.sched_getaffinity(0))


def test_default_workers_follow_affinity(monkeypatch):
    from face_bench.embedding import pipeline

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert pipeline.default_workers() == 1


def test_sweep_removes_a_killed_writers_temp_files_but_not_a_live_ones(tmp_path):
    """A writer locks its temporary file while writing: what a killed process left (no lock)
    is swept, a live writer's file is not, and finished entries are never touched."""
    import fcntl

    from face_bench.core.io import atomic_write_text, sweep_temp_files

    folder = tmp_path / "embeddings" / "m"
    atomic_write_text(folder / "ab" / "abc.json", "{}")
    stale = folder / "ab" / ".abd.json.x1.tmp"
    stale.write_text("half")
    live = folder / "ab" / ".abe.json.x2.tmp"
    live.write_text("being written")
    with live.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert sweep_temp_files(folder) == 1
    assert not stale.exists() and live.exists()
    assert (folder / "ab" / "abc.json").read_text() == "{}"
    assert sweep_temp_files(tmp_path / "nowhere") == 0


@pytest.mark.parametrize("where", ["creating", "writing"])
def test_a_stop_signal_during_an_atomic_write_leaves_no_temporary_file(
    tmp_path, monkeypatch, where
):
    """SIGTERM raises face-bench's stop exception at whatever line runs: arriving while the
    temporary file is created (before its name is known) or written, the run still stops
    and the folder holds neither the file nor a half-written target."""
    import signal
    import tempfile

    from face_bench.core.errors import TerminatedRunError
    from face_bench.core.signals import handle_stop_signals

    real_mkstemp = tempfile.mkstemp

    def mkstemp_then_signal(*args, **kwargs):
        made = real_mkstemp(*args, **kwargs)
        if where == "creating":
            os.kill(os.getpid(), signal.SIGTERM)  # handled before mkstemp returns
        return made

    real_fchmod = os.fchmod

    def fchmod_then_signal(fd, mode):
        real_fchmod(fd, mode)
        os.kill(os.getpid(), signal.SIGTERM)  # the file open and named, before its bytes

    monkeypatch.setattr(fio.tempfile, "mkstemp", mkstemp_then_signal)
    if where == "writing":
        monkeypatch.setattr(fio.os, "fchmod", fchmod_then_signal)
    undo = handle_stop_signals()
    try:
        with pytest.raises(TerminatedRunError):
            fio.atomic_write_text(tmp_path / "entry.json", "{}")
    finally:
        undo()
    assert list(tmp_path.iterdir()) == []
