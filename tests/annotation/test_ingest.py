"""The ingest service: duplicates, rejections and failures leave no orphan file and no
half-written row."""

import datetime as dt
from unittest import mock

import pytest
from django.db import IntegrityError
from django.utils import translation

from annotation.models import Annotation, BatchItem, Image, Sequence
from annotation.services.batches import batch_add_uploads, batch_open
from annotation.services.ingest import IngestHints, IngestLabel, image_ingest
from annotation.services.organisations import deployment_clock_offset_set, deployment_get_or_create
from tests.conftest import stored_files
from tests.factories import jpeg_bytes, taxon, upload, video_bytes, write_jpeg, zip_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def camera(org):
    return deployment_get_or_create(organisation=org, name="Col 1")


@pytest.fixture
def batch(org, partner, camera):
    return batch_open(organisation=org, uploader=partner, deployment=camera)


def test_image_row_files_and_report_are_written_together(batch, camera, tmp_path, settings):
    item = image_ingest(
        path=write_jpeg(tmp_path / "a.jpg", taken="2024:05:01 10:00:00"),
        name="a.jpg",
        batch=batch,
        deployment=camera,
    )
    image = item.image
    assert item.outcome == "imported" and image.deployment == camera and image.sha256
    assert image.taken_at == dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
    assert {p.name for p in stored_files(settings)} == {
        image.file.name.rsplit("/", 1)[1],
        image.thumbnail.name.rsplit("/", 1)[1],
    }


def test_same_bytes_again_is_a_duplicate_pointing_at_the_first(batch, camera, tmp_path, settings):
    path = write_jpeg(tmp_path / "a.jpg")
    first = image_ingest(path=path, name="a.jpg", batch=batch, deployment=camera)
    again = image_ingest(path=path, name="copy of a.jpg", batch=batch, deployment=camera)
    assert (
        again.outcome == "duplicate"
        and again.image == first.image
        and "already in the pool" in again.reason
    )
    assert Image.objects.count() == 1 and len(stored_files(settings)) == 2


def test_duplicate_bringing_labels_adds_them_to_the_existing_image(batch, camera, tmp_path):
    path = write_jpeg(tmp_path / "a.jpg")
    image_ingest(path=path, name="a.jpg", batch=batch, deployment=camera)
    hints = IngestHints(labels=(IngestLabel(taxon("fox")),))
    again = image_ingest(path=path, name="fox/a.jpg", batch=batch, deployment=camera, hints=hints)
    assert again.outcome == "duplicate" and again.labelled
    assert Annotation.objects.get().taxon.slug == "fox"
    image_ingest(path=path, name="fox/a.jpg", batch=batch, deployment=camera, hints=hints)
    assert Annotation.objects.count() == 1  # the same label twice is not two labels


def test_a_duplicates_report_line_reads_in_the_uploaders_language(batch, camera, tmp_path):
    path = write_jpeg(tmp_path / "a.jpg")
    first = image_ingest(path=path, name="a.jpg", batch=batch, deployment=camera).image
    hints = IngestHints(labels=(IngestLabel(taxon("fox")), IngestLabel(taxon("badger"))))
    with translation.override("fr"):
        plain = image_ingest(path=path, name="b.jpg", batch=batch, deployment=camera)
        labelled = image_ingest(
            path=path, name="c.jpg", batch=batch, deployment=camera, hints=hints
        )
    same = f"mêmes octets que « a.jpg » (image n° {first.pk}), déjà dans la collection"
    assert plain.reason == same
    assert labelled.reason == same + " ; ses 2 nouvelles étiquettes ont été ajoutées à cette image"


def test_rejected_file_leaves_only_its_report(batch, camera, tmp_path, settings):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    item = image_ingest(path=bad, name="bad.jpg", batch=batch, deployment=camera)
    assert item.outcome == "rejected" and "not an image" in item.reason
    assert (
        Image.objects.count() == 0
        and Sequence.objects.count() == 0
        and stored_files(settings) == []
    )


