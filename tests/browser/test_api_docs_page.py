"""The API documentation page in a real Chromium: reached from the footer once logged in, it says
how to authenticate and shows each operation with its method, path and fields (the review claim and
verdict included)."""

import pytest

from tests.browser.conftest import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


def field_row(operation, name: str) -> list[str]:
    row = operation.locator("table.api-fields tbody tr").filter(
        has=operation.page.get_by_text(name, exact=True)
    )
    return [cell.strip() for cell in row.first.locator("td").all_inner_texts()]


def test_docs_page_shows_the_review_operations_with_their_fields(page, partner):
    page.goto("/")
    assert (
        page.locator("footer").get_by_text("API documentation").count() == 0
    )  # not before logging in
    log_in(page, "paula")
    page.locator("footer").get_by_role("link", name="API documentation").click()
    page.wait_for_url("**/api/docs/")
    assert page.get_by_role("heading", name="Faune API", level=1).is_visible()
    auth = page.locator("#authentication")
    assert "Authorization: Token" in auth.inner_text() and "/api/token/" in auth.inner_text()

    page.locator(".api-toc a", has_text="/api/review/claim/").click()
    claim = page.locator("article#review_claim_post")
    assert page.url.endswith("#review_claim_post") and claim.is_visible()
    heading = claim.locator("h3")
    method, path = (
        heading.locator(".api-method").bounding_box(),
        heading.locator(".api-path").bounding_box(),
    )
    assert (
        method["x"] + method["width"] <= path["x"]
        and abs(method["y"] - path["y"]) < method["height"]
    )
    assert heading.inner_text().split() == ["POST", "/api/review/claim/"]
    assert "Claim the next task of a queue" in claim.locator(".api-summary").inner_text()
    assert claim.locator(".api-description").count() == 0  # the summary says it all: not said twice
    assert field_row(claim, "queue")[:2] == ["queue", "body"] and "default triage" in field_row(
        claim, "queue"
    )

    verdict = page.locator("article#review_label_post")
    verdict.scroll_into_view_if_needed()
    assert verdict.locator("h3").inner_text().split() == ["POST", "/api/review/tasks/{pk}/label/"]
    assert field_row(verdict, "pk")[1:4] == ["path", "integer", "1 to 999999999999999999"]
    assert field_row(verdict, "taxon")[4] == "required"
    assert field_row(verdict, "box.x")[2:4] == ["number", "0 to 1"]
    assert field_row(verdict, "split")[2] == "object of string"
    assert "labels_stamp" in field_row(verdict, "expected_current")[5]

    annotate = page.locator("article#image_annotations_post")
    assert (
        annotate.locator(".api-summary code").inner_text() == "expected_current"
    )  # docstrings' `names`
    assert field_row(annotate, "box")[2:5] == [
        "array of number or null",
        "exactly 4 items",
        "optional",
    ]
    assert field_row(annotate, "whole_sequence")[4] == "default false"  # as written in JSON

    rounds = page.locator("article#rounds_post")
    assert field_row(rounds, "epochs")[2:5] == ["integer", "1 to 1000", "optional"]
    tags = page.locator("section.api-tag > h2").all_inner_texts()
    assert tags == ["annotation", "inference", "platform", "training"]


def test_docs_page_asks_a_visitor_to_log_in(page):
    page.goto("/api/docs/")
    page.wait_for_url("**/accounts/login/?next=/api/docs/")
    assert page.locator("#id_username").is_visible()
