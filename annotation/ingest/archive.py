"""Unpacking a zip of a camera card's folder without trusting a single entry name or size in it."""
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class ArchiveRejected(Exception):
    """The whole archive is refused; the message says why."""

    http_status = 400


@dataclass(frozen=True)
class EntryRejection:
    name: str
    reason: str


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
        return "macOS resource-fork file, not a photograph"
    return ""


def extract_zip(archive: Path, destination: Path, *, max_total_bytes: int) -> list[EntryRejection]:
    """Extract every safe entry under `destination`; return what was refused and why.

    Sizes are counted as bytes are written, not as the archive declares them, so a zip bomb stops at the cap.
    """
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise ArchiveRejected(f"the zip archive cannot be read ({error})") from None
    rejections: list[EntryRejection] = []
    written = 0
    with bundle:
        for entry in bundle.infolist():
            if entry.is_dir():
                continue
            relative = _safe_relative(entry.filename)
            if relative is None:
                reason = "unsafe path in the zip (absolute or with '..'); skipped"
                rejections.append(EntryRejection(entry.filename, reason))
                continue
            if reason := _skip_reason(relative):
                rejections.append(EntryRejection(entry.filename, reason))
                continue
            if entry.flag_bits & 0x1:
                rejections.append(EntryRejection(entry.filename, "the entry is encrypted; skipped"))
                continue
            try:
                written += _extract_entry(bundle, entry, destination / relative, max_total_bytes - written)
            except (zipfile.BadZipFile, OSError, EOFError) as error:
                (destination / relative).unlink(missing_ok=True)
                rejections.append(EntryRejection(entry.filename, f"damaged inside the zip ({error}); skipped"))
    return rejections


def _extract_entry(bundle: zipfile.ZipFile, entry: zipfile.ZipInfo, target: Path, budget: int) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    copied = 0
    with bundle.open(entry) as source, target.open("wb") as sink:
        while chunk := source.read(1024 * 1024):
            copied += len(chunk)
            if copied > budget:
                raise ArchiveRejected("the zip expands to more than the allowed size (a zip bomb?); refused")
            sink.write(chunk)
    return copied
