"""The image page in a real Chromium: `y` accepts the pre-label at once; a toast says what was saved
and offers its undo (button or `z`), which puts the image back as it was."""

import pytest

from annotation.models import Image
from tests.browser.conftest import log_in
from tests.browser.test_review_desk import _frames

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


@pytest.fixture
def predicted(zero_shot, org, partner, tmp_path):
    return _frames(org, tmp_path, "page", 1, size=(160, 120), seed=5)[0]


def test_a_wrong_accept_is_undone_from_the_toast(page, predicted):
    log_in(page, "paula")
    page.goto(f"/images/{predicted.pk}/")
    page.wait_for_selector("#accept-prelabel")
    assert not page.is_visible("#toast")  # nothing saved yet, nothing to undo
    said = page.inner_text("#prelabel-top")
    page.keyboard.press("y")
    page.wait_for_selector("#toast")
    page.wait_for_load_state("load")  # the reloaded page's keys are listened to
    image = Image.objects.get(pk=predicted.pk)
    assert image.current_source == "model_accepted"
    name = image.current_taxon.name_en
    assert name in said and page.inner_text("#toast-text") == f"Accepted 1 pre-label: {name}."
    assert page.is_visible("#toast-undo")
    page.keyboard.press("z")
    page.wait_for_selector(".message")
    assert page.inner_text(".message") == f"Undone: Accepted 1 pre-label: {name}."
    assert page.inner_text("#current-label") == "Not labelled yet."
    assert not page.is_visible("#toast")  # nothing of paula's left to undo here
    assert Image.objects.get(pk=predicted.pk).current_label_id is None
    assert "undo of" in page.inner_text("table") and page.locator("table s").inner_text() == name


def test_a_label_from_the_form_is_undone_with_the_button(page, predicted):
    log_in(page, "paula")
    page.goto(f"/images/{predicted.pk}/")
    # as a person would, once the pre-label panel above the form has loaded: its arrival moves the
    # form down, and a click aimed before that can land beside the button (seen under load in CI)
    page.wait_for_selector("#accept-prelabel")
    page.select_option("#id_taxon", label="badger")
    page.click("form.stack button[type=submit]")
    page.wait_for_selector("#toast")
    page.wait_for_load_state("load")
    assert page.inner_text("#toast-text") == f"Labelled badger on {predicted.original_name}."
    page.locator("#id_count").click()
    page.keyboard.type("z")  # typing in a field never undoes
    assert (
        page.input_value("#id_count") == ""
        and Image.objects.get(pk=predicted.pk).current_taxon.slug == "badger"
    )
    page.click("#toast-undo")
    page.wait_for_selector(".message")
    assert "Undone: Labelled badger" in page.inner_text(".message")
    assert Image.objects.get(pk=predicted.pk).current_taxon_id is None
