"""Unpacking a zip of a camera card's folder without trusting a single entry name or size in it."""

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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
    except (
        zipfile.BadZipFile,
        OSError,
        NotImplementedError,
    ) as error:  # damaged, or a zip format too new
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
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                (destination / relative).unlink(missing_ok=True)
                damaged = gettext_noop("damaged inside the zip (%(detail)s); skipped")
                rejections.append(
                    EntryRejection(entry.filename, Worded(damaged, {"detail": str(error)}))
                )
            except (
                NotImplementedError,
                RuntimeError,
            ) as error:  # a newer zip method, or a password
                (destination / relative).unlink(missing_ok=True)
                unknown = gettext_noop(
                    "stored in a way this platform cannot unpack (%(detail)s); skipped"
                )
                rejections.append(
                    EntryRejection(entry.filename, Worded(unknown, {"detail": str(error)}))
                )
    return rejections


def _sort_entries(
    entries: list[zipfile.ZipInfo],
) -> tuple[list[tuple[zipfile.ZipInfo, PurePosixPath]], list[EntryRejection]]:
    """The entries to write (with their safe path) and the ones refused, with why."""
    wanted: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
    rejections: list[EntryRejection] = []
    for entry in entries:
        if entry.is_dir():
            continue
        relative = _safe_relative(entry.filename)
        if relative is None:
            reason = gettext_noop("unsafe path in the zip (absolute or with '..'); skipped")
        elif entry.flag_bits & 0x1:
            reason = gettext_noop("the entry is encrypted; skipped")
        else:
            reason = _skip_reason(relative)
        if reason or relative is None:  # an unsafe path always has a reason
            rejections.append(EntryRejection(entry.filename, Worded(reason)))
        else:
            wanted.append((entry, relative))
    return wanted, rejections


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
    target.parent.mkdir(parents=True, exist_ok=True)
    copied = 0
    with bundle.open(entry) as source, target.open("wb") as sink:
        while chunk := source.read(1024 * 1024):
            copied += len(chunk)
            if copied > budget:
                raise ArchiveRejected(
                    gettext_noop(
                        "the zip expands to more than the allowed size (a zip bomb?); refused"
                    )
                )
            sink.write(chunk)
    return copied
