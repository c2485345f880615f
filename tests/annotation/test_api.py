"""The REST API as partners' scripts use it."""

import io
import struct

import pytest
from PIL import Image as Picture
from rest_framework.test import APIClient

from annotation.models import Annotation, BatchStatus, Image, UploadBatch
from faune_platform.tokens.services import api_token_create
from tests.conftest import client_for
from tests.factories import jpeg_bytes, upload, zip_bytes

pytestmark = pytest.mark.django_db


def post_files(api, *files, **fields):
    return api.post("/api/images/", {"files": list(files), **fields}, format="multipart")


def test_upload_creates_deployment_and_reports_each_file(api, org):
    response = post_files(
        api,
        upload("a.jpg", jpeg_bytes(seed=1, taken="2024:05:01 10:00:00")),
        upload("b.jpg", b"garbage"),
        deployment_name="Col 1",
    )
    assert response.status_code == 201
    body = response.json()
    assert [f["outcome"] for f in body["files"]] == ["imported", "rejected"]
    assert body["counts"]["imported"] == 1 and "not an image" in body["files"][1]["reason"]
    assert Image.objects.get().deployment.name == "Col 1"


def test_all_refused_is_a_400_with_reasons(api):
    response = post_files(api, upload("empty.jpg", b""))
    assert (
        response.status_code == 400 and "empty.jpg: the file is empty" in response.json()["detail"]
    )


def _tiff_with_a_fractional_width() -> bytes:
    """A TIFF whose width is a float (2.0): Pillow refuses it with a ValueError, not an OSError."""
    out = io.BytesIO()
    Picture.new("RGB", (2, 2)).save(out, format="TIFF")
    data = bytearray(out.getvalue())
    directory = struct.unpack_from("<I", data, 4)[0]
    for entry in range(struct.unpack_from("<H", data, directory)[0]):
        at = directory + 2 + 12 * entry
        if struct.unpack_from("<H", data, at)[0] == 256:  # ImageWidth, rewritten as a FLOAT
            struct.pack_into("<HHIf", data, at, 256, 11, 1, 2.0)
    return bytes(data)


def test_a_header_pillow_refuses_with_a_value_error_is_a_refused_file(api):
    """Found by the hypothesis fuzz test: it was reported as an internal error."""
    response = post_files(api, upload("card.tif", _tiff_with_a_fractional_width()))
    assert response.status_code == 400
    assert response.json()["files"][0]["reason"] == "the image cannot be read: Invalid dimensions"
    assert not Image.objects.exists()


def test_all_refused_reads_in_the_uploaders_language(api):
    response = api.post(
        "/api/images/",
        {"files": [upload("empty.jpg", b""), upload("b.jpg", b"garbage")]},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Aucun fichier n'a été accepté : empty.jpg : le fichier est vide (0 octet) ; "
        "b.jpg : le fichier n'est ni une image ni une vidéo que cette plateforme sait lire"
    )