def test_failure_inside_the_transaction_removes_stored_files(batch, camera, tmp_path, settings):
    with (
        mock.patch(
            "annotation.services.ingest.sequence_place", side_effect=RuntimeError("disk full")
        ),
        pytest.raises(RuntimeError),
    ):
        image_ingest(
            path=write_jpeg(tmp_path / "a.jpg"), name="a.jpg", batch=batch, deployment=camera
        )
    assert (
        Image.objects.count() == 0
        and BatchItem.objects.count() == 0
        and stored_files(settings) == []
    )


def test_losing_a_concurrent_race_becomes_a_duplicate_without_orphans(
    batch, camera, tmp_path, settings
):
    path = write_jpeg(tmp_path / "a.jpg")
    winner = image_ingest(path=path, name="a.jpg", batch=batch, deployment=camera)
    real_filter = Image.objects.filter
    calls = {"n": 0}

    def blind_first_lookup(
        *args, **kwargs
    ):  # the other upload commits between our check and our insert
        calls["n"] += 1
        return Image.objects.none() if calls["n"] == 1 else real_filter(*args, **kwargs)

    with mock.patch.object(Image.objects, "filter", side_effect=blind_first_lookup):
        item = image_ingest(path=path, name="again.jpg", batch=batch, deployment=camera)
    assert item.outcome == "duplicate" and item.image == winner.image
    assert len(stored_files(settings)) == 2


def test_clock_offset_corrects_dates_at_ingest_and_afterwards(batch, camera, tmp_path):
    camera.clock_offset_s = 3600
    camera.save()
    item = image_ingest(
        path=write_jpeg(tmp_path / "a.jpg", taken="2024:05:01 10:00:00"),
        name="a.jpg",
        batch=batch,
        deployment=camera,
    )
    assert item.image.taken_at.hour == 11
    deployment_clock_offset_set(deployment=camera, clock_offset_s=-3600)
    item.image.refresh_from_db()
    assert item.image.taken_at.hour == 9 and item.image.sequence.start.hour == 9


def test_uploads_mix_images_zip_entries_and_bad_files(batch, settings):
    archive = zip_bytes(
        {
            "DCIM/a.jpg": jpeg_bytes(seed=1),
            "../escape.jpg": jpeg_bytes(seed=2),
            "notes.txt": b"hello",
        }
    )
    items = batch_add_uploads(
        batch=batch,
        uploads=[
            upload("one.jpg", jpeg_bytes(seed=3)),
            upload("card.zip", archive, "application/zip"),
            upload("empty.jpg", b""),
        ],
    )
    outcomes = {item.name: item.outcome for item in items}
    assert outcomes == {
        "one.jpg": "imported",
        "card.zip/../escape.jpg": "rejected",
        "card.zip/DCIM/a.jpg": "imported",
        "card.zip/notes.txt": "rejected",
        "empty.jpg": "rejected",
    }
    assert not list((settings.DATA_DIR / "staging").glob("*"))  # staging cleaned


def test_video_is_kept_as_media_of_kind_video(batch, camera, tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(video_bytes(tmp_path))
    item = image_ingest(path=path, name="clip.mp4", batch=batch, deployment=camera)
    assert (
        item.image.kind == "video"
        and item.image.frame_count == 6
        and item.image.file.name.endswith(".mp4")
    )


def test_unique_bytes_per_organisation_is_enforced_by_the_database(batch, camera, tmp_path):
    item = image_ingest(
        path=write_jpeg(tmp_path / "a.jpg"), name="a.jpg", batch=batch, deployment=camera
    )
    clone = Image.objects.get(pk=item.image.pk)
    clone.pk = None
    with pytest.raises(IntegrityError):
        clone.save()


def test_correcting_the_clock_in_the_admin_moves_the_dates(
    batch, camera, tmp_path, coordinator, client
):
    item = image_ingest(
        path=write_jpeg(tmp_path / "a.jpg", taken="2024:05:01 10:00:00"),
        name="a.jpg",
        batch=batch,
        deployment=camera,
    )
    client.force_login(coordinator)
    url = f"/admin/annotation/deployment/{camera.pk}/change/"
    form = {"organisation": camera.organisation_id, "name": camera.name, "clock_offset_s": 7200}
    response = client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    item.image.refresh_from_db()
    camera.refresh_from_db()
    assert camera.clock_offset_s == 7200 and item.image.taken_at.hour == 12
