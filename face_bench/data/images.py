"""Decode any photo a user might have into one canonical array: upright 8-bit RGB.

Models and detectors all want the same input, so every odd case (EXIF-rotated phone
photos, CMYK, 16-bit, alpha, palettes, files with the wrong extension) is settled here
once. A photo that cannot be used raises ``ImageLoadError`` with a short ``reason``,
which the pipeline records as "failure to enrol: <reason>" instead of crashing.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from face_bench.core.errors import ImageError
from face_bench.core.io import open_regular

# Largest image header accepted, in pixels (200 MP, e.g. 16,000 x 12,500): anything bigger
# is far more likely a decompression bomb than a face photo. Pillow's own guard is raised
# to the same value for this process (its default of ~89 MP would reject 100 MP JPEGs).
MAX_PIXELS = 200_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Decoding budget: at most this many pixels are ever decoded for one image. A JPEG above
# it is decoded at 1/2, 1/4 or 1/8 scale by the decoder itself (``draft``), so a 100 MP
# camera file costs what a 12 MP one does; other formats (PNG, GIF, TIFF, WebP) cannot be
# decoded reduced and are refused as ``too_large`` above it. Peak memory per image is
# about 12 bytes per decoded pixel (decoder buffer, alpha compositing, the RGB array):
# under 300 MB at this budget, per worker process.
MAX_DECODED_PIXELS = 24_000_000
# Largest image file read, in bytes: no face photo is near it, a stray video or disk image is.
MAX_IMAGE_BYTES = 256 << 20

# Transparent pixels are composited over white: cut-out portraits and ID photos sit on
# white, so this is what the subject looked like to whoever made the file.
ALPHA_BACKGROUND = (255, 255, 255)

# Raster formats only: the allowlist keeps Pillow from handing files to Ghostscript
# (EPS/PDF) or guessing at formats with weak signatures.
ALLOWED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "GIF", "PPM", "AVIF")

_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1")

# Reasons an image cannot be used; each is one word so it fits a failure column.
REASONS = (
    "missing",
    "unreadable",
    "empty",
    "not_an_image",
    "unsupported_format",
    "unsupported_mode",
    "too_large",
    "truncated",
    "decode_error",
)


class ImageLoadError(ImageError):
    """A photo cannot be decoded; ``reason`` is one of ``REASONS``."""

    def __init__(self, name: str, reason: str, detail: str) -> None:
        self.name = name
        self.reason = reason
        shown = name.replace("\r", "\\r").replace("\n", "\\n")
        # ``detail`` names no path, so a cached failure reads the same wherever the file lives.
        self.detail = " ".join(str(detail).split())
        super().__init__(f"cannot load image {shown}: {reason} ({self.detail})")


def read_image_bytes(path: str | Path) -> bytes:
    """Read a photo's bytes once (for hashing and decoding), as ``ImageLoadError`` on failure."""
    name = str(path)
    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_IMAGE_BYTES:
                raise ImageLoadError(
                    name, "too_large", f"file larger than {MAX_IMAGE_BYTES:,} bytes"
                )
            data = fh.read(size + 1)
    except FileNotFoundError:
        raise ImageLoadError(name, "missing", "no such file") from None
    except OSError as exc:
        raise ImageLoadError(name, "unreadable", exc.strerror or str(exc)) from None
    if not data:
        raise ImageLoadError(name, "empty", "file has zero bytes")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageLoadError(name, "too_large", f"file larger than {MAX_IMAGE_BYTES:,} bytes")
    return data


def load_rgb(path_or_bytes: str | Path | bytes, *, max_side: int | None = None) -> np.ndarray:
    """Load a photo from a path or its bytes as a writable C-contiguous uint8 (H, W, 3) array."""
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        return load_rgb_bytes(bytes(path_or_bytes), "<bytes>", max_side=max_side)
    data = read_image_bytes(path_or_bytes)
    return load_rgb_bytes(data, str(path_or_bytes), max_side=max_side)


def load_rgb_bytes(
    data: bytes,
    name: str,
    *,
    max_side: int | None = None,
    on_decoded: Callable[[Image.Image], None] | None = None,
) -> np.ndarray:
    """Decode already-read bytes by content; ``max_side`` bounds the longer output side.

    With ``max_side`` a JPEG is decoded at 1/2, 1/4 or 1/8 scale before the final resize,
    so a 12,000 x 9,000 photo never exists at full size in memory. ``on_decoded`` is shown
    the image decoded at its full size, as ``Image.open`` gives it (before it is turned
    upright or converted), so a caller can derive more from the one decode; it is not
    called for an image decoded at a reduced scale, and what it raises is ignored.
    """
    if max_side is not None and max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    if not data:
        raise ImageLoadError(name, "empty", "file has zero bytes")
    im = _open(data, name)
    try:
        reduced = _reduce_while_decoding(im, name, max_side)
        try:
            im.load()
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            reason = "truncated" if "truncated" in str(exc).lower() else "decode_error"
            raise ImageLoadError(name, reason, str(exc)) from None
        if on_decoded is not None and not reduced:
            with contextlib.suppress(Exception):  # the caller's extra, never the decode's
                on_decoded(im)
        _apply_exif_orientation(im)
        rgb = to_rgb_image(im, name)
        if max_side is not None and max(rgb.size) > max_side:
            rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        # A writable copy: Pillow's array view is read-only, which surprises callers.
        return np.array(rgb, dtype=np.uint8, order="C")
    finally:
        im.close()


