"""Which taxon each class name of an import stands for: one mechanism for the import page, the API
and the `import_images` command.

A class name matches a taxon exactly when, accents, case and separators aside, it is one of the
taxon's names (English, French, scientific, identifier) or aliases, so DeepFaune's unaccented
spellings ("chevre", "ecureuil") match too. Any other name gets at most a suggestion (a plural, a
word of the name, a close spelling, the group its last word names) that a person confirms: a
suggestion is never applied on its own.
"""

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from annotation.models import Taxon
from annotation.permissions import user_access
from annotation.selectors import UnknownTaxon, taxon_resolve
from annotation.services.taxa import normalise_name, taxon_create
from faune_platform.errors import InputRefused

# How a name matched, strongest first; the first four and "alias" are exact, the rest suggestions.
HOW_LABELS = {
    "name_en": gettext_lazy("English name"),
    "name_fr": gettext_lazy("French name"),
    "scientific": gettext_lazy("scientific name"),
    "slug": gettext_lazy("identifier"),
    "alias": gettext_lazy("other name"),
    "plural": gettext_lazy("plural of a name"),
    "words": gettext_lazy("part of the name"),
    "spelling": gettext_lazy("close spelling"),
    "group": gettext_lazy("group of the taxa sharing its last word"),
}
EXACT = ("name_en", "name_fr", "scientific", "slug", "alias")
# difflib ratio: "chevreuill" or "sanglie" pass, "red deer" against "roe deer" (0.75) does not
CLOSE_SPELLING = 0.85


@dataclass(frozen=True)
class Suggestion:
    taxon: Taxon
    how: str  # a key of HOW_LABELS
    matched: str  # the taxon's name (or word) that matched, as the taxon spells it

    @property
    def exact(self) -> bool:
        return self.how in EXACT

    @property
    def why(self) -> str:
        return f"{HOW_LABELS[self.how]} “{self.matched}”"


@dataclass(frozen=True)
class ClassRow:
    """One class name of an import: how many files it labels and what it probably is."""

    name: str
    images: int
    suggestion: Suggestion | None


@dataclass(frozen=True)
class NewTaxon:
    """A taxon a coordinator creates for a class while mapping it."""

    name_en: str
    name_fr: str = ""
    scientific_name: str = ""


Choice = Taxon | NewTaxon | None  # None: the class's files are imported without this label


class UnmappedClasses(InputRefused):
    """Some class names have no taxon yet; `rows` lists every class, with counts and suggestions."""

    def __init__(self, rows: list[ClassRow], missing: list[str]) -> None:
        self.rows, self.missing = rows, missing
        counts = {row.name: row.images for row in rows}
        shown = ", ".join(f"“{name}” ({counts.get(name, 0)})" for name in missing[:30])
        more = " …" if len(missing) > 30 else ""
        super().__init__(
            _(
                "%(n)d class name(s) need a taxon: %(names)s%(more)s. Map each to a taxon, or "
                "import its images without a label."
            )
            % {"n": len(missing), "names": shown, "more": more}
        )


class NameIndex:
    """Every taxon's names, normalised, with how each one names it (seeded taxa win a name
    they share)."""

    def __init__(self) -> None:
        self.exact: dict[str, Suggestion] = {}
        self.parents: dict[int, int | None] = {}
        self.taxa: dict[int, Taxon] = {}
        for taxon in Taxon.objects.order_by(F("deepfaune_order").asc(nulls_last=True), "pk"):
            self.taxa[taxon.pk], self.parents[taxon.pk] = taxon, taxon.parent_id
            for how, name in _names_of(taxon):
                self.exact.setdefault(normalise_name(name), Suggestion(taxon, how, name))

    def lookup(self, key: str) -> Suggestion | None:
        return self.exact.get(key)

    def ancestors(self, taxon_id: int) -> list[int]:
        """The taxon, its parent, its parent's parent… (a cycle, which the admin could make, stops
        the walk)."""
        chain: list[int] = []
        current: int | None = taxon_id
        while current is not None and current not in chain:
            chain.append(current)
            current = self.parents.get(current)
        return chain


def _names_of(taxon: Taxon) -> list[tuple[str, str]]:
    names = [
        ("name_en", taxon.name_en),
        ("name_fr", taxon.name_fr),
        ("scientific", taxon.scientific_name),
        ("slug", taxon.slug),
    ] + [("alias", alias) for alias in taxon.aliases]
    return [(how, name) for how, name in names if isinstance(name, str) and normalise_name(name)]


