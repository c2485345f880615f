"""Calendar periods for figures over time: which unit suits a span, where a period starts, every
period between two moments. The database groups rows by the same starts (Trunc), so the two meet
exactly; periods with no rows are filled in here, so a curve never skips a quiet week."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

UNITS = ("day", "week", "month")  # Django's Trunc kinds, finest first
DAYS_BY_DAY = 45  # a span up to this many days is shown day by day
DAYS_BY_WEEK = 2 * 366  # then week by week up to about two years, then month by month


@dataclass(frozen=True)
class Timeline:
    """Counts per period for several keys (a taxon, an expert): `values[key][i]` belongs
    to `periods[i]`."""

    unit: str
    periods: list[datetime]
    values: dict[int, list[int]]


def period_unit(first: datetime, last: datetime) -> str:
    """The coarsest unit that still shows the shape: about 45 to 100 points at most."""
    days = (last - first).days
    if days <= DAYS_BY_DAY:
        return "day"
    return "week" if days <= DAYS_BY_WEEK else "month"


def period_start(moment: datetime, unit: str) -> datetime:
    """The start of the period holding `moment`, in UTC (weeks start on Monday, as the
    databases truncate)."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if unit == "month" else day


def periods_between(first: datetime, last: datetime, unit: str) -> list[datetime]:
    """Every period start from the one holding `first` to the one holding `last`, both included."""
    current, end, found = period_start(first, unit), period_start(last, unit), []
    while current <= end:
        found.append(current)
        current = _next(current, unit)
    return found


def _next(start: datetime, unit: str) -> datetime:
    if unit == "month":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return start + timedelta(days=7 if unit == "week" else 1)


def timeline(
    rows: list[tuple[datetime, int, int]],
    periods: list[datetime],
    unit: str,
    *,
    cumulative: bool = False,
) -> Timeline:
    """A Timeline from database rows (period start, key, count), zero where a key had no row;
    `cumulative` sums each key's counts up to and including each period (a pool's size rather than
    its growth)."""
    position = {start: index for index, start in enumerate(periods)}
    values: dict[int, list[int]] = {}
    for start, key, count in rows:
        values.setdefault(key, [0] * len(periods))[position[period_start(start, unit)]] += count
    if cumulative:
        values = {key: _running_sum(counts) for key, counts in values.items()}
    return Timeline(unit, periods, values)


def _running_sum(counts: list[int]) -> list[int]:
    total, sums = 0, []
    for count in counts:
        total += count
        sums.append(total)
    return sums
