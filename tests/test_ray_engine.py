"""The Ray engine: same vectors, same files, same exact metrics as the local engine.

These tests start a local Ray cluster on 127.0.0.1 with 2 CPUs (about 10-20 s), so they
carry the ``ray`` mark: ``make test`` runs them, a plain ``pytest -q`` skips them unless
given ``--with-ray``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import JP_FACES, needs_shared

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")

from face_bench.embedding.ray_engine import RayMapper, RayOptions  # noqa: E402
from face_bench.metrics.allpairs import all_pair_scores, summarise_all_pairs  # noqa: E402
from face_bench.metrics.scoring import block_bounds, pair_scores_blocked  # noqa: E402
from face_bench.metrics.summary import compute_all  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.serial]


@pytest.fixture(scope="module")
def cluster():
    """One local 2-CPU cluster on the loopback address for the whole module."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="WARNING",
        _node_ip_address="127.0.0.1",
    )
    yield RayOptions()
    ray.shutdown()


def test_blocked_scoring_on_ray_equals_the_local_path(cluster):
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 150, 900)
    e = (rng.normal(size=(150, 32))[ids] + rng.normal(scale=1.2, size=(900, 32))).astype(np.float32)
    mapper = RayMapper(cluster)
    for similarity in ("cosine", "euclidean"):
        s, y = pair_scores_blocked(e, ids, similarity, block_elems=1 << 16)
        local = compute_all(s, y, chunk_bounds=block_bounds(900, 1 << 16), method="search")
        remote = summarise_all_pairs(e, ids, similarity, mapper=mapper, block_elems=1 << 16)
        assert remote.summary == local  # AUC, EER, TAR@FAR, best F1, d': the same bits
        rs, ry = all_pair_scores(e, ids, similarity, mapper, block_elems=1 << 16)
        assert np.array_equal(rs, s) and np.array_equal(ry, y)


def _run(engine: RayOptions | None, cache: Path, out: Path) -> dict:
    """One headline-style run through the real CLI; results.json less volatile, scores.csv."""
    from typer.testing import CliRunner

    from face_bench.cli.app import app

    args = ["roc", "--subset", "young_women", "--data", str(JP_FACES), "--model", "dlib"]
    args += ["--sample", "40", "--seed", "0", "--bootstrap", "50"]
    args += ["--cache-dir", str(cache), "--out", str(out), "--format", "json"]
    if engine is not None:
        args += ["--engine", "ray"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    results.pop("volatile")
    return {"results": results, "scores": (out / "scores.csv").read_bytes()}


@needs_shared
def test_headline_run_on_ray_writes_the_same_files(cluster, tmp_path):
    local = _run(None, tmp_path / "local-cache", tmp_path / "local")
    remote = _run(cluster, tmp_path / "ray-cache", tmp_path / "ray")
    assert remote["results"] == local["results"]
    assert remote["scores"] == local["scores"]
    # A warm rerun reads the cache the Ray run wrote: no cluster work at all.
    again = _run(None, tmp_path / "ray-cache", tmp_path / "again")
    assert again["results"] == local["results"]


def _actor_pids() -> list[int]:
    found = subprocess.run(
        ["pgrep", "-f", "ray::EmbedActor"], capture_output=True, text=True, check=False
    )
    return [int(p) for p in found.stdout.split()]


@needs_shared
def test_a_worker_killed_mid_run_is_replaced_and_the_run_completes(cluster, tmp_path):
    killed: list[int] = []

    def kill_first_actor() -> None:
        # Kill an actor as soon as one exists: it is then loading its models or holding
        # its first batch, so Ray must restart it and retry that batch.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for pid in _actor_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break
            time.sleep(0.02)

    reference = _run(None, tmp_path / "local-cache", tmp_path / "local")
    killer = threading.Thread(target=kill_first_actor, daemon=True)
    killer.start()
    remote = _run(cluster, tmp_path / "ray-cache", tmp_path / "ray")
    killer.join(timeout=1)
    assert killed, "no Ray actor process was seen to kill"
    assert remote["results"] == reference["results"]
    assert remote["scores"] == reference["scores"]


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(cmdline[:120])
    return found


@needs_shared
def test_sigterm_on_a_ray_run_exits_143_and_stops_its_cluster(tmp_path):
    import shutil
    import sys
    import tempfile

    ray_tmp = tempfile.mkdtemp(prefix="fbray", dir="/tmp")  # short: Ray's socket paths
    cache = tmp_path / "cache"
    args = ["roc", "--subset", "young_women", "--data", str(JP_FACES), "--model", "dlib"]
    args += ["--sample", "60", "--bootstrap", "0", "--engine", "ray", "--workers", "2"]
    args += ["--cache-dir", str(cache), "--out", str(tmp_path / "out")]
    run = subprocess.Popen(
        [sys.executable, "-m", "face_bench", *args],
        cwd=tmp_path,
        env={**os.environ, "RAY_TMPDIR": ray_tmp, "RAY_ADDRESS": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not list(cache.glob("embeddings/*/*/*.json")):  # the cluster is embedding
            assert run.poll() is None, run.stderr.read() if run.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert _processes_mentioning(ray_tmp), "no Ray process of this run was found"
        os.kill(run.pid, signal.SIGTERM)
        _, err = run.communicate(timeout=120)
        assert run.returncode == 143, err
        assert "Traceback" not in err
        assert err.strip().splitlines()[-1].startswith("face-bench: error: terminated")
        deadline = time.monotonic() + 30
        while _processes_mentioning(ray_tmp) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _processes_mentioning(ray_tmp) == []
    finally:
        if run.poll() is None:
            run.kill()
        shutil.rmtree(ray_tmp, ignore_errors=True)


def _slow_block(triangle, r0: int, r1: int, arg):
    """A block task that records its process and takes long enough to be killed."""
    marker = Path(arg)
    marker.write_text(str(os.getpid()))
    time.sleep(3.0)
    return r0, r1


def test_a_block_task_whose_worker_dies_is_retried(cluster, tmp_path):
    import sys

    from ray import cloudpickle

    # Ray's workers cannot import this test module: ship _slow_block by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = tmp_path / "pid"
    mapper = RayMapper(cluster)
    results: list = []
    runner = threading.Thread(
        target=lambda: results.extend(mapper(_slow_block, None, [(0, 1)], str(marker)))
    )
    runner.start()
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the block task never started"
        time.sleep(0.05)
    first = int(marker.read_text())
    os.kill(first, signal.SIGKILL)  # the worker dies while it holds the block
    runner.join(timeout=120)
    assert results == [(0, 1)]  # Ray retried the block on another worker
    assert int(marker.read_text()) != first


@needs_shared
@pytest.mark.parametrize("address", ["127.0.0.1:1", "notahost.invalid:6379"])
def test_an_unreachable_ray_address_ends_the_run_with_exit_35_at_once(tmp_path, address):
    from face_bench.embedding.ray_engine import CONNECT_TIMEOUT_S

    args = ["roc", "--subset", "young_women", "--data", str(JP_FACES), "--model", "dlib",
            "--sample", "4", "--cache-dir", str(tmp_path / "cache"), "--out",
            str(tmp_path / "out"), "--engine", "ray", "--ray-address", address]  # fmt: skip
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "face_bench", *args], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 35, run.stderr
    assert (
        run.stderr.strip()
        .splitlines()[-1]
        .startswith(f"face-bench: error: cannot reach the Ray cluster at {address}")
    )
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 60  # start-up included
