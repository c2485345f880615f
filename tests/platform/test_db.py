"""Id lists go to the database in bounded chunks (SQLite refuses a few hundred
thousand parameters)."""

import pytest

from annotation.models import Taxon
from faune_platform import db

pytestmark = pytest.mark.django_db


def test_in_chunks_reads_every_row_whatever_the_chunk(monkeypatch):
    ids = list(Taxon.objects.values_list("pk", flat=True)) + [10**9]  # one id that names no row
    whole = sorted(Taxon.objects.values_list("pk", "slug"))
    monkeypatch.setattr(db, "ID_CHUNK", 4)
    assert [len(part) for part in db.chunked(ids)] == [4] * (len(ids) // 4) + (
        [len(ids) % 4] if len(ids) % 4 else []
    )
    assert sorted(db.in_chunks(Taxon.objects.all(), "pk", ids, ("pk", "slug"))) == whole
