"""``--engine``: the local engine needs nothing more; Ray's absence is one clear line."""

from __future__ import annotations

import sys

import pytest
from conftest import JP_FACES, needs_shared
from typer.testing import CliRunner

from face_bench.cli.app import app


@pytest.mark.parametrize("command", ["roc", "threshold-sweep", "umap", "report", "lfw", "compare"])
def test_every_embedding_command_offers_the_engine(command):
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "--engine" in result.output and "--ray-address" in result.output


@needs_shared
def test_engine_ray_without_ray_installed_fails_before_any_work(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    cache = tmp_path / "cache"
    args = ["roc", "--subset", "young_women", "--data", str(JP_FACES), "--model", "dlib"]
    args += ["--sample", "4", "--cache-dir", str(cache), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*args, "--engine", "ray"])
    assert result.exit_code == 35
    assert "pip install 'face-bench[ray]'" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (cache / "embeddings").exists()  # nothing was embedded


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("address", ["ray://127.0.0.1:{port}", "ray://notahost.invalid:6379"])
def test_an_unreachable_ray_address_is_refused_at_once(address):
    import time

    from face_bench.core.errors import EngineError
    from face_bench.embedding import ray_engine

    address = address.format(port=_closed_port())
    started = time.monotonic()
    with pytest.raises(EngineError, match="cannot reach the Ray cluster at"):
        ray_engine._check_reachable(address)
    assert time.monotonic() - started < ray_engine.CONNECT_TIMEOUT_S + 2


def test_a_ray_address_that_never_answers_is_refused_within_the_bound(monkeypatch):
    import socket
    import time

    from face_bench.core.errors import EngineError
    from face_bench.embedding import ray_engine

    def silent(*_args, **_kwargs):  # a host that drops every packet
        time.sleep(3)
        raise TimeoutError

    monkeypatch.setattr(socket, "create_connection", silent)
    monkeypatch.setattr(ray_engine, "CONNECT_TIMEOUT_S", 0.5)
    started = time.monotonic()
    with pytest.raises(EngineError, match=r"no answer within 0.5 s"):
        ray_engine._check_reachable("ray://192.0.2.1:10001")
    assert time.monotonic() - started < 3
