"""Sentences whose words change with a number: the form follows the number each language counts
by (French says "0 fichier", English "0 files")."""

from django.utils import translation
from django.utils.translation import ngettext

from faune_platform.plurals import counted, fill


def _files() -> dict[str, str]:
    return counted(
        "total", lambda n: ngettext("{handled} of {total} file", "{handled} of {total} files", n)
    )


def test_english_counts_zero_as_plural_and_one_as_singular():
    with translation.override("en"):
        files = _files()
    assert fill(files, {"handled": 0, "total": 0}) == "0 of 0 files"
    assert fill(files, {"handled": 1, "total": 1}) == "1 of 1 file"
    assert fill(files, {"handled": 1, "total": 3}) == "1 of 3 files"


def test_french_counts_zero_and_one_as_singular():
    with translation.override("fr"):
        files = _files()
    assert fill(files, {"handled": 0, "total": 0}) == "0 sur 0 fichier"
    assert fill(files, {"handled": 1, "total": 1}) == "1 sur 1 fichier"
    assert fill(files, {"handled": 2, "total": 5}) == "2 sur 5 fichiers"


def test_a_plain_sentence_is_filled_as_it_is():
    assert fill("by {version}", {"version": "v3"}) == "by v3"
    assert fill("{missing} left", {}) == " left"