def _reduce_while_decoding(im: Image.Image, name: str, max_side: int | None) -> bool:
    """Ask the decoder for a smaller image where it can; refuse what exceeds the budget.
    True when the decoder was asked for a smaller image.

    JPEG decoders reduce by 1/2, 1/4 or 1/8 and keep the result at least the requested
    size, so the request is the size after the smallest such factor that fits the budget.
    """
    width, height = im.size
    target = (width, height)
    if max_side is not None and max(im.size) > max_side:
        scale = max_side / max(im.size)
        target = (math.ceil(width * scale), math.ceil(height * scale))
    factor = 1
    while (
        factor < 8 and math.ceil(width / factor) * math.ceil(height / factor) > MAX_DECODED_PIXELS
    ):
        factor *= 2
    target = (min(target[0], math.ceil(width / factor)), min(target[1], math.ceil(height / factor)))
    # Pillow's draft says what it changed (None: nothing, as for every format but JPEG).
    reduced = target != (width, height) and im.draft(None, target) is not None
    if im.width * im.height > MAX_DECODED_PIXELS:
        raise ImageLoadError(
            name,
            "too_large",
            f"{im.width}x{im.height} is over the decoding budget of {MAX_DECODED_PIXELS:,} pixels",
        )
    return reduced


def _open(data: bytes, name: str) -> Image.Image:
    """Identify the format from the bytes and read the header, enforcing ``MAX_PIXELS``."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_PIXELS and twice that; make it an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=_open_formats())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageLoadError(name, "too_large", f"more than {MAX_PIXELS:,} pixels") from None
    except UnidentifiedImageError:
        if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
            raise ImageLoadError(
                name, "unsupported_format", "HEIC/HEIF; convert it to JPEG or PNG"
            ) from None
        raise ImageLoadError(name, "not_an_image", "content is not a known image format") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = "truncated" if "truncated" in str(exc).lower() else "decode_error"
        raise ImageLoadError(name, reason, str(exc)) from None
    if im.width * im.height > MAX_PIXELS:
        im.close()
        raise ImageLoadError(name, "too_large", f"more than {MAX_PIXELS:,} pixels")
    return im


@functools.cache
def _open_formats() -> tuple[str, ...]:
    """The allowed formats this Pillow build can open (AVIF depends on the build)."""
    Image.init()
    return tuple(f for f in ALLOWED_FORMATS if f in Image.OPEN)


def _apply_exif_orientation(im: Image.Image) -> None:
    """Turn phone photos upright; a damaged EXIF block is ignored, not fatal."""
    with contextlib.suppress(OSError, SyntaxError, ValueError, TypeError, KeyError):
        ImageOps.exif_transpose(im, in_place=True)


def to_rgb_image(im: Image.Image, name: str = "<image>") -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB without clipping the tonal range.

    16-bit and 32-bit integer data are scaled from 0..65535 (values beyond that range
    are stretched from min..max); float data is taken as 0..1 when it fits, else 0..255
    when it fits, else stretched from min..max. Alpha is composited over
    ``ALPHA_BACKGROUND``.
    """
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(im), mode)).convert("RGB")
    if im.has_transparency_data:
        # Premultiplied "La" only converts via "LA"; every other alpha mode goes direct.
        im = (im.convert("LA") if mode == "La" else im).convert("RGBA")
        background = Image.new("RGB", im.size, ALPHA_BACKGROUND)
        background.paste(im, mask=im.getchannel("A"))
        return background
    if mode == "RGB":
        return im
    try:
        return im.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageLoadError(name, "unsupported_mode", f"mode {mode}: {exc}") from None


def _scale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Map one high-depth channel to 0..255 with rounding, as described in ``to_rgb_image``."""
    data = values.astype(np.float32)  # float32 is exact for 16-bit integers
    data[~np.isfinite(data)] = 0.0
    lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if mode == "F" and lo >= 0.0 and hi <= 1.0:
        data *= 255.0
    elif mode == "F" and lo >= 0.0 and hi <= 255.0:
        pass
    elif mode != "F" and lo >= 0.0 and hi <= 65535.0:
        data /= 257.0  # 65535 / 255: maps 0..65535 exactly onto 0..255
    elif hi > lo:
        data -= lo
        data *= 255.0 / (hi - lo)
    else:
        data[...] = 0.0
    np.rint(data, out=data)
    return np.clip(data, 0, 255, out=data).astype(np.uint8)
