"""Worker processes: a crash costs one image, not the run; SIGTERM leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import crashing_worker
import pytest
from conftest import JP_FACES, needs_shared, session_processes

from face_bench.embedding import workers
from face_bench.embedding.server import start_worker_server
from face_bench.faces.locate import FaceSettings

# Signals at moments of a run and killed workers: run alone (make test's second pass).
pytestmark = pytest.mark.serial


def _tasks(tmp_path: Path, names: list[str]) -> list[workers.Task]:
    tasks = []
    for name in names:
        path = tmp_path / name
        path.write_bytes(b"x")
        tasks.append(workers.Task(str(path), f"hash-{name}", None, ("m",)))
    return tasks


def test_an_image_that_kills_its_worker_twice_is_worker_crashed(tmp_path):
    names = [f"img{i:02d}.png" for i in range(12)]
    names[5] = "crash05.png"
    tasks = _tasks(tmp_path, names)
    outcomes = list(workers.run(tasks, FaceSettings(), [], 2, crashing_worker.die_on_marked))
    assert [o[0] for o in outcomes] == [t[1] for t in tasks]  # every image, in order
    entry = outcomes[5][2]["m"]
    assert entry.vector is None and entry.reason == "worker_crashed"
    assert all(o.outputs["m"].vector is not None for i, o in enumerate(outcomes) if i != 5)


def test_a_worker_that_dies_once_is_retried_and_the_run_goes_on(tmp_path):
    names = [f"img{i:02d}.png" for i in range(12)]
    names[3] = "flaky03.png"
    tasks = _tasks(tmp_path, names)
    outcomes = list(workers.run(tasks, FaceSettings(), [], 2, crashing_worker.die_once))
    assert (tmp_path / "flaky03.died").exists()
    assert all(o.outputs["m"].vector is not None for o in outcomes)
    assert [o[0] for o in outcomes] == [t[1] for t in tasks]


@needs_shared
@pytest.mark.slow
def test_sigterm_stops_workers_exits_143_and_leaves_no_process(tmp_path):
    cache = tmp_path / "cache"
    args = ["roc", "--data", str(JP_FACES), "--model", "dlib", "--sample", "40", "--seed", "3",
            "--bootstrap", "0", "--workers", "2", "--cache-dir", str(cache),
            "--out", str(tmp_path / "out")]  # fmt: skip
    run = subprocess.Popen(
        [sys.executable, "-m", "face_bench", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while len(list(cache.glob("embeddings/*/*/*.json"))) < 3:
        assert run.poll() is None, "the run ended before it could be stopped"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(session_processes(run.pid)) >= 3  # the run, its fork server, its workers
    os.kill(run.pid, signal.SIGTERM)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("face-bench: error: terminated")
    assert "Traceback" not in err
    time.sleep(2)
    assert session_processes(run.pid) == []


def test_the_server_preload_builds_the_face_detector_once_for_every_worker():
    code = (
        "import face_bench.embedding.preload\n"
        "from face_bench.faces.alignment import get_aligner\n"
        "assert get_aligner.cache_info().currsize == 1, get_aligner.cache_info()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_server_starts_early_only_for_a_cache_without_embeddings(monkeypatch, tmp_path):
    from multiprocessing import forkserver

    started = []
    monkeypatch.setattr(forkserver, "ensure_running", lambda: started.append(True))
    start_worker_server(1, tmp_path)  # one worker embeds in-process: no server
    assert started == []
    start_worker_server(2, tmp_path)  # a first run: it will embed
    assert started == [True]
    (tmp_path / "embeddings").mkdir()
    start_worker_server(2, tmp_path)  # a warm cache may embed nothing: started on demand
    assert started == [True]


def test_a_model_that_cannot_load_in_the_workers_is_its_own_error(tmp_path):
    from face_bench.core.errors import ModelFileError
    from face_bench.models.backends import backend_for
    from face_bench.models.registry import ModelSpec

    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx graph")
    spec = ModelSpec(name="broken", backend="onnx", threshold=0.4)
    model = workers.WorkerModel("broken", spec, str(broken), backend_for(spec))
    tasks = _tasks(tmp_path, [f"img{i:02d}.png" for i in range(12)])
    tasks = [task._replace(models=("broken",)) for task in tasks]
    with pytest.raises(ModelFileError, match="not a loadable ONNX model"):
        list(workers.run(tasks, FaceSettings(), [model], 2))


def test_a_worker_dying_while_the_run_stops_is_the_stop_not_a_crash(tmp_path, monkeypatch):
    from face_bench.core import signals
    from face_bench.core.errors import TerminatedRunError

    names = [f"img{i:02d}.png" for i in range(12)]
    names[5] = "crash05.png"
    tasks = _tasks(tmp_path, names)
    restore = signals.handle_stop_signals()  # a run's handlers
    monkeypatch.setattr(signals, "_received", [signal.SIGTERM])  # the group got SIGTERM
    try:
        with pytest.raises(TerminatedRunError):
            list(workers.run(tasks, FaceSettings(), [], 2, crashing_worker.die_on_marked))
    finally:
        restore()


@needs_shared
def test_a_worker_fingerprints_from_its_own_decode_exactly_as_the_planning_did(tmp_path):
    """The near-duplicate fingerprint a worker returns is bit for bit ``fingerprint(path)``;
    an image decoded only at a reduced scale (a large JPEG) gets none (the run computes it)."""
    import hashlib

    from PIL import Image

    from face_bench.data.near_duplicates import fingerprint

    paths = sorted(JP_FACES.rglob("*.png"))[:3]
    large = tmp_path / "large.jpg"
    Image.open(paths[0]).convert("RGB").resize((4100, 4100)).save(large, quality=90)
    tasks = [
        workers.Task(str(p), hashlib.sha256(p.read_bytes()).hexdigest(), None, (), asked)
        for p, asked in [(paths[0], True), (paths[1], True), (paths[2], False), (large, True)]
    ]
    outcomes = list(workers.run(tasks, FaceSettings(), [], 1))
    for path, outcome in zip(paths[:2], outcomes, strict=False):
        expected = fingerprint(path)
        assert outcome.fingerprint is not None and expected is not None
        assert outcome.fingerprint.phash == expected.phash
        assert outcome.fingerprint.thumb.tobytes() == expected.thumb.tobytes()
    assert outcomes[2].fingerprint is None and outcomes[3].fingerprint is None


def test_a_pool_found_broken_while_queueing_more_work_is_a_retry_not_a_crash(tmp_path, monkeypatch):
    """A worker can die between two waits: the next submit then raises BrokenProcessPool
    itself, before any future reports it. That chunk is retried like the ones in flight,
    and every image still comes back, in order."""
    import contextlib
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    submits: list[int] = []

    class PoolThatBreaks:
        def submit(self, func, batch):
            submits.append(len(batch))
            if len(submits) == 3:  # the third chunk finds the pool broken
                raise BrokenProcessPool("a child process terminated abruptly")
            future: Future = Future()
            future.set_result(func(batch))
            return future

    monkeypatch.setattr(
        workers, "_new_pool", lambda setup, n: contextlib.nullcontext(PoolThatBreaks())
    )
    names = [f"img{i:02d}.png" for i in range(3 * workers.CHUNK_IMAGES + 2)]
    tasks = _tasks(tmp_path, names)
    outcomes = list(workers.run(tasks, FaceSettings(), [], 2, crashing_worker.die_on_marked))
    assert [o[0] for o in outcomes] == [t[1] for t in tasks]
    assert all(o.outputs["m"].vector is not None for o in outcomes)
    assert submits.count(1) == workers.CHUNK_IMAGES  # the refused chunk, one image at a time
