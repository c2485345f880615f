"""The dashboard's figures: each reads its selector (the database aggregates), picks what to draw,
and lays out a chart with its legend, the table of the numbers behind it, and what to do when there
is nothing to show yet."""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext

from annotation.models import LabelSource, Taxon
from annotation.selectors import (
    THROUGHPUT_DAYS,
    expert_median_seconds,
    expert_throughput,
    labelled_by_source,
    labelled_pool_growth,
    organisation_contributions,
    review_queue_sizes,
    verdicts_by_period,
)
from faune_platform.dashboard.charts import (
    COLOURS,
    BarChart,
    BarSeries,
    Point,
    Series,
    Style,
    XYChart,
    bar_chart,
    series_style,
    xy_chart,
)
from faune_platform.periods import Timeline
from inference.selectors import production_version
from training.selectors import learning_curve, production_test_figures

LINES = 7  # series drawn in a line chart; the rest are summed into one grey "others" line
BARS = 12  # rows of a bar chart; the rest are summed into one grey row


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    """One figure of the page: `chart` is None when there is nothing to draw yet, and `empty` says
    what to do."""

    key: str  # the figure's id in the page
    title: str
    caption: str = ""
    chart: XYChart | BarChart | None = None
    table: Table | None = None
    empty: SafeString | str = ""
    notes: list[str] = field(default_factory=list)
    legend: list[dict] = field(default_factory=list)  # bar charts: {"name", "colour", "hatched"}
    legend_title: str = ""  # what the figure after each line's name in the legend is

    @property
    def kind(self) -> str:
        return "bars" if isinstance(self.chart, BarChart) else "xy"


def _tip(name: str, value: str) -> str:
    """'name: value', for what pointing at a mark says (French puts a space before the colon)."""
    return gettext("%(name)s: %(value)s") % {"name": name, "value": value}


def count(value: float) -> str:
    return number_format(value, decimal_pos=0, use_l10n=True, force_grouping=True)


def percent(share: float) -> str:
    return gettext("%(value)s%%") % {"value": number_format(round(share * 100), use_l10n=True)}


def _link(text: str, name: str) -> SafeString:
    return format_html('<a href="{}">{}</a>', reverse(name), text)


def _taxon_names(taxon_ids: set[int]) -> dict[int, str]:
    field_name = "name_fr" if (get_language() or "en").startswith("fr") else "name_en"
    return dict(Taxon.objects.filter(pk__in=taxon_ids).values_list("pk", field_name))


def period_label(start: datetime, unit: str) -> str:
    """ISO dates read the same in French and English; a month is shown without its day."""
    return start.strftime("%Y-%m" if unit == "month" else "%Y-%m-%d")


def _unit_words(unit: str) -> str:
    return {
        "day": gettext("by day"),
        "week": gettext("by week, starting Monday"),
        "month": gettext("by month"),
    }[unit]


def _top_lines(
    values: dict[int, list[int]], names: dict[int, str], rank_by, others: str
) -> list[tuple[str, list]]:
    """The LINES keys ranking first, by name, and one line summing the others (if any)."""
    ranked = sorted(values, key=lambda key: (-rank_by(values[key]), names.get(key, "")))
    lines = [(names.get(key, "?"), values[key]) for key in ranked[:LINES]]
    rest = ranked[LINES:]
    if rest:
        summed = [sum(values[key][i] for key in rest) for i in range(len(values[ranked[0]]))]
        lines.append((others % {"count": len(rest)}, summed))
    return lines


def _timeline_chart(
    series: list[tuple[str, list]],
    timeline: Timeline,
    *,
    y_title: str,
    has_others: bool,
    legend_value,
) -> XYChart:
    labels = [period_label(start, timeline.unit) for start in timeline.periods]
    drawn = [
        Series(
            name,
            [Point(i, v, _tip(f"{name}, {labels[i]}", count(v))) for i, v in enumerate(values)],
            series_style(index, other=has_others and index == len(series) - 1),
            count(legend_value(values)),
            tip=_tip(name, count(legend_value(values))),
        )
        for index, (name, values) in enumerate(series)
    ]
    return xy_chart(
        drawn,
        x_title=gettext("period (%(unit)s, UTC)") % {"unit": _unit_words(timeline.unit)},
        y_title=y_title,
        x_ticks=list(enumerate(labels)),
        y_format=count,
    )


