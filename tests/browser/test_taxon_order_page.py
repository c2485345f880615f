"""Taxon selects in a real Chromium follow the browser's language: a French reader sees French names
first, in French alphabetical order with accents ignored ("Élan" among the E's); an English reader
the English ones."""

import pytest

from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from annotation.services.taxa import taxon_create
from annotation.taxon_names import name_sort_key
from tests import factories
from tests.browser.conftest import log_in
from tests.factories import write_jpeg

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


@pytest.fixture
def image(org, coordinator, tmp_path):
    factories.member("paula", org)
    taxon_create(
        name_en="moose", name_fr="Élan", scientific_name="Alces alces", created_by=coordinator
    )
    path = write_jpeg(tmp_path / "a.jpg", seed=3)
    return image_ingest(
        path=path,
        name=path.name,
        batch=batch_open(organisation=org, uploader=None),
        deployment=None,
    ).image


def options(page, selector: str) -> list[str]:
    return [text for text in page.locator(f"{selector} option").all_inner_texts()][
        1:
    ]  # past "any" / "choose"


def first_names(labels: list[str]) -> list[str]:
    return [label.split(" / ")[0] for label in labels]


@pytest.mark.parametrize(
    ("locale", "first", "before", "after"),
    [
        ("fr-FR", "blaireau / badger", "écureuil", "équidé"),
        ("en-GB", "badger / blaireau", "marmot", "mouflon"),
    ],
)
def test_taxon_selects_follow_the_browser_language(
    browser, live_server, image, locale, first, before, after
):
    page = browser.new_context(base_url=live_server.url, locale=locale).new_page()
    page.set_default_timeout(15000)
    log_in(page, "paula")
    page.goto(f"/images/{image.pk}/")
    label_form = options(page, "#id_taxon")
    page.goto("/images/")
    image_filter = options(page, "select[name=taxon]")
    names = first_names(image_filter)
    assert (
        image_filter[0] == first and label_form == names
    )  # the label form names the reader's language only
    assert names == sorted(names, key=name_sort_key)
    moose = "Élan" if locale.startswith("fr") else "moose"
    assert names.index(before) < names.index(moose) < names.index(after)
    page.context.close()
