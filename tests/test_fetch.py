"""face-bench's LFW download against a loopback mirror: layout, reuse, resume, failures."""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import pytest
from lfw_mirror import PEOPLE, build_files, point_sklearn_at, serve

from face_bench.core.errors import FetchError
from face_bench.data.fetch import fetch_lfw


@pytest.fixture
def files(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    built = build_files()
    point_sklearn_at(monkeypatch, built)
    return built


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_fetch_builds_a_dataset_folder_in_scikit_learns_layout(tmp_path, files):
    ticks: dict[str, list[int]] = {}

    def progress(label: str, total: int):
        ticks[label] = [total]
        return ticks[label].append

    with serve(files) as mirror:
        result = fetch_lfw(tmp_path, mirror=mirror.url, progress=progress)
    folder = tmp_path / "lfw_home" / "lfw_funneled"
    assert result.folder == folder
    assert result.n_images == sum(PEOPLE.values()) and result.n_identities == len(PEOPLE)
    with (folder / "manifest.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0] == {"path": "Alice_Able/Alice_Able_0001.jpg", "identity": "Alice_Able"}
    assert {r["identity"] for r in rows} == set(PEOPLE)
    assert (folder / "pairs.txt").read_bytes() == files["pairs.txt"]
    # Progress: every file reported with its size, and the ticks add up to it.
    archive_total, *archive_ticks = ticks["lfw-funneled.tgz"]
    assert archive_total == len(files["lfw-funneled.tgz"]) == sum(archive_ticks)
    # The archive is gone once unpacked, as scikit-learn leaves it.
    assert not (tmp_path / "lfw_home" / "lfw-funneled.tgz").exists()


def test_scikit_learn_reads_what_was_fetched(tmp_path, files):
    from sklearn.datasets import fetch_lfw_pairs

    with serve(files) as mirror:
        fetch_lfw(tmp_path, mirror=mirror.url)
    pairs = fetch_lfw_pairs(subset="train", data_home=tmp_path, download_if_missing=False)
    assert list(pairs.target) == [1, 0]


def test_a_rerun_downloads_nothing(tmp_path, files):
    with serve(files) as mirror:
        fetch_lfw(tmp_path, mirror=mirror.url)
        first = len(mirror.requests)
        again = fetch_lfw(tmp_path, mirror=mirror.url)
    assert len(mirror.requests) == first, "a second fetch must not touch the network"
    assert again.downloaded == ()
    assert set(again.reused) == set(files)


def test_a_broken_download_resumes_where_it_stopped(tmp_path, files):
    archive = files["lfw-funneled.tgz"]
    home = tmp_path / "lfw_home"
    home.mkdir()
    cut = len(archive) // 3
    (home / "lfw-funneled.tgz.part").write_bytes(archive[:cut])
    with serve(files) as mirror:
        result = fetch_lfw(tmp_path, mirror=mirror.url)
    assert ("lfw-funneled.tgz", f"bytes={cut}-") in mirror.requests
    assert mirror.bytes_sent["lfw-funneled.tgz"] == len(archive) - cut
    assert result.n_images == sum(PEOPLE.values())


def test_a_server_ignoring_range_restarts_the_file(tmp_path, files):
    home = tmp_path / "lfw_home"
    home.mkdir()
    (home / "lfw-funneled.tgz.part").write_bytes(b"stale bytes from another file")
    with serve(files) as mirror:
        mirror.honour_range = False
        result = fetch_lfw(tmp_path, mirror=mirror.url)
    assert result.n_images == sum(PEOPLE.values())


def test_a_checksum_mismatch_is_an_error_and_removes_the_bytes(tmp_path, files):
    tampered = dict(files, **{"pairs.txt": b"1\t1\nnot the file scikit-learn knows\n"})
    with serve(tampered) as mirror, pytest.raises(FetchError, match="SHA-256"):
        fetch_lfw(tmp_path, mirror=mirror.url)
    assert not list((tmp_path / "lfw_home").glob("pairs.txt*"))


def test_offline_is_one_clear_error(tmp_path, files):
    url = f"http://127.0.0.1:{_closed_port()}/"
    with pytest.raises(FetchError, match="unreachable") as caught:
        fetch_lfw(tmp_path, mirror=url, timeout=5)
    message = str(caught.value)
    assert "\n" not in message and "--mirror" in message


def test_a_missing_file_on_the_mirror_names_the_http_status(tmp_path, files):
    partial = {k: v for k, v in files.items() if k != "lfw-funneled.tgz"}
    with serve(partial) as mirror, pytest.raises(FetchError, match="HTTP 404"):
        fetch_lfw(tmp_path, mirror=mirror.url)


def test_the_original_images_come_from_their_own_archive(tmp_path, monkeypatch):
    built = build_files(top="lfw")
    point_sklearn_at(monkeypatch, built)
    with serve(built) as mirror:
        result = fetch_lfw(tmp_path, funneled=False, mirror=mirror.url)
    assert result.folder == tmp_path / "lfw_home" / "lfw"
    assert result.name == "lfw-original"
    assert (result.folder / "manifest.csv").is_file()


def test_an_interrupted_unpack_is_redone(tmp_path, files):
    with serve(files) as mirror:
        fetch_lfw(tmp_path, mirror=mirror.url)
        folder = tmp_path / "lfw_home" / "lfw_funneled"
        # As if the unpack had stopped half-way: archive still there, one person missing.
        (tmp_path / "lfw_home" / "lfw-funneled.tgz").write_bytes(files["lfw-funneled.tgz"])
        for image in (folder / "Carol_Cole").iterdir():
            image.unlink()
        result = fetch_lfw(tmp_path, mirror=mirror.url)
    assert result.n_images == sum(PEOPLE.values())
    assert Path(result.folder, "Carol_Cole", "Carol_Cole_0001.jpg").is_file()
