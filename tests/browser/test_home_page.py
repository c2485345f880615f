"""Home pages in a real Chromium: each role sees its own work as figures that lead to it (by mouse
and keyboard), an expert's queues come first, coordinators' sections stay hidden from the others."""

import re

import pytest

from annotation.models import Role
from tests import factories
from tests.browser.conftest import log_in
from tests.factories import taxon
from tests.platform.home_data import prelabelled_pool, review_tasks, trained_production

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


def figure(page, tile_id: str) -> int:
    return int(page.locator(f"#{tile_id} > b").inner_text())


def test_a_partner_follows_their_figures_to_the_work(page, org, partner, tmp_path):
    prelabelled_pool(org, partner, tmp_path)
    log_in(page, "paula")
    assert page.locator("h1").inner_text() == "Welcome, paula"
    assert page.locator("#roles").inner_text() == "partner of Parc des Écrins"
    assert (
        figure(page, "tile-images"),
        figure(page, "tile-unlabelled"),
        figure(page, "tile-prelabels"),
        figure(page, "tile-unsure"),
    ) == (6, 5, 4, 2)
    assert "scored 0.5 or less" in page.locator("#tile-unsure").inner_text()
    assert page.locator("#uploads").get_by_text("card-01").is_visible()
    for hidden in ("#home-models", "#home-people", "#home-queues", "#tile-conflicts"):
        assert page.locator(hidden).count() == 0, hidden
    # tiles sit side by side in a grid: the first row shares its top edge
    tops = {
        round(page.locator(f"#{tile_id}").bounding_box()["y"])
        for tile_id in ("tile-images", "tile-unlabelled")
    }
    assert len(tops) == 1

    page.locator("#tile-unlabelled").focus()
    page.keyboard.press("Enter")  # a tile is a link: the keyboard follows it too
    page.wait_for_url(re.compile(r"/images/\?labelled=no$"))
    assert page.locator("img[src$='/thumbnail']").count() == 5

    page.goto("/")
    page.locator("#tile-unsure").click()
    page.wait_for_url(re.compile(r"/prelabels/\?labelled=no&max_score=0\.5&order=score$"))
    assert page.locator("img[src$='/thumbnail']").count() == 2


def test_an_expert_sees_their_queues_above_everything_and_starts_one(
    page, org, other_org, partner, tmp_path
):
    pool = prelabelled_pool(org, partner, tmp_path)
    factories.member("erin", other_org, Role.EXPERT, taxa=[taxon("red-deer"), taxon("roe-deer")])
    review_tasks(pool["images"][1:3], taxon("red-deer"))
    log_in(page, "erin")
    queues, images = page.locator("#home-queues"), page.locator("#home-images")
    assert queues.bounding_box()["y"] < images.bounding_box()["y"]
    rows = page.locator("#queues tr[data-queue]")
    assert rows.nth(0).inner_text().split("\t")[:2] == ["red deer yours", "2"]
    assert rows.nth(1).inner_text().split("\t")[:2] == ["roe deer yours", "0"]
    assert rows.nth(1).get_by_role("link").count() == 0  # nothing to review there
    assert (
        page.locator("#home-images h2").inner_text() == "Images you can see"
    )  # not theirs: in their taxa
    assert page.locator("#home-models").count() == 0 and "Organisations" not in page.inner_text(
        "header nav"
    )
    rows.nth(0).get_by_role("link", name="Review now").click()
    page.wait_for_url(re.compile(r"/review/\?queue=\d+$"))


def test_a_coordinator_reads_the_production_figures_and_everyones_work(
    page, org, partner, coordinator, tmp_path
):
    prelabelled_pool(org, partner, tmp_path)
    trained_production(coordinator)
    log_in(page, "cora")
    production = page.locator("#tile-production")
    text = production.inner_text()
    assert (
        "Faune head 2025.1" in text
        and re.search(r"0\.8712\s+macro-F1", text)
        and re.search(r"0\.9134\s+accuracy", text)
    )
    assert re.search(r"4\s+classes", text) and "412 images" in text
    for section in (
        "#home-images",
        "#home-uploads",
        "#home-queues",
        "#home-models",
        "#home-people",
    ):
        assert page.locator(section).is_visible(), section
    assert page.locator("#home-images h2").inner_text() == "The pool"
    # the wide tile spans two columns of the grid and nothing overlaps it
    wide, beside = production.bounding_box(), page.locator("#tile-candidates").bounding_box()
    assert wide["width"] > 1.8 * beside["width"] and beside["x"] >= wide["x"] + wide["width"]
    production.click()
    page.wait_for_url("**/models/")
