"""French names of the seeded classes written as French writes them ("écureuil", not DeepFaune's
"ecureuil"), as the higher taxa already were: a French reader saw both spellings side by side. Only
names still as seeded change (a coordinator's own wording stays). DeepFaune's spelling still
matches (names are compared without accents), and the DeepFaune-format export still writes it."""

from django.db import migrations

# slug: (as seeded, as French writes it)
ACCENTED = {
    "goat": ("chevre", "chèvre"),
    "squirrel": ("ecureuil", "écureuil"),
    "equid": ("equide", "équidé"),
    "hedgehog": ("herisson", "hérisson"),
    "micromammal": ("micromammifere", "micromammifère"),
    "mustelid": ("mustelide", "mustélidé"),
    "vehicle": ("vehicule", "véhicule"),
}


def _rename(apps, *, forward: bool) -> None:
    Taxon = apps.get_model("annotation", "Taxon")
    for slug, (seeded, accented) in ACCENTED.items():
        old, new = (seeded, accented) if forward else (accented, seeded)
        # a name a coordinator changed is theirs to keep
        Taxon.objects.filter(slug=slug, name_fr=old).update(name_fr=new)


def accent(apps, schema_editor) -> None:
    _rename(apps, forward=True)


def unaccent(apps, schema_editor) -> None:
    _rename(apps, forward=False)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0015_review_reason_words")]
    operations = [migrations.RunPython(accent, unaccent)]
