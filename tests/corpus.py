"""Generated bad and odd inputs: photos, whole datasets and model files, for the tests.

Each function writes one small file (or folder) into the given folder and returns its
path, so a test states exactly which case it covers. No photo is stored in the repository:
synthetic images are drawn, and real crops are read in place from ../shared/datasets and
copied or composed into tmp at test time.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from conftest import JP_FACES
from PIL import Image

# Two well-detected 200x200 crops of different people (HOG scores about 2.5 and 1.4).
JP_FACE_A = JP_FACES / "images/尾野真千子/尾野真千子_1.png"
JP_FACE_B = JP_FACES / "images/麻生久美子/麻生久美子_1.png"

HUGE_SIZE = (12_000, 9_000)
RED, BLUE = (255, 0, 0), (0, 0, 255)


def pattern(width: int = 64, height: int = 48) -> Image.Image:
    """A smooth colour gradient: survives JPEG well and makes every pixel distinct-ish."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None].repeat(width, 1)
    rgb = np.stack([x, y, 255 - x], axis=-1).round().astype(np.uint8)
    return Image.fromarray(rgb)


def _jpeg_bytes(im: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, **kwargs)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def missing_file(tmp: Path) -> Path:
    """A path that does not exist."""
    return tmp / "does_not_exist.jpg"


def zero_byte_jpeg(tmp: Path) -> Path:
    return _write(tmp / "empty.jpg", b"")


