"""The one class-mapping mechanism of imports: suggestions over the seeded taxa, what is applied by
default, what a person must decide, who may create taxa, and the mapping kept on a batch."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from annotation.models import Taxon
from annotation.services.class_mapping import (
    NameIndex,
    NewTaxon,
    UnmappedClasses,
    choice_from_text,
    class_mapping_apply,
    class_mapping_decide,
    class_mapping_propose,
    class_mapping_taxa,
    class_suggest,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def index():
    return NameIndex()


@pytest.mark.parametrize(
    ("name", "slug", "how"),
    [
        ("Sanglier", "wild-boar", "name_fr"),
        ("roe_deer", "roe-deer", "name_en"),
        ("Wild-Boar ", "wild-boar", "name_en"),
        ("Vulpes vulpes", "fox", "scientific"),
        ("red_fox", "fox", "alias"),
        ("wood_mouse", "micromammal", "alias"),
        ("chèvre", "goat", "name_fr"),
        ("chevre", "goat", "name_fr"),  # accents ignored both ways: DeepFaune writes "chevre"
        ("Écureuil", "squirrel", "name_fr"),
        ("MUSTÉLIDÉ", "mustelid", "name_fr"),
        ("micromammifere", "micromammal", "name_fr"),
        ("herisson", "hedgehog", "name_fr"),
        ("red-deer", "red-deer", "name_en"),
    ],
)
def test_exact_names_aliases_and_deepfaune_spellings_match(index, name, slug, how):
    suggestion = class_suggest(name, index=index)
    assert (suggestion.taxon.slug, suggestion.how, suggestion.exact) == (slug, how, True)


@pytest.mark.parametrize(
    ("name", "slug", "how"),
    [
        ("chevreuils", "roe-deer", "plural"),
        ("Oiseaux", "bird", "plural"),
        ("foxes", "fox", "plural"),
        ("spiny_rat", "micromammal", "words"),  # "rat" is an alias of the micromammals
        ("renard des sables", "fox", "words"),  # French puts the noun first
        ("chevreuill", "roe-deer", "spelling"),
        ("sanglie", "wild-boar", "spelling"),
        (
            "white_tailed_deer",
            "cervidae",
            "group",
        ),  # red deer, roe deer and the deer family share "deer"
        ("red_brocket_deer", "cervidae", "group"),
    ],
)
def test_other_names_get_a_suggestion_that_is_not_exact(index, name, slug, how):
    suggestion = class_suggest(name, index=index)
    assert (suggestion.taxon.slug, suggestion.how, suggestion.exact) == (slug, how, False)


@pytest.mark.parametrize(
    "name", ["agouti", "Okapi", "collared_peccary", "common_opossum", "big red", "de", "___"]
)
def test_names_nothing_resembles_get_no_suggestion(index, name):
    assert (
        class_suggest(name, index=index) is None
    )  # "red": red deer, red squirrel, red fox share no group


def test_a_taxon_added_later_is_matched_by_its_names(index):
    Taxon.objects.create(
        slug="golden-jackal",
        name_en="golden jackal",
        name_fr="chacal doré",
        scientific_name="Canis aureus",
    )
    assert class_suggest("Chacal_dore", index=NameIndex()).taxon.slug == "golden-jackal"


def test_propose_counts_and_orders_the_classes(index):
    rows = class_mapping_propose({"Sanglier": 4, "Okapi": 2, "chevreuils": 1}, index=index)
    assert [(row.name, row.images) for row in rows] == [
        ("Okapi", 2),
        ("Sanglier", 4),
        ("chevreuils", 1),
    ]
    assert rows[0].suggestion is None and rows[1].suggestion.exact and not rows[2].suggestion.exact


def test_exact_matches_apply_by_default_suggestions_wait_for_a_person():
    rows = class_mapping_propose({"Sanglier": 1, "chevreuils": 1, "Okapi": 1})
    with pytest.raises(UnmappedClasses) as waiting:
        class_mapping_decide(rows=rows, choices={})
    assert waiting.value.missing == ["Okapi", "chevreuils"]
    assert "--" not in str(waiting.value)  # no command-line flag in a message the pages show
    decided = class_mapping_decide(
        rows=rows, choices={"chevreuils": Taxon.objects.get(slug="roe-deer"), "Okapi": None}
    )
    assert {name: taxon.slug if taxon else None for name, taxon in decided.items()} == {
        "Sanglier": "wild-boar",
        "chevreuils": "roe-deer",
        "Okapi": None,
    }


def test_create_missing_makes_new_taxa_only_where_no_close_spelling_exists():
    rows = class_mapping_propose({"Okapi": 1, "white_tailed_deer": 1, "chevreuill": 1})
    with pytest.raises(UnmappedClasses) as waiting:
        class_mapping_decide(rows=rows, choices={}, create_missing=True)
    assert waiting.value.missing == ["chevreuill"]  # a typo of a taxon we have, never a new taxon
    decided = class_mapping_decide(
        rows=rows, choices={"chevreuill": Taxon.objects.get(slug="roe-deer")}, create_missing=True
    )
    assert decided["Okapi"] == NewTaxon("Okapi") and decided["white_tailed_deer"] == NewTaxon(
        "white tailed deer"
    )


def test_a_choice_for_a_class_the_import_lacks_is_refused():
    with pytest.raises(ValidationError, match="no class named 'Zebra'"):
        class_mapping_decide(
            rows=class_mapping_propose({"Okapi": 1}), choices={"Zebra": None, "Okapi": None}
        )


def test_new_taxa_are_for_coordinators_and_created_all_or_none(partner, coordinator):
    decided = {"Okapi": NewTaxon("okapi", "okapi", "Okapia johnstoni"), "Quokka": NewTaxon("fox")}
    with pytest.raises(PermissionDenied):
        class_mapping_apply(decided=decided, user=partner)
    with pytest.raises(ValidationError, match="already exists"):
        class_mapping_apply(
            decided=decided, user=coordinator
        )  # "fox" clashes: okapi is not created either
    assert not Taxon.objects.filter(name_en="okapi").exists()
    mapping, created = class_mapping_apply(
        decided={
            "Okapi": NewTaxon("okapi", "okapi", "Okapia johnstoni"),
            "Sanglier": Taxon.objects.get(slug="wild-boar"),
            "x": None,
        },
        user=coordinator,
    )
    assert mapping == {"Okapi": "okapi", "Sanglier": "wild-boar", "x": None}
    assert created[0].scientific_name == "Okapia johnstoni" and created[0].created_by == coordinator


def test_two_classes_asking_for_the_same_new_taxon_share_it(coordinator):
    mapping, created = class_mapping_apply(
        decided={"Okapi": NewTaxon("okapi", "okapi"), "okapis": NewTaxon("Okapi")}, user=coordinator
    )
    assert mapping == {"Okapi": "okapi", "okapis": "okapi"} and len(created) == 1


def test_a_kept_mapping_must_cover_the_classes_and_name_existing_taxa():
    mapped = class_mapping_taxa({"a": "fox", "b": None}, needed={"a", "b"})
    assert mapped == {"a": Taxon.objects.get(slug="fox"), "b": None}
    with pytest.raises(ValidationError, match="No taxon was chosen for 'c'"):
        class_mapping_taxa({"a": "fox"}, needed={"a", "c"})
    with pytest.raises(ValidationError, match="no longer exist"):
        class_mapping_taxa({"a": "licorne"}, needed={"a"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("renard", "fox"),
        ("wild-boar", "wild-boar"),
        (None, None),
        ("", None),
        ("-", None),
    ],
)
def test_choices_are_read_as_clients_write_them(text, expected):
    choice = choice_from_text(text)
    assert (choice.slug if choice else None) == expected


def test_bad_choices_say_what_is_expected():
    assert choice_from_text(
        {"name_en": " okapi ", "scientific_name": "Okapia johnstoni"}
    ) == NewTaxon("okapi", "", "Okapia johnstoni")
    for bad in (
        {"name_fr": "okapi"},
        {"name_en": "okapi", "colour": "brown"},
        ["fox"],
        True,
        "licorne",
    ):
        with pytest.raises(ValidationError):
            choice_from_text(bad)
