"""face-bench's LFW download against a loopback mirror: layout, reuse, resume, failures."""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import pytest
from lfw_mirror import PEOPLE, build_files, point_fetch_at, serve

from face_bench.core.errors import FetchError
from face_bench.data.fetch import fetch_lfw


@pytest.fixture
def files(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    built = build_files()
    point_fetch_at(monkeypatch, built)
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
    point_fetch_at(monkeypatch, built)
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


# --- what a server or a user can send: bounded ---------------------------------------------

ARCHIVE = "lfw-funneled.tgz"


def _home(tmp_path: Path) -> Path:
    return tmp_path / "lfw_home"


def test_an_endless_body_is_cut_at_the_files_ceiling(tmp_path, files, monkeypatch):
    from face_bench.data import fetch

    ceiling = len(files[ARCHIVE]) + 1000
    monkeypatch.setitem(fetch.MAX_BYTES, ARCHIVE, ceiling)
    with serve(files) as mirror, pytest.raises(FetchError, match="at most") as caught:
        mirror.endless.add(ARCHIVE)
        fetch_lfw(tmp_path, mirror=mirror.url)
    assert f"at most {ceiling:,}" in str(caught.value) and caught.value.exit_code == 16
    assert not list(_home(tmp_path).glob(ARCHIVE + "*"))  # the garbage is not kept


def test_a_content_length_above_the_ceiling_is_refused_before_writing(tmp_path, files):
    with serve(files) as mirror, pytest.raises(FetchError, match="1,000,000,000,000 bytes"):
        mirror.content_length[ARCHIVE] = 10**12
        fetch_lfw(tmp_path, mirror=mirror.url)
    assert not list(_home(tmp_path).glob(ARCHIVE + "*"))


def test_a_trickling_server_is_stopped_by_the_deadline_and_the_rerun_resumes(tmp_path, files):
    import time

    name = "pairsDevTrain.txt"
    with serve(files) as mirror:
        mirror.trickle[name] = 0.1  # one byte every 0.1 s: each read is quick, the whole not
        started = time.monotonic()
        with pytest.raises(FetchError, match="ran past the --deadline"):
            fetch_lfw(tmp_path, mirror=mirror.url, timeout=5, deadline=1)
        assert time.monotonic() - started < 4
        kept = (_home(tmp_path) / f"{name}.part").stat().st_size
        assert 0 < kept < len(files[name])
        del mirror.trickle[name]
        result = fetch_lfw(tmp_path, mirror=mirror.url)
    assert (name, f"bytes={kept}-") in mirror.requests
    assert result.n_images == sum(PEOPLE.values())


def test_a_server_trickling_its_headers_is_stopped_by_the_deadline(tmp_path, files):
    import time

    with serve(files) as mirror:
        mirror.trickle_headers = 0.1  # 100 header bytes, one every 0.1 s: 10 s in all
        started = time.monotonic()
        with pytest.raises(FetchError, match="ran past the --deadline"):
            fetch_lfw(tmp_path, mirror=mirror.url, timeout=5, deadline=1)
        assert time.monotonic() - started < 4


def test_a_clean_close_before_the_end_keeps_the_part_for_resuming(tmp_path, files):
    archive = files[ARCHIVE]
    cut = len(archive) // 2
    with serve(files) as mirror:
        mirror.cut_after[ARCHIVE] = cut
        with pytest.raises(FetchError, match=f"ended early .* after {cut:,} of") as caught:
            fetch_lfw(tmp_path, mirror=mirror.url)
        assert "run the same command again to resume" in str(caught.value)
        assert (_home(tmp_path) / f"{ARCHIVE}.part").read_bytes() == archive[:cut]
        del mirror.cut_after[ARCHIVE]
        result = fetch_lfw(tmp_path, mirror=mirror.url)
    assert (ARCHIVE, f"bytes={cut}-") in mirror.requests
    assert result.n_images == sum(PEOPLE.values())


def test_a_content_length_too_large_ends_as_a_resumable_break(tmp_path, files):
    with serve(files) as mirror:
        mirror.content_length[ARCHIVE] = len(files[ARCHIVE]) + 10
        with pytest.raises(FetchError, match="ended early"):
            fetch_lfw(tmp_path, mirror=mirror.url)
        mirror.content_length.clear()
        result = fetch_lfw(tmp_path, mirror=mirror.url)  # 416: the part already holds it all
    assert result.n_images == sum(PEOPLE.values())


def test_a_content_length_too_small_is_a_checksum_error(tmp_path, files):
    with serve(files) as mirror, pytest.raises(FetchError, match="SHA-256"):
        mirror.content_length[ARCHIVE] = len(files[ARCHIVE]) - 10
        fetch_lfw(tmp_path, mirror=mirror.url)
    assert not list(_home(tmp_path).glob(ARCHIVE + "*"))


def test_a_resume_answered_from_another_byte_is_refused(tmp_path, files):
    home = _home(tmp_path)
    home.mkdir()
    (home / f"{ARCHIVE}.part").write_bytes(files[ARCHIVE][:100])
    with serve(files) as mirror, pytest.raises(FetchError, match="from byte 100 with bytes"):
        mirror.content_range_start = 0
        fetch_lfw(tmp_path, mirror=mirror.url)
    assert not (home / f"{ARCHIVE}.part").exists()


@pytest.mark.parametrize(
    "mirror",
    ["notaurl", "file:///etc", "ftp://127.0.0.1/lfw", "http://", "http://127.0.0.1:port/"],
)
def test_a_mirror_that_is_not_an_http_url_is_one_error(tmp_path, files, mirror):
    with pytest.raises(FetchError, match="--mirror") as caught:
        fetch_lfw(tmp_path, mirror=mirror)
    assert "\n" not in str(caught.value) and mirror in str(caught.value)
    assert not _home(tmp_path).exists()


def test_cli_mirror_notaurl_is_one_line_exit_16(tmp_path):
    from typer.testing import CliRunner

    from face_bench.cli.app import app

    cache = tmp_path / "cache"
    result = CliRunner().invoke(
        app, ["fetch", "lfw", "--mirror", "notaurl", "--cache-dir", str(cache)]
    )
    assert result.exit_code == 16
    assert result.stderr.strip().splitlines()[-1] == (
        "face-bench: error: --mirror 'notaurl' is not an http:// or https:// URL with a host name"
    )
    assert "Traceback" not in result.stderr


def test_a_redirect_to_another_http_server_is_followed(tmp_path, files):
    with serve(files) as real, serve(files) as front:
        front.redirect_to = real.url
        result = fetch_lfw(tmp_path, mirror=front.url)
    assert result.n_images == sum(PEOPLE.values())
    assert {name for name, _ in real.requests} == set(files)


@pytest.mark.parametrize("scheme", ["file", "ftp"])
def test_a_redirect_to_anything_but_http_is_refused(tmp_path, files, scheme):
    local = tmp_path / "local"
    local.mkdir()
    (local / "pairsDevTrain.txt").write_bytes(files["pairsDevTrain.txt"])
    where = local.as_uri() if scheme == "file" else f"ftp://127.0.0.1:{_closed_port()}"
    with serve(files) as front, pytest.raises(FetchError) as caught:
        front.redirect_to = where + "/"
        fetch_lfw(tmp_path, mirror=front.url)
    message = str(caught.value)
    assert where in message and ("not an http(s) URL" in message or "not allowed" in message)
    assert not list(_home(tmp_path).glob("pairsDevTrain.txt*"))


def test_a_part_file_that_is_a_link_is_never_written_through(tmp_path, files):
    home = _home(tmp_path)
    home.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me", encoding="utf-8")
    (home / "pairsDevTrain.txt.part").symlink_to(victim)
    with serve(files) as mirror, pytest.raises(FetchError, match="not a regular file"):
        fetch_lfw(tmp_path, mirror=mirror.url)
    assert victim.read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize(
    ("option", "value"), [("timeout", float("nan")), ("deadline", float("inf")), ("deadline", 0.0)]
)
def test_timeouts_must_be_finite_and_positive(tmp_path, files, option, value):
    with pytest.raises(FetchError, match=f"--{option} must be a positive number"):
        fetch_lfw(tmp_path, mirror="http://127.0.0.1:9/", **{option: value})


def test_a_full_disk_is_one_output_error_naming_the_part(tmp_path, files, monkeypatch):
    import errno
    import io

    from face_bench.core.errors import OutputError
    from face_bench.data import fetch

    class FullDisk(io.BytesIO):
        def write(self, data) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    real_open = Path.open

    def open_part(self, mode="r", *args, **kwargs):
        return (
            FullDisk()
            if self.name.endswith(".part") and "b" in mode
            else real_open(self, mode, *args, **kwargs)
        )

    monkeypatch.setattr(fetch.Path, "open", open_part)
    with serve(files) as mirror, pytest.raises(OutputError, match="No space left") as caught:
        fetch_lfw(tmp_path, mirror=mirror.url)
    assert caught.value.exit_code == 30 and ".part" in str(caught.value)


def test_an_https_mirror_goes_through_the_guarded_connection(tmp_path, files):
    url = f"https://127.0.0.1:{_closed_port()}/"
    with pytest.raises(FetchError, match="unreachable"):
        fetch_lfw(tmp_path, mirror=url, timeout=5)


def test_a_redirect_loop_is_one_http_error(tmp_path, files):
    with serve(files) as mirror, pytest.raises(FetchError, match="HTTP 30") as caught:
        mirror.redirect_to = mirror.url  # every file redirects to itself
        fetch_lfw(tmp_path, mirror=mirror.url, timeout=5)
    assert "\n" not in str(caught.value)
    assert len(mirror.requests) <= 6  # the first request and at most five redirects


def test_the_file_table_is_scikit_learns():
    """face-bench keeps its own copy of the table scikit-learn keeps private; they must agree
    so that a fetch is what ``fetch_lfw_pairs`` would download (checked on the locked version)."""
    lfw = pytest.importorskip("sklearn.datasets._lfw")
    from face_bench.data.fetch import LFW_ARCHIVES, LFW_PAIRS

    def table(metas):
        return [(m.filename, m.url, m.checksum) for m in metas]

    assert table(LFW_PAIRS) == table(lfw.TARGETS)
    assert table([LFW_ARCHIVES[True], LFW_ARCHIVES[False]]) == table(
        [lfw.FUNNELED_ARCHIVE, lfw.ARCHIVE]
    )


def test_an_archive_that_escapes_its_folder_is_refused(tmp_path, monkeypatch):
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../outside.jpg")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    built = dict(build_files(), **{"lfw-funneled.tgz": buffer.getvalue()})
    point_fetch_at(monkeypatch, built)
    with serve(built) as mirror, pytest.raises(FetchError, match="cannot unpack LFW"):
        fetch_lfw(tmp_path, mirror=mirror.url)
    assert not (tmp_path / "outside.jpg").exists()
