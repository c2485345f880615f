"""Probing files: every kind of bad input is refused with a reason a person understands."""

import datetime as dt
import io
import struct

import pytest
from PIL import Image

from annotation.ingest.exif import check_plausible, parse_camera_datetime
from annotation.ingest.media import MediaLimits, MediaRejected, probe
from tests.factories import bomb_png_bytes, jpeg_bytes, video_bytes

NOW = dt.datetime(2026, 6, 1, 12, 0, 0)
LIMITS = MediaLimits(max_pixels=50_000_000, thumbnail_size=64, earliest_year=1990, now=NOW)


def _probe(tmp_path, content: bytes, name: str = "x.jpg"):
    path = tmp_path / name
    path.write_bytes(content)
    return probe(path, LIMITS)


def test_reads_size_exif_date_and_camera(tmp_path):
    info = _probe(tmp_path, jpeg_bytes(size=(640, 480), taken="2024:05:01 10:00:00"))
    assert (info.kind, info.width, info.height) == ("image", 640, 480)
    assert info.exif.taken_at == dt.datetime(2024, 5, 1, 10, 0, 0)
    assert (info.exif.camera_make, info.exif.camera_model) == ("TrapCam", "TC-1")
    thumb = Image.open(io.BytesIO(info.thumbnail_jpeg))
    assert max(thumb.size) <= 64 and thumb.mode == "RGB"


def test_exif_orientation_swaps_reported_axes_and_rotates_thumbnail(tmp_path):
    info = _probe(tmp_path, jpeg_bytes(size=(640, 480), orientation=6))
    assert (info.width, info.height) == (480, 640)
    thumb = Image.open(io.BytesIO(info.thumbnail_jpeg))
    assert thumb.size[1] > thumb.size[0]


def _rotated_with_damaged_exif() -> bytes:
    """A JPEG turned by EXIF (orientation 6) whose date tag was renumbered to one Pillow types as a
    number while it holds text: rewriting that EXIF block fails."""
    picture = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = picture.getexif()
    exif[0x0132], exif[0x0112] = "2024:05:01 10:00:00", 6
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif)
    damaged = out.getvalue().replace(b"\x01\x32\x00\x02", b"\x01\x21\x00\x02", 1)
    assert damaged != out.getvalue()
    return damaged


def test_a_damaged_exif_block_does_not_stop_the_rotation(tmp_path):
    info = _probe(tmp_path, _rotated_with_damaged_exif())
    assert (info.width, info.height) == (20, 40)
    thumb = Image.open(io.BytesIO(info.thumbnail_jpeg))
    assert thumb.size[1] > thumb.size[0]


def _icon_holding(png: bytes) -> bytes:
    header = struct.pack("<HHH", 0, 1, 1)
    return header + struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 22) + png


