import zipfile

import pytest

from annotation.ingest.archive import ArchiveRejected, extract_zip
from tests.factories import jpeg_bytes, zip_bytes


def _zip(tmp_path, entries):
    path = tmp_path / "card.zip"
    path.write_bytes(zip_bytes(entries))
    return path


def test_safe_entries_keep_their_folders(tmp_path):
    archive = _zip(tmp_path, {"DCIM/100/a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes(seed=1)})
    assert extract_zip(archive, tmp_path / "out", max_total_bytes=10**7) == []
    assert (tmp_path / "out/DCIM/100/a.jpg").is_file() and (tmp_path / "out/b.jpg").is_file()


@pytest.mark.parametrize(
    "name", ["../evil.jpg", "a/../../evil.jpg", "/etc/evil.jpg", "C:/evil.jpg", "..\\evil.jpg"]
)
def test_entries_escaping_the_folder_are_refused(tmp_path, name):
    archive = _zip(tmp_path, {name: b"x", "ok.jpg": jpeg_bytes()})
    rejections = extract_zip(archive, tmp_path / "out", max_total_bytes=10**7)
    assert [r.name for r in rejections] == [name] and "unsafe path" in str(rejections[0].reason)
    assert not (tmp_path / "evil.jpg").exists() and (tmp_path / "out/ok.jpg").exists()


def test_macos_metadata_is_reported_not_imported(tmp_path):
    archive = _zip(tmp_path, {"__MACOSX/._a.jpg": b"x", "a.jpg": jpeg_bytes()})
    rejections = extract_zip(archive, tmp_path / "out", max_total_bytes=10**7)
    assert len(rejections) == 1 and "macOS" in str(rejections[0].reason)


def test_zip_bomb_stops_at_the_byte_cap(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("zeros.jpg", b"\0" * 5_000_000)
    with pytest.raises(ArchiveRejected, match="zip bomb"):
        extract_zip(path, tmp_path / "out", max_total_bytes=1_000_000)


def test_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "fake.zip"
    path.write_bytes(b"PK\x03\x04 but not really")
    with pytest.raises(ArchiveRejected, match="cannot be read"):
        extract_zip(path, tmp_path / "out", max_total_bytes=10**6)


def test_a_zip_in_a_format_too_new_is_refused_with_the_reason(tmp_path):
    """Zip 6.4 (say, a newer archiver's strong encryption): Python's zipfile
    raises NotImplementedError."""
    data = bytearray(zip_bytes({"a.jpg": jpeg_bytes()}))
    data[data.find(b"PK\x01\x02") + 6] = 64  # "made by" version 6.4 in the central directory
    archive = tmp_path / "new.zip"
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveRejected, match="zip file version 6.4"):
        extract_zip(archive, tmp_path / "out", max_total_bytes=10**9)


@pytest.mark.parametrize("order", ["folder first", "file first"])
def test_a_file_and_a_folder_of_one_name_keep_the_first_and_refuse_the_second(tmp_path, order):
    entries = {"DCIM/a.jpg": jpeg_bytes(), "DCIM": b"notes"}
    if order == "file first":
        entries = dict(reversed(entries.items()))
    rejections = extract_zip(_zip(tmp_path, entries), tmp_path / "out", max_total_bytes=10**7)
    first, second = entries
    assert [r.name for r in rejections] == [second] and "the first is kept" in str(
        rejections[0].reason
    )
    assert (tmp_path / "out" / first).is_file()


def test_a_damaged_entry_named_like_a_folder_leaves_the_folder_and_its_photos(tmp_path):
    """Found by the fuzz test: a central directory naming 'DCIM<NUL>notes.txt' (zipfile cuts the
    name at the NUL, so the entry's target was the folder 'DCIM') raised instead of skipping it."""
    data = bytearray(zip_bytes({"DCIM/a.jpg": jpeg_bytes(), "DCIM/notes.txt": b"notes"}))
    central = data.rfind(b"DCIM/notes.txt")
    data[central + 4] = 0
    archive = tmp_path / "card.zip"
    archive.write_bytes(bytes(data))
    rejections = extract_zip(archive, tmp_path / "out", max_total_bytes=10**7)
    assert [r.name for r in rejections] == ["DCIM"] and "NUL" in str(rejections[0].reason)
    assert [p.name for p in (tmp_path / "out").rglob("*")] == ["DCIM", "a.jpg"]


def test_an_entry_the_disk_refuses_is_skipped_without_naming_the_servers_folders(tmp_path):
    archive = _zip(tmp_path, {"x" * 300 + ".jpg": jpeg_bytes(), "ok.jpg": jpeg_bytes()})
    rejections = extract_zip(archive, tmp_path / "out", max_total_bytes=10**7)
    assert len(rejections) == 1 and "File name too long" in str(rejections[0].reason)
    assert str(tmp_path) not in str(rejections[0].reason) and (tmp_path / "out/ok.jpg").is_file()


def _utf8_name_that_is_not(data: bytearray, header: bytes, flags_at: int, name_at: int) -> None:
    """Flag the first entry's name as UTF-8 in this header and make its first byte invalid UTF-8."""
    start = data.find(header)
    data[start + flags_at + 1] |= 0x08  # bit 11 of the general purpose flags
    data[start + name_at] = 0x80


def test_an_entry_whose_utf8_name_is_not_is_skipped_as_damaged(tmp_path):
    """Found by the fuzz test: the local header's name flagged UTF-8 but undecodable raised."""
    data = bytearray(zip_bytes({"a.jpg": jpeg_bytes(), "b.jpg": jpeg_bytes(seed=1)}))
    _utf8_name_that_is_not(data, b"PK\x03\x04", flags_at=6, name_at=30)
    archive = tmp_path / "card.zip"
    archive.write_bytes(bytes(data))
    rejections = extract_zip(archive, tmp_path / "out", max_total_bytes=10**7)
    assert [r.name for r in rejections] == ["a.jpg"] and "damaged" in str(rejections[0].reason)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["b.jpg"]


def test_a_directory_whose_utf8_name_is_not_refuses_the_archive(tmp_path):
    data = bytearray(zip_bytes({"a.jpg": jpeg_bytes()}))
    _utf8_name_that_is_not(data, b"PK\x01\x02", flags_at=8, name_at=46)
    archive = tmp_path / "card.zip"
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveRejected, match="cannot be read"):
        extract_zip(archive, tmp_path / "out", max_total_bytes=10**7)


def test_deflated_data_the_decompressor_refuses_is_skipped_as_damaged(tmp_path):
    path = tmp_path / "card.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("a.jpg", jpeg_bytes())
        bundle.writestr("b.jpg", jpeg_bytes(seed=1))
    data = bytearray(path.read_bytes())
    data[30 + len("a.jpg")] = 0xFF  # the first deflate block header: a reserved block type
    path.write_bytes(bytes(data))
    rejections = extract_zip(path, tmp_path / "out", max_total_bytes=10**7)
    assert [r.name for r in rejections] == ["a.jpg"] and "damaged" in str(rejections[0].reason)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["b.jpg"]


@pytest.mark.parametrize(("first", "second"), [("a.jpg", "./a.jpg"), ("b/c.jpg", "b//c.jpg")])
def test_a_second_entry_of_the_same_name_never_replaces_the_first(tmp_path, first, second):
    path = tmp_path / "card.zip"
    with zipfile.ZipFile(path, "w") as bundle:  # a dict of entries could not hold both names
        bundle.writestr(first, jpeg_bytes(seed=1))
        bundle.writestr(second, b"not a photo")
    rejections = extract_zip(path, tmp_path / "out", max_total_bytes=10**7)
    assert [r.name for r in rejections] == [second]
    assert "same name came earlier" in str(rejections[0].reason)
    assert (tmp_path / "out" / first).read_bytes() == jpeg_bytes(seed=1)
