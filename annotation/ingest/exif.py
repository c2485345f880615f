"""EXIF fields the pool keeps: when, which camera, which way up. Camera EXIF is often wrong; never
trust it blindly."""

import datetime as dt
from dataclasses import dataclass

from PIL import Image

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_DATETIME = 0x0132
_MAKE = 0x010F
_MODEL = 0x0110
_ORIENTATION = 0x0112
_FORMATS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class ExifFacts:
    raw_datetime: str = ""
    taken_at: dt.datetime | None = None  # naive camera time
    date_note: str = ""
    camera_make: str = ""
    camera_model: str = ""
    orientation: int = 1


def parse_camera_datetime(raw: str) -> dt.datetime | None:
    """Camera dates come as 'YYYY:MM:DD HH:MM:SS', sometimes with dashes, fractions or
    NUL padding."""
    text = raw.replace("\x00", "").strip()[:19]
    for fmt in _FORMATS:
        try:
            return dt.datetime.strptime(text, fmt)  # noqa: DTZ007 camera clocks carry no zone
        except ValueError:
            continue
    return None


def check_plausible(
    taken: dt.datetime | None,
    raw: str,
    *,
    earliest_year: int,
    now: dt.datetime,
    source: str = "EXIF date",
) -> str:
    """Return why a camera date cannot be used, or '' when it is plausible. A date outside the
    plausible years (a reset clock's year 1, an index's 9999) is no date at all: sequences and clock
    offsets would overflow."""
    if not raw:
        return ""
    if taken is None:
        return f"{source} {raw.strip()!r} is unreadable; the image is kept without a date"
    shown = taken.isoformat(sep=" ")
    if taken.year < earliest_year:
        return f"{source} {shown} is before {earliest_year}; the image is kept without a date"
    if taken > now + dt.timedelta(days=1):
        return f"{source} {shown} is in the future; the image is kept without a date"
    return ""


def _text(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="ignore")
    return str(value).replace("\x00", "").strip()[:100] if value is not None else ""


def read_exif(image: Image.Image, *, earliest_year: int, now: dt.datetime) -> ExifFacts:
    try:
        exif = image.getexif()
        sub = exif.get_ifd(_EXIF_IFD)
    # corrupt EXIF blocks raise many kinds of errors; the pixels may still be fine
    except Exception:  # noqa: BLE001
        return ExifFacts(date_note="EXIF block is corrupt; the image is kept without a date")
    raw = _text(
        sub.get(_DATETIME_ORIGINAL) or sub.get(_DATETIME_DIGITIZED) or exif.get(_DATETIME) or ""
    )
    taken = parse_camera_datetime(raw) if raw else None
    note = check_plausible(taken, raw, earliest_year=earliest_year, now=now)
    orientation = exif.get(_ORIENTATION, 1)
    return ExifFacts(
        raw_datetime=raw,
        taken_at=None if note else taken,
        date_note=note,
        camera_make=_text(exif.get(_MAKE)),
        camera_model=_text(exif.get(_MODEL)),
        orientation=orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1,
    )
