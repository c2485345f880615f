import re
import unicodedata
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.text import slugify
from django.utils.translation import gettext as _

from annotation.models import Taxon, TaxonKind


def normalise_name(name: str) -> str:
    """'Sanglier', 'wild_boar' and 'Wild-Boar ' all become comparable: no accents, case
    or separators."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[\s_\-.]+", " ", text).strip()


def taxon_names(taxon: Taxon) -> set[str]:
    names = {taxon.slug, taxon.name_en, taxon.name_fr, taxon.scientific_name, *taxon.aliases}
    return {normalise_name(name) for name in names if name}


def taxa_by_name() -> dict[str, Taxon]:
    lookup: dict[str, Taxon] = {}
    for taxon in Taxon.objects.order_by(F("deepfaune_order").desc(nulls_first=True)):  # seeded win
        for name in taxon_names(taxon):
            lookup[name] = taxon
    return lookup


def taxa_match(names: set[str]) -> tuple[dict[str, Taxon], list[str]]:
    """Map each given class name to a taxon; return the matches and the names that
    matched nothing."""
    lookup = taxa_by_name()
    found = {name: lookup[normalise_name(name)] for name in names if normalise_name(name) in lookup}
    return found, sorted(names - found.keys())


def taxon_create(
    *,
    name_en: str,
    name_fr: str = "",
    scientific_name: str = "",
    parent: Taxon | None = None,
    kind: str = TaxonKind.ANIMAL,
    aliases: list[str] | None = None,
    created_by: User | None = None,
) -> Taxon:
    name_en = name_en.strip()
    if not name_en:
        raise ValidationError(_("A taxon needs an English name."))
    clash = taxa_by_name().get(normalise_name(name_en))
    if clash is not None:
        raise ValidationError(
            _("A taxon named %(name)r already exists (%(en)s, %(fr)s).")
            % {"name": name_en, "en": clash.name_en, "fr": clash.name_fr}
        )
    slug = slugify(name_en.replace("_", " "))[:80] or "taxon"
    taxon = Taxon(
        slug=slug,
        name_en=name_en,
        name_fr=name_fr.strip() or name_en,
        scientific_name=scientific_name.strip(),
        parent=parent,
        kind=kind,
        aliases=aliases or [],
        created_by=created_by,
    )
    taxon.full_clean()
    taxon.save()
    return taxon


@transaction.atomic
def taxa_create_missing(
    *,
    names: list[str],
    created_by: User | None = None,
    details: dict[str, dict[str, Any]] | None = None,
) -> list[Taxon]:
    """Create a taxon for each unknown import class name, named as the folder or category
    was, or with the names the source gives for it (`details`: class name -> name_en,
    name_fr, scientific_name)."""
    details = details or {}
    created = []
    for name in names:
        given = details.get(name, {})
        created.append(
            taxon_create(
                name_en=given.get("name_en") or name.replace("_", " ").strip(),
                name_fr=given.get("name_fr", ""),
                scientific_name=given.get("scientific_name", ""),
                created_by=created_by,
            )
        )
    return created
