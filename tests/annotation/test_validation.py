"""Bad input is refused with a 4xx a person understands, never a 500, and never leaves
half-stored rows."""

import datetime as dt
import json
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation

from annotation.forms import LabelForm
from annotation.ingest.layouts import plan_import
from annotation.ingest.plans import LayoutError
from annotation.models import Annotation, BatchItem, BatchOutcome, Deployment, Image, UploadBatch
from annotation.services.batches import batch_add_uploads, batch_open
from annotation.services.imports import import_prepare, import_run
from annotation.services.ingest import image_ingest
from annotation.services.organisations import (
    MAX_CLOCK_OFFSET_S,
    deployment_clock_offset_set,
    deployment_get_or_create,
)
from annotation.services.taxa import normalise_name
from faune_platform.boxes import Box
from faune_platform.responses import message_of
from tests.conftest import client_for
from tests.factories import jpeg_bytes, taxon, upload, write_jpeg, zip_bytes

pytestmark = pytest.mark.django_db
HUGE = 10**23


def _coco_folder(tmp_path, images, annotations=(), categories=({"id": 1, "name": "fox"},)):
    root = tmp_path / "coco"
    write_jpeg(root / "a.jpg", size=(200, 100), seed=1)
    (root / "set.json").write_text(
        json.dumps(
            {"images": images, "annotations": list(annotations), "categories": list(categories)}
        )
    )
    return root


def _plan(root):
    return plan_import(root, "coco", deployment=None, known_names=set(), normalise=normalise_name)


GOOD_IMAGE = {"id": 1, "file_name": "a.jpg", "width": 200, "height": 100}


@pytest.mark.parametrize(
    ("images", "annotations", "field"),
    [
        (
            [GOOD_IMAGE],
            [{"image_id": 1, "category_id": 1, "bbox": ["a", "b", "c", "d"]}],
            "annotations[0].bbox",
        ),
        (
            [GOOD_IMAGE],
            [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}],
            "annotations[0].bbox",
        ),
        ({"1": GOOD_IMAGE}, [], "'images'"),
        ([GOOD_IMAGE], [{"image_id": [1], "category_id": 1}], "annotations[0].image_id"),
        ([{**GOOD_IMAGE, "width": "200"}], [], "images[0].width"),
        ([{**GOOD_IMAGE, "height": -4}], [], "images[0].height"),
        ([{**GOOD_IMAGE, "file_name": "a\x00.jpg"}], [], "images[0].file_name"),
        ([{**GOOD_IMAGE, "datetime": 20200101}], [], "images[0].datetime"),
        ([{**GOOD_IMAGE, "location": {"site": 1}}], [], "images[0].location"),
        ([GOOD_IMAGE, 7], [], "images[1]"),
        ([GOOD_IMAGE], {"image_id": 1}, "'annotations'"),
    ],
)
def test_coco_fields_of_the_wrong_type_are_refused_by_name(tmp_path, images, annotations, field):
    root = _coco_folder(tmp_path, images, annotations)
    (root / "set.json").write_text(
        json.dumps(
            {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "fox"}]}
        )
    )
    with pytest.raises(
        LayoutError, match="set.json: " + field.replace("[", r"\[").replace("]", r"\]")
    ):
        _plan(root)


def test_coco_categories_need_an_id_and_a_name(tmp_path):
    root = _coco_folder(tmp_path, [GOOD_IMAGE], categories=[{"id": 1, "name": None}])
    with pytest.raises(LayoutError, match=r"categories\[0\]\.name must be a text"):
        _plan(root)


def test_a_layout_refusal_reads_in_the_readers_language(tmp_path):
    """The planner (no Django) words its refusals for the catalogue; the edge translates them, and
    the values that are words too ("a text", "an object")."""
    root = _coco_folder(tmp_path, [{**GOOD_IMAGE, "location": {"site": 1}}])
    with pytest.raises(LayoutError) as refused:
        _plan(root)
    assert str(refused.value) == (
        "set.json: images[0].location must be a number or a text, not an object"
    )
    with translation.override("fr"):
        assert message_of(refused.value) == (
            "set.json : images[0].location doit être un nombre ou un texte, pas un objet"
        )


def test_a_well_typed_coco_file_still_plans(tmp_path):
    annotations = [{"image_id": 1, "category_id": 1, "bbox": [20, 10, 100.5, 50]}]
    plan = _plan(
        _coco_folder(tmp_path, [{**GOOD_IMAGE, "datetime": None, "location": 7}], annotations)
    )
    assert [(f.name, f.deployment, f.labels[0].box) for f in plan.files] == [
        ("a.jpg", "7", Box(0.1, 0.1, 0.5025, 0.5))
    ]


