"""Ids from outside (paths, query strings, bodies) are refused when they cannot name a row, never
a 500."""

import pytest
from django.urls import reverse
from rest_framework import serializers

from faune_platform.api import IdField
from faune_platform.converters import MAX_ID, id_or_none
from tests.conftest import client_for

pytestmark = pytest.mark.django_db
HUGE = 10**23


@pytest.mark.parametrize(
    "url",
    [
        f"/api/images/{HUGE}/",
        f"/api/images/{HUGE}/annotations/",
        f"/api/images/{HUGE}/prediction/",
        f"/api/images/{HUGE}/similar/",
        f"/api/batches/{HUGE}/",
        f"/api/batches/{HUGE}/prelabel/",
        f"/api/rounds/{HUGE}/",
        f"/images/{HUGE}/",
        f"/images/{HUGE}/file",
        f"/batches/{HUGE}/",
        f"/rounds/{HUGE}/",
        f"/rounds/{HUGE}/compare/",
    ],
)
def test_path_ids_beyond_the_integer_range_are_not_found(coordinator, url):
    assert client_for(coordinator).get(url).status_code == 404


def test_path_ids_still_reverse_and_resolve():
    assert reverse("image-detail", args=[12]) == "/images/12/"
    assert reverse("api-round", kwargs={"pk": 10**17}) == f"/api/rounds/{10**17}/"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        (" 7 ", 7),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        (str(HUGE), None),
        ("0", None),
        ("-3", None),
        ("²", None),
        ("٣", None),
        ("1e3", None),
        ("", None),
        (None, None),
        ("abc", None),
    ],
)
def test_query_ids_outside_the_range_are_ignored(raw, expected):
    assert id_or_none(raw) == expected


class _Body(serializers.Serializer):
    organisation = IdField()


@pytest.mark.parametrize("value", [HUGE, 0, -1, "--5", 1e30, [], "²"])
def test_body_ids_outside_the_range_are_refused(value):
    body = _Body(data={"organisation": value})
    assert not body.is_valid() and "organisation" in body.errors


def test_body_ids_in_range_are_kept():
    body = _Body(data={"organisation": str(MAX_ID)})
    assert body.is_valid() and body.validated_data["organisation"] == MAX_ID
