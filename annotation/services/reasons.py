"""Why a review task waits, in the reader's language.

A reason is a list of parts, each a catalogue message and its values (`Worded`), newest first:
"unsure (erin)", then "adaptive pick", "model: red deer 0.41, roe deer 0.33", "queue red deer".
The task stores the parts (`ReviewTask.reason_words`) and the desk translates them when it shows
them. A value that is itself words of the platform (a taxon's name, a number with its decimal
mark) is stored in every language the platform speaks, since a French name is not in a catalogue.
`ReviewTask.reason` keeps the English, for searching, and is all that tasks from before the parts
have."""

from collections.abc import Callable, Iterable

from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import get_language, gettext, pgettext

from annotation.models import ReviewTask, Taxon
from annotation.taxon_names import taxon_name
from faune_platform.errors import Worded, gettext_noop

# A task released again and again (unsure, then declined, then unsure...) keeps its newest parts
# and the first reason it was opened for.
MAX_PARTS = 6
# Characters of a taxon name quoted in a reason: a reason is one line on the desk, and its English
# fits its 200 characters.
NAME_IN_REASON = 24

Reason = list[Worded]


def in_every_language(words: Callable[[], str]) -> dict[str, str]:
    """{language code: what `words` says in it}, for a value the catalogue cannot translate."""
    said = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            said[code] = words()
    return said


def short(name: str) -> str:
    return name if len(name) <= NAME_IN_REASON else name[: NAME_IN_REASON - 1] + "…"


def taxon_named(taxon: Taxon) -> dict[str, str]:
    return in_every_language(lambda: short(taxon_name(taxon)))


def taxa_named(taxa: Iterable[Taxon]) -> dict[str, str]:
    """'red deer, roe deer' in every language."""
    listed = list(taxa)
    return in_every_language(lambda: _listed(short(taxon_name(taxon)) for taxon in listed))


def model_said(top: list[tuple[Taxon, float]]) -> Worded:
    """'model: red deer 0.41, roe deer 0.33, fox 0.10'."""
    return Worded(
        gettext_noop("model: %(top)s"),
        {
            "top": in_every_language(
                lambda: _listed(
                    f"{short(taxon_name(taxon))} {formats.number_format(probability, 2)}"
                    for taxon, probability in top
                )
            )
        },
    )


def _listed(items: Iterable[str]) -> str:
    return pgettext("between taxa of a list", ", ").join(items)


def as_reason(reason: Reason | str) -> Reason:
    """A plain text (a test's, a bench's) is one part, the same in every language."""
    return [Worded("%(text)s", {"text": reason})] if isinstance(reason, str) else reason


def task_reason(task: ReviewTask) -> Reason:
    """A task's parts; a task from before the parts has its English text as one part."""
    if task.reason_words:
        return [Worded(template, params) for template, params in task.reason_words]
    return as_reason(task.reason) if task.reason else []


def reason_fields(reason: Reason) -> dict[str, object]:
    """The task's columns for a reason: the parts, and their English."""
    if len(reason) > MAX_PARTS:
        reason = reason[: MAX_PARTS - 1] + reason[-1:]
    return {
        "reason": reason_english(reason)[:200],
        "reason_words": [[part.template, part.params] for part in reason],
    }


def reason_english(reason: Reason) -> str:
    return "; ".join(_worded(part, "en") for part in reason)


def reason_shown(task: ReviewTask) -> str:
    """The task's reason in the reader's language."""
    between = pgettext("between items of a list", "; ")
    return between.join(_worded(part, get_language() or "en") for part in task_reason(task))


def _worded(part: Worded, language: str) -> str:
    with translation.override(language):
        template = gettext(part.template)
    if not part.params:
        return template
    return template % {name: _in(value, language) for name, value in part.params.items()}


def _in(value: object, language: str) -> object:
    if isinstance(value, dict):  # said in every language ("fr", or "fr-ca" read as "fr")
        return value.get(language) or value.get(language.split("-")[0]) or value.get("en", "")
    return value
