"""Tests for face_bench.data.images: one test per generated corpus case, with its exact outcome."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import corpus
import numpy as np
import pytest
from PIL import Image

from face_bench.core.errors import ImageError
from face_bench.core.io import sha256_file
from face_bench.data.images import (
    ALPHA_BACKGROUND,
    MAX_PIXELS,
    REASONS,
    ImageLoadError,
    load_rgb,
    load_rgb_bytes,
    read_image_bytes,
    to_rgb_image,
)

REPO = Path(__file__).resolve().parents[1]


def assert_rgb(a: np.ndarray, shape: tuple[int, int]) -> None:
    assert a.dtype == np.uint8
    assert a.shape == (*shape, 3)
    assert a.flags.c_contiguous and a.flags.writeable


def load_error(path: Path, **kwargs) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as info:
        load_rgb(path, **kwargs)
    err = info.value
    assert isinstance(err, ImageError)
    assert err.reason in REASONS
    message = str(err)
    assert "\n" not in message
    assert str(path) in message and err.reason in message
    return err


# --- failures: each has its own reason ---------------------------------------------


def test_missing_file(tmp_path):
    assert load_error(corpus.missing_file(tmp_path)).reason == "missing"


def test_zero_byte_jpeg(tmp_path):
    assert load_error(corpus.zero_byte_jpeg(tmp_path)).reason == "empty"


def test_truncated_jpeg_is_an_error_not_grey_pixels(tmp_path):
    assert load_error(corpus.truncated_jpeg(tmp_path)).reason == "truncated"


def test_truncated_png(tmp_path):
    assert load_error(corpus.truncated_png(tmp_path)).reason == "truncated"


def test_text_file_named_png(tmp_path):
    assert load_error(corpus.text_named_png(tmp_path)).reason == "not_an_image"


def test_heic_named_jpg_is_unsupported(tmp_path):
    err = load_error(corpus.heic_named_jpg(tmp_path))
    assert err.reason == "unsupported_format"
    assert "HEIC" in str(err)


def test_directory_is_unreadable(tmp_path):
    assert load_error(tmp_path).reason == "unreadable"


@pytest.mark.parametrize("side", [15_000, 30_000], ids=["warning_band", "error_band"])
def test_decompression_bomb_is_too_large(tmp_path, side):
    # 225 MP is in Pillow's warning band (MAX..2*MAX), 900 MP in its error band.
    assert side * side > MAX_PIXELS
    assert load_error(corpus.bomb_png(tmp_path, side, side)).reason == "too_large"


# --- formats decoded by content, not by extension ---------------------------------


def test_webp_named_jpg(tmp_path):
    a = load_rgb(corpus.webp_named_jpg(tmp_path))
    assert_rgb(a, (48, 64))
    np.testing.assert_array_equal(a, np.asarray(corpus.pattern()))  # lossless


def test_png_named_jpg(tmp_path):
    a = load_rgb(corpus.png_named_jpg(tmp_path))
    np.testing.assert_array_equal(a, np.asarray(corpus.pattern()))


def test_bytes_and_path_give_the_same_pixels(tmp_path):
    path = corpus.png_named_jpg(tmp_path)
    data = read_image_bytes(path)
    np.testing.assert_array_equal(load_rgb(data), load_rgb(path))
    np.testing.assert_array_equal(load_rgb_bytes(data, "x"), load_rgb(path))


def test_empty_bytes(tmp_path):
    with pytest.raises(ImageLoadError) as info:
        load_rgb(b"")
    assert info.value.reason == "empty"


# --- every mode becomes 8-bit RGB ---------------------------------------------------


def test_cmyk_jpeg(tmp_path):
    a = load_rgb(corpus.cmyk_jpeg(tmp_path)).astype(int)
    assert_rgb(a.astype(np.uint8), (32, 64))
    cyan, yellow = a[16, 8], a[16, 56]
    assert cyan[0] < 40 and cyan[1] > 215 and cyan[2] > 215
    assert yellow[0] > 215 and yellow[1] > 215 and yellow[2] < 40


def test_grey16_png_is_scaled_not_clipped(tmp_path):
    a = load_rgb(corpus.grey16_png(tmp_path))
    assert_rgb(a, (4, 256))
    np.testing.assert_array_equal(a[0, :, 0], np.arange(256))
    assert (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all()


def test_int32_tiff_is_scaled(tmp_path):
    a = load_rgb(corpus.int32_tiff(tmp_path))
    np.testing.assert_array_equal(a[0, :, 1], np.arange(256))


def test_float_tiff(tmp_path):
    a = load_rgb(corpus.float_tiff(tmp_path))
    assert_rgb(a, (4, 256))
    np.testing.assert_array_equal(a[0, :, 2], np.arange(256))


def test_rgba_png_is_composited_over_white(tmp_path):
    a = load_rgb(corpus.rgba_png(tmp_path))
    assert_rgb(a, (8, 48))
    assert ALPHA_BACKGROUND == (255, 255, 255)
    assert tuple(a[4, 0]) == (255, 0, 0)
    assert tuple(a[4, 20]) == ALPHA_BACKGROUND
    assert all(abs(int(v) - 127) <= 1 for v in a[4, 40])


def test_la_png(tmp_path):
    a = load_rgb(corpus.la_png(tmp_path))
    assert tuple(a[0, 0]) == (50, 50, 50)
    assert tuple(a[0, 15]) == (255, 255, 255)


def test_palette_png_with_transparency(tmp_path):
    a = load_rgb(corpus.palette_png_transparent(tmp_path))
    assert tuple(a[0, 0]) == (255, 0, 0)
    assert tuple(a[0, 15]) == (255, 255, 255)


def test_palette_tiff(tmp_path):
    a = load_rgb(corpus.palette_tiff(tmp_path))
    assert_rgb(a, (8, 16))
    assert tuple(a[0, 0]) == (255, 0, 0)
    assert tuple(a[0, 15]) == (0, 255, 0)


def test_grey_tiff_like_jaffe(tmp_path):
    a = load_rgb(corpus.grey_tiff(tmp_path))
    assert_rgb(a, (256, 256))
    np.testing.assert_array_equal(a[100, :, 0], np.arange(256))


def test_one_bit_png(tmp_path):
    a = load_rgb(corpus.one_bit_png(tmp_path))
    assert tuple(a[0, 0]) == (0, 0, 0)
    assert tuple(a[0, 15]) == (255, 255, 255)


def test_pa_mode_in_memory():
    # Pillow cannot write "PA" files, so this mode is checked on an image object.
    im = Image.new("PA", (4, 2))
    im.putpalette([0, 0, 255] * 256)
    im.putpixel((0, 0), (0, 255))
    rgb = np.asarray(to_rgb_image(im))
    assert tuple(rgb[0, 0]) == (0, 0, 255)
    assert tuple(rgb[1, 3]) == ALPHA_BACKGROUND


def test_premultiplied_la_in_memory():
    rgb = np.asarray(to_rgb_image(Image.new("La", (2, 2), (0, 0))))
    assert tuple(rgb[0, 0]) == ALPHA_BACKGROUND


class _ModeWithoutRGB:
    """Stands in for a mode Pillow cannot convert (every mode Pillow 13 opens can)."""

    mode = "XYZ"
    has_transparency_data = False

    def convert(self, mode):
        raise ValueError(f"conversion from XYZ to {mode} not supported")


def test_unconvertible_mode_is_unsupported_mode():
    with pytest.raises(ImageLoadError) as info:
        to_rgb_image(_ModeWithoutRGB(), "odd.tif")
    assert info.value.reason == "unsupported_mode"
    assert "odd.tif" in str(info.value)


def test_exif_orientation_makes_phone_photo_upright(tmp_path):
    path = corpus.exif_rotated_jpeg(tmp_path)
    with Image.open(path) as raw:
        assert raw.size == (80, 120)  # stored sideways
    a = load_rgb(path).astype(int)
    assert_rgb(a.astype(np.uint8), (80, 120))
    top, bottom = a[:15].mean(axis=(0, 1)), a[30:].mean(axis=(0, 1))
    assert top[0] > 200 and top[2] < 50
    assert bottom[2] > 200 and bottom[0] < 50


# --- names --------------------------------------------------------------------------


@pytest.mark.parametrize("make", [corpus.japanese_named_jpeg, corpus.html_named_jpeg])
def test_awkward_file_names_load(tmp_path, make):
    assert_rgb(load_rgb(make(tmp_path)), (48, 64))


def test_error_message_keeps_awkward_name_on_one_line(tmp_path):
    path = tmp_path / "<b>&\"' 顔\nphoto.jpg"
    path.write_bytes(b"not an image")
    with pytest.raises(ImageLoadError) as info:
        load_rgb(path)
    assert "\n" not in str(info.value)
    assert "顔" in str(info.value) and "<b>&\"'" in str(info.value)


# --- size limits ---------------------------------------------------------------------


def test_max_side_bounds_small_formats_too(tmp_path):
    a = load_rgb(corpus.grey_tiff(tmp_path), max_side=100)
    assert_rgb(a, (100, 100))
    assert load_rgb(corpus.grey_tiff(tmp_path), max_side=1000).shape == (256, 256, 3)


def test_max_side_must_be_positive(tmp_path):
    with pytest.raises(ValueError):
        load_rgb(corpus.grey_tiff(tmp_path), max_side=0)


@pytest.fixture(scope="module")
def huge_jpeg(tmp_path_factory) -> Path:
    return corpus.huge_jpeg(tmp_path_factory.mktemp("huge"))


# VmHWM is the peak resident size of this process image; unlike ru_maxrss it is not
# inherited from the (large) pytest parent across fork and exec.
_PEAK_RSS_SCRIPT = """
import json, re, sys
from pathlib import Path
from face_bench.data.images import load_rgb
def hwm():
    return int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text())[1])