def _singulars(key: str) -> list[str]:
    """English and French plurals: deers, renards, oiseaux, foxes, ponies."""
    forms = []
    if key.endswith("ies"):
        forms.append(key[:-3] + "y")
    if key.endswith("es"):
        forms.append(key[:-2])
    if key.endswith(("s", "x")):
        forms.append(key[:-1])
    return forms


def _exact_or_plural(key: str, index: NameIndex) -> Suggestion | None:
    found = index.lookup(key)
    if found is not None:
        return found
    for form in _singulars(key):
        singular = index.lookup(form)
        if singular is not None:
            return Suggestion(singular.taxon, "plural", singular.matched)
    return None


def _by_words(words: list[str], index: NameIndex) -> Suggestion | None:
    """The longest run of words at either end that names a taxon ("spiny rat" -> rat, "renard des
    sables" -> renard): English puts the noun last, French first."""
    for size in range(len(words) - 1, 0, -1):
        for phrase in (" ".join(words[-size:]), " ".join(words[:size])):
            found = _exact_or_plural(phrase, index)
            if found is not None:
                return Suggestion(found.taxon, "words", found.matched)
    return None


def _by_group(word: str, index: NameIndex) -> Suggestion | None:
    """The deepest taxon above every taxon one of whose names holds `word` ("white tailed deer": red
    deer, roe deer and the deer family share "deer", so the deer family), when they have one."""
    if len(word) < 3:  # "de", "du", "of": no group
        return None
    holders = {
        suggestion.taxon.pk for key, suggestion in index.exact.items() if word in key.split()
    }
    if not holders:
        return None
    chains = [index.ancestors(pk) for pk in holders]
    shared = set(chains[0]).intersection(*chains[1:])
    deepest = next((pk for pk in chains[0] if pk in shared), None)
    return Suggestion(index.taxa[deepest], "group", word) if deepest is not None else None


def _by_spelling(key: str, index: NameIndex) -> Suggestion | None:
    close = difflib.get_close_matches(key, list(index.exact), n=1, cutoff=CLOSE_SPELLING)
    if not close:
        return None
    found = index.exact[close[0]]
    return Suggestion(found.taxon, "spelling", found.matched)


def class_suggest(name: str, *, index: NameIndex) -> Suggestion | None:
    """The exact match of a class name, else the most likely taxon to propose, else None."""
    key = normalise_name(name)
    words = key.split()
    if not words:
        return None
    return (
        _exact_or_plural(key, index)
        or _by_words(words, index)
        or _by_spelling(key, index)
        or _by_group(words[-1], index)
    )


def class_mapping_propose(
    class_counts: Mapping[str, int], *, index: NameIndex | None = None
) -> list[ClassRow]:
    """Each class name with its file count and suggestion, in name order."""
    index = index or NameIndex()
    return [
        ClassRow(name, count, class_suggest(name, index=index))
        for name, count in sorted(class_counts.items())
    ]


_UNDECIDED = object()


def _default_choice(
    row: ClassRow, create_missing: bool, details: Mapping[str, Mapping[str, Any]]
) -> object:
    """What a class becomes when nobody chose: its exact match; a new taxon where creating is
    allowed and nothing spells like it (a close spelling is a typo of a taxon we have, not a new
    one), named as the source names it (`details`: a Camtrap DP package's vernacular and scientific
    names) or after the class; else undecided."""
    if row.suggestion is not None and row.suggestion.exact:
        return row.suggestion.taxon
    if create_missing and (
        row.suggestion is None or row.suggestion.how not in ("plural", "spelling")
    ):
        given = details.get(row.name, {})
        return NewTaxon(
            name_en=given.get("name_en") or row.name.replace("_", " ").strip(),
            name_fr=given.get("name_fr", ""),
            scientific_name=given.get("scientific_name", ""),
        )
    return _UNDECIDED