def _timeline_table(
    series: list[tuple[str, list]], timeline: Timeline, total: list[int] | None
) -> Table:
    """Newest period first; a total column when the lines do not already sum to it."""
    headers = [gettext("period"), *(name for name, _ in series)] + (
        [gettext("total")] if total else []
    )
    rows = []
    for i in reversed(range(len(timeline.periods))):
        row = [
            period_label(timeline.periods[i], timeline.unit),
            *(count(values[i]) for _, values in series),
        ]
        rows.append(row + ([count(total[i])] if total else []))
    return Table(headers, rows)


def pool_growth() -> Figure:
    figure = Figure(
        "pool-growth",
        gettext("Labelled pool per taxon"),
        gettext(
            "Images carrying each label, counted from the date they got it (an image relabelled "
            "later counts from its new label). The largest taxa are drawn; the others are summed "
            "in grey."
        ),
    )
    growth = labelled_pool_growth()
    if growth is None:
        figure.empty = format_html(
            gettext(
                "No image carries a label yet. Import a labelled folder ({}), accept or correct "
                "pre-labels ({}), or review queued images ({}): each label adds to these curves."
            ),
            _link(gettext("Import labelled"), "import"),
            _link(gettext("Pre-labels"), "prelabel-list"),
            _link(gettext("Review"), "review"),
        )
        return figure
    names = _taxon_names(set(growth.values))
    lines = _top_lines(
        growth.values, names, lambda values: values[-1], gettext("%(count)s other taxa")
    )
    figure.chart = _timeline_chart(
        lines,
        growth,
        y_title=gettext("labelled images (count)"),
        has_others=len(growth.values) > LINES,
        legend_value=lambda values: values[-1],
    )
    total = [
        sum(values[i] for values in growth.values.values()) for i in range(len(growth.periods))
    ]
    figure.table = _timeline_table(lines, growth, total)
    figure.legend_title = gettext("labelled images now")
    return figure


SOURCE_ORDER = (
    LabelSource.EXPERT,
    LabelSource.PARTNER,
    LabelSource.MODEL_ACCEPTED,
    LabelSource.IMPORT,
)


def _source_name(source: str) -> str:
    return {
        LabelSource.EXPERT: gettext("expert review"),
        LabelSource.PARTNER: gettext("partner"),
        LabelSource.MODEL_ACCEPTED: gettext("partner accepted the pre-label"),
        LabelSource.IMPORT: gettext("import"),
    }.get(source, source)


def labels_by_source() -> Figure:
    figure = Figure(
        "label-sources",
        gettext("Labels per source"),
        gettext(
            "Where the label each image carries now came from. An expert's label outranks a "
            "partner's, which outranks an imported one."
        ),
    )
    found = labelled_by_source()
    total = sum(found.values())
    if not total:
        figure.empty = format_html(
            gettext(
                "No label yet: labels from partners, experts and imports are counted here as they "
                "arrive ({})."
            ),
            _link(gettext("Import labelled"), "import"),
        )
        return figure
    sources = [s for s in SOURCE_ORDER if found.get(s)] + sorted(set(found) - set(SOURCE_ORDER))
    names, values = [_source_name(s) for s in sources], [found[s] for s in sources]
    shares = [percent(v / total) for v in values]
    written = [f"{count(v)} ({share})" for v, share in zip(values, shares, strict=True)]
    tips = [_tip(n, text) for n, text in zip(names, written, strict=True)]
    figure.chart = bar_chart(
        names,
        [BarSeries(gettext("images"), values, COLOURS[0], written, tips)],
        x_title=gettext("images whose current label came from it (count)"),
        x_format=count,
    )
    figure.table = Table(
        [gettext("source"), gettext("images"), gettext("share")],
        [[n, count(v), s] for n, v, s in zip(names, values, shares, strict=True)],
    )
    return figure


def _top_rows(rows: list[dict], keys: tuple[str, ...], others: str) -> list[dict]:
    """The first BARS rows and one row summing the rest (flagged `other`)."""
    if len(rows) <= BARS:
        return rows
    rest = rows[BARS:]
    summed = {key: sum(row[key] or 0 for row in rest) for key in keys}
    return [*rows[:BARS], {**summed, "name": others % {"count": len(rest)}, "other": True}]


