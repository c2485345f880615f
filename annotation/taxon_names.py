"""Taxon names as the reader says them: French names for a French reader, English ones otherwise,
and taxon lists sorted by that name with accents and case ignored ("Écureuil" sorts with the E's,
not after Z).

Every taxon list and select (forms, pages, the API) goes through `taxa_in_reading_order`, so the
order is the same everywhere and follows the language of the request (`get_language()`, set by the
locale middleware)."""

import unicodedata
from collections.abc import Iterable
from typing import Any

from django.utils.translation import get_language

from annotation.models import Taxon

# Letters that Unicode decomposition leaves whole: sorted as the letters they stand for ("œil"
# with "oeil").
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


def reads_french() -> bool:
    return (get_language() or "").lower().startswith("fr")


def taxon_name(taxon: Taxon) -> str:
    """The taxon's name in the reader's language (a taxon added without a French name falls back
    to English)."""
    if reads_french():
        return taxon.name_fr or taxon.name_en
    return taxon.name_en


def queue_name(queue: dict[str, Any]) -> str:
    """A review queue of `review_queue_counts` named in the reader's language."""
    name: str = (reads_french() and queue.get("name_fr")) or queue["name"]
    return name


def taxon_other_name(taxon: Taxon) -> str:
    """The taxon's name in the language the reader does not read ('' when it is the same)."""
    other = taxon.name_en if reads_french() else taxon.name_fr
    return "" if other == taxon_name(taxon) else other


def taxon_label(taxon: Taxon) -> str:
    """The reader's name first, then the other language's when it differs: 'renard / fox'."""
    first, other = taxon_name(taxon), taxon_other_name(taxon)
    return f"{first} / {other}" if other else first


def name_sort_key(name: str) -> tuple[str, str]:
    """Compare names without accents or case; the name itself breaks ties, so the order never
    depends on the order rows came from the database."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_LIGATURES))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return plain.casefold().strip(), name


def taxa_in_reading_order(taxa: Iterable[Taxon] | None = None) -> list[Taxon]:
    """These taxa (default: all of them) sorted by their name in the reader's language."""
    rows = Taxon.objects.all() if taxa is None else taxa
    return sorted(rows, key=lambda taxon: name_sort_key(taxon_name(taxon)))