base = hwm()
a = load_rgb(sys.argv[1], max_side=1600)
peak = hwm()
print(json.dumps({"shape": a.shape, "base_kb": base, "peak_kb": peak,
                  "corner": a[0, 0].tolist(), "far": a[-1, -1].tolist()}))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_huge_jpeg_loads_downscaled_in_bounded_memory(huge_jpeg):
    # Pillow's pixel buffers bypass tracemalloc, so the peak resident size of a fresh
    # process is measured instead. A full decode would need 324 MB of RGB pixels.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_SCRIPT, str(huge_jpeg)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=60,
    )
    info = json.loads(out.stdout)
    assert tuple(info["shape"]) == (1200, 1600, 3)
    full_rgb_mb = 12_000 * 9_000 * 3 / 1e6
    grown_mb = (info["peak_kb"] - info["base_kb"]) / 1024
    assert grown_mb < full_rgb_mb / 4, f"decode grew RSS by {grown_mb:.0f} MB"
    assert info["corner"][0] > 200 and info["corner"][2] < 50  # red quarter
    assert info["far"][2] > 200 and info["far"][0] < 50  # blue


# --- hashing ---------------------------------------------------------------------------


def test_sha256_file_matches_hashlib(tmp_path):
    path = tmp_path / "blob.bin"
    data = os.urandom(3 * (1 << 20) + 17)  # spans several chunks
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == hashlib.sha256(read_image_bytes(path)).hexdigest()


