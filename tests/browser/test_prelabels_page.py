"""The pre-labels page in a real Chromium: `a` selects the whole page even when a click left the
focus in a checkbox, shift-click ticks a range, Enter accepts the selection, and the list filters
by deployment."""

import datetime as dt

import pytest

from annotation.models import Image, LabelSource
from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from annotation.services.organisations import deployment_get_or_create
from inference.models import Prediction
from inference.services.registry import default_version_ensure
from tests import factories
from tests.browser.conftest import log_in
from tests.factories import taxon, write_jpeg

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


@pytest.fixture
def prelabelled(org, tmp_path):
    """Six images on camera A and two on camera B, each with a stored pre-label of the
    production version."""
    factories.member("paula", org)
    version = default_version_ensure()
    images = {}
    for camera_name, count in (("Col du Lautaret", 6), ("Vallon", 2)):
        camera = deployment_get_or_create(organisation=org, name=camera_name)
        batch = batch_open(organisation=org, uploader=None, deployment=camera)
        for index in range(count):
            path = write_jpeg(
                tmp_path / f"{camera_name[0]}{index}.jpg",
                seed=len(images) + 1,
                size=(96, 72),
                taken=dt.datetime(2024, 5, 1, 10, index),
            )
            image = image_ingest(path=path, name=path.name, batch=batch, deployment=camera).image
            Prediction.objects.create(
                image=image,
                version=version,
                category="animal",
                taxon=taxon("fox"),
                score=0.5 + index / 100,
                top=[[taxon("fox").pk, 0.5 + index / 100]],
            )
            images.setdefault(camera_name, []).append(image)
    return images


def boxes(page):
    return page.locator("#bulk input[name=images]")


def ticked(page) -> list[int]:
    return [i for i in range(boxes(page).count()) if boxes(page).nth(i).is_checked()]


def test_keys_and_shift_click_select_and_enter_accepts(page, prelabelled):
    log_in(page, "paula")
    page.goto("/prelabels/")
    assert boxes(page).count() == 8
    boxes(page).nth(1).click()
    assert (
        page.evaluate("document.activeElement.name") == "images"
    )  # the click left the focus in the checkbox
    page.keyboard.press("a")
    assert ticked(page) == list(range(8))
    assert page.inner_text("#selected-count") == "8"

    page.reload()
    boxes(page).nth(1).click()
    boxes(page).nth(4).click(modifiers=["Shift"])
    assert ticked(page) == [1, 2, 3, 4]
    # on the thumbnail itself too (the label around the checkbox), from the last box clicked
    page.locator("#bulk figure").nth(6).locator("img").click(modifiers=["Shift"])
    assert ticked(page) == [1, 2, 3, 4, 5, 6]
    # un-ticking a range works the same way: the range takes the state of the box shift-clicked
    boxes(page).nth(2).click()
    boxes(page).nth(4).click(modifiers=["Shift"])
    assert ticked(page) == [1, 5, 6]
    assert page.inner_text("#selected-count") == "3"

    chosen = [int(boxes(page).nth(i).get_attribute("value")) for i in ticked(page)]
    page.keyboard.press("Enter")  # the focus is still in the last checkbox clicked
    assert "Accepted the pre-label of 3 image(s)." in page.inner_text("[role=status]")
    accepted = Image.objects.filter(current_source=LabelSource.MODEL_ACCEPTED)
    assert sorted(accepted.values_list("pk", flat=True)) == sorted(chosen)


def test_typing_a_score_keeps_the_letter_a(page, prelabelled):
    log_in(page, "paula")
    page.goto("/prelabels/")
    page.click("input[name=min_score]")
    page.keyboard.press("a")
    assert ticked(page) == [] and page.input_value("input[name=min_score]") == "a"


def test_the_list_filters_by_deployment(page, prelabelled):
    log_in(page, "paula")
    page.goto("/prelabels/")
    page.select_option("#prelabel-filters select[name=deployment]", label="Vallon")
    page.click("#prelabel-filters button[type=submit]")
    shown = {int(boxes(page).nth(i).get_attribute("value")) for i in range(boxes(page).count())}
    assert shown == {image.pk for image in prelabelled["Vallon"]}
    assert (
        page.locator("#prelabel-filters select[name=deployment] option:checked").inner_text()
        == "Vallon"
    )
    assert all("Vallon" in text for text in page.locator("#bulk figcaption").all_inner_texts())