def test_a_wrongly_typed_coco_archive_is_a_400_through_the_api(api):
    index = {
        "images": [GOOD_IMAGE],
        "annotations": [{"image_id": 1, "category_id": 1, "bbox": ["x"] * 4}],
        "categories": [{"id": 1, "name": "fox"}],
    }
    archive = zip_bytes(
        {"set.json": json.dumps(index).encode(), "a.jpg": jpeg_bytes(size=(200, 100))}
    )
    response = api.post(
        "/api/imports/",
        {"archive": upload("set.zip", archive), "format": "coco"},
        format="multipart",
    )
    assert response.status_code == 400 and "annotations[0].bbox" in response.json()["detail"]
    assert not UploadBatch.objects.exists()


@pytest.mark.parametrize("when", ["0001-01-01 00:00:00", "9999-12-31 23:59:59"])
def test_coco_dates_outside_the_plausible_years_are_no_dates(org, tmp_path, when):
    root = _coco_folder(
        tmp_path,
        [{**GOOD_IMAGE, "datetime": when, "location": "cam"}],
        [{"image_id": 1, "category_id": 1}],
    )
    write_jpeg(
        root / "a.jpg", size=(200, 100), seed=1, taken="2024:05:01 10:00:00"
    )  # EXIF is not used either
    batch = batch_open(organisation=org, uploader=None)
    counts = import_run(
        batch=batch,
        prepared=import_prepare(root=root, fmt="coco", deployment_name=None, create_taxa=False),
    )
    image = Image.objects.get()
    assert counts["imported"] == 1 and image.taken_at is None and image.sequence.start is None
    assert "the import's date" in image.date_note and "without a date" in image.date_note
    assert BatchItem.objects.get().reason == image.date_note


def test_a_plausible_coco_date_still_wins_over_exif(org, tmp_path):
    root = _coco_folder(tmp_path, [{**GOOD_IMAGE, "datetime": "2020-01-01 00:00:00"}])
    batch = batch_open(organisation=org, uploader=None)
    import_run(
        batch=batch,
        prepared=import_prepare(root=root, fmt="coco", deployment_name=None, create_taxa=False),
    )
    assert Image.objects.get().taken_at == dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


# Clock offsets: bounded wherever they are written; an offset that overflows a date never fails
# an upload.


def test_deployment_api_refuses_absurd_offsets_and_coordinates(api, org):
    for junk in (
        {"clock_offset_s": 10**12},
        {"latitude": 200},
        {"longitude": 500},
        {"latitude": "nan"},
    ):
        response = api.post(
            "/api/deployments/", {"organisation": org.pk, "name": "Col", **junk}, format="json"
        )
        assert response.status_code == 400, junk
        assert set(response.json()) == set(junk)
    assert not Deployment.objects.exists()
    fine = {
        "organisation": org.pk,
        "name": "Col",
        "latitude": 45.1,
        "longitude": 6.2,
        "clock_offset_s": -3600,
    }
    assert api.post("/api/deployments/", fine, format="json").status_code == 201


def test_clock_offset_service_refuses_offsets_no_camera_needs(org):
    camera = deployment_get_or_create(organisation=org, name="Col")
    with pytest.raises(ValidationError, match="at most"):
        deployment_clock_offset_set(deployment=camera, clock_offset_s=10**12)
    with pytest.raises(ValidationError, match="at most"):
        deployment_get_or_create(
            organisation=org, name="Other", clock_offset_s=-(MAX_CLOCK_OFFSET_S + 1)
        )
    assert (
        deployment_clock_offset_set(
            deployment=camera, clock_offset_s=MAX_CLOCK_OFFSET_S
        ).clock_offset_s
        > 0
    )


def test_admin_refuses_an_absurd_offset_with_a_form_error(org, coordinator):
    camera = deployment_get_or_create(organisation=org, name="Col")
    client = Client()
    client.force_login(coordinator)
    form = {"organisation": org.pk, "name": "Col", "clock_offset_s": 10**12}
    response = client.post(f"/admin/annotation/deployment/{camera.pk}/change/", form)
    assert response.status_code == 200 and b"less than or equal to" in response.content
    camera.refresh_from_db()
    assert camera.clock_offset_s == 0


@pytest.mark.skipif(
    "postgresql" in django_settings.DATABASES["default"]["ENGINE"],
    reason="PostgreSQL's integer column refuses such an offset (tests/platform/test_db.py)",
)
def test_an_offset_that_overflows_the_date_leaves_the_image_undated(api, org):
    camera = deployment_get_or_create(organisation=org, name="Col")
    Deployment.objects.filter(pk=camera.pk).update(
        clock_offset_s=10**12
    )  # written before the bound existed
    response = api.post(
        "/api/images/",
        {
            "files": [upload("a.jpg", jpeg_bytes(taken="2024:05:01 10:00:00"))],
            "deployment": camera.pk,
        },
        format="multipart",
    )
    assert response.status_code == 201
    image = Image.objects.get()
    assert image.taken_at is None and "out of range" in image.date_note


