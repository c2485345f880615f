"""Seed DeepFaune's first 26 classes in its code order, plus the detector-level categories."""

from django.db import migrations

# slug, English, French, scientific name, parent slug, kind, aliases
DEEPFAUNE_CLASSES = [
    ("badger", "badger", "blaireau", "Meles meles", "mustelid", "animal", ["european badger"]),
    ("ibex", "ibex", "bouquetin", "Capra ibex", None, "animal", ["alpine ibex"]),
    ("red-deer", "red deer", "cerf", "Cervus elaphus", None, "animal", ["cerf elaphe"]),
    ("chamois", "chamois", "chamois", "Rupicapra rupicapra", None, "animal", []),
    (
        "cat",
        "cat",
        "chat",
        "Felis",
        None,
        "animal",
        ["domestic cat", "wildcat", "wild cat", "chat forestier"],
    ),
    ("goat", "goat", "chevre", "Capra hircus", None, "animal", ["domestic goat"]),
    ("roe-deer", "roe deer", "chevreuil", "Capreolus capreolus", None, "animal", []),
    ("dog", "dog", "chien", "Canis familiaris", None, "animal", ["domestic dog"]),
    ("squirrel", "squirrel", "ecureuil", "Sciurus vulgaris", None, "animal", ["red squirrel"]),
    ("equid", "equid", "equide", "Equidae", None, "animal", ["horse", "donkey", "cheval", "ane"]),
    ("genet", "genet", "genette", "Genetta genetta", None, "animal", ["common genet"]),
    ("hedgehog", "hedgehog", "herisson", "Erinaceus europaeus", None, "animal", []),
    (
        "lagomorph",
        "lagomorph",
        "lagomorphe",
        "Lagomorpha",
        None,
        "animal",
        ["hare", "rabbit", "european hare", "european rabbit", "lievre", "lapin"],
    ),
    ("wolf", "wolf", "loup", "Canis lupus", None, "animal", ["grey wolf", "gray wolf"]),
    ("lynx", "lynx", "lynx", "Lynx lynx", None, "animal", ["eurasian lynx"]),
    ("marmot", "marmot", "marmotte", "Marmota marmota", None, "animal", ["alpine marmot"]),
    (
        "micromammal",
        "micromammal",
        "micromammifere",
        "",
        None,
        "animal",
        [
            "rodent",
            "mouse",
            "vole",
            "shrew",
            "rat",
            "wood mouse",
            "souris",
            "campagnol",
            "musaraigne",
        ],
    ),
    ("mouflon", "mouflon", "mouflon", "Ovis gmelini", None, "animal", []),
    ("sheep", "sheep", "mouton", "Ovis aries", None, "animal", ["domestic sheep", "brebis"]),
    (
        "mustelid",
        "mustelid",
        "mustelide",
        "Mustelidae",
        None,
        "animal",
        [
            "marten",
            "pine marten",
            "stone marten",
            "weasel",
            "stoat",
            "polecat",
            "martre",
            "fouine",
            "belette",
        ],
    ),
    ("bird", "bird", "oiseau", "Aves", None, "animal", ["birds"]),
    ("bear", "bear", "ours", "Ursus arctos", None, "animal", ["brown bear", "ours brun"]),
    ("nutria", "nutria", "ragondin", "Myocastor coypus", None, "animal", ["coypu"]),
    ("fox", "fox", "renard", "Vulpes vulpes", None, "animal", ["red fox", "renard roux"]),
    ("wild-boar", "wild boar", "sanglier", "Sus scrofa", None, "animal", ["boar"]),
    ("cow", "cow", "vache", "Bos taurus", None, "animal", ["cattle", "domestic cattle", "bovin"]),
]
DETECTOR_CATEGORIES = [
    ("human", "human", "humain", "Homo sapiens", None, "human", ["person", "people", "personne"]),
    ("vehicle", "vehicle", "vehicule", "", None, "vehicle", ["car", "truck", "voiture"]),
    ("empty", "empty", "vide", "", None, "empty", ["blank", "nothing", "none"]),
]


def seed(apps, schema_editor) -> None:
    Taxon = apps.get_model("annotation", "Taxon")
    rows = DEEPFAUNE_CLASSES + DETECTOR_CATEGORIES
    by_slug = {}
    for order, (slug, en, fr, scientific, _parent, kind, aliases) in enumerate(rows):
        by_slug[slug], _ = Taxon.objects.update_or_create(
            slug=slug,
            defaults={
                "name_en": en,
                "name_fr": fr,
                "scientific_name": scientific,
                "kind": kind,
                "aliases": aliases,
                "deepfaune_order": order if order < len(DEEPFAUNE_CLASSES) else None,
            },
        )
    for slug, *_rest, parent, _kind, _aliases in rows:
        if parent:
            Taxon.objects.filter(slug=slug).update(parent=by_slug[parent])


def unseed(apps, schema_editor) -> None:
    Taxon = apps.get_model("annotation", "Taxon")
    slugs = [row[0] for row in DEEPFAUNE_CLASSES + DETECTOR_CATEGORIES]
    Taxon.objects.filter(slug__in=slugs).update(parent=None)
    Taxon.objects.filter(slug__in=slugs).delete()


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
