"""The deployment pages in a real Chromium: a partner finds a camera, records its field metadata
(bad values are explained beside their fields and nothing is saved), and pages through its
thumbnails and sequences."""

import pytest

from annotation.models import Deployment
from tests.browser.conftest import log_in
from tests.platform.home_data import camera_images

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


@pytest.fixture
def camera(org, partner, tmp_path) -> Deployment:
    images = camera_images(
        org, partner, tmp_path, 50, camera="Col du Lautaret"
    )  # 50 sequences, an hour apart
    return images[0].deployment


def _beside(page, field: str, text: str) -> None:
    """The message is shown right under its own field, in the field's column."""
    message = page.locator(f"div.field:has(#id_{field}) .errorlist")
    assert text in message.inner_text()
    field_box, message_box = page.locator(f"#id_{field}").bounding_box(), message.bounding_box()
    assert abs(message_box["x"] - field_box["x"]) < 2
    assert (
        field_box["y"] + field_box["height"] - 1
        <= message_box["y"]
        < field_box["y"] + 2.5 * field_box["height"]
    )


def test_a_partner_records_a_cameras_metadata(page, camera):
    log_in(page, "paula")
    page.locator("header nav").get_by_role("link", name="Deployments").click()
    row = page.locator("#deployments tr[data-deployment='Col du Lautaret']")
    assert "not recorded" in row.inner_text() and row.locator("td").last.inner_text() == "50"
    row.get_by_role("link", name="Col du Lautaret").click()
    assert page.locator("h1").inner_text().startswith("Col du Lautaret")
    assert not page.locator(".deployment-form").is_visible()  # folded until asked for

    page.locator("#edit summary").focus()
    page.keyboard.press("Enter")  # keyboard opens the form
    page.fill("#id_location_name", "Col, east slope")
    page.fill("#id_latitude", "95")
    page.fill("#id_longitude", "6.4")
    page.fill("#id_start", "2025-06-01T10:00")
    page.fill("#id_end", "2025-05-01T10:00")
    page.get_by_role("button", name="Save").click()
    _beside(page, "latitude", "Latitude lies between -90 and 90 degrees.")
    _beside(page, "end", "The pick-up must come after the set-up.")
    assert page.locator(".deployment-form").is_visible()  # still open, with what was typed
    assert page.input_value("#id_location_name") == "Col, east slope"
    assert "not recorded" in page.locator("#facts").inner_text()  # nothing saved

    page.fill("#id_latitude", "45.035")
    page.fill("#id_end", "2025-07-01T17:30")
    page.fill("#id_camera_id", "CT-0042")
    page.fill("#id_habitat", "Larch wood edge, 1 m high, facing north.")
    page.get_by_role("button", name="Save").click()
    assert "Saved the details of Col du Lautaret." in page.locator(".message.success").inner_text()
    facts = page.locator("#facts").inner_text()
    for shown in (
        "Col, east slope",
        "45.035000, 6.400000",
        "CT-0042",
        "2025-06-01 10:00 UTC",
        "2025-07-01 17:30 UTC",
        "Larch wood edge",
    ):
        assert shown in facts, shown
    assert not page.locator(".deployment-form").is_visible()
    # the first 10 frames (00:00 to 09:00) were taken before the set-up at 10:00
    assert (
        page.locator("#outside")
        .inner_text()
        .startswith("10 images are dated outside set-up to pick-up")
    )


def test_images_and_sequences_page_separately(page, camera):
    log_in(page, "paula")
    page.goto(f"/deployments/{camera.pk}/")
    thumbnails = page.locator("#images img")
    assert thumbnails.count() == 48
    first = thumbnails.first
    first.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=first.element_handle()
    )
    assert first.bounding_box()["height"] > 50  # a thumbnail, drawn
    assert page.locator("#sequences tr").count() == 21  # a header and 20 sequences
    assert "page 1 of 3" in page.locator("#sequence-pager").inner_text()

    page.locator("#image-pager").get_by_role("link", name="next →").click()
    assert thumbnails.count() == 2 and "page 2 of 2" in page.locator("#image-pager").inner_text()
    page.locator("#sequence-pager").get_by_role("link", name="next →").click()
    assert "page 2 of 3" in page.locator("#sequence-pager").inner_text()
    assert thumbnails.count() == 2  # the image page is kept while paging sequences
    assert (
        page.locator("#sequences tr").nth(1).locator("td").nth(1).inner_text()
        == "2025-06-01 20:00:00"
    )


def test_another_organisations_camera_is_not_found(page, camera, other_partner):
    log_in(page, "otto")
    page.goto(f"/deployments/{camera.pk}/")
    assert page.locator("h1").inner_text() == "Not found"
    page.goto("/deployments/")
    assert page.locator("#deployments tr[data-deployment]").count() == 0
