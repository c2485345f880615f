"""Ids as they arrive from outside (paths, query strings, request bodies): one range for all
of them.

Primary keys are 64-bit integers; a larger number cannot name a row, and some backends (SQLite)
raise OverflowError on it instead of finding nothing, so it is refused at the edge as "not found" or
"not an id".
"""

from django.urls import register_converter

MAX_ID = 2**63 - 1


class IdConverter:
    """`<id:pk>`: 1 to 18 digits always fit in 64 bits, so a longer number is a 404 without
    a lookup."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")


def id_or_none(value: object) -> int | None:
    """A query-string id when it is one (digits, 1..MAX_ID), else None: filters ignore what names
    no row."""
    text = str(value).strip() if value is not None else ""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None
