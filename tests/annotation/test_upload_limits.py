"""Upload allowances: per request (413) and per organisation per day (429, with when it resets); a
refused request stores nothing: no batch, no deployment, no image, no file."""

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from annotation.models import Deployment, Image, UploadBatch, UploadUsage
from tests.conftest import stored_files
from tests.factories import jpeg_bytes, upload, zip_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    settings.FAUNE = {
        **settings.FAUNE,
        "MAX_FILES_PER_REQUEST": 3,
        "MAX_REQUEST_BYTES": 200_000,
        "DAILY_UPLOAD_FILES": 5,
        "DAILY_UPLOAD_BYTES": 10**9,
    }
    return settings.FAUNE


def files(n: int, start: int = 0) -> list:
    return [upload(f"{i}.jpg", jpeg_bytes(seed=i)) for i in range(start, start + n)]


def nothing_stored(settings) -> bool:
    return not (
        Image.objects.exists()
        or UploadBatch.objects.exists()
        or Deployment.objects.exists()
        or stored_files(settings)
    )


def test_too_many_files_in_one_request_is_a_413_saying_the_limit(api, limits, settings):
    response = api.post(
        "/api/images/", {"files": files(4), "deployment_name": "Col"}, format="multipart"
    )
    assert response.status_code == 413
    assert "sends 4 files; one request may send at most 3" in response.json()["detail"]
    assert nothing_stored(settings) and not UploadUsage.objects.exists()


def test_too_many_bytes_in_one_request_is_a_413(api, limits, settings):
    big = upload("big.jpg", jpeg_bytes(size=(900, 700), seed=3) + b"\0" * 250_000)
    response = api.post(
        "/api/images/", {"files": [big], "deployment_name": "Col"}, format="multipart"
    )
    assert (
        response.status_code == 413
        and "one request may send at most 195.3" in response.json()["detail"]
    )
    assert nothing_stored(settings)


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(api, limits, settings):
    settings.FAUNE = {**limits, "MAX_REQUEST_BYTES": 1024}
    response = api.post(
        "/api/images/",
        {"files": files(1), "deployment_name": "Col"},
        format="multipart",
        CONTENT_LENGTH=str(5 * 1024 * 1024),
    )
    assert response.status_code == 413 and "5.0\xa0MB" in response.json()["detail"]


def test_the_daily_files_allowance_is_a_429_saying_when_it_resets(api, org, limits, settings):
    assert (
        api.post(
            "/api/images/", {"files": files(3), "deployment_name": "Col"}, format="multipart"
        ).status_code
        == 201
    )
    batch = UploadBatch.objects.get()
    assert (
        api.post(
            f"/api/batches/{batch.pk}/files/", {"files": files(2, 10)}, format="multipart"
        ).status_code
        == 201
    )
    before = (Image.objects.count(), len(stored_files(settings)))
    refused = api.post(
        f"/api/batches/{batch.pk}/files/", {"files": files(1, 20)}, format="multipart"
    )
    assert refused.status_code == 429
    detail = refused.json()["detail"]
    assert "Parc des Écrins has sent 5 files" in detail and "daily allowance is 5 files" in detail
    assert "this request (1 file, " in detail
    assert "resets at midnight UTC, in" in detail
    midnight = dt.datetime.combine(
        timezone.now().date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
    )
    assert abs(int(refused["Retry-After"]) - (midnight - timezone.now()).total_seconds()) < 5
    assert (Image.objects.count(), len(stored_files(settings))) == before
    new_batch = api.post(
        "/api/images/", {"files": files(1, 30), "deployment_name": "Other"}, format="multipart"
    )
    assert new_batch.status_code == 429 and not Deployment.objects.filter(name="Other").exists()
    assert UploadBatch.objects.count() == 1
    opening = api.post("/api/batches/", {"deployment_name": "Third"}, format="multipart")
    assert (
        opening.status_code == 429
        and "all of its daily allowance of 5 files" in opening.json()["detail"]
    )
    assert UploadBatch.objects.count() == 1 and not Deployment.objects.filter(name="Third").exists()


def test_the_daily_bytes_allowance_counts_across_requests_and_resets_the_next_day(
    api, org, limits, settings
):
    one = files(1)[0]
    settings.FAUNE = {**limits, "DAILY_UPLOAD_BYTES": one.size + 10}
    assert (
        api.post(
            "/api/images/", {"files": [one], "deployment_name": "Col"}, format="multipart"
        ).status_code
        == 201
    )
    assert (
        api.post(
            "/api/images/",
            {"files": files(1, 5), "deployment": Deployment.objects.get().pk},
            format="multipart",
        ).status_code
        == 429
    )
    UploadUsage.objects.update(
        day=timezone.now().date() - dt.timedelta(days=1)
    )  # yesterday's sending
    assert (
        api.post(
            "/api/images/",
            {"files": files(1, 5), "deployment": Deployment.objects.get().pk},
            format="multipart",
        ).status_code
        == 201
    )


def test_each_organisation_has_its_own_allowance(api, org, other_org, limits, coordinator):
    UploadUsage.objects.create(organisation=other_org, day=timezone.now().date(), files=5)
    assert (
        api.post(
            "/api/images/", {"files": files(2), "deployment_name": "Col"}, format="multipart"
        ).status_code
        == 201
    )


def test_the_import_api_and_page_count_the_archive(partner, api, org, limits, settings):
    UploadUsage.objects.create(organisation=org, day=timezone.now().date(), files=5)
    archive = upload(
        "labelled.zip", zip_bytes({"fox/1.jpg": jpeg_bytes(seed=1)}), "application/zip"
    )
    response = api.post(
        "/api/imports/", {"archive": archive, "organisation": org.pk}, format="multipart"
    )
    assert response.status_code == 429 and "daily allowance" in response.json()["detail"]
    client = Client()
    client.force_login(partner)
    archive.seek(0)
    page = client.post(
        "/import/",
        {"archive": archive, "organisation": org.pk, "format": "auto", "deployment_name": "Col"},
    )
    assert page.status_code == 429 and "resets at midnight UTC" in page.content.decode()
    assert nothing_stored(settings)


def test_usage_is_counted_per_day_in_the_ledger(api, org, limits):
    api.post("/api/images/", {"files": files(2), "deployment_name": "Col"}, format="multipart")
    usage = UploadUsage.objects.get(organisation=org)
    assert usage.day == timezone.now().date() and usage.files == 2 and usage.bytes > 0


def test_a_zip_is_one_file_for_its_request_and_its_photos_for_the_day(api, org, limits, settings):
    card = {f"card/{k}.jpg": jpeg_bytes(seed=k) for k in range(6)}  # 6 photos: over the day's 5
    archive = upload("card.zip", zip_bytes(card), "application/zip")
    refused = api.post(
        "/api/images/", {"files": [archive], "deployment_name": "Col"}, format="multipart"
    )
    assert refused.status_code == 429
    assert "this request (6 files, " in refused.json()["detail"]
    assert nothing_stored(settings) and not UploadUsage.objects.filter(files__gt=0).exists()
    # 4 photos in one zip pass a request limit of 3 files: the request sends one
    archive = upload("card.zip", zip_bytes(dict(list(card.items())[:4])), "application/zip")
    taken = api.post(
        "/api/images/", {"files": [archive], "deployment_name": "Col"}, format="multipart"
    )
    assert taken.status_code == 201 and UploadUsage.objects.get().files == 4
