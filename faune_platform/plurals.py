"""Sentences with a number in them, for pages whose script fills the numbers in as they change.
The server cannot pick the singular or the plural for a number it does not know yet, so such a
sentence travels in the three forms English and French tell apart (none, one, more) with the name
of the number that picks one; `faune/plurals.js` fills them in the browser, `fill` here for the
page's first drawing. (French says "0 fichier", English "0 files": hence three forms, not two.)"""

import re
from collections.abc import Callable

Phrase = str | dict[str, str]


def counted(count: str, sentence: Callable[[int], str]) -> dict[str, str]:
    """`sentence(n)` is an `ngettext` call with literal strings (so that makemessages finds
    them); `count` names the number among the sentence's {names} that chooses the form."""
    return {"count": count, "zero": sentence(0), "one": sentence(1), "other": sentence(2)}


def form_for(phrase: Phrase, values: dict) -> str:
    if isinstance(phrase, str):
        return phrase
    number = int(values.get(phrase["count"]) or 0)
    return phrase["zero"] if number == 0 else phrase["one"] if number == 1 else phrase["other"]


def fill(phrase: Phrase, values: dict) -> str:
    """The phrase's form for its number, with every {name} replaced as the script does."""
    text = form_for(phrase, values)
    return re.sub(r"\{(\w+)\}", lambda match: _shown(values.get(match.group(1))), text)


def _shown(value: object) -> str:
    return "" if value is None else str(value)  # as the script shows a missing value
