"""Layouts of the dashboard's charts, drawn by the templates as inline SVG: scales, ticks,
margins and the place of every label are worked out here, in plain Python (no Django, no
matplotlib), so web processes stay light and the text stays text that a page can translate and a
browser test can measure.

Text widths are estimated from the character count with a generous glyph width, so that labels
spaced by the estimate never touch in the fonts a browser falls back to."""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

FONT = 12.0  # px in the chart's own units; the page scales the chart to its column
GLYPH = (
    0.64 * FONT
)  # upper estimate of a character's width (DejaVu Sans, the widest usual fallback)
TICK = 5.0
GAP = 6.0

# Okabe & Ito's palette, readable with every common colour-vision deficiency (its yellow left out:
# too pale on white); lines also differ by dash pattern, so no series is told apart by colour alone.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
DASHES = ("", "8 3", "2 3", "8 3 2 3", "12 4", "4 4", "1 3")
OTHER = "#8c8c8c"  # the grey of "everything else" series and rows

Format = Callable[[float], str]


def text_width(text: str, font: float = FONT) -> float:
    return len(text) * GLYPH * font / FONT


def _default_format(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


@dataclass(frozen=True)
class Style:
    colour: str
    dash: str = ""
    shape: str = "circle"  # circle, square or diamond: the marker of each point


def series_style(index: int, *, other: bool = False) -> Style:
    """The style of the index-th series; "everything else" is grey and dotted."""
    if other:
        return Style(OTHER, "3 3", "square")
    return Style(
        COLOURS[index % len(COLOURS)],
        DASHES[index % len(DASHES)],
        ("circle", "square", "diamond")[index % 3],
    )


@dataclass(frozen=True)
class Tick:
    at: float  # pixel position along its axis
    label: str

    @property
    def baseline(self) -> float:
        """Where a y tick's label sits so that its middle meets the tick."""
        return round(self.at + FONT / 3, 1)


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"  # SVG text-anchor
    tip: str = ""  # the full text, when `text` was shortened


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    tip: str
    style: Style
    size: float = 4.0

    @property
    def corner_x(self) -> float:
        return round(self.x - self.size, 1)

    @property
    def corner_y(self) -> float:
        return round(self.y - self.size, 1)

    @property
    def side(self) -> float:
        return 2 * self.size

    @property
    def diamond(self) -> str:
        s = self.size * 1.3
        corners = [
            (self.x, self.y - s),
            (self.x + s, self.y),
            (self.x, self.y + s),
            (self.x - s, self.y),
        ]
        return " ".join(f"{x},{y}" for x, y in corners)


@dataclass(frozen=True)
class Point:
    """A data point: x and y in data units, the tooltip, an optional label drawn beside it, an
    optional style of its own (a highlighted point)."""

    x: float
    y: float
    tip: str
    label: str = ""
    style: Style | None = None


@dataclass(frozen=True)
class Series:
    name: str
    points: list[Point]
    style: Style
    legend: str = ""  # a figure shown after the name in the legend (the latest value)
    joined: bool = True  # a line through the points; False: points only
    tip: str = ""  # what pointing at the line says; by default its name


@dataclass(frozen=True)
class DrawnSeries:
    name: str
    legend: str
    style: Style
    line: str  # polyline points; empty when the series is drawn as points only
    marks: list[Mark]  # a marker with its tooltip on each point, unless a line has too many to mark
    tip: str  # the line's tooltip


@dataclass(frozen=True)
class Frame:
    """The plot area inside the chart: axes are drawn along its left and bottom edges."""

    width: float
    height: float
    left: float
    top: float
    right: float
    bottom: float

    @property
    def tick_end(self) -> float:
        return round(self.bottom + TICK, 1)

    @property
    def x_label_y(self) -> float:
        """The baseline of the x axis's tick labels."""
        return round(self.bottom + TICK + GAP + FONT * 0.8, 1)

    @property
    def y_label_x(self) -> float:
        """The right end of the y axis's tick labels."""
        return round(self.left - TICK - GAP, 1)

    @property
    def x_title_y(self) -> float:
        return round(self.height - GAP - FONT * 0.2, 1)

    @property
    def y_title_x(self) -> float:
        """The baseline of the rotated y title, counted from the chart's left edge."""
        return round(GAP + FONT, 1)

    @property
    def centre_x(self) -> float:
        return round((self.left + self.right) / 2, 1)

    @property
    def centre_y(self) -> float:
        return round((self.top + self.bottom) / 2, 1)


@dataclass(frozen=True)
class XYChart:
    frame: Frame
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    x_title: str
    y_title: str
    series: list[DrawnSeries]
    labels: list[Text] = field(default_factory=list)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    hatched: bool
    tip: str
    value: Text


@dataclass(frozen=True)
class BarSeries:
    name: str
    values: list[float]
    colour: str
    labels: list[str]  # the number written at the end of each bar
    tips: list[str]
    hatched: list[bool] | None = (
        None  # bars drawn hatched (e.g. too few test images to trust the figure)
    )


@dataclass(frozen=True)
class BarChart:
    frame: Frame
    x_ticks: list[Tick]
    x_title: str
    categories: list[Text]
    bars: list[Bar]
    series: list[BarSeries]


def nice_ticks(top: float, *, target: int = 5, integer: bool = True) -> list[float]:
    """0 and round steps (1, 2, 2.5 or 5 times a power of ten) up to the first at or above `top`."""
    top = top if top > 0 else 1.0
    raw = top / target
    power = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * power for m in steps if m * power >= raw * (1 - 1e-9))
    if integer:
        step = max(1, round(step))
    count = math.ceil(top / step - 1e-9)
    return [round(i * step, 10) for i in range(count + 1)]


