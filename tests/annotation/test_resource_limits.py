"""Limits a small file must not defeat: pixels judged from the header before decoding, zips bounded
by size."""

import io
import struct
import zipfile

import pytest
from django.core.exceptions import ImproperlyConfigured
from PIL import Image, ImageFile

from annotation.ingest import archive
from annotation.ingest.archive import ArchiveRejected, expansion_budget, extract_zip
from annotation.ingest.media import MediaRejected, probe
from annotation.models import BatchItem
from annotation.models import Image as PoolImage
from annotation.services.ingest import media_limits
from faune_platform.settings.env import env_float
from tests.factories import bomb_png_bytes, jpeg_bytes, upload

# 119 MP: under Pillow's own refusal (179 MP) and the old 120 MP default; no camera trap's frame
SIDE = 10_900


def _webp_declaring(width: int, height: int) -> bytes:
    """A real lossless WebP whose header says width x height: opening it must not allocate
    that canvas."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "WEBP", lossless=True)
    data = bytearray(out.getvalue())
    start = data.index(b"VP8L") + 9  # after the chunk header and the 0x2f signature byte
    bits = struct.unpack("<I", data[start : start + 4])[0] & ~((1 << 28) - 1)
    data[start : start + 4] = struct.pack("<I", bits | (width - 1) | (height - 1) << 14)
    return bytes(data)


def _tiff_declaring(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (width, height)).save(
        out, "TIFF", compression="group4"
    )  # 1 bit a pixel, compresses to KB
    return out.getvalue()


def test_the_default_pixel_limit_fits_camera_traps(settings):
    assert 24_000_000 < settings.FAUNE["MAX_IMAGE_PIXELS"] <= 50_000_000


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("huge.png", lambda: bomb_png_bytes(SIDE, SIDE)),
        ("huge.webp", lambda: _webp_declaring(SIDE, SIDE)),
        ("huge.tif", lambda: _tiff_declaring(SIDE, SIDE)),
    ],
)
def test_oversized_images_are_refused_from_the_header_before_any_decoding(
    tmp_path, monkeypatch, name, content
):
    path = tmp_path / name
    path.write_bytes(content())
    assert path.stat().st_size < 600_000
    monkeypatch.setattr(
        ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded before the check")
    )
    with pytest.raises(MediaRejected, match="over the limit of 50,000,000"):
        probe(path, media_limits())


def test_camera_sized_images_still_go_in(tmp_path):
    path = tmp_path / "trap.jpg"
    path.write_bytes(jpeg_bytes(size=(6000, 4000)))  # 24 MP, the largest common trap frame
    assert probe(path, media_limits()).width == 6000


def _zeros_zip(tmp_path, size: int, name: str = "zeros.jpg"):
    path = tmp_path / "card.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(name, b"\0" * size)
    return path


def test_the_expansion_budget_follows_the_archive_size(tmp_path):
    path = _zeros_zip(tmp_path, 1000)
    size = path.stat().st_size
    assert (
        expansion_budget(path, max_total_bytes=10**12, max_ratio=10)
        == 10 * size + archive.INDEX_ALLOWANCE_BYTES
    )
    assert expansion_budget(path, max_total_bytes=5000, max_ratio=10) == 5000
    assert expansion_budget(path, max_total_bytes=5000, max_ratio=None) == 5000


def test_a_zip_declaring_more_than_its_ratio_is_refused_before_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "INDEX_ALLOWANCE_BYTES", 1000)
    path = _zeros_zip(tmp_path, 2_000_000)
    assert path.stat().st_size < 10_000
    with pytest.raises(ArchiveRejected, match="says it expands to 2,000,000 bytes"):
        extract_zip(path, tmp_path / "out", max_total_bytes=20 * 1024**3, max_ratio=10)
    assert not (tmp_path / "out").exists()


def test_bytes_written_are_counted_even_when_the_declared_sizes_passed(tmp_path, monkeypatch):
    """Declared sizes can lie: as if they had passed the check, the bytes written still stop at
    the budget."""
    path = _zeros_zip(tmp_path, 3_000_000)
    monkeypatch.setattr(archive, "_refuse_declared_excess", lambda wanted, budget: None)
    with pytest.raises(ArchiveRejected, match="zip bomb"):
        extract_zip(path, tmp_path / "out", max_total_bytes=1_000_000)


def test_an_uploaded_zip_bomb_is_one_refused_line(api, settings, monkeypatch):
    monkeypatch.setattr(archive, "INDEX_ALLOWANCE_BYTES", 1000)
    settings.FAUNE = {**settings.FAUNE, "MAX_ZIP_RATIO": 10.0}
    content = io.BytesIO()
    with zipfile.ZipFile(content, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("a.jpg", jpeg_bytes(seed=1))
        bundle.writestr("zeros.jpg", b"\0" * 2_000_000)
    response = api.post(
        "/api/images/",
        {"files": [upload("card.zip", content.getvalue(), "application/zip")]},
        format="multipart",
    )
    assert response.status_code == 400 and "zip bomb" in response.json()["detail"]
    assert not PoolImage.objects.exists() and BatchItem.objects.get().name == "card.zip"


def test_ratio_setting_is_read_through_the_typed_helper(monkeypatch):
    monkeypatch.setenv("FAUNE_MAX_ZIP_RATIO", "0.5")
    with pytest.raises(ImproperlyConfigured, match="at least 1.0"):
        env_float("FAUNE_MAX_ZIP_RATIO", 10.0, minimum=1.0)
    monkeypatch.setenv("FAUNE_MAX_ZIP_RATIO", "nan")
    with pytest.raises(ImproperlyConfigured, match="finite"):
        env_float("FAUNE_MAX_ZIP_RATIO", 10.0, minimum=1.0)
