"""The review desk speaks the reader's language, in a real Chromium with a French browser: the words
review.js writes (no prediction, play / pause, split, zoom, an unknown taxon) come from the server
translated, the keys are named as on a French keyboard, and a refusal reads in French. An English
browser keeps the English words."""

import pytest
from playwright.sync_api import expect

from annotation.models import Taxon
from annotation.services.review import ReviewItem, review_tasks_create
from tests import factories
from tests.browser.conftest import log_in
from tests.browser.test_review_desk import _frames

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


@pytest.fixture
def triage_task(org, other_org, tmp_path):
    """Three frames in triage, no pre-label; vera is an expert of every animal taxon."""
    frames = _frames(org, tmp_path, "night", 3)
    review_tasks_create(items=[ReviewItem(frames[0], None, "margin pick", 0.5)], origin="test")
    factories.member("vera", other_org, "expert", taxa=list(Taxon.objects.filter(kind="animal")))
    return frames


def _desk(browser, live_server, locale: str):
    page = browser.new_context(base_url=live_server.url, locale=locale).new_page()
    page.set_default_timeout(15000)
    log_in(page, "vera")
    page.goto("/review/?queue=triage")
    page.wait_for_selector("#work:not([hidden])")
    page.wait_for_function("document.getElementById('frame').naturalWidth > 0")
    return page


def test_a_french_reader_reads_the_desk_in_french(browser, live_server, triage_task):
    page = _desk(browser, live_server, "fr-FR")
    expect(page.locator("#prediction")).to_have_text(
        "Pas encore de prédiction\u00a0: saisissez le taxon."
    )
    assert page.inner_text("#current-label") == "Pas encore étiquetée."
    assert page.locator("#strip img").first.get_attribute("alt") == "image 1"
    assert "Entrée / y" in page.inner_text("#keys-short")
    page.keyboard.press("Space")
    assert page.inner_text("#play") == "Pause (espace)"
    page.keyboard.press("Space")
    assert page.inner_text("#play") == "Lecture (espace)"
    page.keyboard.press("x")
    mode = page.locator("#mode")
    assert mode.is_visible() and mode.inner_text() == "le prochain choix n'étiquette que l'image 1"
    page.keyboard.press("Escape")
    assert mode.is_hidden()
    page.keyboard.press("+")
    assert page.inner_text("#view-state") == "zoom 125 %"
    page.keyboard.press("/")
    page.keyboard.type("dahu")
    page.keyboard.press("Enter")
    status = page.locator("#status")
    status.wait_for(state="visible")
    assert status.inner_text().startswith(
        "Taxon inconnu «\u00a0dahu\u00a0»\u00a0: choisissez-en un dans la liste"
    )
    page.keyboard.press("Escape")
    page.keyboard.press(
        "e"
    )  # the last task: the queues, refreshed by the script, say nothing waits
    expect(page.locator("#queues")).to_have_text("Rien en attente dans vos files.")
    expect(status).to_contain_text("Cette file d'attente est vide.")
    page.context.close()


def test_an_english_reader_keeps_the_english_words(browser, live_server, triage_task):
    page = _desk(browser, live_server, "en-GB")
    expect(page.locator("#prediction")).to_have_text("No prediction yet: type the taxon.")
    page.keyboard.press("x")
    assert page.inner_text("#mode") == "next choice labels frame 1 only"
    page.keyboard.press("Escape")
    page.keyboard.press("+")
    assert page.inner_text("#view-state") == "zoom 125%"
    page.context.close()


def test_a_partner_is_refused_the_desk_in_french(browser, live_server, org):
    factories.member("paula", org)
    page = browser.new_context(base_url=live_server.url, locale="fr-FR").new_page()
    page.set_default_timeout(15000)
    log_in(page, "paula")
    page.goto("/review/")
    refusal = page.locator("#refusal")
    assert refusal.is_visible()
    assert (
        refusal.inner_text()
        == "Les files de vérification sont réservées aux experts et aux coordinateurs."
    )
    page.context.close()