def class_mapping_decide(
    *,
    rows: list[ClassRow],
    choices: Mapping[str, Choice],
    create_missing: bool = False,
    details: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Choice]:
    """Every class's taxon: the one chosen, else its default (see `_default_choice`). Raises
    UnmappedClasses naming the classes still without one, and ValidationError for a choice about a
    class the import lacks."""
    names = {row.name for row in rows}
    stray = sorted(set(choices) - names)
    if stray:
        raise ValidationError(
            _("The import has no class named %(names)s.") % {"names": ", ".join(map(repr, stray))}
        )
    defaults = {row.name: _default_choice(row, create_missing, details or {}) for row in rows}
    decided = {row.name: choices.get(row.name, defaults[row.name]) for row in rows}
    missing = [name for name, choice in decided.items() if choice is _UNDECIDED]
    if missing:
        raise UnmappedClasses(rows, missing)
    # Every class left is a Choice: the undecided ones were refused just above.
    return cast(dict[str, Choice], decided)


def _require_coordinator_for(decided: Mapping[str, Choice], user: User | None) -> None:
    """Creating taxa is for coordinators; `None` is the shell's operator, who runs the platform."""
    wants_new = any(isinstance(choice, NewTaxon) for choice in decided.values())
    if wants_new and user is not None and not user_access(user).coordinator:
        raise PermissionDenied(
            _(
                "Only coordinators create taxa; map the class to an existing taxon, or ask a "
                "coordinator to add it first."
            )
        )


@transaction.atomic
def class_mapping_apply(
    *, decided: Mapping[str, Choice], user: User | None
) -> tuple[dict[str, str | None], list[Taxon]]:
    """Create the taxa the mapping asks for (all or none) and return it as it is kept on the batch:
    source class -> taxon slug, None for a class imported without its label; with the taxa
    created."""
    _require_coordinator_for(decided, user)
    mapping: dict[str, str | None] = {}
    created: dict[
        str, Taxon
    ] = {}  # by normalised English name: "Okapi" and "okapi" folders get one taxon
    for name, choice in decided.items():
        if isinstance(choice, NewTaxon):
            key = normalise_name(choice.name_en)
            if key not in created:
                created[key] = taxon_create(
                    name_en=choice.name_en,
                    name_fr=choice.name_fr,
                    scientific_name=choice.scientific_name,
                    created_by=user,
                )
            choice = created[key]
        mapping[name] = choice.slug if choice is not None else None
    return mapping, list(created.values())


def class_mapping_taxa(
    mapping: Mapping[str, str | None], *, needed: set[str]
) -> dict[str, Taxon | None]:
    """The taxa of a kept mapping for the classes an import needs; ValidationError when one is
    missing from it or its taxon no longer exists."""
    absent = sorted(needed - set(mapping))
    if absent:
        raise ValidationError(
            _("No taxon was chosen for %(names)s.") % {"names": ", ".join(map(repr, absent))}
        )
    slugs = {slug for name, slug in mapping.items() if name in needed and slug}
    taxa = Taxon.objects.in_bulk(slugs, field_name="slug")
    gone = sorted(slugs - set(taxa))
    if gone:
        raise ValidationError(
            _("The taxa %(slugs)s of the class mapping no longer exist.")
            % {"slugs": ", ".join(gone)}
        )
    return {name: taxa[slug] if slug else None for name, slug in mapping.items() if name in needed}


def choice_from_text(text: object) -> Choice:
    """A choice as people and clients write it: a taxon's id, slug or name; an empty value or
    "-" for no label; {"name_en", "name_fr", "scientific_name"} for a new taxon.
    ValidationError otherwise."""
    if text is None or (isinstance(text, str) and text.strip() in ("", "-")):
        return None
    if isinstance(text, dict):
        return _new_taxon_from(text)
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ValidationError(
            _(
                "A class maps to a taxon (id, slug or name), to null, or to a new taxon "
                '{"name_en", "name_fr", "scientific_name"}.'
            )
        )
    try:
        return taxon_resolve(str(text))
    except UnknownTaxon as error:
        raise ValidationError(str(error)) from None


def _new_taxon_from(fields: dict[str, Any]) -> NewTaxon:
    unknown = set(fields) - {"name_en", "name_fr", "scientific_name"}
    values = {key: fields.get(key) or "" for key in ("name_en", "name_fr", "scientific_name")}
    if unknown or not all(isinstance(value, str) for value in values.values()):
        raise ValidationError(
            _('A new taxon is {"name_en", "name_fr", "scientific_name"}, each a text.')
        )
    if not values["name_en"].strip():
        raise ValidationError(_("A new taxon needs an English name."))
    return NewTaxon(**{key: value.strip() for key, value in values.items()})
