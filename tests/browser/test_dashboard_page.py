"""The coordinators' dashboard in a real Chromium: every figure is drawn, in view, beside the others
without overlapping them, its text legible (no label over another, none cut off), its numbers on the
bars and points and in a table; an empty platform says what to do instead; partners neither see the
link nor open the page."""

from datetime import UTC, datetime

import pytest

from faune_platform.models import PendingTask
from tests.browser.conftest import log_in
from tests.platform import dashboard_world

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]

FIGURES = {
    "pool-growth": "Labelled pool per taxon",
    "label-sources": "Labels per source",
    "contributions": "Contributions per organisation",
    "queues": "Review queues",
    "throughput": "Verdicts per expert",
    "learning-curve": "Learning curve",
    "recall": "Per-class recall of the production version",
}

# Pairs of <text> elements of one chart whose boxes overlap by more than half a pixel, and texts
# that stick out of the chart: what a reader would see as labels written over each other or cut off.
TEXT_CLASHES = """(svg) => {
  const outer = svg.getBoundingClientRect();
  const texts = [...svg.querySelectorAll("text")].map((t) => ({text: t.firstChild.textContent,
                                                             box: t.getBoundingClientRect()}));
  const clash = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5
                          && b.top < a.bottom - 0.5;
  const found = [];
  texts.forEach((a, i) => texts.slice(i + 1).forEach((b) => {
    if (clash(a.box, b.box)) found.push([a.text, b.text]);
  }));
  texts.forEach((t) => {
    const inside = t.box.left >= outer.left - 0.5 && t.box.right <= outer.right + 0.5
                   && t.box.top >= outer.top - 0.5 && t.box.bottom <= outer.bottom + 0.5;
    if (!inside) found.push([t.text, "outside the chart"]);
  });
  return found;
}"""


