"""EXIF fields the pool keeps: when, which camera, which way up. Camera EXIF is often wrong; never
trust it blindly."""

import datetime as dt
from dataclasses import dataclass, field

from PIL import Image

from faune_platform.errors import Catalogued, Worded, gettext_noop

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_DATETIME = 0x0132
_MAKE = 0x010F
_MODEL = 0x0110
_ORIENTATION = 0x0112
# where a date came from, in a note about it
EXIF_DATE = gettext_noop("EXIF date")
IMPORT_DATE = gettext_noop("the import's date")
_FORMATS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class ExifFacts:
    raw_datetime: str = ""
    taken_at: dt.datetime | None = None  # naive camera time
    date_note: Worded = field(default_factory=Worded)  # why the date is not used
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
    source: str = EXIF_DATE,
) -> Worded:
    """Why a camera date cannot be used; empty when it is plausible. A date outside the
    plausible years (a reset clock's year 1, an index's 9999) is no date at all: sequences and clock
    offsets would overflow."""
    if not raw:
        return Worded()
    said = Catalogued(source)
    if taken is None:
        unreadable = gettext_noop(
            "%(source)s %(raw)s is unreadable; the image is kept without a date"
        )
        return Worded(unreadable, {"source": said, "raw": repr(raw.strip())})
    shown = taken.isoformat(sep=" ")
    if taken.year < earliest_year:
        early = gettext_noop(
            "%(source)s %(date)s is before %(year)s; the image is kept without a date"
        )
        return Worded(early, {"source": said, "date": shown, "year": earliest_year})
    if taken > now + dt.timedelta(days=1):
        future = gettext_noop(
            "%(source)s %(date)s is in the future; the image is kept without a date"
        )
        return Worded(future, {"source": said, "date": shown})
    return Worded()


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
        corrupt = gettext_noop("EXIF block is corrupt; the image is kept without a date")
        return ExifFacts(date_note=Worded(corrupt))
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