def truncated_jpeg(tmp: Path) -> Path:
    """A valid JPEG cut to 60 % of its bytes: the header reads, the scan data ends early."""
    data = _jpeg_bytes(pattern(256, 192))
    return _write(tmp / "truncated.jpg", data[: len(data) * 6 // 10])


def truncated_png(tmp: Path) -> Path:
    buf = io.BytesIO()
    pattern(256, 192).save(buf, "PNG")
    data = buf.getvalue()
    return _write(tmp / "truncated.png", data[: len(data) * 6 // 10])


def webp_named_jpg(tmp: Path) -> Path:
    path = tmp / "really_webp.jpg"
    pattern().save(path, "WEBP", lossless=True)
    return path


def png_named_jpg(tmp: Path) -> Path:
    path = tmp / "really_png.jpg"
    pattern().save(path, "PNG")
    return path


def cmyk_jpeg(tmp: Path) -> Path:
    """Left half pure cyan, right half pure yellow, as printers' CMYK files store colour."""
    im = Image.new("CMYK", (64, 32), (255, 0, 0, 0))
    im.paste((0, 0, 255, 0), (32, 0, 64, 32))
    path = tmp / "cmyk.jpg"
    im.save(path, "JPEG", quality=95)
    return path


def grey16_png(tmp: Path) -> Path:
    """16-bit greyscale; column i holds i * 257, which scales exactly to 8-bit value i."""
    values = (np.arange(256, dtype=np.uint16) * 257)[None, :].repeat(4, 0)
    path = tmp / "grey16.png"
    Image.fromarray(values).save(path, "PNG")
    return path


def rgba_png(tmp: Path) -> Path:
    """Columns 0-15 opaque red, 16-31 fully transparent green, 32-47 black at alpha 128."""
    rgba = np.zeros((8, 48, 4), dtype=np.uint8)
    rgba[:, :16] = (255, 0, 0, 255)
    rgba[:, 16:32] = (0, 255, 0, 0)
    rgba[:, 32:] = (0, 0, 0, 128)
    path = tmp / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path, "PNG")
    return path


def la_png(tmp: Path) -> Path:
    """Greyscale with alpha: left half grey 50 opaque, right half fully transparent."""
    la = np.zeros((8, 16, 2), dtype=np.uint8)
    la[:, :8] = (50, 255)
    la[:, 8:] = (0, 0)
    path = tmp / "grey_alpha.png"
    Image.fromarray(la, "LA").save(path, "PNG")
    return path


def palette_png_transparent(tmp: Path) -> Path:
    """Palette image whose index 1 (blue) is transparent: left half red, right half index 1."""
    im = Image.new("P", (16, 8), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (8, 0, 16, 8))
    path = tmp / "palette_transparent.png"
    im.save(path, "PNG", transparency=1)
    return path


def palette_tiff(tmp: Path) -> Path:
    """Palette TIFF: left half index 0 (red), right half index 1 (green)."""
    im = Image.new("P", (16, 8), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.paste(1, (8, 0, 16, 8))
    path = tmp / "palette.tiff"
    im.save(path, "TIFF")
    return path


def grey_tiff(tmp: Path) -> Path:
    """8-bit greyscale TIFF like JAFFE's 256x256 files; column i holds value i."""
    values = np.arange(256, dtype=np.uint8)[None, :].repeat(256, 0)
    path = tmp / "grey.tiff"
    Image.fromarray(values, "L").save(path, "TIFF")
    return path


def one_bit_png(tmp: Path) -> Path:
    """1-bit image: left half black, right half white."""
    im = Image.new("1", (16, 8), 0)
    im.paste(1, (8, 0, 16, 8))
    path = tmp / "bilevel.png"
    im.save(path, "PNG")
    return path


def float_tiff(tmp: Path) -> Path:
    """32-bit float TIFF with values 0.0..1.0 across 256 columns."""
    values = (np.arange(256, dtype=np.float32) / 255.0)[None, :].repeat(4, 0)
    path = tmp / "float.tiff"
    Image.fromarray(values, "F").save(path, "TIFF")
    return path


def int32_tiff(tmp: Path) -> Path:
    """32-bit integer TIFF (mode "I") holding 16-bit-range values i * 257."""
    values = (np.arange(256, dtype=np.int32) * 257)[None, :].repeat(4, 0)
    path = tmp / "int32.tiff"
    Image.fromarray(values, "I").save(path, "TIFF")
    return path


def exif_rotated_jpeg(tmp: Path) -> Path:
    """Upright it is 120 wide x 80 high with a red band on top and blue below.

    The pixels are stored turned 90° counter-clockwise with EXIF orientation 6 ("rotate
    90° clockwise to view"), as a phone held upright writes them.
    """
    upright = Image.new("RGB", (120, 80), BLUE)
    upright.paste(RED, (0, 0, 120, 20))
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp / "rotated_phone_photo.jpg"
    stored.save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


def huge_jpeg(tmp: Path) -> Path:
    """A 12,000 x 9,000 JPEG (324 MB as RGB) of two flat colours: tiny file, fast to write.

    The top-left quarter is red, the rest blue, so a downscaled load can be checked.
    """
    im = Image.new("RGB", HUGE_SIZE, BLUE)
    im.paste(RED, (0, 0, HUGE_SIZE[0] // 2, HUGE_SIZE[1] // 2))
    path = tmp / "huge.jpg"
    im.save(path, "JPEG", quality=75)
    return path


def bomb_png(tmp: Path, width: int, height: int) -> Path:
    """A PNG header claiming width x height pixels with no real data: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    return _write(tmp / f"bomb_{width}x{height}.png", data)


def text_named_png(tmp: Path) -> Path:
    return _write(tmp / "notes.png", "これは画像ではありません — just text.\n".encode())


def heic_named_jpg(tmp: Path) -> Path:
    """The first bytes of an iPhone HEIC file; Pillow has no decoder for it."""
    header = struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0" + b"mif1heic"
    return _write(tmp / "iphone.jpg", header + b"\0" * 64)


def named_jpeg(tmp: Path, name: str) -> Path:
    """A valid small JPEG under an awkward file name."""
    path = tmp / name
    pattern().save(path, "JPEG", quality=90)
    return path


JAPANESE_NAME = "顔写真 テスト 山田花子.jpg"
HTML_NAME = "<b>&\"' x.jpg"


def japanese_named_jpeg(tmp: Path) -> Path:
    return named_jpeg(tmp, JAPANESE_NAME)


def html_named_jpeg(tmp: Path) -> Path:
    return named_jpeg(tmp, HTML_NAME)


# --- face-bearing images composed from real crops (read in place) -----------------


def _face(face: Path, side: int | None) -> Image.Image:
    with Image.open(face) as im:
        im = im.convert("RGB")
        return im if side is None else im.resize((side, side), Image.Resampling.LANCZOS)


def face_on_canvas(
    tmp: Path,
    face: Path = JP_FACE_A,
    *,
    canvas: tuple[int, int] = (800, 600),
    at: tuple[int, int] = (300, 200),
    side: int | None = None,
    name: str = "face_on_canvas.png",
) -> Path:
    """One face crop pasted at ``at`` on a mid-grey canvas: a photo that needs detection."""
    im = Image.new("RGB", canvas, (128, 128, 128))
    im.paste(_face(face, side), at)
    path = tmp / name
    im.save(path, "PNG")
    return path


def faces_side_by_side(
    tmp: Path,
    faces: tuple[Path, Path] = (JP_FACE_A, JP_FACE_B),
    sides: tuple[int, int] = (200, 140),
) -> Path:
    """Two people on one grey canvas, the first larger, for the multi-face policies."""
    gap = 60
    width = gap * 3 + sides[0] + sides[1]
    height = gap * 2 + max(sides)
    im = Image.new("RGB", (width, height), (128, 128, 128))
    im.paste(_face(faces[0], sides[0]), (gap, gap))
    im.paste(_face(faces[1], sides[1]), (gap * 2 + sides[0], gap))
    path = tmp / "two_faces.png"
    im.save(path, "PNG")
    return path


def blank_image(tmp: Path, size: tuple[int, int] = (640, 480), name: str = "blank.png") -> Path:
    """A flat grey image without any face."""
    path = tmp / name
    Image.new("RGB", size, (128, 128, 128)).save(path, "PNG")
    return path


# --- the same real face in every odd form a user might have (each should enrol) ----


def _rgb_face(face: Path) -> Image.Image:
    with Image.open(face) as im:
        return im.convert("RGB")


def face_png_named_jpg(tmp: Path, face: Path = JP_FACE_A) -> Path:
    """A lossless copy of ``face`` that says .jpg but is a PNG."""
    path = tmp / "face_really_png.jpg"
    _rgb_face(face).save(path, "PNG")
    return path


def face_webp_named_jpg(tmp: Path, face: Path = JP_FACE_A) -> Path:
    """A lossless WEBP of ``face`` named .jpg: decodes to exactly the crop's pixels."""
    path = tmp / "face_really_webp.jpg"
    _rgb_face(face).save(path, "WEBP", lossless=True)
    return path


def face_cmyk_jpeg(tmp: Path, face: Path = JP_FACE_A) -> Path:
    path = tmp / "face_cmyk.jpg"
    _rgb_face(face).convert("CMYK").save(path, "JPEG", quality=95)
    return path


def face_grey_png(tmp: Path, face: Path = JP_FACE_A) -> Path:
    """8-bit greyscale: the reference that the 16-bit and TIFF greys must decode to."""
    path = tmp / "face_grey8.png"
    _rgb_face(face).convert("L").save(path, "PNG")
    return path


def face_grey16_png(tmp: Path, face: Path = JP_FACE_A) -> Path:
    """16-bit greyscale holding grey * 257, which scales back to exactly the 8-bit grey."""
    grey = np.asarray(_rgb_face(face).convert("L"), dtype=np.uint16) * 257
    path = tmp / "face_grey16.png"
    Image.fromarray(grey).save(path, "PNG")
    return path


def face_grey_tiff(tmp: Path, face: Path = JP_FACE_A) -> Path:
    path = tmp / "face_grey.tiff"
    _rgb_face(face).convert("L").save(path, "TIFF")
    return path


def face_palette_tiff(tmp: Path, face: Path = JP_FACE_A) -> Path:
    path = tmp / "face_palette.tiff"
    _rgb_face(face).quantize(colors=256).save(path, "TIFF")
    return path


def face_alpha_png(tmp: Path, face: Path = JP_FACE_A, border: int = 12) -> Path:
    """RGBA: the face opaque, a fully transparent frame ``border`` pixels wide around it."""
    rgba = np.asarray(_rgb_face(face).convert("RGBA")).copy()
    rgba[:border, :, 3] = 0
    rgba[-border:, :, 3] = 0
    rgba[:, :border, 3] = 0
    rgba[:, -border:, 3] = 0
    path = tmp / "face_alpha.png"
    Image.fromarray(rgba, "RGBA").save(path, "PNG")
    return path


def face_exif_rotated_jpeg(tmp: Path, face: Path = JP_FACE_A, exif: bool = True) -> Path:
    """``face`` stored turned 90° counter-clockwise, with EXIF orientation 6 to view it upright.

    With ``exif=False`` the same pixels carry no orientation: a sideways face.
    """
    stored = _rgb_face(face).transpose(Image.Transpose.ROTATE_90)
    path = tmp / ("face_exif_rotated.jpg" if exif else "face_sideways.jpg")
    if exif:
        tags = Image.Exif()
        tags[0x0112] = 6
        stored.save(path, "JPEG", quality=95, exif=tags.tobytes())
    else:
        stored.save(path, "JPEG", quality=95)
    return path


def huge_face_jpeg(tmp: Path, face: Path = JP_FACE_A, face_side: int = 2400) -> Path:
    """A ``HUGE_SIZE`` photo with ``face`` enlarged to ``face_side`` pixels in the middle."""
    im = Image.new("RGB", HUGE_SIZE, (128, 128, 128))
    big = _face(face, face_side)
    im.paste(big, ((HUGE_SIZE[0] - face_side) // 2, (HUGE_SIZE[1] - face_side) // 2))
    path = tmp / "huge_face.jpg"
    im.save(path, "JPEG", quality=85)
    return path


# --- whole datasets in tmp, with manifests written by the csv module -----------------

MANIFEST_COLUMNS = ("path", "identity", "sex", "age_group", "japanese")


def real_crops(identity: str, n: int) -> list[Path]:
    """The first ``n`` crops of ``identity`` in ../shared/datasets/jp_faces_dev (read in place)."""
    files = sorted((JP_FACES / "images" / identity).iterdir())
    if len(files) < n:
        raise ValueError(f"{identity} has only {len(files)} images")
    return files[:n]


def write_manifest(root: Path, rows: list[dict[str, str]], columns=MANIFEST_COLUMNS) -> Path:
    """``manifest.csv`` with ``columns``; a row's missing values are written empty."""
    import csv

    path = root / "manifest.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])
    return path


def add_image(root: Path, rows: list[dict[str, str]], source: Path, identity: str, **meta) -> Path:
    """Copy ``source`` to ``root/images/<identity>/<name>`` and append its manifest row.

    ``name`` (default: the source's name) and metadata columns come from ``meta``.
    """
    import shutil

    name = meta.pop("name", source.name)
    target = root / "images" / identity / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    rows.append({"path": target.relative_to(root).as_posix(), "identity": identity, **meta})
    return target


def small_face_set(root: Path, per_identity: int = 3) -> list[dict[str, str]]:
    """Three women (labelled young and Japanese), ``per_identity`` real crops each, in ``root``.

    Returns the manifest rows (written too), so callers can add more and rewrite it.
    """
    rows: list[dict[str, str]] = []
    for identity in ("尾野真千子", "麻生久美子", "夏帆"):
        for source in real_crops(identity, per_identity):
            add_image(root, rows, source, identity, sex="F", age_group="young", japanese="yes")
    write_manifest(root, rows)
    return rows


# --- model files ----------------------------------------------------------------------


def wrong_shape_onnx(tmp: Path) -> Path:
    """A valid ONNX graph taking [1, 3, 112, 112] (Flatten, then ReduceMean to [1, 1])."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["input"], ["flat"], axis=1),
            helper.make_node("ReduceMean", ["flat"], ["embedding"], axes=[1], keepdims=1),
        ],
        "wrong_shape",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 112, 112])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp / "wrong_shape.onnx"
    onnx.save(model, str(path))
    return path


def embedding_onnx(tmp: Path, dim: int = 512, name: str = "embedder.onnx") -> Path:
    """A valid, tiny embedding model with the stand-ins' I/O: [N, 3, 224, 224] -> [N, dim].

    Per-channel means times a fixed matrix: meaningless embeddings, but the registry, the
    shape check and the weights hash treat it like any real model, without ../shared.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(dim).standard_normal((3, dim)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input"], ["pooled"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["pooled", "weights"], ["embedding"]),
        ],
        "embedder",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dim])],
        initializer=[numpy_helper.from_array(weights, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = tmp / name
    onnx.save(model, str(path))
    return path
