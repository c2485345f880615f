"""Taxon names on the review desk and the image page's pre-label panel follow the reader's language
(a French browser reads 'renard', its English name beside it; the seeded French names are
DeepFaune's, without accents), as do the words around them and the
codes the API sends (the role that chose a label, its source). An English browser keeps English."""

import re

import pytest
from playwright.sync_api import expect

from annotation.models import ReviewTask, Taxon
from annotation.services.annotations import annotation_add
from inference.models import Prediction
from tests import factories
from tests.browser.conftest import log_in
from tests.browser.test_review_desk import _frames

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_taxa"),
]


@pytest.fixture
def predicted(zero_shot, org, partner, tmp_path):
    """One pre-labelled frame that paula labelled hedgehog: the platform sends her correction to
    the hedgehog queue, which vera reviews."""
    hedgehog = Taxon.objects.get(slug="hedgehog")
    factories.member("vera", org, "expert", taxa=[hedgehog])
    frame = _frames(org, tmp_path, "hog", 1, size=(160, 120), seed=40)[0]
    annotation_add(image=frame, taxon=hedgehog, author=partner, whole_sequence=True)
    assert ReviewTask.objects.get().queue_taxon == hedgehog
    assert Prediction.objects.get(image=frame).taxon is not None  # a taxon, with its two names
    return frame


@pytest.fixture
def open_page(browser, live_server):
    """Signs a person in with a browser set to a language; the browsers are closed afterwards,
    whether the test passed or not."""
    contexts = []

    def open_(locale: str, username: str):
        context = browser.new_context(base_url=live_server.url, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        log_in(page, username)
        return page

    yield open_
    for context in contexts:
        context.close()


def _desk(open_page, locale: str, queue: str):
    page = open_page(locale, "vera")
    page.goto("/review/")
    page.locator("#queues button", has_text=queue).click()
    page.wait_for_selector("#work:not([hidden])")
    page.wait_for_selector("#suggestions li")
    return page


def test_a_french_expert_reads_taxon_names_in_french_on_the_desk(open_page, predicted):
    said = Prediction.objects.get(image=predicted).taxon
    page = _desk(open_page, "fr-FR", "hérisson")
    assert page.inner_text("#task-queue") == "hérisson"
    assert (
        page.inner_text("#current-label")
        == "Étiquette actuelle\u00a0: hérisson par paula (partenaire)"
    )
    first = page.locator("#suggestions li").first.inner_text()
    assert first.startswith("1. hérisson hedgehog choix de paula (partenaire)"), first
    expect(page.locator("#prediction")).to_contain_text(f"Modèle\u00a0: {said.name_fr}")
    # '2 %', as French writes it (a no-break space, narrow or not as the browser's ICU has it)
    assert re.search(r"\d[\u00a0\u202f]%", page.inner_text("#prediction"))
    if said.name_en not in said.name_fr:  # 'lynx' is both; 'genet' is within 'genette'
        assert said.name_en not in page.inner_text("#prediction")
    assert (
        page.locator("#references h3").first.inner_text()
        == "hérisson (choix de paula (partenaire))"
    )


def test_an_english_expert_keeps_english_names_on_the_desk(open_page, predicted):
    said = Prediction.objects.get(image=predicted).taxon
    page = _desk(open_page, "en-GB", "hedgehog")
    assert page.inner_text("#task-queue") == "hedgehog"
    assert page.inner_text("#current-label") == "Current label: hedgehog by paula (partner)"
    first = page.locator("#suggestions li").first.inner_text()
    assert first.startswith("1. hedgehog hérisson partner's choice (paula)"), first
    expect(page.locator("#prediction")).to_contain_text(f"Model: {said.name_en}")
    assert re.search(r"\d%", page.inner_text("#prediction"))


@pytest.mark.parametrize(
    ("locale", "model_says", "accept", "first_name"),
    [
        ("fr-FR", "Le modèle dit", "Accepter la pré-étiquette (y)", "name_fr"),
        ("en-GB", "Model says", "Accept pre-label (y)", "name_en"),
    ],
)
def test_the_pre_label_panel_reads_in_the_readers_language(
    open_page, predicted, locale, model_says, accept, first_name
):
    said = Prediction.objects.get(image=predicted).taxon
    page = open_page(locale, "paula")
    page.goto(f"/images/{predicted.pk}/")
    top = page.locator("#prelabel-top")
    top.wait_for()
    assert top.inner_text().startswith(f"{model_says} {getattr(said, first_name)}")
    assert re.search(r"\d[\u00a0\u202f]%" if locale == "fr-FR" else r"\d%", top.inner_text())
    assert page.inner_text("#accept-prelabel") == accept
    named = "hérisson (hedgehog)" if locale == "fr-FR" else "hedgehog (hérisson)"
    assert page.inner_text("#current-label").startswith(named)  # paula's label, below the panel
