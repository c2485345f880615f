"""Families and a subfamily over the seeded classes, so that a sequence whose species split the vote can still
be called by its family (taxonomic roll-up). Parents already set (badger under mustelid, or one a coordinator
chose) are left alone; a higher taxon a coordinator already added (same scientific name) is reused."""

from django.db import migrations
from django.db.models import Model

# slug, English, French, scientific name, parent slug, children (seeded slugs)
HIGHER_TAXA = [
    ("bovidae", "bovid family", "bovidés", "Bovidae", None, ["cow"]),
    (
        "caprinae",
        "caprines",
        "caprinés",
        "Caprinae",
        "bovidae",
        ["ibex", "chamois", "goat", "mouflon", "sheep"],
    ),
    ("cervidae", "deer family", "cervidés", "Cervidae", None, ["red-deer", "roe-deer"]),
    ("canidae", "dog family", "canidés", "Canidae", None, ["dog", "wolf", "fox"]),
    ("felidae", "cat family", "félidés", "Felidae", None, ["cat", "lynx"]),
    ("sciuridae", "squirrel family", "sciuridés", "Sciuridae", None, ["squirrel", "marmot"]),
]
ALIASES = {
    "bovidae": ["bovid", "bovids"],
    "caprinae": ["caprine", "goat-antelopes"],
    "cervidae": ["cervid", "cervids"],
    "canidae": ["canid", "canids"],
    "felidae": ["felid", "felids"],
    "sciuridae": ["sciurid", "sciurids"],
}


def _higher_taxon(Taxon: type[Model], slug: str, en: str, fr: str, scientific: str) -> Model:
    existing = Taxon.objects.filter(scientific_name__iexact=scientific).first()
    if existing is not None:
        return existing
    defaults = {
        "name_en": en,
        "name_fr": fr,
        "scientific_name": scientific,
        "kind": "animal",
        "aliases": ALIASES[slug],
    }
    taxon, _ = Taxon.objects.get_or_create(slug=slug, defaults=defaults)
    return taxon


def add(apps, schema_editor) -> None:
    Taxon = apps.get_model("annotation", "Taxon")
    made = {
        slug: _higher_taxon(Taxon, slug, en, fr, scientific)
        for slug, en, fr, scientific, _parent, _children in HIGHER_TAXA
    }
    for slug, *_names, parent, children in HIGHER_TAXA:
        if parent:
            Taxon.objects.filter(pk=made[slug].pk, parent__isnull=True).update(parent=made[parent])
        Taxon.objects.filter(slug__in=children, parent__isnull=True).update(parent=made[slug])


def remove(apps, schema_editor) -> None:
    Taxon = apps.get_model("annotation", "Taxon")
    slugs = [row[0] for row in HIGHER_TAXA]
    ours = Taxon.objects.filter(slug__in=slugs, created_by__isnull=True)
    Taxon.objects.filter(parent__in=ours).update(parent=None)
    ours.delete()


class Migration(migrations.Migration):
    dependencies = [("annotation", "0007_coordinator_flags_from_memberships")]
    operations = [migrations.RunPython(add, remove)]
