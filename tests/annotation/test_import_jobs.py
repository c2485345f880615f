"""Imports through the web: unpacked and checked before any write (a refusal records nothing and
leaves no files), then run by a job cut into chunks; a failing job leaves no half-made cameras or
staged files behind."""

from pathlib import Path

import pytest
from django.utils import translation

from annotation.models import Deployment, Image, UploadBatch
from annotation.services.ingest import staging_dir
from tests.conftest import client_for
from tests.factories import jpeg_bytes, upload, zip_bytes

pytestmark = pytest.mark.django_db


def staged_files(settings) -> list[Path]:
    folders = (staging_dir(), Path(settings.IMPORTS_DIR))
    return [
        path
        for folder in folders
        if folder.exists()
        for path in folder.rglob("*")
        if path.is_file()
    ]


def test_a_refused_import_records_nothing_and_leaves_no_files(api, settings):
    archive = zip_bytes({"Licorne/1.jpg": jpeg_bytes(seed=1)})
    response = api.post(
        "/api/imports/",
        {"archive": upload("set.zip", archive), "format": "coco"},
        format="multipart",
    )
    assert response.status_code == 400 and "no COCO Camera Traps JSON" in response.json()["detail"]
    assert not UploadBatch.objects.exists() and not staged_files(settings)


def test_an_import_runs_in_chunks_until_done(api, settings, django_capture_on_commit_callbacks):
    settings.FAUNE = {
        **settings.FAUNE,
        "JOB_CHUNK_S": 0.0,
    }  # every chunk stops after its first file
    archive = zip_bytes({f"Renard/{i}.jpg": jpeg_bytes(seed=i) for i in range(4)})
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = api.post(
            "/api/imports/",
            {"archive": upload("set.zip", archive), "format": "classes"},
            format="multipart",
        )
    batch = UploadBatch.objects.get(pk=response.json()["id"])
    assert batch.status == "done" and Image.objects.count() == 4
    assert len(queued) >= 4  # one queued task per chunk at least
    assert not staged_files(settings)


def test_an_import_removes_the_cameras_whose_files_were_all_refused(
    api, settings, django_capture_on_commit_callbacks
):
    archive = zip_bytes({"cam1/a.jpg": jpeg_bytes(seed=1), "cam2/b.jpg": b"not a photograph"})
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/imports/",
            {"archive": upload("set.zip", archive), "format": "plain"},
            format="multipart",
        )
    batch = UploadBatch.objects.get(pk=response.json()["id"])
    assert batch.status == "done" and batch.items.filter(outcome="rejected").count() == 1
    assert list(Deployment.objects.values_list("name", flat=True)) == ["cam1"]


def test_a_failing_import_cleans_up_and_says_why(api, settings, django_capture_on_commit_callbacks):
    """The index file broke between two chunks: the job fails with the reason, keeps what it
    imported, and removes its staged files and the cameras it left empty."""
    settings.FAUNE = {**settings.FAUNE, "JOB_CHUNK_S": 0.0}
    coco = (
        '{"images": [{"id": 1, "file_name": "a.jpg", "location": "cam1"}, {"id": 2, "file_name": '
        '"b.jpg", "location": "cam2"}], "annotations": [], "categories": []}'
    )
    archive = zip_bytes(
        {"set.json": coco.encode(), "a.jpg": jpeg_bytes(seed=1), "b.jpg": b"not a photograph"}
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = api.post(
            "/api/imports/",
            {"archive": upload("set.zip", archive), "format": "coco"},
            format="multipart",
        )
    batch = UploadBatch.objects.get(pk=response.json()["id"])
    folder = Path(settings.IMPORTS_DIR) / str(batch.pk)
    with django_capture_on_commit_callbacks(execute=False) as next_chunk:
        queued[0]()  # chunk 1 imports a.jpg only (no time budget)
    (folder / "set.json").write_text("{ broken")
    with django_capture_on_commit_callbacks(execute=True):
        next_chunk[0]()
    batch.refresh_from_db()
    assert batch.status == "failed" and "no COCO Camera Traps JSON file found" in batch.error
    assert Image.objects.count() == 1 and not staged_files(settings)


@pytest.mark.django_db(transaction=True)
def test_the_archive_is_unpacked_outside_any_write_transaction(partner, monkeypatch, seeded_taxa):
    """On SQLite a write transaction holds the database lock for everyone: unpacking thousands of
    photographs inside one made the worker's writes time out."""
    from django.db import connection

    from annotation.services import imports_web
    from tests.conftest import client_for

    seen = []
    real = imports_web.extract_zip

    def watching(*args, **kwargs):
        seen.append(connection.in_atomic_block)
        return real(*args, **kwargs)

    monkeypatch.setattr(imports_web, "extract_zip", watching)
    archive = zip_bytes({"Renard/1.jpg": jpeg_bytes(seed=1)})
    response = client_for(partner).post(
        "/api/imports/",
        {"archive": upload("set.zip", archive), "format": "classes"},
        format="multipart",
    )
    assert response.status_code == 202 and seen == [False]


@pytest.mark.parametrize(
    "entries", [{}, {"__MACOSX/._1.jpg": b"fork"}, {"../1.jpg": jpeg_bytes(seed=1)}]
)
@pytest.mark.parametrize("create_taxa", [True, False])
def test_an_archive_with_nothing_to_import_is_refused(coordinator, settings, entries, create_taxa):
    """Found by the schema fuzzer: with create_taxa, an empty zip was a 500 (its staging folder
    never existed); without it, a 400 naming a server path."""
    response = client_for(coordinator).post(
        "/api/imports/",
        {"archive": upload("set.zip", zip_bytes(entries)), "create_taxa": create_taxa},
        format="multipart",
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "The archive holds no file that can be imported."
    assert not UploadBatch.objects.exists() and not staged_files(settings)


def test_an_imports_report_reads_in_the_language_of_who_sent_it(
    api, django_capture_on_commit_callbacks
):
    """The job runs later, in the worker's language; the reasons it writes are in the language of
    the request that sent the archive (kept on the batch)."""
    archive = zip_bytes(
        {
            "Renard/1.jpg": jpeg_bytes(seed=1),
            "Renard/2.jpg": b"not a photograph",
            "Renard/notes.txt": b"written by hand",
        }
    )
    with django_capture_on_commit_callbacks() as queued:  # sent, not run yet
        response = api.post(
            "/api/imports/",
            {"archive": upload("set.zip", archive), "format": "classes"},
            format="multipart",
            HTTP_ACCEPT_LANGUAGE="fr",
        )
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        for run in queued:
            run()
    batch = UploadBatch.objects.get(pk=response.json()["id"])
    reasons = dict(batch.items.values_list("name", "reason"))
    assert batch.status == "done" and Image.objects.count() == 1
    assert reasons["Renard/notes.txt"] == (
        "type de fichier non pris en charge '.txt' : seules les images et les vidéos sont importées"
    )
    assert reasons["Renard/2.jpg"] == (
        "le fichier n'est ni une image ni une vidéo que cette plateforme sait lire"
    )
