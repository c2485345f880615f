"""Taxon lists in the reader's language: names, and an order that ignores accents and case, the same
in forms, pages and the API."""

import pytest
from django.test import Client
from django.utils import translation

from annotation.forms import LabelForm, MembershipForm
from annotation.services.taxa import taxon_create
from annotation.taxon_names import name_sort_key, taxa_in_reading_order, taxon_label, taxon_name
from tests.conftest import client_for
from tests.factories import taxon

pytestmark = pytest.mark.django_db


def test_accents_case_and_ligatures_do_not_move_a_name():
    names = ["Ours", "écureuil", "Zèbre", "cerf", "Équidé", "œdicnème", "Elan", "oie"]
    assert sorted(names, key=name_sort_key) == [
        "cerf",
        "écureuil",
        "Elan",
        "Équidé",
        "œdicnème",
        "oie",
        "Ours",
        "Zèbre",
    ]


@pytest.fixture
def moose(coordinator):
    """DeepFaune 1.4's moose: its French name starts with an accented capital."""
    return taxon_create(
        name_en="moose", name_fr="Élan", scientific_name="Alces alces", created_by=coordinator
    )


def test_french_readers_get_french_names_in_french_order(moose):
    with translation.override("fr"):
        names = [taxon_name(t) for t in taxa_in_reading_order()]
        assert taxon_label(taxon("fox")) == "renard / fox"
    assert names == sorted(names, key=name_sort_key)
    # accents and case aside: "Élan" sorts between "écureuil" and "équidé"
    assert (
        names.index("chien")
        < names.index("écureuil")
        < names.index("Élan")
        < names.index("équidé")
        < names.index("genette")
    )
    assert names[-1] == "vide"


def test_english_readers_get_english_names_in_english_order():
    with translation.override("en"):
        names = [taxon_name(t) for t in taxa_in_reading_order()]
        assert taxon_label(taxon("fox")) == "fox / renard"
    assert names[:3] == ["badger", "bear", "bird"] and names == sorted(names, key=name_sort_key)


def test_forms_list_taxa_in_the_language_of_the_request():
    with translation.override("fr"):
        labels = [label for _, label in LabelForm().fields["taxon"].choices][1:]
        members = [label for _, label in MembershipForm().fields["review_taxa"].choices]
    assert (
        labels[0] == "blaireau"
        and labels == members
        and labels == sorted(labels, key=name_sort_key)
    )
    with translation.override("en"):
        assert [label for _, label in LabelForm().fields["taxon"].choices][1] == "badger"


def test_the_api_and_pages_follow_the_browser_language(partner, moose):
    def api_names(language: str) -> list[str]:
        response = client_for(partner).get("/api/taxa/", HTTP_ACCEPT_LANGUAGE=language)
        return [row["name_fr" if language == "fr" else "name_en"] for row in response.json()]

    french, english = api_names("fr"), api_names("en")
    assert french == sorted(french, key=name_sort_key) and french[0] == "blaireau"
    assert english == sorted(english, key=name_sort_key) and english[0] == "badger"
    client = Client()
    client.force_login(partner)
    page = client.get("/taxa/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content.decode()
    assert (
        page.index("écureuil") < page.index("Élan") < page.index("équidé") < page.index("genette")
    )
    english_page = client.get("/taxa/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert english_page.index(">moose<") < english_page.index(">mouflon<")


def test_seeded_french_names_are_written_with_their_accents_and_a_coordinators_wording_stays():
    import importlib

    from django.apps import apps

    from annotation.models import Taxon

    migration = importlib.import_module("annotation.migrations.0016_french_names_accented")
    seeded = {slug: taxon(slug).name_fr for slug in ("squirrel", "equid", "vehicle", "fox")}
    assert seeded == {
        "squirrel": "écureuil",
        "equid": "équidé",
        "vehicle": "véhicule",
        "fox": "renard",
    }
    Taxon.objects.filter(slug="goat").update(name_fr="chèvre domestique")
    migration.unaccent(apps, None)
    assert taxon("squirrel").name_fr == "ecureuil"
    migration.accent(apps, None)
    assert taxon("squirrel").name_fr == "écureuil"
    assert taxon("goat").name_fr == "chèvre domestique"  # never overwritten either way
