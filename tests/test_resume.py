"""Interrupted, damaged and concurrent runs: nothing finished is lost, nothing damaged is trusted.

Real runs of ``python -m face_bench`` are killed, interrupted and run side by side on
real crops read in place from ../shared; every check ends with the outputs compared
byte for byte against an undisturbed run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import corpus
import pytest
from conftest import JP_FACES, TINY_ONNX, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app
from face_bench.embedding.cache import EmbeddingCache, FaceCache, model_key

pytestmark = [needs_shared, pytest.mark.slow, pytest.mark.serial]
INTERRUPTED = "face-bench: error: interrupted; embeddings finished so far are kept in the cache"


def roc_args(cache: Path, out: Path, *extra: str) -> list[str]:
    return ["roc", "--data", str(JP_FACES), "--model", "dlib", "--sample", "40", "--seed", "7",
            "--bootstrap", "0", "--workers", "1", "--cache-dir", str(cache), "--out", str(out),
            *extra]  # fmt: skip


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "face_bench", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def entry_files(cache: Path, model: str) -> list[Path]:
    """Finished entries of ``model`` (a temp file being written is not one)."""
    files: list[Path] = []
    for described in cache.glob("embeddings/*/model.json"):
        if json.loads(described.read_text(encoding="utf-8")).get("name") == model:
            files += [p for p in described.parent.glob("*/*.json") if not p.name.startswith(".")]
    return files


def wait_for_entries(cache: Path, model: str, count: int, process: subprocess.Popen) -> None:
    """Block until the run has cached ``count`` entries of ``model`` and is still embedding.

    It waits for that state however long a loaded machine takes to reach it; only a run
    that ends first fails the wait (the deadline guards against a hung run, not a slow one).
    """
    deadline = time.monotonic() + 900
    while len(entry_files(cache, model)) < count:
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "no cache entries appeared in 15 minutes"
        time.sleep(0.02)


def stable_bytes(out: Path) -> tuple[bytes, bytes]:
    """results.json up to its ``volatile`` block (which must come last), and scores.csv."""
    text = (out / "results.json").read_text(encoding="utf-8")
    assert list(json.loads(text))[-1] == "volatile"
    return text[: text.index('\n  "volatile": {')].encode(), (out / "scores.csv").read_bytes()


def assert_cache_consistent(cache: Path) -> int:
    """Every folder matches its identity, every entry reads back, no temp file is left."""
    assert not [p for p in cache.rglob(".*.tmp")], "temp files left in the cache"
    total = 0
    for described in cache.glob("embeddings/*/model.json"):
        identity = json.loads(described.read_text(encoding="utf-8"))
        assert model_key(identity) == described.parent.name
        kind = FaceCache if identity.get("stage") == "faces" else EmbeddingCache
        store = kind(cache, identity)
        for entry in described.parent.glob("*/*.json"):
            assert store.get(entry.stem) is not None, entry
            total += 1
        assert store.corrupt_seen == 0
    return total


def test_killed_run_resumes_from_its_cache_and_matches_a_clean_run(tmp_path):
    cache, fresh = tmp_path / "cache", tmp_path / "fresh-cache"
    clean = start(roc_args(fresh, tmp_path / "clean"), tmp_path)
    victim = start(roc_args(cache, tmp_path / "killed"), tmp_path)
    wait_for_entries(cache, "dlib", 15, victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed").exists()
    kept = len(entry_files(cache, "dlib"))
    assert 15 <= kept < 40
    rerun = subprocess.run(
        [sys.executable, "-m", "face_bench", *roc_args(cache, tmp_path / "rerun")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr
    _, err = clean.communicate(timeout=180)
    assert clean.returncode == 0, err
    volatile = json.loads((tmp_path / "rerun" / "results.json").read_text("utf-8"))["volatile"]
    assert volatile["embeddings_cached"] == {"dlib": kept}
    assert volatile["embeddings_computed"] == {"dlib": 40 - kept}
    assert stable_bytes(tmp_path / "rerun") == stable_bytes(tmp_path / "clean")
    assert assert_cache_consistent(cache) == assert_cache_consistent(fresh)


def test_ctrl_c_exits_130_with_one_line_and_keeps_the_cache(tmp_path):
    cache = tmp_path / "cache"
    # 40 images, interrupted after 3: the run is certainly still embedding when the signal
    # lands, on an idle machine or a loaded one.
    run = start(roc_args(cache, tmp_path / "out"), tmp_path)
    wait_for_entries(cache, "dlib", 3, run)
    assert run.poll() is None
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=600)
    assert run.returncode == 130
    assert err.strip().splitlines()[-1] == INTERRUPTED
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
    assert len(entry_files(cache, "dlib")) >= 3
    assert_cache_consistent(cache)


# ------------------------------------------------------------------ damaged entries


def config(tmp_path: Path) -> Path:
    path = tmp_path / "face-bench.toml"
    path.write_text(
        f'[models.standin]\nbackend = "onnx"\npath = "{TINY_ONNX.as_posix()}"\n'
        'embedding_size = 512\nsimilarity = "cosine"\nthreshold = 0.4\n',
        encoding="utf-8",
    )
    return path


def standin_args(data: Path, cfg: Path, cache: Path, out: Path) -> list[str]:
    return ["roc", "--data", str(data), "--model", "standin", "--config", str(cfg), "--sample",
            "0", "--bootstrap", "0", "--cache-dir", str(cache), "--out", str(out)]  # fmt: skip


def damage(path: Path, how: str) -> None:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    if how == "garbage":
        path.write_bytes(b"\x00\xffnot json at all")
    elif how == "truncated":
        path.write_text(text[: len(text) // 2], encoding="utf-8")
    elif how == "checksum":
        data["check"] = "0" * 16
        path.write_text(json.dumps(data), encoding="utf-8")
    elif how == "vector":  # a changed vector under the old checksum
        data["vector"] = "A" * len(data["vector"][:-4]) + data["vector"][-4:]
        path.write_text(json.dumps(data), encoding="utf-8")
    elif how == "not_an_object":
        path.write_text("[1, 2, 3]", encoding="utf-8")


def test_damaged_cache_entries_are_recomputed_not_trusted(tmp_path):
    data = tmp_path / "data"
    corpus.small_face_set(data, per_identity=2)
    cfg, cache = config(tmp_path), tmp_path / "cache"
    runner = CliRunner()
    first = runner.invoke(app, standin_args(data, cfg, cache, tmp_path / "first"))
    assert first.exit_code == 0, first.stderr
    ways = ("garbage", "truncated", "checksum", "vector", "not_an_object")
    entries = sorted(entry_files(cache, "standin"))
    for entry, how in zip(entries, ways, strict=False):
        damage(entry, how)
    # A damaged face record is found again too (its model entry is damaged as well).
    faces = sorted(p for p in cache.glob("embeddings/*/*/*.json") if p.stem == entries[0].stem)
    for face in faces:
        if face != entries[0]:
            damage(face, "garbage")
    second = runner.invoke(app, standin_args(data, cfg, cache, tmp_path / "second"))
    assert second.exit_code == 0, second.stderr
    volatile = json.loads((tmp_path / "second" / "results.json").read_text("utf-8"))["volatile"]
    assert volatile["embeddings_computed"] == {"standin": len(ways)}
    assert volatile["embeddings_cached"] == {"standin": 6 - len(ways)}
    assert stable_bytes(tmp_path / "second") == stable_bytes(tmp_path / "first")
    assert assert_cache_consistent(cache) == 2 * 6


# ------------------------------------------------------------------ two runs at once


def test_two_runs_sharing_a_cache_both_succeed_identically(tmp_path):
    data = tmp_path / "data"
    corpus.small_face_set(data, per_identity=4)
    cfg, cache = config(tmp_path), tmp_path / "cache"
    runs = [start(standin_args(data, cfg, cache, tmp_path / f"out{i}"), tmp_path) for i in (1, 2)]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    assert stable_bytes(tmp_path / "out1") == stable_bytes(tmp_path / "out2")
    assert assert_cache_consistent(cache) == 2 * 12  # a face record and an embedding each
    third = CliRunner().invoke(app, standin_args(data, cfg, cache, tmp_path / "out3"))
    assert third.exit_code == 0, third.stderr
    volatile = json.loads((tmp_path / "out3" / "results.json").read_text("utf-8"))["volatile"]
    assert volatile["embeddings_computed"] == {"standin": 0}
    assert stable_bytes(tmp_path / "out3") == stable_bytes(tmp_path / "out1")