def _fitting_ticks(
    top: float, length: float, fmt: Format, *, integer: bool, room: Callable[[str], float]
) -> list[float]:
    """The most round ticks (5 at most) whose labels, each `room(label)` long, fit along
    `length` pixels."""
    for target in (5, 4, 3, 2, 1):
        ticks = nice_ticks(top, target=target, integer=integer)
        spacing = length / max(len(ticks) - 1, 1)
        if all(room(fmt(tick)) + GAP <= spacing for tick in ticks) or target == 1:
            return ticks
    raise AssertionError("unreachable")


def _thin(candidates: list[tuple[float, str]], spacing: float) -> list[tuple[float, str]]:
    """Every k-th of evenly spaced tick candidates (`spacing` pixels apart), k the least that keeps
    labels apart."""
    widest = max((text_width(label) for _, label in candidates), default=0.0)
    step = max(1, math.ceil((widest + 2 * GAP) / spacing)) if spacing > 0 else 1
    return candidates[::step]


def _scale(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    """Data units to pixels; a single value sits in the middle."""
    if high <= low:
        return lambda _value: round((start + end) / 2, 1)
    return lambda value: round(start + (value - low) / (high - low) * (end - start), 1)


def xy_chart(
    series: list[Series],
    *,
    x_title: str,
    y_title: str,
    x_ticks: list[tuple[float, str]] | None = None,
    x_format: Format = _default_format,
    y_format: Format = _default_format,
    y_top: float | None = None,
    y_integer: bool = True,
    width: float = 560,
    height: float = 300,
) -> XYChart:
    """Lines (or points) over x. `x_ticks`: evenly spaced candidates (periods) thinned to fit;
    without them the x axis gets round ticks from 0. The y axis always starts at 0, so heights
    compare honestly."""
    points = [p for s in series for p in s.points]
    y_values = _fitting_ticks(
        y_top if y_top is not None else max((p.y for p in points), default=1),
        height * 0.6,
        y_format,
        integer=y_integer,
        room=lambda _label: FONT,
    )
    left = GAP + FONT + GAP + max(text_width(y_format(v)) for v in y_values) + TICK + GAP
    x_low, x_high = min((p.x for p in points), default=0.0), max((p.x for p in points), default=1.0)
    periods = x_ticks is not None
    if x_ticks is None:
        numbers = _fitting_ticks(x_high, width - left - 40, x_format, integer=True, room=text_width)
        x_ticks, x_low, x_high = [(v, x_format(v)) for v in numbers], 0.0, numbers[-1]
    last_label = text_width(x_ticks[-1][1]) if x_ticks else 0.0
    frame = Frame(
        width,
        height,
        round(max(left, text_width(x_ticks[0][1]) / 2 + GAP) if x_ticks else left, 1),
        round(FONT, 1),
        round(width - max(2 * GAP, last_label / 2 + GAP), 1),
        round(height - (TICK + GAP + FONT + 2 * GAP + FONT + GAP), 1),
    )
    inset = (
        2 * GAP if periods else 0.0
    )  # periods stand clear of the axes; a number axis starts at its 0
    to_x = _scale(x_low, x_high, frame.left + inset, frame.right - inset)
    to_y = _scale(0.0, y_values[-1], frame.bottom, frame.top)
    spacing = (frame.right - frame.left - 2 * inset) / max(len(x_ticks) - 1, 1) if x_ticks else 0.0
    drawn_x = _thin(x_ticks, spacing) if x_ticks else []
    drawn = [_drawn(s, to_x, to_y) for s in series]
    return XYChart(
        frame,
        [Tick(to_x(at), label) for at, label in drawn_x],
        [Tick(to_y(v), y_format(v)) for v in y_values],
        x_title,
        y_title,
        drawn,
        _place_labels(points, to_x, to_y, frame, _obstacles(drawn)),
    )


MARKED_UP_TO = 60  # points of a line that each get a marker; a longer line is read from its table


def _drawn(series: Series, to_x: Callable, to_y: Callable) -> DrawnSeries:
    marks = [
        Mark(to_x(p.x), to_y(p.y), p.tip, p.style or series.style, 5.0 if p.style else 3.5)
        for p in series.points
    ]
    line = " ".join(f"{m.x},{m.y}" for m in marks) if series.joined and len(marks) > 1 else ""
    shown = marks if not line or len(marks) <= MARKED_UP_TO else []
    return DrawnSeries(
        series.name, series.legend, series.style, line, shown, series.tip or series.name
    )


Rect = tuple[float, float, float, float]  # left, top, right, bottom, in drawing units


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label_options(x: float, y: float, text: str) -> list[tuple[Text, Rect]]:
    """Places beside a point, nearest first: right, left, below, above, then the four corners. A box
    spans the text from its capitals' tops to its descenders' bottoms."""
    w, h = text_width(text), FONT
    options = [
        (x + 8, y + h / 3, "start"),
        (x - 8, y + h / 3, "end"),
        (x, y + 9 + h, "middle"),
        (x, y - 9, "middle"),
        (x + 6, y + 8 + h, "start"),
        (x + 6, y - 8, "start"),
        (x - 6, y + 8 + h, "end"),
        (x - 6, y - 8, "end"),
    ]
    start = {"start": 0.0, "middle": -w / 2, "end": -w}
    return [
        (
            Text(round(bx, 1), round(by, 1), text, anchor),
            (bx + start[anchor], by - 0.8 * h, bx + start[anchor] + w, by + 0.25 * h),
        )
        for bx, by, anchor in options
    ]


def _obstacles(drawn: list[DrawnSeries]) -> list[Rect]:
    """What a point label must not cover: every marker, and every line, as small boxes every
    few pixels."""
    boxes = [
        (m.x - m.size, m.y - m.size, m.x + m.size, m.y + m.size) for s in drawn for m in s.marks
    ]
    for series in drawn:
        corners = [tuple(map(float, pair.split(","))) for pair in series.line.split()]
        for (x0, y0), (x1, y1) in zip(corners, corners[1:], strict=False):
            steps = max(1, int(math.hypot(x1 - x0, y1 - y0) // 3))
            boxes += [
                (x - 1.5, y - 1.5, x + 1.5, y + 1.5)
                for x, y in (
                    (x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
                    for i in range(steps + 1)
                )
            ]
    return boxes


def _place_labels(
    points: list[Point], to_x: Callable, to_y: Callable, frame: Frame, obstacles: list[Rect]
) -> list[Text]:
    """Point labels, each in the first place beside its point that stays inside the plot and clear
    of every marker, line and label placed before; a label with no such place is left out (its
    tooltip and the table keep it)."""
    taken = list(obstacles)
    placed = []
    for point in (p for p in points if p.label):
        for text, box in _label_options(to_x(point.x), to_y(point.y), point.label):
            inside = (
                frame.left < box[0]
                and box[2] < frame.right
                and frame.top <= box[1]
                and box[3] < frame.bottom
            )
            if inside and not any(_overlaps(box, other) for other in taken):
                placed.append(text)
                taken.append(box)
                break
    return placed


MAX_CATEGORY = (
    22  # characters of a bar's category label; longer names are shortened, whole in the tooltip
)
BAR = 16.0
ROW_GAP = 10.0


def _short(label: str) -> str:
    return label if len(label) <= MAX_CATEGORY else label[: MAX_CATEGORY - 1] + "…"


def bar_chart(
    categories: list[str],
    series: list[BarSeries],
    *,
    x_title: str,
    x_format: Format = _default_format,
    x_top: float | None = None,
    integer: bool = True,
    grey_last: bool = False,
    width: float = 560,
) -> BarChart:
    """Horizontal bars, one group per category (one bar per series), the number written at each
    bar's end; `grey_last`: the last category sums "everything else" and is drawn grey."""
    left = max(text_width(_short(c)) for c in categories) + TICK + 2 * GAP
    right = max(text_width(label) for s in series for label in s.labels) + 2 * GAP
    group = len(series) * BAR + (len(series) - 1) * 2 + ROW_GAP
    top = GAP
    height = top + len(categories) * group + TICK + GAP + FONT + 2 * GAP + FONT + GAP
    frame = Frame(
        width,
        round(height, 1),
        round(left, 1),
        top,
        round(width - right, 1),
        round(top + len(categories) * group, 1),
    )
    ticks = _fitting_ticks(
        x_top or max((v for s in series for v in s.values), default=1),
        frame.right - frame.left,
        x_format,
        integer=integer,
        room=text_width,
    )
    to_x = _scale(0.0, ticks[-1], frame.left, frame.right)
    rows = [
        Text(
            frame.left - TICK - GAP,
            round(top + i * group + (group - ROW_GAP) / 2 + FONT / 3, 1),
            _short(c),
            "end",
            c if _short(c) != c else "",
        )
        for i, c in enumerate(categories)
    ]
    bars = [
        _bar(
            s,
            i,
            to_x,
            frame,
            top + i * group + j * (BAR + 2),
            OTHER if grey_last and i == len(categories) - 1 else s.colour,
        )
        for i in range(len(categories))
        for j, s in enumerate(series)
    ]
    return BarChart(frame, [Tick(to_x(v), x_format(v)) for v in ticks], x_title, rows, bars, series)


def _bar(series: BarSeries, row: int, to_x: Callable, frame: Frame, y: float, colour: str) -> Bar:
    end = to_x(series.values[row])
    hatched = bool(series.hatched and series.hatched[row])
    value = Text(round(end + GAP, 1), round(y + BAR / 2 + FONT / 3, 1), series.labels[row])
    return Bar(
        frame.left,
        round(y, 1),
        round(end - frame.left, 1),
        BAR,
        colour,
        hatched,
        series.tips[row],
        value,
    )
