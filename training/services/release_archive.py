"""A release as one zip archive, written while it is sent: weights can weigh gigabytes, so nothing
is staged on disk and memory holds one block at a time. The archive holds exactly the release's
listed files and SHA256SUMS, under a folder named after the release."""

import zipfile
from collections.abc import Iterator
from pathlib import Path

from inference.engine.exports.files import ZipSink
from training.models import Release

BLOCK = 1 << 20
COMPRESSED = (".md", ".json", ".txt", "SHA256SUMS")  # text compresses; weights and PNGs barely do


def archive_name(release: Release) -> str:
    return f"faune-{release.semver}.zip"


def release_archive(release: Release, *, folder: Path) -> Iterator[bytes]:
    sink, top = ZipSink(), f"faune-{release.semver}"
    stamp = release.created_at.timetuple()[:6]
    with zipfile.ZipFile(sink, "w") as archive:
        for name in [*release.files, "SHA256SUMS"]:
            path = folder / name
            info = zipfile.ZipInfo(f"{top}/{name}", date_time=stamp)
            info.compress_type = (
                zipfile.ZIP_DEFLATED if name.endswith(COMPRESSED) else zipfile.ZIP_STORED
            )
            info.file_size = (
                path.stat().st_size
            )  # lets zipfile choose 64-bit sizes for members past 2 GiB
            with path.open("rb") as source, archive.open(info, "w") as target:
                while block := source.read(BLOCK):
                    target.write(block)
                    yield sink.take()
            yield sink.take()
    yield sink.take()
