"""Media read through the storage API only: with a storage that has no local paths (as S3
through django-storages), uploads are stored, served, pre-labelled (stills and videos) and
prepared for fine-tuning."""

from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from annotation.models import Image
from annotation.services.stored_files import cached_local_file, local_file
from inference.models import Prediction
from inference.services.registry import default_version_ensure
from tests.factories import jpeg_bytes, upload, video_bytes

pytestmark = pytest.mark.django_db

FILE_SYSTEM = "django.core.files.storage.FileSystemStorage"
OBJECT_STORAGE = {
    "default": {"BACKEND": "tests.storages.PathlessStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.fixture
def object_storage(settings):
    settings.STORAGES = OBJECT_STORAGE
    settings.FAUNE = {**settings.FAUNE, "AFTER_INGEST_TASKS": ["inference.tasks.prelabel_batch"]}
    with pytest.raises(
        NotImplementedError
    ):  # the point of the test: no file of the pool on this disk
        default_storage.path("anything")
    return default_version_ensure()


def test_stills_and_videos_are_prelabelled_from_storage_without_paths(
    api, client, partner, object_storage, tmp_path, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/images/",
            {
                "files": [
                    upload("a.jpg", jpeg_bytes(size=(320, 240), seed=1)),
                    upload("clip.mp4", video_bytes(tmp_path, frames=20), "video/mp4"),
                ]
            },
            format="multipart",
        )
    assert response.status_code == 201
    assert Prediction.objects.filter(version=object_storage).count() == 2
    still = Image.objects.get(original_name="a.jpg")
    client.force_login(partner)
    served = client.get(f"/images/{still.pk}/file")
    assert b"".join(served.streaming_content) == default_storage.open(still.file.name).read()


def test_local_copies_hold_the_stored_bytes(
    api, object_storage, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            "/api/images/", {"files": [upload("a.jpg", jpeg_bytes(seed=4))]}, format="multipart"
        )
    image = Image.objects.get()
    stored = default_storage.open(image.file.name).read()
    with local_file(image.file) as path:
        assert path.read_bytes() == stored
    assert not path.exists()  # a single read's copy is removed after it
    cached = cached_local_file(image.file)
    assert cached.read_bytes() == stored and str(cached).startswith(str(settings.DATA_DIR))
    assert cached_local_file(image.file) == cached  # read many times, copied once


def test_local_storage_reads_the_file_itself(api, settings, django_capture_on_commit_callbacks):
    settings.STORAGES = {
        **OBJECT_STORAGE,
        "default": {"BACKEND": FILE_SYSTEM},
    }  # even when CI uses S3
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            "/api/images/", {"files": [upload("a.jpg", jpeg_bytes(seed=5))]}, format="multipart"
        )
    image = Image.objects.get()
    with local_file(image.file) as path:
        assert path == cached_local_file(image.file) == Path(default_storage.path(image.file.name))
