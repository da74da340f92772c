"""The shared vocabularies and the one file hasher in face_bench.core."""

from __future__ import annotations

import hashlib
import os

import pytest

from face_bench.core.errors import ConfigError
from face_bench.core.io import sha256_file
from face_bench.core.modes import IdentityFrom, LfwOnFail, OnFail, parse_choice


def test_each_option_has_one_vocabulary_and_library_strings_parse_into_it():
    assert [m.value for m in OnFail] == ["exclude", "reject"]
    assert [m.value for m in LfwOnFail] == ["error", "exclude"]
    assert [m.value for m in IdentityFrom] == ["auto", "manifest", "folder", "filename"]
    assert parse_choice(OnFail, "reject", "--on-fail") is OnFail.REJECT
    assert parse_choice(LfwOnFail, LfwOnFail.ERROR, "--on-fail") is LfwOnFail.ERROR
    with pytest.raises(ConfigError, match="--on-fail must be one of 'error', 'exclude', not 'x'"):
        parse_choice(LfwOnFail, "x", "--on-fail")


def test_sha256_file_matches_hashlib_across_blocks(tmp_path):
    path = tmp_path / "blob.bin"
    data = os.urandom((1 << 20) + 123)  # more than one read block
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_sha256_file_refuses_a_fifo_instead_of_hanging(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        sha256_file(fifo)