def _apart(a: dict, b: dict) -> bool:
    return (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


@pytest.fixture
def world():
    return dashboard_world.build()


def _open_dashboard(page, username: str) -> None:
    log_in(page, username)
    page.click("nav >> text=Dashboard")
    page.wait_for_url("**/dashboard/")


def test_every_figure_is_drawn_in_view_and_legible(page, world):
    _open_dashboard(page, "cora")
    assert "labelled" in page.inner_text("#totals") and "faune-head round-4" in page.inner_text(
        "#totals"
    )
    viewport = page.viewport_size
    for key, title in FIGURES.items():
        figure = page.locator(f"#{key}")
        assert figure.locator("h3").inner_text() == title
        chart = figure.locator("svg.chart")
        chart.evaluate("(svg) => svg.scrollIntoView({block: 'center'})")
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box["width"] > 400 and box["height"] > 150, (key, box)
        assert 0 <= box["x"] and box["x"] + box["width"] <= viewport["width"], (
            key,
            box,
        )  # nothing off the side
        assert 0 <= box["y"] and box["y"] + box["height"] <= viewport["height"], (
            key,
            box,
        )  # wholly in view
        assert chart.evaluate(TEXT_CLASHES) == [], key
    boxes = {
        key: page.locator(f"#{key}").bounding_box() for key in FIGURES
    }  # all read at one scroll position
    for a, b in ((a, b) for a in boxes for b in boxes if a < b):
        assert _apart(boxes[a], boxes[b]), (a, b)
    assert boxes["label-sources"]["x"] > boxes["pool-growth"]["x"]  # two columns on a wide screen
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_axes_legends_and_numbers_are_readable(page, world):
    _open_dashboard(page, "cora")
    growth = page.locator("#pool-growth")
    assert growth.locator(".y-title").text_content() == "labelled images (count)"
    assert "by week" in growth.locator(".x-title").text_content()
    legend = growth.locator("ul.legend")
    assert "red deer 40" in " ".join(
        legend.inner_text().split()
    )  # each line's name and latest figure
    assert "3 other taxa" in legend.inner_text()  # the smallest taxa summed into one grey line
    lines = growth.locator("polyline")
    assert lines.count() == 8
    styles = {
        (lines.nth(i).get_attribute("stroke"), lines.nth(i).get_attribute("stroke-dasharray"))
        for i in range(8)
    }
    assert len({colour for colour, _ in styles}) == 8 and len({dash for _, dash in styles}) == 8

    queues = page.locator("#queues")
    assert queues.locator(".value-labels text").all_text_contents() == ["7", "3", "2", "2"]
    assert queues.locator(".category-labels text").first.text_content() == "red deer"
    assert (
        queues.locator("rect.bar title").first.text_content() == "red deer: 7"
    )  # the tooltip on hover
    table = queues.locator("details.numbers table")
    assert not table.is_visible()
    queues.locator("summary", has_text="Show the numbers").click()
    assert table.is_visible()
    assert "red deer 7" in " ".join(table.locator("tbody tr").first.inner_text().split())

    recall = page.locator("#recall")
    assert (
        recall.locator(".value-labels text").first.text_content() == "35% · n=12"
    )  # weakest class first
    assert (
        recall.locator("rect.bar").first.get_attribute("fill") == "url(#recall-hatch)"
    )  # too few test images
    assert "Not in the test split, so not scored: lynx." in recall.inner_text()

    curve = page.locator("#learning-curve")
    assert sorted(curve.locator(".point-labels text").all_text_contents()) == [
        f"round-{i}" for i in range(1, 5)
    ]
    assert curve.locator("polygon.mark").count() == 1  # production, drawn as a diamond
    assert curve.locator(".x-title").text_content() == "labels used for training (images)"

    throughput = page.locator("#throughput")
    throughput.locator("summary").click()
    rows = [" ".join(row.split()) for row in throughput.locator("tbody tr").all_inner_texts()]
    assert rows[0].startswith("erin 0 9 ") and "40 s" in rows[0]
    assert any(
        row.startswith("ezra 0 0 ") for row in rows
    )  # an expert yet to give a verdict is listed


def test_figures_stack_on_a_narrow_screen(page, world):
    page.set_viewport_size({"width": 700, "height": 900})
    _open_dashboard(page, "cora")
    first, second = (
        page.locator("#pool-growth").bounding_box(),
        page.locator("#label-sources").bounding_box(),
    )
    assert first["x"] == second["x"] and second["y"] >= first["y"] + first["height"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    for key in FIGURES:
        assert page.locator(f"#{key} svg.chart").evaluate(TEXT_CLASHES) == [], key


def test_an_empty_platform_says_what_to_do(page, coordinator):
    _open_dashboard(page, "cora")
    assert page.locator("svg.chart").count() == 0
    for key in FIGURES:
        empty = page.locator(f"#{key} p.empty")
        assert empty.is_visible() and len(empty.inner_text()) > 40, key
    assert "No image carries a label yet" in page.inner_text("#pool-growth")
    assert "No version was trained here yet" in page.inner_text("#learning-curve")
    page.locator("#queues p.empty a", has_text="Active learning").click()
    page.wait_for_url("**/selection/")


def test_partners_neither_see_nor_open_the_dashboard(page, partner):
    log_in(page, "paula")
    assert page.locator("nav a", has_text="Dashboard").count() == 0
    response = page.goto("/dashboard/")
    assert response.status == 403
    assert page.inner_text("#refusal") == "Only coordinators see the dashboard."
    assert page.locator("svg.chart").count() == 0


def test_tasks_the_queue_has_not_taken_are_announced_above_the_figures(page, world):
    _open_dashboard(page, "cora")
    assert page.locator("#queue-down").count() == 0
    PendingTask.objects.create(func="inference.tasks.prelabel_batch", args=[1])
    PendingTask.objects.create(func="training.tasks.training_round_run", args=[2])
    PendingTask.objects.update(created_at=datetime(2026, 11, 30, 9, 5, tzinfo=UTC))
    page.reload()
    notice = page.locator("#queue-down")
    assert notice.is_visible()
    assert notice.inner_text().startswith(
        "The task queue has not taken 2 tasks since 2026-11-30 09:05 UTC: pre-labelling, imports"
    )
    assert "Nothing is lost" in notice.inner_text()
    first_figure = page.locator("#pool-growth").bounding_box()
    assert notice.bounding_box()["y"] + notice.bounding_box()["height"] <= first_figure["y"]
