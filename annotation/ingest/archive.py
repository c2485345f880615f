"""Unpacking a zip of a camera card's folder without trusting a single entry name or size in it."""

import lzma
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from faune_platform.errors import InputRefused, Worded, gettext_noop


class ArchiveRejected(InputRefused):
    """The whole archive is refused; the message (a catalogue message and its values) says why."""


@dataclass(frozen=True)
class EntryRejection:
    """One entry left out, and why."""

    name: str
    reason: Worded


def _safe_relative(name: str) -> PurePosixPath | None:
    """The entry's path inside the destination, or None when it could escape it."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        return None
    path = PurePosixPath(normalised)
    if any(part == ".." for part in path.parts):
        return None
    return path


def _skip_reason(path: PurePosixPath) -> str:
    if path.parts and path.parts[0] == "__MACOSX" or path.name.startswith("._"):
        return gettext_noop("macOS resource-fork file, not a photograph")
    return ""


# Camera-trap media barely compresses, but index files (a COCO JSON, a CSV of labels) do: this much
# on top of `max_ratio` x the archive's size lets a small archive carry a large index.
INDEX_ALLOWANCE_BYTES = 64 * 1024**2


def expansion_budget(archive: Path, *, max_total_bytes: int, max_ratio: float | None) -> int:
    """How many bytes the archive may write once unpacked."""
    if max_ratio is None:
        return max_total_bytes
    return min(max_total_bytes, int(max_ratio * archive.stat().st_size) + INDEX_ALLOWANCE_BYTES)


# What reading a damaged zip raises: its own error, truncation, a name flagged UTF-8 that is not, or
# compressed data its decompressor refuses.
DAMAGED = (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, zlib.error, lzma.LZMAError)


def extract_zip(
    archive: Path, destination: Path, *, max_total_bytes: int, max_ratio: float | None = None
) -> list[EntryRejection]:
    """Extract every safe entry under `destination`; return what was refused and why.

    The archive may write at most `expansion_budget` bytes. It is refused before anything is written
    when the sizes it declares already say more, and bytes are counted as they are written too,
    since declared sizes can lie: a zip bomb stops at the budget either way.
    """
    try:
        bundle = zipfile.ZipFile(archive)
    except (*DAMAGED, NotImplementedError) as error:  # damaged, or a zip format too new
        raise ArchiveRejected(
            gettext_noop("the zip archive cannot be read (%(detail)s)"), detail=str(error)
        ) from None
    budget = expansion_budget(archive, max_total_bytes=max_total_bytes, max_ratio=max_ratio)
    with bundle:
        wanted, rejections = _sort_entries(bundle.infolist())
        _refuse_declared_excess(wanted, budget)
        written = 0
        for entry, relative in wanted:
            try:
                written += _extract_entry(bundle, entry, destination / relative, budget - written)
            except DAMAGED as error:
                damaged = gettext_noop("damaged inside the zip (%(detail)s); skipped")
                rejections.append(
                    EntryRejection(entry.filename, Worded(damaged, {"detail": _detail(error)}))
                )
            except (
                NotImplementedError,
                RuntimeError,
            ) as error:  # a newer zip method, or a password
                unknown = gettext_noop(
                    "stored in a way this platform cannot unpack (%(detail)s); skipped"
                )
                rejections.append(
                    EntryRejection(entry.filename, Worded(unknown, {"detail": str(error)}))
                )
    return rejections


def _detail(error: Exception) -> str:
    """What went wrong, for the partner: an OSError's text names the path on the server, so only
    its reason ("File name too long") is shown."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


def _sort_entries(
    entries: list[zipfile.ZipInfo],
) -> tuple[list[tuple[zipfile.ZipInfo, PurePosixPath]], list[EntryRejection]]:
    """The entries to write (with their safe path) and the ones refused, with why."""
    wanted: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    rejections: list[EntryRejection] = []
    files: set[PurePosixPath] = set()
    folders: set[PurePosixPath] = set()
    for entry in entries:
        if entry.is_dir():
            continue
        relative = _safe_relative(entry.filename)
        reason = _refusal(entry, relative, files, folders)
        if reason or relative is None:  # an unsafe path always has a reason
            rejections.append(EntryRejection(entry.filename, Worded(reason)))
            continue
        wanted.append((entry, relative))
        files.add(relative)
        folders.update(relative.parents)
    return wanted, rejections


def _refusal(
    entry: zipfile.ZipInfo,
    relative: PurePosixPath | None,
    files: set[PurePosixPath],
    folders: set[PurePosixPath],
) -> str:
    """Why an entry is left out ("" when it is not), given the files and folders the entries
    before it make."""
    if relative is None:
        return gettext_noop("unsafe path in the zip (absolute or with '..'); skipped")
    if "\x00" in entry.orig_filename:  # zipfile cuts the name there: it could land anywhere
        return gettext_noop("the entry's name holds a NUL character; skipped")
    if entry.flag_bits & 0x1:
        return gettext_noop("the entry is encrypted; skipped")
    if relative in folders or not files.isdisjoint(relative.parents):
        return gettext_noop(
            "a file and a folder of the same name in the zip: the first is kept; skipped"
        )
    # "a.jpg" and "./a.jpg", or one name twice: the second would overwrite the first on disk
    if relative in files:
        return gettext_noop("a file of the same name came earlier in the zip: it is kept; skipped")
    return _skip_reason(relative)


def _refuse_declared_excess(
    wanted: list[tuple[zipfile.ZipInfo, PurePosixPath]], budget: int
) -> None:
    declared = sum(entry.file_size for entry, _ in wanted)
    if declared > budget:
        raise ArchiveRejected(
            gettext_noop(
                "the zip says it expands to %(declared)s bytes, more than the %(budget)s allowed "
                "for an archive of its size (photos barely compress: a zip bomb?); refused"
            ),
            declared=f"{declared:,}",
            budget=f"{budget:,}",
        )


def _extract_entry(
    bundle: zipfile.ZipFile, entry: zipfile.ZipInfo, target: Path, budget: int
) -> int:
    """Write one entry; on failure remove what it wrote and nothing else (the folder or file of
    that name another entry made stays)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with bundle.open(entry) as source, target.open("wb") as sink:
        try:
            return _copy_within(source, sink, budget)
        except BaseException:
            target.unlink()
            raise


def _copy_within(source: IO[bytes], sink: IO[bytes], budget: int) -> int:
    copied = 0
    while chunk := source.read(1024 * 1024):
        copied += len(chunk)
        if copied > budget:
            raise ArchiveRejected(
                gettext_noop("the zip expands to more than the allowed size (a zip bomb?); refused")
            )
        sink.write(chunk)
    return copied
