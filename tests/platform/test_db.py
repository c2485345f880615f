"""Id lists go to the database in bounded chunks (SQLite refuses a few hundred
thousand parameters); PostgreSQL prepares the statements a connection repeats."""

import pytest
from django.conf import settings as django_settings
from django.db import DataError, connection, transaction

from annotation.models import Deployment, Organisation, Taxon
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


@pytest.mark.integration
@pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"], reason="PostgreSQL only"
)
def test_postgresql_prepares_a_repeated_query_and_still_takes_one_with_70_000_parameters():
    for _ in range(3):
        list(Taxon.objects.filter(slug="fox"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] > 0
    # more parameters than the protocol can bind: this one is bound on the client
    assert Taxon.objects.filter(pk__in=range(-70_000, 0)).count() == 0


@pytest.mark.integration
@pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"], reason="PostgreSQL only"
)
def test_postgresql_refuses_an_integer_out_of_its_column_range_instead_of_cutting_it():
    camera = Deployment.objects.create(
        organisation=Organisation.objects.create(name="Range"), name="cam", clock_offset_s=5
    )
    for _ in range(3):  # once prepared as well
        with pytest.raises(DataError, match="out of range"), transaction.atomic():
            Deployment.objects.filter(pk=camera.pk).update(clock_offset_s=10**12)
        # cut to 32 bits, this one was 5
        assert not Deployment.objects.filter(clock_offset_s=-(2**32) + 5).exists()
    camera.refresh_from_db()
    assert camera.clock_offset_s == 5
    Deployment.objects.filter(pk=camera.pk).update(clock_offset_s=2**31 - 1)  # the edge still fits
    assert Deployment.objects.get(pk=camera.pk).clock_offset_s == 2**31 - 1


@pytest.mark.integration
@pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"], reason="PostgreSQL only"
)
def test_an_upload_locks_its_camera_alone_and_lets_others_refer_to_it(partner, org):
    """Sequence placement locks the deployment's row only, in the mode key checks pass: locking the
    organisation too made every other upload of the organisation wait."""
    from django.test.utils import CaptureQueriesContext

    from annotation.services.organisations import deployment_get_or_create
    from tests.conftest import client_for
    from tests.factories import jpeg_bytes, upload

    camera = deployment_get_or_create(organisation=org, name="Col")
    with CaptureQueriesContext(connection) as seen:
        response = client_for(partner).post(
            "/api/images/",
            {"files": [upload("a.jpg", jpeg_bytes())], "deployment": camera.pk},
            format="multipart",
        )
    assert response.status_code == 201
    locks = [
        q["sql"] for q in seen.captured_queries if "FOR " in q["sql"] and "deployment" in q["sql"]
    ]
    assert locks and all(
        'FOR NO KEY UPDATE OF "annotation_deployment"' in sql
        and "annotation_organisation" not in sql
        for sql in locks
    ), locks
