"""Chart layouts and calendar periods of the dashboard, without a database: round ticks, labels that
never overlap, styles told apart without colour, periods that meet the database's truncation."""

import datetime as dt
import itertools

import pytest

from faune_platform.dashboard.charts import (
    FONT,
    BarSeries,
    Point,
    Series,
    Style,
    bar_chart,
    nice_ticks,
    series_style,
    text_width,
    xy_chart,
)
from faune_platform.periods import period_start, period_unit, periods_between, timeline

UTC = dt.UTC


def _box(text) -> tuple[float, float, float, float]:
    width = text_width(text.text)
    left = {"start": text.x, "middle": text.x - width / 2, "end": text.x - width}[text.anchor]
    return left, text.y - 0.8 * FONT, left + width, text.y + 0.25 * FONT


def _apart(boxes) -> bool:
    return not any(
        a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
        for a, b in itertools.combinations(boxes, 2)
    )


@pytest.mark.parametrize(
    ("top", "integer", "expected"),
    [
        (7, True, [0, 2, 4, 6, 8]),
        (3, True, [0, 1, 2, 3]),
        (1, False, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (123456, True, [0, 50000, 100000, 150000]),
        (0, True, [0, 1]),
        (0.74, False, [0, 0.2, 0.4, 0.6, 0.8]),
    ],
)
def test_ticks_are_round_and_cover_the_data(top, integer, expected):
    assert nice_ticks(top, integer=integer) == expected


def test_series_are_told_apart_by_more_than_colour():
    styles = [series_style(i) for i in range(7)] + [series_style(7, other=True)]
    assert len({s.colour for s in styles}) == 8
    assert (
        len({s.dash for s in styles}) == 8
    )  # a reader who cannot tell two colours apart still can by dashes


def test_bar_labels_never_overlap_and_stay_in_the_chart():
    names = [
        "red deer",
        "Office français de la biodiversité, délégation Auvergne-Rhône-Alpes",
        "fox",
        "x",
    ]
    series = [
        BarSeries(name, values, "#000", [f"{v:,}" for v in values], [""] * 4)
        for name, values in (("a", [5, 1_234_567, 0, 3]), ("b", [2, 999_999, 0, 1]))
    ]
    chart = bar_chart(names, series, x_title="images")
    texts = chart.categories + [bar.value for bar in chart.bars]
    assert _apart([_box(t) for t in texts])
    for text in texts:
        left, top, right, bottom = _box(text)
        assert (
            0 <= left and right <= chart.frame.width and 0 <= top and bottom <= chart.frame.height
        )
    assert chart.categories[1].text.endswith("…") and chart.categories[1].tip == names[1]
    widest = max(chart.bars, key=lambda bar: bar.width)
    assert widest.x + widest.width <= chart.frame.right  # the longest bar stays inside its axis


def test_tick_labels_of_a_long_period_axis_are_thinned_apart():
    labels = [(i, f"2025-01-{i + 1:02d}") for i in range(31)]
    chart = xy_chart(
        [Series("a", [Point(i, i * 3, "") for i in range(31)], series_style(0))],
        x_title="day",
        y_title="n",
        x_ticks=labels,
    )
    ticks = chart.x_ticks
    assert 3 <= len(ticks) < 31
    gaps = [b.at - a.at for a, b in itertools.pairwise(ticks)]
    assert min(gaps) > text_width("2025-01-01")
    assert (
        ticks[0].at - text_width("2025-01-01") / 2 >= 0
        and ticks[-1].at + text_width("2025-01-01") / 2 <= 560
    )


def test_point_labels_keep_clear_of_each_other_and_of_the_frame():
    points = [Point(100 + i, 0.5 + (i % 3) / 100, "", f"round-{i}") for i in range(12)]  # crowded
    chart = xy_chart(
        [Series("v", points, series_style(0))],
        x_title="labels",
        y_title="F1",
        y_top=1,
        y_integer=False,
    )
    assert 1 <= len(chart.labels) < 12  # some fit, the rest are left to the tooltips and the table
    boxes = [_box(t) for t in chart.labels]
    assert _apart(boxes)
    frame = chart.frame
    assert all(
        frame.left < b[0] and b[2] < frame.right and frame.top <= b[1] and b[3] < frame.bottom
        for b in boxes
    )


def test_a_single_point_sits_in_the_middle():
    chart = xy_chart(
        [Series("v", [Point(5, 2, "")], Style("#000"))],
        x_title="x",
        y_title="y",
        x_ticks=[(5, "a")],
    )
    mark = chart.series[0].marks[0]
    assert mark.x == pytest.approx((chart.frame.left + chart.frame.right) / 2, abs=0.1)
    assert chart.series[0].line == ""


def test_period_units_follow_the_span():
    start = dt.datetime(2025, 1, 1, tzinfo=UTC)
    assert period_unit(start, start + dt.timedelta(days=30)) == "day"
    assert period_unit(start, start + dt.timedelta(days=300)) == "week"
    assert period_unit(start, start + dt.timedelta(days=1000)) == "month"


def test_periods_cross_months_and_years():
    first, last = dt.datetime(2024, 11, 20, 13, tzinfo=UTC), dt.datetime(2025, 2, 3, tzinfo=UTC)
    months = periods_between(first, last, "month")
    assert [p.strftime("%Y-%m-%d") for p in months] == [
        "2024-11-01",
        "2024-12-01",
        "2025-01-01",
        "2025-02-01",
    ]
    weeks = periods_between(first, last, "week")
    assert weeks[0] == dt.datetime(2024, 11, 18, tzinfo=UTC) and all(
        w.weekday() == 0 for w in weeks
    )
    assert weeks[-1] == period_start(last, "week") == dt.datetime(2025, 2, 3, tzinfo=UTC)


def test_timeline_fills_quiet_periods_and_sums_up():
    periods = periods_between(
        dt.datetime(2025, 1, 1, tzinfo=UTC), dt.datetime(2025, 1, 4, tzinfo=UTC), "day"
    )
    rows = [
        (dt.datetime(2025, 1, 1, tzinfo=UTC), 7, 2),
        (dt.datetime(2025, 1, 3, tzinfo=UTC), 7, 3),
        (dt.datetime(2025, 1, 4, tzinfo=UTC), 8, 1),
    ]
    assert timeline(rows, periods, "day").values == {7: [2, 0, 3, 0], 8: [0, 0, 0, 1]}
    assert timeline(rows, periods, "day", cumulative=True).values == {
        7: [2, 2, 5, 5],
        8: [0, 0, 0, 1],
    }
