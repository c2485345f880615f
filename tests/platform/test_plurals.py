"""Sentences whose words change with a number: the form follows the number each language counts
by (French says "0 fichier", English "0 files")."""

import pytest
from django.utils import translation
from django.utils.translation import ngettext

from faune_platform.plurals import counted, fill


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["0 of 0 files", "1 of 1 file", "1 of 3 files"]),  # zero is plural in English
        ("fr", ["0 sur 0 fichier", "1 sur 1 fichier", "1 sur 3 fichiers"]),  # singular in French
    ],
)
def test_the_form_follows_the_number_as_each_language_counts(language, expected):
    with translation.override(language):
        files = counted(
            "total",
            lambda n: ngettext("{handled} of {total} file", "{handled} of {total} files", n),
        )
    numbers = [{"handled": 0, "total": 0}, {"handled": 1, "total": 1}, {"handled": 1, "total": 3}]
    assert [fill(files, values) for values in numbers] == expected


def test_a_plain_sentence_is_filled_as_it_is():
    assert fill("by {version}", {"version": "v3"}) == "by v3"
    assert fill("{missing} left", {}) == " left"