def contributions() -> Figure:
    figure = Figure(
        "contributions",
        gettext("Contributions per organisation"),
        gettext("Images each organisation contributed, and how many of them carry a label."),
    )
    rows = organisation_contributions()
    if not any(row["contributed"] for row in rows):
        figure.empty = format_html(
            gettext(
                "No image yet. Add partner organisations and their members ({}); partners then "
                "upload their cards ({})."
            ),
            _link(gettext("Organisations"), "organisation-list"),
            _link(gettext("Upload"), "upload"),
        )
        return figure
    shown = _top_rows(rows, ("contributed", "labelled"), gettext("%(count)s other organisations"))
    names = [row["name"] for row in shown]
    series = [
        BarSeries(
            label,
            [row[key] for row in shown],
            colour,
            [count(row[key]) for row in shown],
            [_tip(f"{row['name']}, {label}", count(row[key])) for row in shown],
        )
        for key, label, colour in (
            ("contributed", gettext("images contributed"), COLOURS[0]),
            ("labelled", gettext("of which labelled"), COLOURS[1]),
        )
    ]
    figure.chart = bar_chart(
        names,
        series,
        x_title=gettext("images (count)"),
        x_format=count,
        grey_last=len(shown) < len(rows),
    )
    figure.legend = [{"name": s.name, "colour": s.colour} for s in series]
    figure.table = Table(
        [
            gettext("organisation"),
            gettext("images contributed"),
            gettext("labelled"),
            gettext("share labelled"),
        ],
        [
            [
                row["name"],
                count(row["contributed"]),
                count(row["labelled"]),
                percent(row["labelled"] / row["contributed"]) if row["contributed"] else "—",
            ]
            for row in rows
        ],
    )
    return figure