# --- decoding memory is bounded per image ------------------------------------------------


def _gif_with_canvas(tmp_path, side: int) -> Path:
    """A tiny GIF whose logical screen claims ``side`` x ``side`` pixels (a few dozen bytes)."""
    path = tmp_path / "canvas.gif"
    buffer = io.BytesIO()
    Image.new("P", (1, 1)).save(buffer, format="GIF")
    data = bytearray(buffer.getvalue())
    data[6:10] = side.to_bytes(2, "little") * 2
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("side", [6000, 14000])
def test_huge_canvas_is_refused_before_decoding(tmp_path, side):
    import tracemalloc

    from face_bench.data.images import MAX_DECODED_PIXELS

    assert side * side > MAX_DECODED_PIXELS
    tracemalloc.start()
    try:
        err = load_error(_gif_with_canvas(tmp_path, side), max_side=2048)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.reason == "too_large"
    assert peak < 20 << 20


def test_big_jpeg_is_decoded_reduced_within_the_budget(tmp_path):
    from face_bench.data.images import MAX_DECODED_PIXELS

    path = tmp_path / "big.jpg"
    Image.new("RGB", (8000, 4000), (120, 80, 60)).save(path, quality=50)
    assert MAX_DECODED_PIXELS < 8000 * 4000
    rgb = load_rgb(path)
    assert rgb.shape[0] * rgb.shape[1] <= MAX_DECODED_PIXELS
    assert rgb.shape[1] == 2 * rgb.shape[0]


def test_oversized_file_is_too_large(tmp_path, monkeypatch):
    from face_bench.data import images

    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 1000)
    path = tmp_path / "x.png"
    Image.new("RGB", (64, 64)).save(path)
    path.write_bytes(path.read_bytes() + b"\0" * 2000)
    assert load_error(path).reason == "too_large"