def test_what_was_imported_is_announced_even_when_a_later_file_fails(
    org, partner, settings, django_capture_on_commit_callbacks
):
    settings.FAUNE = {**settings.FAUNE, "AFTER_INGEST_TASKS": ["after.ingest"]}
    batch = batch_open(organisation=org, uploader=partner)

    def ingest(**kwargs):
        if kwargs["name"] == "b.jpg":
            raise RuntimeError("disk on fire")
        return image_ingest(**kwargs)

    with (
        mock.patch("annotation.services.ingest.image_ingest", side_effect=ingest),
        mock.patch("django_q.tasks.async_task") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        items = batch_add_uploads(
            batch=batch,
            uploads=[upload("a.jpg", jpeg_bytes(seed=1)), upload("b.jpg", jpeg_bytes(seed=2))],
        )
    assert [item.outcome for item in items] == [BatchOutcome.IMPORTED, BatchOutcome.REJECTED]
    assert "internal error" in items[1].reason and "disk on fire" not in items[1].reason
    queued.assert_called_once()
    assert queued.call_args.args == ("after.ingest", batch.pk)


def test_an_exception_past_the_per_file_net_still_announces(
    org, partner, settings, django_capture_on_commit_callbacks
):
    settings.FAUNE = {**settings.FAUNE, "AFTER_INGEST_TASKS": ["after.ingest"]}
    batch = batch_open(organisation=org, uploader=partner)

    def uploads():
        yield upload("a.jpg", jpeg_bytes(seed=1))
        raise OSError("the client went away")

    with (
        mock.patch("django_q.tasks.async_task") as queued,
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(OSError),
    ):
        batch_add_uploads(batch=batch, uploads=uploads())
    queued.assert_called_once()


# Labels, filters, verdicts and the conflicts page.


def test_label_counts_are_bounded(api, org):
    api.post("/api/images/", {"files": [upload("a.jpg", jpeg_bytes())]}, format="multipart")
    image = Image.objects.get()
    for count in (10**20, 0, 10_001):
        response = api.post(
            f"/api/images/{image.pk}/annotations/", {"taxon": "fox", "count": count}, format="json"
        )
        assert response.status_code == 400 and "count" in response.json()
    assert (
        api.post(
            f"/api/images/{image.pk}/annotations/", {"taxon": "fox", "count": 12}, format="json"
        ).status_code
        == 201
    )
    assert not LabelForm({"taxon": taxon("fox").pk, "count": str(10**20)}).is_valid()
    assert LabelForm({"taxon": taxon("fox").pk, "count": "3"}).is_valid()


def test_label_form_on_the_image_page_refuses_a_huge_count(partner, org):
    client_for(partner).post(
        "/api/images/", {"files": [upload("a.jpg", jpeg_bytes())]}, format="multipart"
    )
    client = Client()
    client.force_login(partner)
    image = Image.objects.get()
    response = client.post(f"/images/{image.pk}/", {"taxon": taxon("fox").pk, "count": str(10**20)})
    assert response.status_code == 200 and not Annotation.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        f"organisation={HUGE}",
        f"deployment={HUGE}",
        f"batch={HUGE}",
        "organisation=0",
        "taxon=²",
        f"taxon={HUGE}",
    ],
)
def test_image_filters_out_of_range_are_a_400(api, query):
    response = api.get(f"/api/images/?{query}")
    assert response.status_code == 400, response.content


@pytest.mark.parametrize(
    "query",
    [
        f"organisation={HUGE}",
        f"deployment={HUGE}",
        f"taxon={HUGE}",
        f"batch={HUGE}",
        "organisation=²",
    ],
)
def test_image_page_ignores_ids_that_name_no_row(partner, query):
    client = Client()
    client.force_login(partner)
    assert client.get(f"/images/?{query}").status_code == 200


def test_verdicts_and_claims_with_junk_ids_are_refused(expert, coordinator):
    for queue in ("²", str(HUGE), "-1"):
        assert (
            client_for(expert)
            .post("/api/review/claim/", {"queue": queue}, format="json")
            .status_code
            == 403
        )
    body = {"taxon": "fox", "split": {"²": "fox"}}
    assert (
        client_for(coordinator).post("/api/review/tasks/1/label/", body, format="json").status_code
        == 400
    )
    assert (
        client_for(coordinator)
        .post("/api/review/tasks/1/label/", {"taxon": "²"}, format="json")
        .status_code
        == 400
    )
    box = {
        "taxon": "fox",
        "box": {"frame": HUGE, "x": 0, "y": 0, "w": 1, "h": 1},
        "expected_current": HUGE,
    }
    response = client_for(coordinator).post("/api/review/tasks/1/label/", box, format="json")
    assert response.status_code == 400 and set(response.json()) == {"box", "expected_current"}


@pytest.mark.parametrize(
    "form",
    [
        {"task": "abc", "taxon": "1"},
        {"task": str(HUGE), "taxon": "1"},
        {"task": "1", "taxon": str(HUGE)},
        {"task": "1", "taxon": "²"},
        {},
    ],
)
def test_conflict_page_refuses_junk_with_a_message(coordinator, form):
    client = Client()
    client.force_login(coordinator)
    response = client.post("/review/conflicts/", form, follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