def test_a_rejection_reads_in_the_uploaders_language(api):
    whole = jpeg_bytes(size=(400, 300), seed=5)
    response = api.post(
        "/api/images/",
        {
            "files": [
                upload("cut.jpg", whole[: len(whole) // 2]),
                upload("b.jpg", b"garbage"),
                upload("ok.jpg", jpeg_bytes(seed=6)),
            ]
        },
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 201
    reasons = [item["reason"] for item in response.json()["files"][:2]]
    assert reasons[0].startswith("l'image est abîmée ou tronquée (")
    assert reasons[1] == "le fichier n'est ni une image ni une vidéo que cette plateforme sait lire"


def test_a_date_note_reads_in_the_uploaders_language(api):
    """The note on a camera date the pool cannot use is written, like the report, in the
    language of the upload."""
    future = jpeg_bytes(seed=8, taken="2099:01:01 10:00:00")
    response = api.post(
        "/api/images/",
        {"files": [upload("future.jpg", future)]},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 201
    note = "la date EXIF 2099-01-01 10:00:00 est dans le futur ; l'image est gardée sans date"
    assert response.json()["files"][0]["reason"] == note
    assert Image.objects.get().date_note == note


def test_a_zips_refusals_read_in_the_uploaders_language(api):
    """Reasons worded where Django is not imported (the zip reader) are translated when the report
    is written: a whole archive refused, and one entry of another left out."""
    response = api.post(
        "/api/images/",
        {
            "files": [
                upload("broken.zip", b"PK\x03\x04" + b"\x00" * 40),
                upload("card.zip", zip_bytes({"../escape.jpg": jpeg_bytes(seed=7)})),
            ]
        },
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    reasons = {item["name"]: item["reason"] for item in response.json()["files"]}
    assert reasons["broken.zip"].startswith("l'archive zip ne peut pas être lue (")
    assert reasons["card.zip/../escape.jpg"] == (
        "chemin dangereux dans le zip (absolu ou avec « .. ») ; ignoré"
    )
    assert not Image.objects.exists()


def test_duplicate_upload_returns_the_existing_image(api):
    content = jpeg_bytes(seed=9)
    first = post_files(api, upload("a.jpg", content)).json()["files"][0]["image"]
    response = post_files(api, upload("again.jpg", content))
    assert response.status_code == 200 and response.json()["files"][0] == {
        "name": "again.jpg",
        "outcome": "duplicate",
        "image": first,
        "labelled": False,
        "reason": response.json()["files"][0]["reason"],
    }


def test_no_files_and_foreign_organisation_are_refused(api, other_org):
    assert api.post("/api/images/", {}, format="multipart").status_code == 400
    response = post_files(api, upload("a.jpg", jpeg_bytes()), organisation=other_org.pk)
    assert response.status_code == 403 and "not a member" in response.json()["detail"]


def test_token_auth_works(partner):
    secret = api_token_create(user=partner, name="script").secret
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert client.get("/api/images/").status_code == 200


def test_list_filters_by_deployment_date_taxon_and_labelled(api):
    post_files(
        api, upload("a.jpg", jpeg_bytes(seed=1, taken="2024:05:01 10:00:00")), deployment_name="A"
    )
    post_files(
        api, upload("b.jpg", jpeg_bytes(seed=2, taken="2024:06:01 10:00:00")), deployment_name="B"
    )
    b = Image.objects.get(original_name="b.jpg")
    api.post(f"/api/images/{b.pk}/annotations/", {"taxon": "renard"}, format="json")

    def names(**query):
        return sorted(i["original_name"] for i in api.get("/api/images/", query).json()["results"])

    assert names() == ["a.jpg", "b.jpg"]
    assert names(deployment=b.deployment_id) == ["b.jpg"]
    assert names(taken_after="2024-05-15T00:00:00Z") == ["b.jpg"]
    assert names(taxon="fox") == ["b.jpg"]
    assert names(labelled="false") == ["a.jpg"]
    assert api.get("/api/images/", {"taxon": "unicorn"}).status_code == 400


def test_detail_has_sequence_and_history(api):
    post_files(
        api,
        upload("a.jpg", jpeg_bytes(seed=1, taken="2024:05:01 10:00:00")),
        upload("b.jpg", jpeg_bytes(seed=2, taken="2024:05:01 10:00:03")),
        deployment_name="A",
    )
    image = Image.objects.get(original_name="a.jpg")
    api.post(
        f"/api/images/{image.pk}/annotations/",
        {"taxon": "sanglier", "whole_sequence": True},
        format="json",
    )
    body = api.get(f"/api/images/{image.pk}/").json()
    assert len(body["sequence"]["images"]) == 2
    assert (
        body["history"][0]["taxon"]["slug"] == "wild-boar"
        and body["history"][0]["applies_to"] == "sequence"
    )


def test_annotation_validation_and_conflict(api):
    post_files(api, upload("a.jpg", jpeg_bytes()))
    image = Image.objects.get()
    url = f"/api/images/{image.pk}/annotations/"
    assert api.post(url, {"taxon": "unicorn"}, format="json").status_code == 400
    assert (
        "edge"
        in api.post(url, {"taxon": "fox", "box": [0.8, 0.1, 0.5, 0.5]}, format="json").json()[
            "detail"
        ]
    )
    ok = api.post(
        url,
        {"taxon": "fox", "box": [0.1, 0.1, 0.5, 0.5], "count": 2, "expected_current": 0},
        format="json",
    )
    assert ok.status_code == 201 and ok.json()["box"] == [0.1, 0.1, 0.5, 0.5]
    stale = api.post(url, {"taxon": "wolf", "expected_current": 0}, format="json")
    assert stale.status_code == 409 and "reload" in stale.json()["detail"]
    assert Annotation.objects.count() == 1


def test_batch_endpoints_take_files_then_close(api):
    batch = api.post("/api/batches/", {"deployment_name": "Cam"}, format="json").json()
    response = api.post(
        f"/api/batches/{batch['id']}/files/",
        {"files": [upload("a.jpg", jpeg_bytes())]},
        format="multipart",
    )
    assert response.status_code == 201
    assert api.get(f"/api/batches/{batch['id']}/").json()["counts"]["imported"] == 1


def test_api_import_of_a_labelled_zip_runs_as_a_job(api, django_capture_on_commit_callbacks):
    archive = zip_bytes(
        {
            "Sanglier/1.jpg": jpeg_bytes(seed=1),
            "Renard/2.jpg": jpeg_bytes(seed=2),
            "../x.jpg": jpeg_bytes(seed=3),
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/imports/",
            {"archive": upload("set.zip", archive, "application/zip"), "format": "classes"},
            format="multipart",
        )
    assert response.status_code == 202
    batch = UploadBatch.objects.get(pk=response.json()["id"])
    assert batch.status == BatchStatus.DONE  # tests run jobs inline (django-q2 sync)
    counts = api.get(f"/api/batches/{batch.pk}/").json()["counts"]
    assert (counts["imported"], counts["labelled"], counts["rejected"]) == (2, 2, 1)


def test_api_import_with_unknown_classes_waits_for_its_mapping(api):
    archive = zip_bytes({"Okapi/1.jpg": jpeg_bytes(seed=1)})
    response = api.post(
        "/api/imports/",
        {"archive": upload("set.zip", archive), "format": "classes"},
        format="multipart",
    )
    body = response.json()
    assert response.status_code == 201 and "Okapi" in body["detail"] and body["status"] == "open"
    assert body["classes"] == [{"name": "Okapi", "images": 1, "suggestion": None}]
    assert (
        body["stored"] == {"state": "mapping", "handled": 0, "total": 1}
        and not Image.objects.exists()
    )
    forbidden = api.post(
        "/api/imports/",
        {"archive": upload("set.zip", archive), "format": "classes", "create_taxa": True},
        format="multipart",
    )
    assert forbidden.status_code == 403 and UploadBatch.objects.count() == 1


def test_coordinator_adds_a_taxon_partner_cannot(api, coordinator):
    data = {"name_en": "golden jackal", "name_fr": "chacal doré", "scientific_name": "Canis aureus"}
    assert api.post("/api/taxa/", data, format="json").status_code == 403
    created = client_for(coordinator).post("/api/taxa/", data, format="json")
    assert created.status_code == 201 and created.json()["slug"] == "golden-jackal"
    again = client_for(coordinator).post("/api/taxa/", data, format="json")
    assert again.status_code == 400 and "already exists" in again.json()["detail"]


def test_thumbnail_and_file_are_served_to_those_who_may_see_them(
    api, partner, other_partner, client
):
    post_files(api, upload("a.jpg", jpeg_bytes()))
    image = Image.objects.get()
    client.force_login(partner)
    thumbnail = client.get(f"/images/{image.pk}/thumbnail")
    # read to the end: the test client then closes the file, as a server does once it has sent it
    assert thumbnail.status_code == 200 and b"".join(thumbnail.streaming_content)
    client.force_login(other_partner)
    assert client.get(f"/images/{image.pk}/file").status_code == 404