@pytest.mark.parametrize(
    ("content", "name"),
    [
        # an icon decodes the PNG inside it while opening, before any pixel limit is read
        (_icon_holding(jpeg_bytes(size=(64, 64), fmt="PNG")), "icon.jpg"),
        (jpeg_bytes(size=(64, 64), fmt="PPM"), "netpbm.jpg"),
        (jpeg_bytes(size=(64, 64), fmt="PCX"), "paintbrush.jpg"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", "script.jpg"),
    ],
)
def test_only_the_photograph_formats_are_opened(tmp_path, content, name):
    with pytest.raises(MediaRejected, match="not an image or video this platform can read"):
        _probe(tmp_path, content, name)


@pytest.mark.parametrize(
    ("fmt", "extension"), [("BMP", ".bmp"), ("TIFF", ".tiff"), ("WEBP", ".webp")]
)
def test_the_photograph_formats_are_stored_under_their_extension(tmp_path, fmt, extension):
    assert _probe(tmp_path, jpeg_bytes(size=(64, 48), fmt=fmt)).extension == extension


@pytest.mark.parametrize("mode", ["CMYK", "L"])
def test_cmyk_and_grayscale_become_rgb_thumbnails(tmp_path, mode):
    info = _probe(tmp_path, jpeg_bytes(size=(200, 100), mode=mode))
    assert Image.open(io.BytesIO(info.thumbnail_jpeg)).mode == "RGB"


def test_png_with_alpha_is_accepted(tmp_path):
    image = Image.new("RGBA", (50, 40), (10, 20, 30, 100))
    out = io.BytesIO()
    image.save(out, "PNG")
    info = _probe(tmp_path, out.getvalue(), "a.png")
    assert info.extension == ".png" and info.width == 50


def test_truncated_jpeg_is_refused(tmp_path):
    whole = jpeg_bytes(size=(800, 600), seed=3)
    with pytest.raises(MediaRejected, match="damaged or truncated"):
        _probe(tmp_path, whole[: len(whole) // 2])


def test_a_tiff_whose_strip_offsets_are_fractions_is_refused(tmp_path):
    """Pillow fails on it with a TypeError, not one of its usual errors."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "TIFF")
    tiff = bytearray(out.getvalue())
    directory = struct.unpack_from("<I", tiff, 4)[0]
    for entry in range(struct.unpack_from("<H", tiff, directory)[0]):
        at = directory + 2 + 12 * entry
        if struct.unpack_from("<H", tiff, at)[0] == 273:  # StripOffsets, now one RATIONAL
            struct.pack_into("<HHII", tiff, at, 273, 5, 1, 8)
    with pytest.raises(MediaRejected, match="damaged or truncated"):
        _probe(tmp_path, bytes(tiff), "card.tif")


def test_text_with_image_extension_is_refused(tmp_path):
    with pytest.raises(MediaRejected, match="not an image or video"):
        _probe(tmp_path, b"this is not a photograph\n" * 20, "fake.jpg")


def test_zero_byte_file_is_refused(tmp_path):
    with pytest.raises(MediaRejected, match="empty"):
        _probe(tmp_path, b"")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    with pytest.raises(MediaRejected, match="decompression bomb"):
        _probe(tmp_path, bomb_png_bytes(), "bomb.png")


def test_corrupt_orientation_value_is_ignored(tmp_path):
    info = _probe(tmp_path, jpeg_bytes(size=(64, 48), orientation=42))
    assert (info.width, info.height) == (64, 48) and info.exif.orientation == 1


def test_video_is_probed_for_size_frames_and_thumbnail(tmp_path):
    info = _probe(tmp_path, video_bytes(tmp_path), "clip.mp4")
    assert info.kind == "video" and (info.width, info.height) == (64, 48)
    assert info.frame_count == 6 and info.thumbnail_jpeg[:2] == b"\xff\xd8"


def test_damaged_video_is_refused(tmp_path):
    head = video_bytes(tmp_path)[:40]
    with pytest.raises(MediaRejected, match="video"):
        _probe(tmp_path, head + b"\0" * 100, "bad.mp4")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024:05:01 10:00:00", dt.datetime(2024, 5, 1, 10)),
        ("2024-05-01 10:00:00", dt.datetime(2024, 5, 1, 10)),
        ("2024:05:01 10:00:00.123\x00", dt.datetime(2024, 5, 1, 10)),
        ("0000:00:00 00:00:00", None),
        ("garbage", None),
    ],
)
def test_camera_dates_are_parsed_leniently(raw, expected):
    assert parse_camera_datetime(raw) == expected


@pytest.mark.parametrize(
    ("raw", "note"),
    [
        ("2031:01:01 00:00:00", "in the future"),
        ("1970:01:01 00:00:00", "before 1990"),
        ("0000:00:00 00:00:00", "unreadable"),
        ("2020:01:01 00:00:00", ""),
    ],
)
def test_absurd_dates_are_explained(raw, note):
    reason = str(check_plausible(parse_camera_datetime(raw), raw, earliest_year=1990, now=NOW))
    assert (note in reason) if note else reason == ""


def test_future_exif_date_keeps_image_without_date(tmp_path):
    info = _probe(tmp_path, jpeg_bytes(taken="2099:01:01 00:00:00"))
    assert info.exif.taken_at is None and "future" in str(info.exif.date_note)
