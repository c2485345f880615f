"""Files an export appends to across chunks, and the download of a folder as a zip stream.

A chunk appends rows, then records every file's byte length with its cursor; a chunk run again
after a killed worker first cuts each file back to the recorded length, so no row is written twice
or half."""

import csv
import io
import json
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

NO_COMPRESSION = {".jpg", ".jpeg", ".png", ".mp4", ".avi", ".mov", ".m4v", ".webp", ".zip", ".xlsx"}


def lengths(folder: Path, names: Iterable[str]) -> dict[str, int]:
    """The byte length of each file (0 when it does not exist yet)."""
    return {
        name: (folder / name).stat().st_size if (folder / name).exists() else 0 for name in names
    }


def rewind(folder: Path, recorded: dict[str, int]) -> None:
    """Cut every file back to its recorded length (creating it empty when it is missing)."""
    for name, length in recorded.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as handle:
            handle.truncate(length)


def append_csv(
    path: Path, columns: list[str], rows: Iterable[dict[str, Any]], *, header: bool = False
) -> int:
    """Append rows (missing columns left empty); write the header first when asked. Returns
    rows written."""
    written = 0
    with path.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=columns, extrasaction="ignore", lineterminator="\n"
        )
        if header:
            writer.writeheader()
        for row in rows:
            writer.writerow(row)
            written += 1
    return written


def append_jsonl(path: Path, items: Iterable[object]) -> int:
    written = 0
    with path.open("a", encoding="utf-8") as handle:
        for item in items:
            handle.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
            written += 1
    return written


def write_json_with_arrays(path: Path, head: dict[str, Any], arrays: dict[str, Path]) -> None:
    """Write `head` as a JSON object whose listed keys are arrays read line by line from
    JSONL files, without holding them in memory (a pool's COCO file can be larger than the
    worker's memory)."""
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8") as out:
        out.write("{")
        first = True
        for key, value in head.items():
            out.write(
                ("" if first else ",\n")
                + json.dumps(key)
                + ": "
                + json.dumps(value, ensure_ascii=False)
            )
            first = False
        for key, source in arrays.items():
            out.write(("" if first else ",\n") + json.dumps(key) + ": [")
            first = False
            with source.open(encoding="utf-8") as lines:
                for number, line in enumerate(lines):
                    out.write(("\n" if number == 0 else ",\n") + line.rstrip("\n"))
            out.write("\n]")
        out.write("}\n")
    os.replace(tmp, path)


class ZipSink(io.RawIOBase):
    """A write-only, unseekable stream whose bytes are collected for a generator to hand out as
    they come (zipfile then writes data descriptors after each member instead of seeking back)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: "ReadableBuffer") -> int:
        chunk = bytes(data)
        self.chunks.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def zip_stream(folder: Path, *, skip: Iterable[str] = (), block: int = 1 << 20) -> Iterator[bytes]:
    """A zip of every file under `folder` (paths relative to it, sorted), produced while it is
    sent: nothing is written to disk and memory stays at about one block. Photographs are stored,
    text is deflated."""
    pipe, skipped = ZipSink(), set(skip)
    with zipfile.ZipFile(pipe, "w", allowZip64=True) as bundle:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            if name in skipped:
                continue
            method = (
                zipfile.ZIP_STORED
                if path.suffix.lower() in NO_COMPRESSION
                else zipfile.ZIP_DEFLATED
            )
            info = zipfile.ZipInfo.from_file(path, name)
            info.compress_type = method
            with path.open("rb") as source, bundle.open(info, "w", force_zip64=True) as target:
                while data := source.read(block):
                    target.write(data)
                    yield pipe.take()
            yield pipe.take()
    yield pipe.take()