def _since(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


def queues() -> Figure:
    figure = Figure(
        "queues",
        gettext("Review queues"),
        gettext(
            "Tasks waiting in each queue (a queue per taxon, triage for tasks no expert's taxa "
            "cover), and the disagreements of blind double reviews waiting for a coordinator."
        ),
    )
    rows = review_queue_sizes()
    if not rows:
        figure.empty = format_html(
            gettext(
                "No task is waiting. Open an active-learning batch ({}) to send the most useful "
                "images to the experts; partners' doubtful corrections arrive here by themselves."
            ),
            _link(gettext("Active learning"), "selection"),
        )
        return figure
    names = _taxon_names({row["queue_taxon_id"] for row in rows if row["queue_taxon_id"]})
    for row in rows:
        row["name"] = (
            gettext("conflicts (coordinators)")
            if row["conflicts"]
            else names.get(row["queue_taxon_id"], "?")
            if row["queue_taxon_id"]
            else gettext("triage")
        )
    shown = _top_rows(rows, ("waiting", "claimed"), gettext("%(count)s other queues"))
    values = [row["waiting"] for row in shown]
    figure.chart = bar_chart(
        [row["name"] for row in shown],
        [
            BarSeries(
                gettext("tasks waiting"),
                values,
                COLOURS[0],
                [count(v) for v in values],
                [_tip(row["name"], count(row["waiting"])) for row in shown],
            )
        ],
        x_title=gettext("tasks waiting (count)"),
        x_format=count,
        grey_last=len(shown) < len(rows),
    )
    figure.table = Table(
        [
            gettext("queue"),
            gettext("waiting"),
            gettext("held by an expert now"),
            gettext("oldest waiting since (UTC)"),
        ],
        [
            [row["name"], count(row["waiting"]), count(row["claimed"]), _since(row["oldest"])]
            for row in rows
        ],
    )
    return figure


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return gettext("%(seconds)s s") % {"seconds": round(seconds)}
    return gettext("%(minutes)s min %(seconds)02d s") % {
        "minutes": int(seconds // 60),
        "seconds": round(seconds % 60),
    }


def _per(value: float) -> str:
    return number_format(value, decimal_pos=1, use_l10n=True, force_grouping=True)


def throughput() -> Figure:
    figure = Figure(
        "throughput",
        gettext("Verdicts per expert"),
        gettext(
            "Verdicts each expert gave (labels, unsure, skips) over the last 12 weeks. Time per "
            "task: the median gap between two consecutive verdicts of one expert over the last "
            "%(days)s days, pauses over 15 minutes left out."
        )
        % {"days": THROUGHPUT_DAYS},
    )
    people = expert_throughput()
    timeline = verdicts_by_period()
    if timeline is None:
        figure.empty = format_html(
            gettext(
                "No verdict in the last 12 weeks. Experts work the queues on {}; give experts "
                "their taxa under {} → Members and roles."
            ),
            _link(gettext("Review"), "review"),
            _link(gettext("Organisations"), "organisation-list"),
        )
    else:
        names = {pk: row["username"] for pk, row in people.items()}
        lines = _top_lines(timeline.values, names, sum, gettext("%(count)s other experts"))
        per = (
            gettext("verdicts per day (count)")
            if timeline.unit == "day"
            else gettext("verdicts per week (count)")
        )
        figure.chart = _timeline_chart(
            lines, timeline, y_title=per, has_others=len(timeline.values) > LINES, legend_value=sum
        )
        figure.legend_title = gettext("verdicts over these weeks")
        figure.notes.append(gettext("The last period is still under way."))
    if people:
        figure.table = _throughput_table(people, expert_median_seconds())
    return figure


def _throughput_table(people: dict[int, dict], medians: dict[int, float]) -> Table:
    weeks = THROUGHPUT_DAYS / 7
    rows = sorted(people.items(), key=lambda item: (-item[1]["window"], item[1]["username"]))
    window = {"days": THROUGHPUT_DAYS}
    return Table(
        [
            gettext("expert"),
            gettext("last 24 h"),
            gettext("last 7 days"),
            gettext("per week (%(days)s d)") % window,
            gettext("per day worked (%(days)s d)") % window,
            gettext("median time per task (%(days)s d)") % window,
            gettext("in all"),
        ],
        [
            [
                row["username"],
                count(row["day"]),
                count(row["week"]),
                _per(row["window"] / weeks),
                _per(row["window"] / row["active_days"]) if row["active_days"] else "—",
                _duration(medians.get(pk)),
                count(row["total"]),
            ]
            for pk, row in rows
        ],
    )


def _f1(value: float) -> str:
    return number_format(value, decimal_pos=2, use_l10n=True)


def _version_point(row: dict) -> Point:
    releases = ", ".join(row["releases"])
    tip = gettext("%(name)s %(version)s: %(labels)s labels, macro-F1 %(f1)s (%(status)s)") % {
        "name": row["name"],
        "version": row["version"],
        "labels": count(row["labels"]),
        "f1": _f1(row["macro_f1"]),
        "status": row["status"],
    }
    return Point(
        row["labels"], row["macro_f1"], tip + (f", {releases}" if releases else ""), row["version"]
    )


def learning() -> Figure:
    figure = Figure(
        "learning-curve",
        gettext("Learning curve"),
        gettext(
            "Test macro-F1 of each trained version against the labels it was trained on. Each is "
            "scored on its own round's test split, which grows with the pool."
        ),
    )
    rows = [
        row
        for row in learning_curve()
        if isinstance(row["labels"], int | float) and isinstance(row["macro_f1"], int | float)
    ]
    if not rows:
        figure.empty = format_html(
            gettext(
                "No version was trained here yet. Start a retraining round ({}): each round that "
                "finishes adds a point (labels used, test macro-F1)."
            ),
            _link(gettext("Rounds"), "round-list"),
        )
        return figure
    rows.sort(key=lambda row: (row["labels"], row["created_at"]))
    series = [
        Series(gettext("trained versions"), [_version_point(row) for row in rows], series_style(0))
    ]
    for name, style, keep in (
        (gettext("released"), Style(COLOURS[1], shape="square"), lambda r: r["releases"]),
        (
            gettext("production"),
            Style(COLOURS[3], shape="diamond"),
            lambda r: r["status"] == "production",
        ),
    ):
        chosen = [
            Point(row["labels"], row["macro_f1"], _version_point(row).tip, style=style)
            for row in rows
            if keep(row)
        ]
        if chosen:
            series.append(Series(name, chosen, style, joined=False))
    figure.chart = xy_chart(
        series,
        x_title=gettext("labels used for training (images)"),
        y_title=gettext("test macro-F1 (0 to 1)"),
        x_format=count,
        y_format=_f1,
        y_top=1.0,
        y_integer=False,
    )
    if len(rows) == 1:
        figure.notes.append(
            gettext("One trained version so far: the curve takes shape from the second round.")
        )
    figure.table = Table(
        [
            gettext("version"),
            gettext("status"),
            gettext("releases"),
            gettext("labels"),
            gettext("test macro-F1"),
            gettext("round"),
        ],
        [
            [
                f"{row['name']} {row['version']}",
                row["status"],
                ", ".join(row["releases"]) or "—",
                count(row["labels"]),
                _f1(row["macro_f1"]),
                str(row["round"] or "—"),
            ]
            for row in rows
        ],
    )
    return figure


def recall() -> Figure:
    figure = Figure("recall", gettext("Per-class recall of the production version"))
    found = production_test_figures()
    if found is None and production_version() is None:
        figure.empty = format_html(
            gettext(
                "No version is in production. Promote one on {}; a retraining round then scores "
                "it on its test split."
            ),
            _link(gettext("Models"), "model-list"),
        )
        return figure
    if found is None:
        figure.empty = format_html(
            gettext(
                "The production version has no test figures yet (a zero-shot or imported model "
                "has none). Start a retraining round ({}): it scores production on its test "
                "split; promoting its candidate ({}) makes the candidate's figures the production "
                "ones."
            ),
            _link(gettext("Rounds"), "round-list"),
            _link(gettext("Models"), "model-list"),
        )
        return figure
    least = settings.FAUNE["GATE_MIN_SUPPORT"]
    rows = sorted(
        (row for row in found["per_class"] if row["support"]),
        key=lambda row: (row["recall"], row["class"]),
    )
    figure.caption = gettext(
        "%(version)s, scored in round %(round)s on %(images)s test images (macro-F1 %(f1)s); "
        "weakest classes first. A hatched bar rests on fewer than %(least)s test images: take it "
        "as a hint."
    ) % {
        "version": found["version"],
        "round": found["round"],
        "images": count(found["count"]),
        "f1": _f1(found["macro_f1"]),
        "least": least,
    }
    missing = [row["class"] for row in found["per_class"] if not row["support"]]
    if missing:
        figure.notes.append(
            gettext("Not in the test split, so not scored: %(classes)s.")
            % {"classes": ", ".join(missing)}
        )
    labels = [
        gettext("%(recall)s · n=%(support)s")
        % {"recall": percent(row["recall"]), "support": row["support"]}
        for row in rows
    ]
    figure.chart = bar_chart(
        [row["class"] for row in rows],
        [
            BarSeries(
                gettext("recall"),
                [row["recall"] for row in rows],
                COLOURS[0],
                labels,
                [_tip(row["class"], label) for row, label in zip(rows, labels, strict=True)],
                hatched=[row["support"] < least for row in rows],
            )
        ],
        x_title=gettext("recall on the test split (%)"),
        x_format=percent,
        x_top=1.0,
        integer=False,
    )
    figure.legend = [
        {"name": gettext("%(least)s or more test images") % {"least": least}, "colour": COLOURS[0]},
        {
            "name": gettext("fewer than %(least)s test images") % {"least": least},
            "colour": COLOURS[0],
            "hatched": True,
        },
    ]
    figure.table = Table(
        [
            gettext("class"),
            gettext("recall"),
            gettext("precision"),
            gettext("F1"),
            gettext("test images"),
        ],
        [
            [
                row["class"],
                percent(row["recall"]),
                percent(row["precision"]),
                _f1(row["f1"]),
                count(row["support"]),
            ]
            for row in found["per_class"]
        ],
    )
    return figure


def dashboard_sections() -> list[tuple[str, list[Figure]]]:
    """The page's sections, in reading order."""
    return [
        (gettext("The pool"), [pool_growth(), labels_by_source(), contributions()]),
        (gettext("Review"), [queues(), throughput()]),
        (gettext("Models"), [learning(), recall()]),
    ]
