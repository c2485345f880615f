"""Deployment metadata from its page, through the service: ranges and dates checked on both sides, a
changed clock offset moves the camera's image dates in the same transaction, refusals write nothing;
who may see and edit."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from annotation.models import Deployment
from annotation.services.batches import batch_open
from annotation.services.ingest import image_ingest
from annotation.services.organisations import deployment_get_or_create, deployment_update
from tests.factories import write_jpeg

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def camera(org, partner, tmp_path):
    camera = deployment_get_or_create(organisation=org, name="Col du Lautaret")
    batch = batch_open(organisation=org, uploader=partner, deployment=camera)
    for seed in range(3):
        path = write_jpeg(
            tmp_path / f"{seed}.jpg", seed=seed, taken=f"2025:06:0{seed + 1} 12:00:00"
        )
        image_ingest(path=path, name=path.name, batch=batch, deployment=camera)
    return camera


FIELDS = {
    "name": "Col du Lautaret",
    "location_name": "Col, east slope",
    "latitude": "45.035",
    "longitude": "6.4",
    "camera_id": "CT-0042",
    "camera_make": "Browning",
    "camera_model": "Recon Force",
    "start": "2025-05-30T09:00",
    "end": "2025-07-01T17:30",
    "habitat": "Larch wood edge, 1 m high, facing N.",
    "clock_offset_s": "0",
}


def test_a_partner_records_the_field_metadata(partner, camera):
    response = signed_in(partner).post(f"/deployments/{camera.pk}/", FIELDS)
    assert response.status_code == 302
    camera.refresh_from_db()
    assert (
        camera.location_name,
        camera.latitude,
        camera.longitude,
        camera.camera_id,
        camera.camera_model,
    ) == ("Col, east slope", 45.035, 6.4, "CT-0042", "Recon Force")
    assert camera.start == dt.datetime(2025, 5, 30, 9, 0, tzinfo=UTC)
    assert camera.end == dt.datetime(2025, 7, 1, 17, 30, tzinfo=UTC)
    page = signed_in(partner).get(f"/deployments/{camera.pk}/").content.decode()
    assert "Larch wood edge" in page and "CT-0042" in page and "2025-05-30 09:00" in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"latitude": "90.5"}, "latitude", "Latitude lies between -90 and 90 degrees."),
        ({"longitude": "-181"}, "longitude", "Longitude lies between -180 and 180 degrees."),
        ({"latitude": "nan"}, "latitude", "Enter a number."),
        ({"end": "2025-05-01T09:00"}, "end", "The pick-up must come after the set-up."),
        ({"start": "not a date"}, "start", "Enter a valid date/time."),
        ({"name": ""}, "name", "This field is required."),
        ({"clock_offset_s": str(10**12)}, "clock_offset_s", "less than or equal to"),
    ],
)
def test_bad_metadata_is_a_400_with_the_reason_and_nothing_is_saved(
    partner, camera, change, field, message
):
    before = Deployment.objects.filter(pk=camera.pk).values().get()
    response = signed_in(partner).post(f"/deployments/{camera.pk}/", {**FIELDS, **change})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert Deployment.objects.filter(pk=camera.pk).values().get() == before


def test_a_name_another_camera_of_the_organisation_has_is_refused(partner, camera, org):
    deployment_get_or_create(organisation=org, name="Vallon")
    response = signed_in(partner).post(f"/deployments/{camera.pk}/", {**FIELDS, "name": "Vallon"})
    assert response.status_code == 400 and "has this name" in response.content.decode()


def test_the_service_checks_what_the_form_checks(camera):
    with pytest.raises(ValidationError) as refused:
        deployment_update(
            deployment=camera,
            latitude=91.0,
            end=dt.datetime(2020, 1, 1, tzinfo=UTC),
            start=dt.datetime(2021, 1, 1, tzinfo=UTC),
            camera_id="x" * 101,
        )
    assert set(refused.value.message_dict) == {"latitude", "end", "camera_id"}
    camera.refresh_from_db()
    assert camera.latitude is None and camera.start is None and camera.camera_id == ""


def test_a_clock_offset_moves_the_image_dates_with_the_metadata(partner, camera):
    before = sorted(camera.images.values_list("taken_at", flat=True))
    response = signed_in(partner).post(
        f"/deployments/{camera.pk}/", {**FIELDS, "clock_offset_s": "3600"}
    )
    assert response.status_code == 302
    after = sorted(camera.images.values_list("taken_at", flat=True))
    assert after == [taken + dt.timedelta(hours=1) for taken in before]
    camera.refresh_from_db()
    assert camera.clock_offset_s == 3600 and camera.camera_id == "CT-0042"


def test_a_refused_change_leaves_the_image_dates_alone(partner, camera):
    before = sorted(camera.images.values_list("taken_at", flat=True))
    with pytest.raises(ValidationError):
        deployment_update(deployment=camera, clock_offset_s=3600, latitude=-95.0)
    assert sorted(camera.images.values_list("taken_at", flat=True)) == before


def test_the_page_lists_images_and_sequences_and_flags_dates_outside_the_deployment(
    partner, camera
):
    deployment_update(deployment=camera, start=dt.datetime(2025, 6, 1, 13, tzinfo=UTC))
    response = signed_in(partner).get(f"/deployments/{camera.pk}/")
    assert response.status_code == 200
    assert len(response.context["images"]) == 3 and len(response.context["sequences"]) == 3
    assert response.context["summary"]["outside"] == 1  # the frame taken at noon on set-up day
    assert "1 image is dated outside set-up to pick-up" in response.content.decode()


def test_who_sees_and_edits_a_deployment(camera, other_partner, expert, coordinator):
    assert signed_in(other_partner).get(f"/deployments/{camera.pk}/").status_code == 404
    assert signed_in(other_partner).post(f"/deployments/{camera.pk}/", FIELDS).status_code == 404
    assert (
        signed_in(expert).get(f"/deployments/{camera.pk}/").status_code == 404
    )  # another organisation's camera
    assert "Col du Lautaret" not in signed_in(other_partner).get("/deployments/").content.decode()
    assert signed_in(coordinator).post(f"/deployments/{camera.pk}/", FIELDS).status_code == 302
    assert Client().get(f"/deployments/{camera.pk}/").status_code == 302  # to log in


def test_adding_a_deployment_from_the_list(partner, org, other_org, camera):
    client = signed_in(partner)
    added = client.post("/deployments/", {"organisation": org.pk, "name": "Vallon de la Selle"})
    created = Deployment.objects.get(name="Vallon de la Selle")
    assert added.status_code == 302 and added["Location"] == f"/deployments/{created.pk}/"
    again = client.post("/deployments/", {"organisation": org.pk, "name": "Vallon de la Selle"})
    assert (
        again.status_code == 400
        and "already has a deployment of this name" in again.content.decode()
    )
    elsewhere = client.post("/deployments/", {"organisation": other_org.pk, "name": "Not mine"})
    assert elsewhere.status_code == 400 and not Deployment.objects.filter(name="Not mine").exists()
